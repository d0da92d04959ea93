"""Quotas where they belong (the deepest jurisdiction's row, else the compact's, else the level's default, else
none), completion over a month, a quarter and a year per chief and per district, patrols still under way counted
nowhere, the quota rows in the reference data and on the command line, and the stats' patrol figures by district."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import col

from riverchief.demo.play import DATA
from tests.factories import Cli, World
from tests.integration.test_patrols import at, pair, patrol
from web.api import create_api
from workflow.accounts.tokens import create_token
from workflow.core.errors import ValidationFailed
from workflow.core.models import Patrol, PatrolIssue, Person, Segment, table_of
from workflow.core.reference import PatrolQuotaIn, ReferenceData, load
from workflow.patrols.basics import percent
from workflow.patrols.completion import bulletin_figures, completion, interview_list
from workflow.patrols.funding import funding, set_funding_standard, set_township_class
from workflow.patrols.quotas import clear_quota, set_quota
from workflow.patrols.scorecards import scorecard
from workflow.reading.issues import compact_id_of
from workflow.reading.practice import period_figures


def quotas(world: World, *rows: dict[str, Any]) -> None:
    """Load quota rows as the reference data gives them."""
    load(world.app.uow(), ReferenceData(patrol_quotas=[PatrolQuotaIn.model_validate(r) for r in rows]))


def held(world: World, period: str, compact: str | None = "QJ") -> dict[str, tuple[str, int, int]]:
    """Each assessed chief's (window, done, required)."""
    with world.app.reader() as uow:
        compact_id = compact_id_of(uow.connection, compact) if compact else None
        done = completion(uow.connection, period, compact_id)
    return {c.person: (c.window, c.done, c.required) for c in done.chiefs}


# -- which quota holds a chief --------------------------------------------------------------------


def test_the_deepest_jurisdictions_row_wins_then_the_compacts_then_the_default(world: World) -> None:
    quotas(
        world,
        {"level": "township", "count": 1, "per": "tenday"},  # the default: 3 a month
        {"level": "township", "count": 2, "per": "month", "jurisdiction": "500000"},  # 重庆市
        {"level": "township", "count": 5, "per": "month", "jurisdiction": "500152101"},  # 崇龛镇 itself
        {"level": "township", "count": 1, "per": "month", "compact": "QJ"},
    )
    in_compact = held(world, "2026-03")
    # 崇龛镇's own row beats 重庆市's; the other 重庆 townships take 重庆市's, the compact's row does not reach them.
    assert in_compact["tn-chonglong"] == ("2026-03", 0, 5)
    assert in_compact["tn-taian"] == in_compact["tl-anju"] == ("2026-03", 0, 2)
    # 四川's townships have no jurisdiction row: within the compact its row holds them.
    assert in_compact["sn-baima"] == in_compact["zy-longtai"] == ("2026-03", 0, 1)
    # Outside any compact they fall back to the level's default (1 a ten days: 3 a month).
    assert held(world, "2026-03", compact=None)["sn-baima"] == ("2026-03", 0, 3)
    assert "tn-chief" not in in_compact  # no district row anywhere: district chiefs are not assessed


def test_a_neighbour_provinces_chiefs_are_not_held_to_the_districts_quota_unless_a_row_says_so(world: World) -> None:
    quotas(
        world,
        {"level": "township", "count": 1, "per": "tenday", "jurisdiction": "500152"},
        {"level": "district", "count": 1, "per": "month", "jurisdiction": "500152"},
    )
    assert sorted(held(world, "2026-03")) == ["tn-biekou", "tn-chief", "tn-chonglong", "tn-taian", "tn-yuxi"]
    quotas(world, {"level": "township", "count": 2, "per": "month", "compact": "QJ"})  # the compact says so
    now = held(world, "2026-03")
    assert (now["sn-baima"], now["tn-taian"]) == (("2026-03", 0, 2), ("2026-03", 0, 3))  # 潼南's own row still wins
    assert "tl-chief" not in now  # 铜梁's district chief: no row for him


# -- completion over a month, a quarter, a year ---------------------------------------------------


def a_year(world: World) -> None:
    """潼南 holds its township chiefs to 1 a ten days and its district chief to 1 a month; the compact holds the
    city chiefs to 1 a quarter. Known patrols through the year."""
    quotas(
        world,
        {"level": "township", "count": 1, "per": "tenday", "jurisdiction": "500152"},
        {"level": "district", "count": 1, "per": "month", "jurisdiction": "500152"},
        {"level": "city", "count": 1, "per": "quarter", "compact": "QJ"},
    )
    world.clock.set(at("2026-12-06"))
    for day in ("01-05", "01-15", "01-25", "02-05", "02-15", "03-03", "03-13", "03-23", "03-28", "07-10"):
        patrol(world, "tn-taian", "qj-taian", f"2026-{day}")
    patrol(world, "tn-yuxi", "qj-yuxi", "2026-03-05")
    for day in ("01-10", "03-07", "03-20"):
        patrol(world, "tn-chief", "qj-yuxi", f"2026-{day}")
    patrol(world, "sn-chief", "qj-baima", "2026-02-10")
    patrol(world, "sn-chief", "qj-baima", "2026-05-10")


def test_completion_over_a_month_a_quarter_and_a_year_per_chief_and_per_district(world: World) -> None:
    a_year(world)
    with world.app.reader() as uow:
        qj = compact_id_of(uow.connection, "QJ")
        month, quarter, year = (completion(uow.connection, p, qj) for p in ("2026-03", "2026-Q1", "2026"))

    def chiefs(done: Any) -> list[tuple[str, str, int, int, str]]:
        return [(c.person, c.window, c.done, c.required, percent(c.rate)) for c in done.chiefs]

    # March: 3 a month for a township chief, 1 for the district chief; the city chiefs' quarter ends in March.
    assert chiefs(month) == [
        ("tn-chief", "2026-03", 2, 1, "200%"),
        ("tn-chonglong", "2026-03", 0, 3, "0%"),
        ("tn-taian", "2026-03", 4, 3, "133%"),
        ("tn-yuxi", "2026-03", 1, 3, "33%"),
        ("tn-biekou", "2026-03", 0, 3, "0%"),
        ("sn-chief", "2026-Q1", 1, 1, "100%"),
        ("zy-chief", "2026-Q1", 0, 1, "0%"),
    ]
    # Q1: 3 months x 3 = 9 for a township chief (太安 3 + 2 + 4 = 9), 3 for the district chief (1 + 2).
    assert chiefs(quarter) == [
        ("tn-chief", "2026-Q1", 3, 3, "100%"),
        ("tn-chonglong", "2026-Q1", 0, 9, "0%"),
        ("tn-taian", "2026-Q1", 9, 9, "100%"),
        ("tn-yuxi", "2026-Q1", 1, 9, "11%"),
        ("tn-biekou", "2026-Q1", 0, 9, "0%"),
        ("sn-chief", "2026-Q1", 1, 1, "100%"),
        ("zy-chief", "2026-Q1", 0, 1, "0%"),
    ]
    # The year: 36 for a township chief (太安 9 + July's 1 = 10), 12 for the district chief, 4 quarters for a city.
    assert chiefs(year) == [
        ("tn-chief", "2026", 3, 12, "25%"),
        ("tn-chonglong", "2026", 0, 36, "0%"),
        ("tn-taian", "2026", 10, 36, "28%"),
        ("tn-yuxi", "2026", 1, 36, "3%"),
        ("tn-biekou", "2026", 0, 36, "0%"),
        ("sn-chief", "2026", 2, 4, "50%"),
        ("zy-chief", "2026", 0, 4, "0%"),
    ]
    # Per district: 潼南's five chiefs summed (遂宁's and 资阳's chiefs are city chiefs, above any district).
    districts = [
        [(j.name, j.chiefs, j.under, j.done, j.required, percent(j.rate)) for j in done.at_level()]
        for done in (month, quarter, year)
    ]
    assert districts == [
        [("潼南区", 5, 3, 7, 13, "54%")],  # 2 + 0 + 4 + 1 + 0 of 1 + 4 x 3
        [("潼南区", 5, 3, 13, 39, "33%")],  # 3 + 0 + 9 + 1 + 0 of 3 + 4 x 9
        [("潼南区", 5, 5, 14, 156, "9%")],  # 3 + 0 + 10 + 1 + 0 of 12 + 4 x 36
    ]
    assert [(j.name, j.done, j.required) for j in year.at_level("city")] == [("遂宁市", 2, 4), ("资阳市", 0, 4)]
    assert (year.period, year.done, year.required, percent(year.rate)) == ("2026", 16, 164, "10%")


def test_a_year_quota_counts_in_the_quarter_that_ends_the_year_over_the_whole_year(world: World) -> None:
    quotas(world, {"level": "city", "count": 2, "per": "year"})
    world.clock.set(at("2026-12-06"))
    patrol(world, "sn-chief", "qj-baima", "2026-02-10")
    patrol(world, "sn-chief", "qj-baima", "2026-11-10")
    assert held(world, "2026-Q4")["sn-chief"] == ("2026", 2, 2)
    assert held(world, "2026-Q1")["sn-chief"] == ("2026-Q1", 1, 0)  # not assessed in Q1
    for period, field in (("2026-Q5", "period"), ("26", "period"), ("2026-13", "period")):
        with pytest.raises(ValidationFailed) as refused, world.app.reader() as uow:
            completion(uow.connection, period)
        assert refused.value.field == field


# -- patrols under way count nowhere ---------------------------------------------------------------


def under_way(world: World, who: str, segment: str, day: str, kind: str = "routine") -> int:
    """A patrol started on a phone and not stopped: no end, no duration."""
    with world.app.uow() as uow:
        conn = uow.connection
        pid = conn.execute(sa.select(col(Person.id)).where(col(Person.code) == who)).scalar_one()
        sid = conn.execute(sa.select(col(Segment.id)).where(col(Segment.code) == segment)).scalar_one()
        new = conn.execute(
            table_of(Patrol)
            .insert()
            .values(patroller_id=pid, segment_id=sid, kind=kind, started_at=at(day), created_at=at(day))
            .returning(table_of(Patrol).c.id)
        ).scalar_one()
        uow.commit()
    return int(new)


def everything(world: World) -> dict[str, Any]:
    """Every figure a patrol could count in: completion, the bulletin, the interview list, funding, the
    scorecard and the practice's figures."""
    with world.app.reader() as uow:
        conn = uow.connection
        qj = compact_id_of(conn, "QJ")
        card = scorecard(conn, "tn-taian", 2026, world.clock.now())
        return {
            "completion": held(world, "2026-03"),
            "quarter": held(world, "2026-Q1"),
            "bulletin": bulletin_figures(conn, qj, "2026-03"),
            "interviews": [
                (e.person, [(m.done, m.required) for m in e.months]) for e in interview_list(conn, "2026-Q1", qj)
            ],
            "funding": [(r.name, r.patrols, r.subsidy_fen) for r in funding(conn, "2026-03")],
            "scorecard": (card.patrols_done, card.swap_patrols, card.issues_found, card.issues_found_on_patrols),
            "practice": period_figures(conn, "QJ", date(2026, 3, 1), date(2026, 4, 1)),
        }


def test_a_patrol_still_under_way_counts_in_no_figure(world: World) -> None:
    quotas(world, {"level": "township", "count": 1, "per": "tenday", "jurisdiction": "500152"})
    set_funding_standard(world.app.uow(), "500152", 1500, 9000, date(2026, 1, 1))
    for township in ("500152101", "500152102", "500152103", "500152104"):
        set_township_class(world.app.uow(), township, "Ⅱ")
    pair(world)
    world.clock.set(at("2026-04-10"))
    for day in ("2026-03-03", "2026-03-13"):
        patrol(world, "tn-taian", "qj-taian", day)
    before = everything(world)
    routine = under_way(world, "tn-taian", "qj-taian", "2026-03-23")
    swap = under_way(world, "tn-taian", "qj-baima", "2026-03-24", kind="swap")
    issue = world.report(title="巡河中发现排污口")  # reported by tn-taian, from the swap patrol not yet stopped
    with world.app.uow() as uow:
        issue_id = uow.connection.execute(sa.text("SELECT id FROM issue WHERE code = :c"), {"c": issue}).scalar_one()
        uow.connection.execute(table_of(PatrolIssue).insert().values(issue_id=issue_id, patrol_id=swap))
        uow.commit()
    after = everything(world)
    assert routine != swap
    assert after["completion"]["tn-taian"] == ("2026-03", 2, 3)  # the two stopped patrols only
    assert after["quarter"]["tn-taian"] == ("2026-Q1", 2, 9)
    assert after["bulletin"] == before["bulletin"]
    assert after["interviews"] == before["interviews"]
    assert ("太安镇", 2, 3000) in after["funding"]
    assert after["funding"] == before["funding"]
    assert after["scorecard"] == (2, 0, 1, 0)  # the issue counts as found, not as found on a patrol
    assert before["practice"]["patrols"] == after["practice"]["patrols"] == 2
    assert after["practice"]["swap_patrols"] == after["practice"]["patrol_issues"] == 0


# -- the quota rows: reference data and command line -----------------------------------------------


def rows(world: World) -> list[tuple[str, int, str, str | None, str | None]]:
    with world.app.reader() as uow:
        found = uow.connection.execute(
            sa.text(
                "SELECT q.level, q.count, q.per, j.code, c.code FROM patrol_quota q "
                "LEFT JOIN jurisdiction j ON j.id = q.jurisdiction_id LEFT JOIN compact c ON c.id = q.compact_id"
            )
        ).all()
    return sorted((tuple(r) for r in found), key=lambda r: (r[0], r[3] or "", r[4] or ""))  # NULLs sort apart


def test_the_reference_data_replaces_the_scopes_it_names_and_loading_it_twice_changes_nothing(world: World) -> None:
    quotas(world, {"level": "township", "count": 1, "per": "tenday"}, {"level": "village", "count": 1, "per": "week"})
    scoped = (
        {"level": "township", "count": 2, "per": "month", "jurisdiction": "500152"},
        {"level": "district", "count": 1, "per": "month", "jurisdiction": "500152"},
        {"level": "city", "count": 1, "per": "quarter", "compact": "QJ"},
    )
    quotas(world, *scoped)
    quotas(world, *scoped)
    expected = [
        ("city", 1, "quarter", None, "QJ"),
        ("district", 1, "month", "500152", None),
        ("township", 1, "tenday", None, None),  # the defaults, a scope the file does not name, stay
        ("township", 2, "month", "500152", None),
        ("village", 1, "week", None, None),
    ]
    assert rows(world) == expected
    quotas(world, {"level": "township", "count": 3, "per": "month", "jurisdiction": "500152"})  # 500152's rows
    assert rows(world) == [expected[0], expected[2], ("township", 3, "month", "500152", None), expected[4]]


@pytest.mark.parametrize(
    ("row", "field", "reason"),
    [
        ({"jurisdiction": "500152", "compact": "QJ"}, "patrol_quotas[0].compact", "not both"),
        ({"jurisdiction": "999999"}, "patrol_quotas[0].jurisdiction", "'999999'"),
        ({"compact": "HJ"}, "patrol_quotas[0].compact", "'HJ'"),
    ],
)
def test_a_quota_row_names_one_known_scope(world: World, row: dict[str, str], field: str, reason: str) -> None:
    quotas(world, {"level": "township", "count": 1, "per": "tenday"})
    with pytest.raises(ValidationFailed) as refused:
        quotas(world, {"level": "township", "count": 2, "per": "month"} | row)
    assert (refused.value.field, reason in refused.value.reason) == (field, True)
    assert rows(world) == [("township", 1, "tenday", None, None)]  # nothing changed


def test_set_and_clear_one_row_and_refuse_a_row_for_two_scopes(world: World) -> None:
    set_quota(world.app.uow(), "township", 1, "tenday", jurisdiction="500152")
    set_quota(world.app.uow(), "township", 2, "tenday", jurisdiction="500152")  # replaced, not added
    set_quota(world.app.uow(), "township", 1, "month")
    assert rows(world) == [("township", 1, "month", None, None), ("township", 2, "tenday", "500152", None)]
    with pytest.raises(ValidationFailed) as refused:
        set_quota(world.app.uow(), "township", 1, "month", jurisdiction="500152", compact="QJ")
    assert refused.value.field == "compact"
    with pytest.raises(ValidationFailed) as refused:
        set_quota(world.app.uow(), "hamlet", 0, "fortnight")
    assert [f for f, _ in refused.value.errors] == ["level", "count", "per"]
    clear_quota(world.app.uow(), "township", jurisdiction="500152")
    with pytest.raises(ValidationFailed) as refused:
        clear_quota(world.app.uow(), "township", jurisdiction="500152")
    assert refused.value.field == "level"
    assert rows(world) == [("township", 1, "month", None, None)]


@pytest.mark.slow
def test_the_quota_and_completion_commands(tmp_path: Path) -> None:
    cli = Cli(tmp_path)
    cli.ok("init")
    cli.ok("load", str(DATA))
    assert "乡镇级河长（辖区 500152）：每旬不少于1次" in cli.ok(
        "patrol", "quota", "set", "township", "1", "tenday", "--jurisdiction", "500152"
    )
    cli.ok("patrol", "quota", "set", "district", "1", "month", "--jurisdiction", "500152")
    cli.ok("patrol", "quota", "set", "city", "1", "quarter", "--compact", "QJ")
    listed = cli.ok("patrol", "quota", "list")
    assert "辖区 500152" in listed
    assert "协作机制 QJ" in listed
    assert "每季度不少于1次" in listed
    for args, named in (
        (("set", "township", "1", "tenday", "--jurisdiction", "500152", "--compact", "QJ"), "error: --compact:"),
        (("set", "township", "1", "tenday", "--jurisdiction", "999999"), "error: --jurisdiction: no jurisdiction"),
        (("set", "township", "1", "fortnight"), "error: PER:"),
        (("clear", "village"), "error: LEVEL: no village quota"),
    ):
        refused = cli("patrol", "quota", *args)
        lines = [line for line in refused.stderr.splitlines() if line.strip()]
        assert (refused.returncode, len(lines), lines[0].startswith(named)) == (3, 1, True), refused.stderr
    cli.ok("patrol", "quota", "clear", "city", "--compact", "QJ")
    assert "协作机制 QJ" not in cli.ok("patrol", "quota", "list")
    year = cli.ok("patrol", "completion", "2026", "--compact", "QJ")
    assert "各区县巡河完成率 2026" in year
    assert "河长巡河完成情况 2026" in year
    # Nobody patrolled: 潼南's five chiefs owe 4 x 36 + 12 = 156 patrols over the year.
    district = next(line for line in year.splitlines() if "潼南区" in line)
    assert district.split()[2:] == ["│", "5", "│", "5", "│", "156", "│", "0", "│", "0%", "│"]
    assert "安居区" not in year  # the neighbour province's chiefs are held to nothing here
    assert "河长巡河完成情况 2026-03" in cli.ok("patrol", "completion", "--month", "2026-03")
    refused = cli("patrol", "completion", "2026-Q7")
    assert refused.returncode == 3
    assert refused.stderr.splitlines() == [
        "error: period: '2026-Q7' is not a year like 2026, a quarter like 2026-Q1 or a month like 2026-03"
    ]


# -- the stats' patrol figures per district ---------------------------------------------------------


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_api(world.app)) as test_client:
        yield test_client


def test_the_stats_give_patrols_problems_found_and_completion_per_district(world: World, client: TestClient) -> None:
    a_year(world)
    issue = world.report(title="巡河发现排污口")
    with world.app.uow() as uow:
        conn = uow.connection
        march = conn.execute(
            sa.select(col(Patrol.id)).where(col(Patrol.started_at) == at("2026-03-03")).limit(1)
        ).scalar_one()
        issue_id = conn.execute(sa.text("SELECT id FROM issue WHERE code = :c"), {"c": issue}).scalar_one()
        conn.execute(table_of(PatrolIssue).insert().values(issue_id=issue_id, patrol_id=march))
        uow.commit()
    under_way(world, "tn-taian", "qj-taian", "2026-03-30")
    token = create_token(world.app.uow(), "qj-coord", "test")[1]
    answer = client.get("/api/v1/stats?from=2026-01-01&to=2026-04-01", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    figures = answer.json()
    assert "practice" in figures
    assert "parties" in figures
    by_district = figures["patrol_districts"]
    assert by_district["completion_period"] == "2026-Q1"
    assert [
        (
            d["code"],
            d["name"],
            d["patrols"],
            d["patrol_issues"],
            d["patrols_done"],
            d["patrols_required"],
            d["completion"],
        )
        for d in by_district["districts"]
    ] == [
        ("500151", "铜梁区", 0, 0, 0, 0, "—"),
        ("500152", "潼南区", 13, 1, 13, 39, "33%"),  # 太安 9, 玉溪 1, the district chief 3; not the one under way
        ("510904", "安居区", 0, 0, 0, 0, "—"),  # sn-chief's patrols are 遂宁市's, above the district
        ("512021", "安岳县", 0, 0, 0, 0, "—"),
    ]
    partial = client.get(
        "/api/v1/stats?from=2026-01-15&to=2026-03-31", headers={"Authorization": f"Bearer {token}"}
    ).json()["patrol_districts"]
    assert partial["completion_period"] == "2026-02"  # only February lies whole inside the days
    assert partial["districts"][1]["patrols_required"] == 12 + 1
    assert partial["districts"][1]["patrols"] == 2 + 2 + 4 + 1 + 2  # 太安 from Jan 15, Feb, Mar; 玉溪; the chief


def test_quota_rows_cleared_leave_nobody_assessed(world: World) -> None:
    set_quota(world.app.uow(), "township", 1, "tenday", compact="QJ")
    assert len(held(world, "2026-03")) == 8  # every township chief of the compact
    clear_quota(world.app.uow(), "township", compact="QJ")
    assert held(world, "2026-03") == {}
    assert rows(world) == []


def test_the_dashboard_shows_the_years_patrol_completion_per_district(sqlite_world: World) -> None:
    from workflow.accounts.signin import set_password

    a_year(sqlite_world)  # the clock stands at 2026-12-06: January to November have ended
    set_password(sqlite_world.app.uow(), "qj-coord", "琼江清水长流-2026")
    with TestClient(create_api(sqlite_world.app)) as pages:
        pages.cookies.set("rc_lang", "zh-CN")
        pages.post("/login", data={"person": "qj-coord", "password": "琼江清水长流-2026", "next": "/"})
        html = pages.get("/dashboard").text
    assert "各区县巡河完成率（2026-01 – 2026-11）" in html
    # 潼南 owes 11 x (4 x 3 + 1) = 143 over January to November and made 10 + 1 + 3 = 14: 10%.
    row = html[html.index('data-testid="patrols-500152"') :].split("</tr>")[0]
    assert [cell.split(">")[-1] for cell in row.split("</td>")[:-1]] == ["潼南区", "14", "0", "143", "14", "10%"]
    assert "未设巡河计划" in html.split('data-testid="patrols-500151"')[1].split("</tr>")[0]
