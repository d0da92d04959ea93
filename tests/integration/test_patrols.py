"""巡 and 查 on the 琼江 compact: the swap rule, issues found on patrols, completion and the accountability lists,
the scorecard, patrol funding, joint enforcement and leads seen only by their parties, and the period figures."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from rich.cells import cell_len
from rich.console import Console
from sqlmodel import col

from riverchief.demo.play import DATA
from riverchief.present import print_bulletin
from tests.factories import RECEIVING_CODE, Cli, World, happy_path
from workflow.core.clock import SHANGHAI
from workflow.core.errors import NotFound, NotPermitted, ValidationFailed
from workflow.core.models import (
    Bulletin,
    Jurisdiction,
    Outbox,
    Patrol,
    PatrolIssue,
    PatrolQuota,
    Person,
    ReportFile,
    Segment,
    table_of,
)
from workflow.core.reference import PatrolQuotaIn, ReferenceData, load
from workflow.core.services import IssueDraft
from workflow.enforcement.cases import case_view, close_case, link_issue, list_cases, open_case
from workflow.enforcement.leads import list_leads, record_receipt, transfer_lead
from workflow.jobs import bulletins
from workflow.patrols.basics import DEFAULT_QUOTAS, EARTH_RADIUS_M, percent
from workflow.patrols.completion import completion, interview_list, under_quota
from workflow.patrols.funding import funding, funding_sheet, set_funding_standard, set_township_class
from workflow.patrols.records import list_patrols, record_patrol, report_from_patrol
from workflow.patrols.scorecards import scorecard
from workflow.patrols.tracks import parse_track
from workflow.reading.issues import compact_id_of
from workflow.reading.practice import period_figures

DEGREE_M = EARTH_RADIUS_M * math.pi / 180


def at(day: str, hour: int = 9, minute: int = 0) -> datetime:
    """A time in Asia/Shanghai."""
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=SHANGHAI).replace(
        hour=hour, minute=minute
    )


def with_quotas(world: World) -> None:
    """Put the common-practice quotas in force (a township chief three times a month, a district chief once...)."""
    quotas = [PatrolQuotaIn.model_validate({"level": lv, "count": n, "per": per}) for lv, n, per in DEFAULT_QUOTAS]
    load(world.app.uow(), ReferenceData(patrol_quotas=quotas))


def pair(
    world: World,
    a: str = "tn-taian",
    segment_a: str = "qj-taian",
    b: str = "sn-baima",
    segment_b: str = "qj-baima",
    first: str = "2026-03-01",
    last: str = "2026-03-31",
) -> int:
    """A swap pairing between two boundary chiefs."""
    from workflow.patrols.pairings import add_pairing

    return add_pairing(
        world.app.uow(), "QJ", a, segment_a, b, segment_b, date.fromisoformat(first), date.fromisoformat(last)
    )


def patrol(world: World, who: str, segment: str, day: str, hour: int = 9, hours: float = 2, **kw: Any) -> Any:
    """Record a patrol starting at ``hour`` on ``day`` (the clock must be past its end)."""
    start = at(day, hour)
    return record_patrol(
        world.app.uow(), world.actor(who), segment, started_at=start, ended_at=start + timedelta(hours=hours), **kw
    )


def draft(title: str = "巡河发现排污口", category: str = "domestic_sewage") -> IssueDraft:
    """What a patroller says about what they found."""
    return IssueDraft(compact="QJ", title=title, category=category)


def scalar(world: World, query: Any) -> Any:
    """One value read from the database."""
    with world.app.reader() as uow:
        return uow.connection.execute(query).scalar()


def jurisdiction_id(world: World, code: str) -> int:
    """A jurisdiction's id by division code."""
    return int(scalar(world, sa.select(col(Jurisdiction.id)).where(col(Jurisdiction.code) == code)))


# -- the swap rule --------------------------------------------------------------------------------

OUTSIDE = {
    "before the pairing starts": ("tn-taian", "qj-baima", at("2026-02-28"), at("2026-02-28", 11)),
    "after it ends": ("tn-taian", "qj-baima", at("2026-04-01"), at("2026-04-01", 11)),
    "running past its last day": ("tn-taian", "qj-baima", at("2026-03-31", 23), at("2026-04-01", 1)),
    "on a segment it does not give": ("tn-taian", "qj-longtai", at("2026-03-10"), at("2026-03-10", 11)),
    "by a chief it does not pair": ("tn-yuxi", "qj-baima", at("2026-03-10"), at("2026-03-10", 11)),
}


@pytest.mark.parametrize("kind", [None, "swap"])
@pytest.mark.parametrize("case", list(OUTSIDE))
def test_a_swap_patrol_outside_a_live_pairing_is_refused_naming_the_segment_and_records_nothing(
    world: World, case: str, kind: str | None
) -> None:
    pair(world)
    world.clock.set(at("2026-04-10"))
    who, segment, start, end = OUTSIDE[case]
    before = world.counts()
    with pytest.raises(ValidationFailed) as refused:
        record_patrol(world.app.uow(), world.actor(who), segment, started_at=start, ended_at=end, kind=kind)
    assert refused.value.field == "segment"
    assert "no live swap pairing" in refused.value.reason
    assert who in refused.value.reason
    assert world.counts() == before


def test_a_pairing_gives_each_chief_the_others_segment_for_its_days_and_no_more(world: World) -> None:
    pairing = pair(world)
    world.clock.set(at("2026-04-10"))
    first = patrol(world, "tn-taian", "qj-baima", "2026-03-01")
    last = patrol(world, "sn-baima", "qj-taian", "2026-03-31", hour=21)
    assert (first.kind, first.pairing_id, last.kind, last.pairing_id) == ("swap", pairing, "swap", pairing)
    own = patrol(world, "tn-taian", "qj-taian", "2026-04-02")
    assert (own.kind, own.pairing_id) == ("routine", None)
    with pytest.raises(ValidationFailed, match="own segment"):
        patrol(world, "tn-taian", "qj-taian", "2026-03-03", kind="swap")
    with pytest.raises(ValidationFailed, match="it is a swap patrol") as refused:
        patrol(world, "tn-taian", "qj-baima", "2026-03-04", kind="routine")
    assert refused.value.field == "kind"


def test_a_pairing_is_between_chiefs_of_different_sides_on_their_own_segments(world: World) -> None:
    from workflow.patrols.pairings import add_pairing

    def refused(a: str, segment_a: str, b: str, segment_b: str, relation: str | None = None) -> dict[str, str]:
        march = date(2026, 3, 1), date(2026, 3, 31)
        with pytest.raises(ValidationFailed) as caught:
            add_pairing(world.app.uow(), "QJ", a, segment_a, b, segment_b, *march, relation=relation)
        return dict(caught.value.errors)

    assert "not sn-baima's segment" in refused("tn-taian", "qj-taian", "sn-baima", "qj-longtai")["segment_b"]
    assert "same side" in refused("tn-taian", "qj-taian", "tn-yuxi", "qj-yuxi", relation="upstream")["segment_b"]
    assert "not counterparts" in refused("tn-taian", "qj-taian", "zy-longtai", "qj-longtai")["relation"]
    assert "not a chief" in refused("tn-office", "qj-taian", "sn-baima", "qj-baima")["chief_a"]
    assert set(refused("nobody", "qj-nowhere", "sn-baima", "qj-baima")) == {"chief_a", "segment_a"}
    first = pair(world)
    with pytest.raises(ValidationFailed, match=f"overlaps pairing #{first}"):
        pair(world, "sn-baima", "qj-baima", "tn-taian", "qj-taian", "2026-03-31", "2026-06-30")
    assert pair(world, first="2026-04-01", last="2026-06-30") != first


def test_inside_a_live_pairing_the_issue_goes_to_the_owner_side_with_the_patroller_recorded(world: World) -> None:
    pairing = pair(world)
    world.clock.set(at("2026-03-10", 12))
    done = patrol(world, "tn-taian", "qj-baima", "2026-03-10")
    assert (done.kind, done.pairing_id, done.duration_s) == ("swap", pairing, 7200)

    world.clock.set(at("2026-03-10", 12, 5))
    report = report_from_patrol(world.app.uow(), world.actor("tn-taian"), done.id, draft("白马镇段右岸排污口"))
    assert (report.kind, report.handed_to, report.state) == ("swap", RECEIVING_CODE, "ban.handed_off")
    issue = world.issue(report.issue_code)
    assert issue.receiving_jurisdiction_id == jurisdiction_id(world, RECEIVING_CODE)  # 白马镇, the owner side
    assert issue.reporting_jurisdiction_id == jurisdiction_id(world, "500152102")  # the patroller's 太安镇
    assert issue.reporter_id == world.actor("tn-taian").id
    assert issue.segment_id == scalar(world, sa.select(col(Segment.id)).where(col(Segment.code) == "qj-baima"))
    assert [(e.trigger, e.actor_code) for e in world.events(report.issue_code)] == [
        ("report", "tn-taian"),
        ("hand_off", "tn-taian"),
    ]
    assert scalar(world, sa.select(col(PatrolIssue.patrol_id)).where(col(PatrolIssue.issue_id) == issue.id)) == done.id
    told = {r.recipient_id for r in world.outbox(report.issue_code) if r.kind == "hand_off"}
    assert world.actor("sn-baima").id in told
    with world.app.reader() as uow:
        (listed,) = list_patrols(uow.connection, person="tn-taian")
    assert (listed.id, listed.issues, listed.kind) == (done.id, [report.issue_code], "swap")


def test_only_the_patroller_reports_from_a_patrol_and_on_its_segment(world: World) -> None:
    pair(world)
    world.clock.set(at("2026-03-10", 12))
    done = patrol(world, "tn-taian", "qj-baima", "2026-03-10")
    before = world.counts()
    with pytest.raises(NotPermitted):
        report_from_patrol(world.app.uow(), world.actor("sn-baima"), done.id, draft())
    with pytest.raises(ValidationFailed) as refused:
        report_from_patrol(
            world.app.uow(), world.actor("tn-taian"), done.id, IssueDraft("QJ", "x", "other", segment="qj-taian")
        )
    assert refused.value.field == "segment"
    with pytest.raises(NotFound):
        report_from_patrol(world.app.uow(), world.actor("tn-taian"), done.id + 99, draft())
    assert world.counts() == before


def test_a_covert_inspection_is_an_issue_source_of_its_own_within_the_inspectors_jurisdiction(world: World) -> None:
    world.clock.set(at("2026-03-12", 12))
    covert = patrol(world, "tn-office", "qj-taian", "2026-03-12", kind="covert")
    assert (covert.kind, covert.pairing_id) == ("covert", None)
    report = report_from_patrol(
        world.app.uow(), world.actor("tn-office"), covert.id, draft("暗访发现岸边垃圾", "solid_waste")
    )
    assert (report.kind, report.handed_to, report.state) == ("covert", None, "xun.reported")
    assert world.issue(report.issue_code).reporting_jurisdiction_id == jurisdiction_id(world, "500152")
    for who, segment in (("tn-office", "qj-baima"), ("tn-taian", "qj-taian")):  # across the border; one's own
        with pytest.raises(ValidationFailed, match="covert inspection") as refused:
            patrol(world, who, segment, "2026-03-11", kind="covert")
        assert refused.value.field == "segment"
    with pytest.raises(NotPermitted):
        patrol(world, "tn-office", "qj-taian", "2026-03-11")  # an office does not patrol as a chief
    with pytest.raises(NotPermitted):
        patrol(world, "qj-coord", "qj-taian", "2026-03-11", kind="covert")
    with world.app.reader() as uow:
        figures = period_figures(uow.connection, "QJ", date(2026, 3, 1), date(2026, 4, 1))
    assert (figures["covert_inspections"], figures["patrol_issues"], figures["patrols"]) == (1, 1, 0)


def test_a_chief_does_not_patrol_twice_at_once_nor_in_the_future_nor_backwards(world: World) -> None:
    world.clock.set(at("2026-03-10", 12))
    patrol(world, "tn-taian", "qj-taian", "2026-03-10", hour=8)
    cases = [
        ({"day": "2026-03-10", "hour": 9}, "start", "overlaps"),
        ({"day": "2026-03-10", "hour": 11}, "end", "in the future"),
        ({"day": "2026-03-09", "hour": 9, "hours": -1}, "end", "not after the start"),
        ({"day": "2026-03-08", "hour": 9, "hours": 25}, "end", "at most 24 hours"),
    ]
    for when, field, reason in cases:
        with pytest.raises(ValidationFailed, match=reason) as refused:
            patrol(world, "tn-taian", "qj-taian", **when)  # type: ignore[arg-type]
        assert refused.value.field == field
    with pytest.raises(ValidationFailed) as refused:
        record_patrol(world.app.uow(), world.actor("tn-taian"), "qj-nowhere", started_at=at("2026-03-01"))
    assert refused.value.field == "segment"


# -- tracks ---------------------------------------------------------------------------------------

TRACK = """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="phone" xmlns="http://www.topografix.com/GPX/1/1"><trk><name>太安镇段</name><trkseg>
<trkpt lat="30.20" lon="105.704"><time>2026-03-05T01:10:00Z</time></trkpt>
<trkpt lat="30.21" lon="105.704"><time>2026-03-05T01:40:00Z</time></trkpt>
<trkpt lat="30.22" lon="105.704"><time>2026-03-05T02:25:00Z</time></trkpt>
</trkseg></trk></gpx>""".encode()


def test_a_gpx_track_sets_the_patrols_times_length_and_line(world: World) -> None:
    world.clock.set(at("2026-03-06"))
    track = parse_track(TRACK, "taian.gpx")
    done = record_patrol(world.app.uow(), world.actor("tn-taian"), "qj-taian", track=track)
    assert (done.started_at, done.ended_at) == (at("2026-03-05", 9, 10), at("2026-03-05", 10, 25))
    assert done.duration_s == 75 * 60
    assert done.length_m == round(0.02 * DEGREE_M)
    with world.app.reader() as uow:
        stored = uow.connection.execute(sa.text("SELECT track, length_m FROM patrol")).one()
    line = stored.track if isinstance(stored.track, dict) else json.loads(stored.track)
    assert line == {"type": "LineString", "coordinates": [[105.704, 30.2], [105.704, 30.21], [105.704, 30.22]]}


def test_a_track_timed_outside_the_patrol_is_refused(world: World) -> None:
    world.clock.set(at("2026-03-06"))
    before = world.counts()
    with pytest.raises(ValidationFailed, match="fall outside the patrol") as refused:
        record_patrol(
            world.app.uow(),
            world.actor("tn-taian"),
            "qj-taian",
            started_at=at("2026-03-05", 9, 30),
            ended_at=at("2026-03-05", 11),
            track=parse_track(TRACK, "taian.gpx"),
        )
    assert refused.value.field == "track"
    assert world.counts() == before


# -- completion, the bulletin list and the interview list ------------------------------------------


def march(world: World) -> None:
    """A known March: over quota, at quota, under it, a covert inspection that counts for no one, edges of the month."""
    with_quotas(world)
    pair(world)
    world.clock.set(at("2026-04-10"))
    for day in ("2026-03-03", "2026-03-13", "2026-03-23"):
        patrol(world, "tn-taian", "qj-taian", day)
    patrol(world, "tn-taian", "qj-baima", "2026-03-31", hour=23, hours=0.5)  # a swap, the month's last half hour
    for day in ("2026-03-02", "2026-03-12", "2026-03-22"):
        patrol(world, "sn-baima", "qj-baima", day)
    patrol(world, "sn-baima", "qj-baima", "2026-02-28", hour=23, hours=0.5)  # February's
    patrol(world, "sn-baima", "qj-baima", "2026-04-01", hour=0, hours=0.5)  # April's
    patrol(world, "tn-yuxi", "qj-yuxi", "2026-03-05")
    patrol(world, "tn-chief", "qj-taian", "2026-03-07", kind="covert")  # a covert inspection is not the chief's patrol
    patrol(world, "tl-chief", "qj-anju", "2026-03-09")  # a district chief patrols any segment of the district
    patrol(world, "sn-chief", "qj-baima", "2026-02-10")  # a city chief's quarterly patrol, assessed in March


def test_completion_per_chief_and_per_jurisdiction_on_a_known_month(world: World) -> None:
    march(world)
    with world.app.reader() as uow:
        qj = compact_id_of(uow.connection, "QJ")
        done = completion(uow.connection, "2026-03", qj)
        everywhere = completion(uow.connection, "2026-03")
    assert [(c.person, c.window, c.done, c.required, percent(c.rate)) for c in done.chiefs] == [
        ("tl-chief", "2026-03", 1, 1, "100%"),
        ("tl-anju", "2026-03", 0, 3, "0%"),
        ("tn-chief", "2026-03", 0, 1, "0%"),
        ("tn-chonglong", "2026-03", 0, 3, "0%"),
        ("tn-taian", "2026-03", 4, 3, "133%"),  # over quota
        ("tn-yuxi", "2026-03", 1, 3, "33%"),
        ("tn-biekou", "2026-03", 0, 3, "0%"),
        ("sn-chief", "2026-Q1", 1, 1, "100%"),
        ("sn-baima", "2026-03", 3, 3, "100%"),
        ("sn-moxi", "2026-03", 0, 3, "0%"),
        ("zy-chief", "2026-Q1", 0, 1, "0%"),
        ("zy-longtai", "2026-03", 0, 3, "0%"),
    ]
    assert [(j.name, j.depth, j.chiefs, j.under, j.done, j.required) for j in done.jurisdictions] == [
        ("铜梁区", 0, 2, 1, 1, 4),
        ("安居镇", 1, 1, 1, 0, 3),
        ("潼南区", 0, 5, 4, 5, 13),
        ("崇龛镇", 1, 1, 1, 0, 3),
        ("太安镇", 1, 1, 0, 4, 3),
        ("玉溪镇", 1, 1, 1, 1, 3),
        ("别口镇", 1, 1, 1, 0, 3),
        ("遂宁市", 0, 3, 1, 4, 7),
        ("安居区", 1, 2, 1, 3, 6),
        ("白马镇", 2, 1, 0, 3, 3),
        ("磨溪镇", 2, 1, 1, 0, 3),
        ("资阳市", 0, 2, 2, 0, 4),
        ("安岳县", 1, 1, 1, 0, 3),
        ("龙台镇", 2, 1, 1, 0, 3),
    ]
    assert (done.done, done.required, percent(done.rate)) == (10, 28, "36%")
    # Without a compact the tree goes up to the provinces.
    rows = {j.name: (j.chiefs, j.under, j.done, j.required) for j in everywhere.jurisdictions}
    assert rows["重庆市"] == (7, 5, 6, 17)
    assert rows["四川省"] == (5, 3, 4, 11)


def test_the_under_quota_list_names_the_chiefs_below_quota_lowest_first(world: World) -> None:
    march(world)
    with world.app.reader() as uow:
        named = [(c.person, c.done, c.required) for c in under_quota(uow.connection, "2026-03")]
    assert named == [
        ("tl-anju", 0, 3),
        ("tn-chief", 0, 1),
        ("tn-chonglong", 0, 3),
        ("tn-biekou", 0, 3),
        ("sn-moxi", 0, 3),
        ("zy-chief", 0, 1),
        ("zy-longtai", 0, 3),
        ("tn-yuxi", 1, 3),
    ]


def test_without_quotas_in_force_nobody_is_held_to_one(world: World) -> None:
    world.clock.set(at("2026-04-10"))
    patrol(world, "tn-taian", "qj-taian", "2026-03-03")
    with world.app.reader() as uow:
        done = completion(uow.connection, "2026-03")
    assert (done.chiefs, done.jurisdictions, done.rate) == ([], [], None)


def test_the_monthly_bulletin_carries_completion_and_the_chiefs_under_quota_by_name(world: World) -> None:
    march(world)
    assert bulletins.monthly_bulletin(world.app.uow, at("2026-04-10"), "2026-03") == {"bulletins": 1}
    with world.app.reader() as uow:
        bulletin = uow.session.execute(sa.select(Bulletin)).scalar_one()
    patrols = bulletin.figures["patrols"]
    assert (patrols["assessed"], patrols["done"], patrols["required"], patrols["rate"]) == (12, 10, 28, "36%")
    assert [(c["name"], c["jurisdiction"], c["done"], c["required"]) for c in patrols["under_quota"]][-1] == (
        "刘海燕",
        "玉溪镇",
        1,
        3,
    )
    assert len(patrols["under_quota"]) == 8
    assert bulletin.figures["enforcement"] == {"joint_cases": 0, "leads_transferred": 0}
    assert bulletin.parties == []  # the overdue parties stay the issues' own list


def test_a_month_with_nothing_recorded_is_said_in_one_line_naming_no_chief(world: World) -> None:
    march(world)
    for month in ("2026-01", "2026-03"):
        bulletins.monthly_bulletin(world.app.uow, at("2026-04-10"), month)
    with world.app.reader() as uow:
        january, busy = uow.session.execute(sa.select(Bulletin).order_by(col(Bulletin.period))).scalars()
    idle = [c["name"] for c in january.figures["patrols"]["under_quota"]]
    assert len(idle) == 10  # every chief held to a month's quota did nothing

    def printed(bulletin: Bulletin) -> str:
        out = io.StringIO()
        print_bulletin(Console(file=out, width=80), bulletin)
        return out.getvalue()

    said = printed(january)
    assert said == "月通报 2026-01：本月无巡河与问题记录 (nothing recorded this month)\n"
    assert not [name for name in idle if name in said]
    march_text = printed(busy)
    assert "巡河 patrols: 10/28（36%），考核河长 12 人" in march_text
    assert "未完成巡河 刘海燕（玉溪镇） 1/3" in march_text


def test_the_interview_list_names_the_chiefs_under_quota_three_months_running(world: World) -> None:
    with_quotas(world)
    world.clock.set(at("2026-04-10"))
    plan = {
        "tn-taian": ["01-05", "01-15", "01-25", "02-05", "03-03", "03-13", "03-23", "03-28"],  # short in February only
        "sn-baima": ["01-06", "01-16", "01-26", "02-06", "02-16", "02-26", "03-06", "03-16", "03-26"],
        "tn-yuxi": ["01-07", "02-07", "02-17", "03-07"],  # short every month
    }
    segments = {"tn-taian": "qj-taian", "sn-baima": "qj-baima", "tn-yuxi": "qj-yuxi"}
    for who, days in plan.items():
        for day in days:
            patrol(world, who, segments[who], f"2026-{day}")
    with world.app.reader() as uow:
        qj = compact_id_of(uow.connection, "QJ")
        entries = interview_list(uow.connection, "2026-Q1", qj)
        by_month_end = interview_list(uow.connection, "2026-03", qj)
    expected = ["tl-chief", "tl-anju", "tn-chief", "tn-chonglong", "tn-yuxi", "tn-biekou", "sn-moxi", "zy-longtai"]
    assert [e.person for e in entries] == expected  # not the city chiefs: a quarter's quota is assessed once
    assert [e.person for e in by_month_end] == expected
    yuxi = next(e for e in entries if e.person == "tn-yuxi")
    assert [(m.window, m.done, m.required) for m in yuxi.months] == [
        ("2026-01", 1, 3),
        ("2026-02", 2, 3),
        ("2026-03", 1, 3),
    ]
    assert bulletins.quarterly_interviews(world.app.uow, at("2026-04-10"), "2026-Q1") == {"interview_lists": 1}
    with world.app.reader() as uow:
        listed = uow.session.execute(sa.select(Bulletin).where(col(Bulletin.kind) == "interview")).scalar_one()
    assert listed.figures == {"months": ["2026-01", "2026-02", "2026-03"], "named": 8}
    assert [(p["party"], p["person"], p["chiefs"]) for p in listed.parties][4] == ("patrol", "tn-yuxi", ["刘海燕"])
    coordinator = world.actor("qj-coord").id
    topics = scalar(world, sa.select(sa.func.count()).where(col(Outbox.topic) == "interview:QJ:2026-Q1"))
    assert topics == 1
    notified = sa.select(col(Outbox.recipient_id)).where(col(Outbox.topic) == "interview:QJ:2026-Q1")
    assert scalar(world, notified) == coordinator


def test_a_bulletin_pdf_names_the_chiefs_under_quota(sqlite_world: World, tmp_path: Path) -> None:
    from riverchief.reporting import make

    march(sqlite_world)
    bulletins.monthly_bulletin(sqlite_world.app.uow, at("2026-04-10"), "2026-03")
    built = make(sqlite_world.app, "bulletin", period="2026-03")
    path = tmp_path / "bulletin.pdf"
    path.write_bytes(built.content)
    text = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, timeout=60
    ).stdout.decode()
    assert "三、巡河与联合执法" in text
    assert "完成率36%" in "".join(text.split())
    assert "".join(text.split()).count("刘海燕玉溪镇2026-033133%") == 1


# -- the scorecard ---------------------------------------------------------------------------------


def test_the_scorecard_counts_patrols_issues_found_hand_offs_answered_in_time_and_overdue_items(world: World) -> None:
    with_quotas(world)
    pair(world)
    world.clock.set(at("2026-03-02"))
    answered = world.report(title="按时受理")
    late = world.report(title="逾期提出异议")
    silent = world.report(title="逾期未答复")
    for code in (answered, late, silent):
        world.fire(code, "hand_off", "tn-taian", receiving=RECEIVING_CODE)  # due at the end of 2026-03-05
    world.clock.set(at("2026-03-03"))
    world.fire(answered, "accept", "sn-baima")
    world.fire(answered, "start_rectify", "sn-baima", plan="封堵", deadline="2026-04-30")
    world.clock.set(at("2026-03-10"))
    world.fire(late, "dispute", "sn-baima", reason="不属本镇")
    world.clock.set(at("2026-03-31"))
    pending = world.report(title="未到期")
    world.fire(pending, "hand_off", "tn-taian", receiving=RECEIVING_CODE)

    world.clock.set(at("2026-04-01"))
    for day in ("01-05", "01-15", "01-25", "02-05", "02-15", "03-05", "03-15"):
        patrol(world, "sn-baima", "qj-baima", f"2026-{day}")
    swap = patrol(world, "sn-baima", "qj-taian", "2026-03-20")
    found = report_from_patrol(
        world.app.uow(), world.actor("sn-baima"), swap.id, draft("太安镇段垃圾", "solid_waste"), late=True
    )

    with world.app.reader() as uow:
        card = scorecard(uow.connection, "sn-baima", 2026, world.clock.now())
    assert [(m.window, m.done, m.required) for m in card.months] == [
        ("2026-01", 3, 3),
        ("2026-02", 2, 3),
        ("2026-03", 3, 3),
    ]
    assert (card.patrols_done, card.patrols_required, percent(card.completion)) == (8, 9, "89%")
    assert card.months_under == ["2026-02"]
    assert (card.swap_patrols, card.issues_found, card.issues_found_on_patrols) == (1, 1, 1)
    assert (card.handoffs_received, card.answered_in_time, card.answered_late, card.unanswered, card.pending) == (
        4,
        1,
        1,
        1,
        1,
    )
    assert card.overdue_items == sorted([late, silent])
    assert found.handed_to == "500152102"
    with world.app.reader() as uow:
        reporter = scorecard(uow.connection, "tn-taian", 2026, world.clock.now())
    assert (reporter.issues_found, reporter.issues_found_on_patrols, reporter.handoffs_received) == (4, 0, 1)
    with pytest.raises(ValidationFailed), world.app.reader() as uow:
        scorecard(uow.connection, "qj-coord", 2026, world.clock.now())


# -- funding --------------------------------------------------------------------------------------


def test_funding_per_township_by_class_in_exact_fen(world: World) -> None:
    world.clock.set(at("2026-04-10"))
    pair(world)
    set_funding_standard(world.app.uow(), "500152", 1500, 9000, date(2026, 1, 1))  # 15 yuan a patrol, 90 a year
    set_funding_standard(world.app.uow(), "500152", 2000, 9000, date(2026, 4, 1))  # April's standard, not March's
    for township, grade in (("500152101", "Ⅰ"), ("500152102", "II"), ("500152103", "3"), ("500152104", "Ⅳ")):
        set_township_class(world.app.uow(), township, grade)
    for day in ("2026-03-03", "2026-03-13", "2026-03-23"):
        patrol(world, "tn-taian", "qj-taian", day)
    patrol(world, "tn-taian", "qj-baima", "2026-03-25")  # a swap patrol is paid by the patroller's township
    patrol(world, "tn-yuxi", "qj-yuxi", "2026-03-05")
    patrol(world, "tn-office", "mx-biekou", "2026-03-06", kind="covert")  # not a subsidised patrol
    patrol(world, "tn-chief", "qj-taian", "2026-03-07")  # the district chief is no township's patroller
    patrol(world, "tn-yuxi", "qj-yuxi", "2026-04-02")  # April's
    with world.app.reader() as uow:
        rows = funding(uow.connection, "2026-03")
        april = funding(uow.connection, "2026-04")
    # insurance: 9000 fen a year / 12 = 750 fen a month for each township's one chief
    assert [
        (r.name, r.grade, r.patrols, r.patrollers, r.subsidy_fen, r.insurance_fen, r.district_fen, r.township_fen)
        for r in rows
    ] == [
        ("崇龛镇", "I", 0, 1, 0, 750, 525, 225),  # 750 x 70%
        ("太安镇", "II", 4, 1, 6000, 750, 5400, 1350),  # 4 x 1500 + 750 = 6750 x 80%
        ("玉溪镇", "III", 1, 1, 1500, 750, 2025, 225),  # 2250 x 90%
        ("别口镇", "IV", 0, 1, 0, 750, 713, 37),  # 750 x 95% = 712.5, rounded half up
    ]
    assert {r.funder for r in rows} == {"潼南区"}
    assert [(r.name, r.per_patrol_fen, r.subsidy_fen) for r in april][2] == ("玉溪镇", 2000, 2000)
    sheet = funding_sheet(rows)
    assert sheet[0][1] == "乡镇（街道）"
    assert [str(v) for v in sheet[2][6:]] == ["15.00", "60.00", "7.50", "67.50", "80%", "54.00", "13.50"]
    assert [str(v) for v in sheet[-1][7:]] == ["75.00", "30.00", "105.00", "", "86.63", "18.37"]


def test_funding_applies_the_nearest_standard_above_each_township(world: World) -> None:
    world.clock.set(at("2026-04-10"))
    set_funding_standard(world.app.uow(), "500000", 1000, 6000, date(2026, 1, 1))  # the municipality's
    set_funding_standard(world.app.uow(), "500152", 1500, 9000, date(2026, 1, 1))  # a district's own, nearer
    juris = table_of(Jurisdiction)
    with world.app.uow() as uow:
        townships = uow.connection.execute(sa.select(juris.c.code).where(juris.c.level == "township")).scalars().all()
    for township in townships:
        set_township_class(world.app.uow(), township, "Ⅱ")
    with world.app.reader() as uow:
        rows = funding(uow.connection, "2026-03")
    by_funder = {(r.code[:6], r.funder, r.per_patrol_fen) for r in rows}
    assert ("500152", "潼南区", 1500) in by_funder
    assert {funder for district, funder, _ in by_funder if district != "500152" and district.startswith("50")} == {
        "重庆市"
    }
    assert all(not r.code.startswith("51") for r in rows)  # no standard above Sichuan's townships: none of theirs


def test_funding_counts_the_patrollers_and_patrols_at_and_under_each_township(world: World) -> None:
    world.clock.set(at("2026-04-10"))
    set_funding_standard(world.app.uow(), "500152", 1500, 12000, date(2026, 1, 1))  # 15 yuan a patrol, 120 a year
    for township in ("500152101", "500152102", "500152103", "500152104"):
        set_township_class(world.app.uow(), township, "I")
    juris, person, patrols = table_of(Jurisdiction), table_of(Person), table_of(Patrol)
    with world.app.uow() as uow:
        conn = uow.connection
        taian = conn.execute(sa.select(juris.c.id, juris.c.path).where(juris.c.code == "500152102")).one()
        segment = conn.execute(sa.select(table_of(Segment).c.id).where(table_of(Segment).c.code == "qj-taian")).scalar()
        village = conn.execute(
            juris.insert().values(
                code="500152102201",
                name="太安村",
                level="village",
                parent_id=taian.id,
                path=f"{taian.path}500152102201/",
            )
        ).inserted_primary_key[0]
        people = {}
        for code, role, where, active in (
            ("ta-v1", "chief", village, True),
            ("ta-v2", "chief", village, True),  # two patrollers at one place
            ("ta-gone", "chief", village, False),  # no longer a patroller, but a patrol made is paid for
            ("ta-clerk", "office", taian.id, True),  # no patroller
        ):
            people[code] = conn.execute(
                person.insert().values(code=code, name=code, role=role, jurisdiction_id=where, active=active)
            ).inserted_primary_key[0]
        for who, kind, day, done in (
            ("ta-v1", "routine", "2026-03-02", True),
            ("ta-v1", "routine", "2026-03-12", True),
            ("ta-v1", "routine", "2026-03-31", False),  # still under way
            ("ta-v2", "swap", "2026-03-04", True),
            ("ta-v2", "covert", "2026-03-05", True),  # not a subsidised kind
            ("ta-gone", "routine", "2026-03-06", True),
            ("ta-v2", "routine", "2026-02-27", True),  # February's
        ):
            start = at(day)
            conn.execute(
                patrols.insert().values(
                    patroller_id=people[who],
                    segment_id=segment,
                    kind=kind,
                    started_at=start,
                    ended_at=start + timedelta(hours=2) if done else None,
                    notes="",
                    created_at=start,
                )
            )
        uow.commit()
    patrol(world, "tn-taian", "qj-taian", "2026-03-20")
    with world.app.reader() as uow:
        rows = {r.name: r for r in funding(uow.connection, "2026-03")}
    # 太安镇: its chief and the village's two active chiefs; the chief's patrol and the village's four paid ones
    assert (rows["太安镇"].patrols, rows["太安镇"].patrollers) == (5, 3)
    assert (rows["太安镇"].subsidy_fen, rows["太安镇"].insurance_fen) == (7500, 3000)  # 12000 x 3 / 12
    assert [(r.patrols, r.patrollers) for name, r in rows.items() if name != "太安镇"] == [(0, 1)] * 3


def test_funding_refuses_a_month_with_an_unclassed_township_and_naming_each(world: World) -> None:
    set_funding_standard(world.app.uow(), "500151", 1500, 9000, date(2026, 1, 1))
    with pytest.raises(ValidationFailed) as refused, world.app.reader() as uow:
        funding(uow.connection, "2026-03")
    assert [f for f, _ in refused.value.errors] == ["township_class", "township_class"]
    assert "安居镇 (500151101)" in refused.value.errors[0][1]
    assert "少云镇 (500151102)" in refused.value.errors[1][1]
    with pytest.raises(ValidationFailed, match="classes are for townships"):
        set_township_class(world.app.uow(), "500152", "I")
    with pytest.raises(ValidationFailed, match="is not one of"):
        set_township_class(world.app.uow(), "500152101", "V")


# -- joint enforcement and leads -------------------------------------------------------------------


def test_a_joint_case_is_seen_only_by_its_parties_and_the_coordinators(world: World) -> None:
    world.clock.set(at("2026-03-20"))
    issue = world.report(title="非法采砂")
    code = open_case(
        world.app.uow(),
        world.actor("qj-coord"),
        "QJ",
        "sand_mining",
        "琼江太安—白马段非法采砂联合查处",
        ["500152", "510904"],
        date(2026, 3, 15),
        team=["潼南区农业农村委执法支队", "安居区水利局"],
        issues=[issue],
    )
    assert code == "QJ-ZF-2026-001"
    seen = {"qj-coord", "tn-office", "tn-chief", "sn-office", "sn-chief"}
    unseen = {"tl-office", "zy-longtai", "tn-taian", "ngo-auditor", "tl-chief"}
    for who in seen | unseen:
        with world.app.reader() as uow:
            listed = [c.code for c in list_cases(uow.connection, world.actor(who))]
        assert listed == ([code] if who in seen else []), who
    with world.app.reader() as uow:
        view = case_view(uow.connection, world.actor("sn-office"), code)
        assert (view.parties, view.issues) == (["潼南区", "安居区"], [issue])
        with pytest.raises(NotFound):
            case_view(uow.connection, world.actor("tl-office"), code)
    before = world.counts()
    with pytest.raises(NotFound):
        close_case(world.app.uow(), world.actor("tl-office"), code, date(2026, 3, 19), "结案")
    with pytest.raises(NotFound):
        link_issue(world.app.uow(), world.actor("zy-longtai"), code, issue)
    with pytest.raises(ValidationFailed) as refused:
        close_case(world.app.uow(), world.actor("tn-office"), code, date(2026, 3, 14), "结案")
    assert refused.value.field == "closed_on"
    assert world.counts() == before
    close_case(world.app.uow(), world.actor("tn-office"), code, date(2026, 3, 19), "查扣采砂船2艘，移送公安")
    second = open_case(
        world.app.uow(), world.actor("tn-office"), "QJ", "fishing", "电鱼", ["500152", "510900"], date(2026, 3, 18)
    )
    assert second == "QJ-ZF-2026-002"
    with world.app.reader() as uow:
        assert [c.closed_on for c in list_cases(uow.connection, world.actor("sn-chief"))] == [None, date(2026, 3, 19)]


def test_a_case_is_opened_by_a_coordinator_or_a_party_between_two_sides_of_the_compact(world: World) -> None:
    world.clock.set(at("2026-03-20"))
    before = world.counts()
    with pytest.raises(NotPermitted):
        open_case(
            world.app.uow(), world.actor("tl-office"), "QJ", "discharge", "偷排", ["500152", "510904"], date(2026, 3, 1)
        )
    with pytest.raises(ValidationFailed) as refused:
        open_case(
            world.app.uow(), world.actor("qj-coord"), "QJ", "poaching", " ", ["500152", "999999"], date(2026, 4, 1)
        )
    assert {f for f, _ in refused.value.errors} == {"kind", "title", "opened_on", "parties[1]"}
    with pytest.raises(ValidationFailed, match="two or more"):
        open_case(world.app.uow(), world.actor("qj-coord"), "QJ", "other", "单方", ["500152"], date(2026, 3, 1))
    assert world.counts() == before


def test_a_lead_is_seen_by_its_side_and_the_coordinators_and_takes_its_receipt(world: World) -> None:
    world.clock.set(at("2026-03-25"))
    code = transfer_lead(
        world.app.uow(),
        world.actor("tn-office"),
        "QJ",
        "500152",
        "琼江沿岸非法排污公益诉讼线索",
        "潼南区人民检察院",
        date(2026, 3, 20),
    )
    assert code == "QJ-XS-2026-001"
    for who, sees in (("tn-office", True), ("tn-chief", True), ("qj-coord", True), ("sn-office", False)):
        with world.app.reader() as uow:
            assert [lead.code for lead in list_leads(uow.connection, world.actor(who))] == ([code] if sees else [])
    with pytest.raises(NotFound):
        record_receipt(world.app.uow(), world.actor("sn-office"), code, "潼检收〔2026〕3号", date(2026, 3, 22))
    with pytest.raises(ValidationFailed) as refused:
        record_receipt(world.app.uow(), world.actor("qj-coord"), code, "潼检收〔2026〕3号", date(2026, 3, 19))
    assert refused.value.field == "received_on"
    record_receipt(world.app.uow(), world.actor("qj-coord"), code, "潼检收〔2026〕3号", date(2026, 3, 22), "已立案审查")
    with world.app.reader() as uow:
        (lead,) = list_leads(uow.connection, world.actor("tn-office"))
    assert (lead.receipt_no, lead.received_on, lead.outcome) == ("潼检收〔2026〕3号", date(2026, 3, 22), "已立案审查")
    with pytest.raises(NotPermitted):
        transfer_lead(
            world.app.uow(), world.actor("sn-office"), "QJ", "500152", "线索", "潼南区人民检察院", date(2026, 3, 20)
        )


# -- the period figures ---------------------------------------------------------------------------


def test_period_figures_give_the_practice_notes_figures_on_a_known_data_set(world: World) -> None:
    pair(world)
    pair(world, "tn-chonglong", "qj-chonglong", "zy-longtai", "qj-longtai", "2026-03-01", "2026-06-30")
    pair(world, "tn-yuxi", "qj-yuxi", "tl-anju", "qj-anju", "2025-01-01", "2025-12-31")  # before the period
    world.clock.set(at("2026-03-11"))
    swap = patrol(world, "tn-taian", "qj-baima", "2026-03-05")
    patrol(world, "sn-baima", "qj-taian", "2026-03-06")
    patrol(world, "zy-longtai", "qj-chonglong", "2026-03-07")
    patrol(world, "tn-yuxi", "qj-yuxi", "2026-03-08")
    patrol(world, "tn-taian", "qj-taian", "2026-03-09")
    covert = patrol(world, "tn-office", "mx-biekou", "2026-03-10", kind="covert")
    found = report_from_patrol(world.app.uow(), world.actor("tn-taian"), swap.id, draft(), late=True).issue_code
    report_from_patrol(world.app.uow(), world.actor("tn-office"), covert.id, draft("暗访发现", "other"), late=True)

    world.clock.set(at("2026-03-12"))
    for trigger, who, payload in happy_path(world)[1:11]:  # accepted, rectified, closed at once, revisited clean
        world.fire(found, trigger, who, **payload)
    twice = world.report(title="复核不通过")
    world.fire(twice, "hand_off", "tn-taian", receiving=RECEIVING_CODE)
    for trigger, who, payload in happy_path(world)[1:6]:
        world.fire(twice, trigger, who, **payload)
    world.fire(twice, "fail_check", "tn-taian", reason="仍有排放", deadline=world.deadline(5))
    for trigger, who, payload in [happy_path(world)[i] for i in (4, 5, 6, 7, 8)]:
        world.fire(twice, trigger, who, **payload)
    disputed = world.report(title="异议会办")
    world.fire(disputed, "hand_off", "tn-taian", receiving=RECEIVING_CODE)
    world.fire(disputed, "dispute", "sn-baima", reason="异议")
    world.fire(disputed, "convene", "qj-coord", level="district", agenda="会办")

    open_case(
        world.app.uow(), world.actor("qj-coord"), "QJ", "sand_mining", "采砂", ["500152", "510904"], date(2026, 3, 10)
    )
    open_case(
        world.app.uow(), world.actor("qj-coord"), "QJ", "fishing", "电鱼", ["500151", "512000"], date(2026, 3, 11)
    )
    transfer_lead(
        world.app.uow(), world.actor("tn-office"), "QJ", "500152", "线索", "潼南区人民检察院", date(2026, 3, 12)
    )
    bulletins.monthly_bulletin(world.app.uow, at("2026-04-01"), "2026-03")
    bulletins.monthly_bulletin(world.app.uow, at("2026-04-01"), "2025-12")  # before the period
    with world.app.uow() as uow:
        for created in (at("2026-04-05"), at("2025-12-01")):
            uow.connection.execute(
                sa.insert(ReportFile).values(
                    compact_id=compact_id_of(uow.connection, "QJ"),
                    kind="revisit",
                    period=created.strftime("%Y-%m"),
                    title="回访报告",
                    path=f"reports/{created.date()}.pdf",
                    sha256="0" * 64,
                    size=1,
                    created_at=created,
                    prev_hash="0" * 64,
                    hash="1" * 64,
                )
            )
        uow.commit()

    with world.app.reader() as uow:
        year = period_figures(uow.connection, "QJ", date(2026, 1, 1), date(2027, 1, 1))
        tongnan = period_figures(uow.connection, "QJ", date(2026, 1, 1), date(2027, 1, 1), side="500152")
        anju = period_figures(uow.connection, "QJ", date(2026, 1, 1), date(2027, 1, 1), side="510904")
        april = period_figures(uow.connection, "QJ", date(2026, 4, 1), date(2026, 5, 1))
    no_meetings = {"township": 0, "district": 0, "city": 0, "province": 0}
    assert year == {
        "boundary_chiefs": 4,
        "swap_patrols": 3,
        "patrols": 5,
        "covert_inspections": 1,
        "patrol_issues": 2,
        "handed_over": 3,
        "accepted": 2,
        "disputed": 1,
        "negotiated": 1,
        "dispatched": 0,
        "rectified": 2,
        "closed": 2,
        "closed_without_rebound": 1,
        "rebounds": 0,
        "joint_cases": 2,
        "leads_transferred": 1,
        "joint_meetings": 1,  # the disputed issue put to a district meeting by its own step
        "joint_meetings_by_level": {**no_meetings, "district": 1},
        "progress_bulletins": 0,  # none issued: the monthly bulletin is counted on its own
        "monthly_bulletins": 1,
        "action_items_open": 0,
        "action_items_overdue": 0,
        "revisits": 1,
        "revisit_reports": 1,
    }
    assert tongnan == {**year, "boundary_chiefs": 2, "swap_patrols": 1, "patrols": 3, "joint_cases": 1}
    assert anju == {
        **dict.fromkeys(year, 0),
        "boundary_chiefs": 1,
        "swap_patrols": 1,
        "patrols": 1,
        "joint_cases": 1,
        "joint_meetings": 1,
        "joint_meetings_by_level": {**no_meetings, "district": 1},
        "monthly_bulletins": 1,
        "revisits": 1,
        "revisit_reports": 1,
    }
    assert april == {
        **dict.fromkeys(year, 0),
        "joint_meetings_by_level": no_meetings,
        "boundary_chiefs": 2,
        "revisit_reports": 1,
    }


# -- quotas from the reference data ----------------------------------------------------------------


def test_the_reference_data_replaces_the_quotas_and_refuses_a_level_given_twice(world: World) -> None:
    with_quotas(world)
    load(world.app.uow(), ReferenceData(patrol_quotas=[PatrolQuotaIn(level="township", count=2, per="month")]))
    with world.app.reader() as uow:
        rows = uow.connection.execute(sa.select(PatrolQuota.level, PatrolQuota.count, PatrolQuota.per)).all()  # type: ignore[call-overload]
    assert [tuple(r) for r in rows] == [("township", 2, "month")]
    twice = [PatrolQuotaIn(level="village", count=1, per="week"), PatrolQuotaIn(level="village", count=2, per="week")]
    with pytest.raises(ValidationFailed) as refused:
        load(world.app.uow(), ReferenceData(patrol_quotas=twice))
    assert refused.value.field == "patrol_quotas[1].level"
    load(world.app.uow(), ReferenceData())  # no section: the quotas stay
    with world.app.reader() as uow:
        assert uow.connection.execute(sa.select(sa.func.count()).select_from(PatrolQuota)).scalar() == 1


# -- the command line ------------------------------------------------------------------------------


def test_the_patrol_commands_record_report_rate_and_export(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.ok("init")
    cli.ok("load", str(DATA))
    quotas = tmp_path / "quotas.yaml"
    quotas.write_text(
        "patrol_quotas:\n  - {level: township, count: 1, per: tenday}\n  - {level: district, count: 1, per: month}\n",
        encoding="utf-8",
    )
    assert "2 patrol_quotas" in cli.ok("load", str(quotas))
    assert "每旬不少于1次" in cli.ok("patrol", "quotas")
    cli.ok(
        "patrol",
        "pairings",
        "add",
        "tn-taian",
        "qj-taian",
        "sn-baima",
        "qj-baima",
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
    )
    assert "right_bank" in cli.ok("patrol", "pairings", "list", "--on", "2026-03-15")
    track = tmp_path / "baima.gpx"
    track.write_bytes(TRACK.replace(b"105.704", b"105.700"))
    recorded = cli.ok("patrol", "record", "tn-taian", "qj-baima", "--track", str(track), "--swap")
    assert "patrol #1: 交叉互巡 (swap)" in recorded
    assert f"{0.02 * DEGREE_M / 1000:.2f} km" in recorded
    reported = cli.ok(
        "patrol", "report", "1", "--as", "tn-taian", "--title", "白马镇段排污口", "--category", "domestic_sewage"
    )
    assert "QJ-2026-0001" in reported
    assert f"handed to {RECEIVING_CODE}" in reported
    good, bad = tmp_path / "taian-0306.gpx", tmp_path / "cut.gpx"
    good.write_bytes(TRACK.replace(b"2026-03-05", b"2026-03-06"))
    bad.write_bytes(b"<gpx><trk>")
    refused = cli("patrol", "import", "tn-taian", "qj-taian", str(good), str(bad))
    assert refused.returncode == 3
    assert "cut.gpx" in refused.stdout
    assert "nothing recorded" in refused.stderr  # all the files or none
    imported = cli.ok("patrol", "import", "tn-taian", "qj-taian", str(good))
    assert "recorded 1 patrol(s) of qj-taian by tn-taian from 1 file(s)" in imported
    refused = cli("patrol", "record", "tn-yuxi", "qj-baima", "--start", "2026-03-10T09:00", "--end", "2026-03-10T11:00")
    assert refused.returncode == 3
    assert "segment" in refused.stderr
    assert "no live swap pairing" in refused.stderr
    rates = cli.ok("patrol", "completion", "--month", "2026-03", "--compact", "QJ")
    assert "陈志强" in rates
    assert "67%" in rates  # the swap patrol and the imported one, of three
    assert "under quota" in rates

    for township, grade in (("500152101", "Ⅰ"), ("500152102", "Ⅱ"), ("500152103", "Ⅲ"), ("500152104", "Ⅳ")):
        cli.ok("patrol", "class", township, grade)
    cli.ok("patrol", "standard", "500152", "--per-patrol", "15", "--insurance", "90.00", "--from", "2026-01-01")
    book, table = tmp_path / "funding.xlsx", tmp_path / "funding.csv"
    cli.env["COLUMNS"] = "80"  # an 80-column terminal: the table fits it, its heads whole
    shown = cli.ok("patrol", "funding", "--month", "2026-03")
    del cli.env["COLUMNS"]
    assert max(cell_len(line) for line in shown.splitlines()) <= 80
    assert "…" not in shown
    assert re.search(r"太安镇\s+潼南区\s+Ⅱ\s+2\s+1\s+30\.00\s+7\.50\s+37\.50\s+80%\s+30\.00\s+7\.50", shown)
    assert "每次补助：潼南区 15.00 元" in shown
    assert "乡镇代码见导出表：--xlsx 文件 或 --csv 文件" in shown
    cli.ok("patrol", "funding", "--month", "2026-03", "--xlsx", str(book), "--csv", str(table))
    sheet = load_workbook(book).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0][:2] == ["乡镇代码", "乡镇（街道）"]
    taian = next(r for r in rows if r[1] == "太安镇")
    assert (taian[3], taian[4], taian[7], taian[9], taian[11], taian[12]) == ("Ⅱ", 2, 30, 37.5, 30, 7.5)
    content = table.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    read = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    # two patrols at 15.00 and a month of 90.00 insurance, 80% of it the district's
    expected = ["500152102", "太安镇", "潼南区", "Ⅱ", "2", "1", "15.00", "30.00", "7.50", "37.50", "80%", "30.00"]
    assert [*expected, "7.50"] in read

    opened = cli.ok(
        "case", "add", "--as", "qj-coord", "--kind", "sand_mining", "--title", "联合查处非法采砂",
        "--party", "500152", "--party", "510904", "--opened", "2026-03-10", "--team", "潼南区农业农村委执法支队",
    )  # fmt: skip
    assert "QJ-ZF-2026-001" in opened
    assert "联合查处非法采砂" in cli.ok("case", "list", "--as", "sn-office")
    assert "联合查处非法采砂" not in cli.ok("case", "list", "--as", "tl-office")
    cli.ok(
        "lead", "add", "--as", "tn-office", "--jurisdiction", "500152", "--procuratorate", "潼南区人民检察院",
        "--title", "排污公益诉讼线索", "--on", "2026-03-12", "--case", "QJ-ZF-2026-001",
    )  # fmt: skip
    assert "QJ-ZF-2026-001" in cli.ok("lead", "list", "--as", "qj-coord")
    figures = cli.ok("patrol", "figures", "--from", "2026-01-01", "--to", "2027-01-01", "--side", "500152")
    assert "交叉互换巡河 swap_patrols" in figures
    unknown = cli("case", "list", "--as", "nobody")
    assert unknown.returncode == 4
