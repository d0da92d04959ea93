"""The demo's 巡 and 查: swap pairings along the 琼江, a month of patrols with their tracks, an issue found on a
swap patrol and one on a covert inspection (暗访), a joint enforcement case, a litigation lead, the funding, and
潼南's patrol year against the quotas 潼南 sets for its own chiefs (巡河完成率 128%, as 万州 reports it).

``play`` moves the demo's simulated clock through 2026 up to early December
and puts it back where it found it.
"""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from rich.console import Console

from riverchief.patrol_cli import print_cases, print_completion, print_funding
from states.words import word
from workflow.core.actors import Actor, load_actor
from workflow.core.calendar import local_today
from workflow.core.clock import SHANGHAI, FrozenClock
from workflow.core.models import Segment
from workflow.core.reference import PatrolQuotaIn, ReferenceData, load
from workflow.core.services import IssueDraft, apply
from workflow.enforcement.cases import close_case, list_cases, open_case
from workflow.enforcement.leads import record_receipt, transfer_lead
from workflow.patrols.basics import percent
from workflow.patrols.completion import completion, district_figures
from workflow.patrols.funding import funding, funding_sheet, set_funding_standard, set_township_class
from workflow.patrols.pairings import add_pairing
from workflow.patrols.records import record_patrol, report_from_patrol
from workflow.patrols.tracks import parse_track
from workflow.reading.issues import compact_id_of
from workflow.reading.practice import FIGURES, period_figures

if TYPE_CHECKING:
    from riverchief.bootstrap import App

# Boundary chiefs of neighbouring sides along the 琼江 and the 磨溪河, paired for the year.
PAIRINGS = (
    ("zy-longtai", "qj-longtai", "tn-chonglong", "qj-chonglong"),
    ("sn-baima", "qj-baima", "tn-taian", "qj-taian"),
    ("tn-yuxi", "qj-yuxi", "tl-anju", "qj-anju"),
    ("sn-moxi", "mx-moxi", "tn-biekou", "mx-biekou"),
)

# March 2026: (patroller, segment, day, hour). A segment that is not the patroller's is a swap patrol.
MARCH: tuple[tuple[str, str, int, int], ...] = (
    *(("tn-taian", "qj-taian", d, 9) for d in (3, 12, 23)),
    ("tn-taian", "qj-baima", 17, 9),
    *(("sn-baima", "qj-baima", d, 9) for d in (4, 13, 24)),
    ("sn-baima", "qj-taian", 18, 14),
    *(("tn-chonglong", "qj-chonglong", d, 8) for d in (5, 16, 26)),
    ("tn-chonglong", "qj-longtai", 19, 9),
    ("zy-longtai", "qj-longtai", 6, 9),
    ("zy-longtai", "qj-chonglong", 11, 15),
    *(("tn-yuxi", "qj-yuxi", d, 8) for d in (2, 10, 20, 30)),
    ("tn-yuxi", "qj-anju", 25, 9),
    ("tl-anju", "qj-anju", 9, 10),
    *(("sn-moxi", "mx-moxi", d, 9) for d in (3, 13, 23)),
    *(("tn-biekou", "mx-biekou", d, 9) for d in (4, 14, 24)),
    ("tn-biekou", "mx-moxi", 27, 9),
    ("tn-chief", "qj-yuxi", 21, 10),
    ("zy-chief", "qj-longtai", 28, 10),
)

PEOPLE = ("tn-taian", "sn-baima", "tn-office", "qj-coord", *{p for p, *_ in MARCH})

# 潼南, the district that deploys, holds its own chiefs to its patrol plan (巡河计划); the neighbours' chiefs
# are held to none here unless a compact's row or their own jurisdiction's says so.
QUOTAS = (("village", 1, "week"), ("township", 1, "tenday"), ("district", 1, "month"))
DEPLOYING = "500152"

# 潼南's year outside March (entered from the chiefs' patrol logs, without tracks): patrols a month, each chief on
# their own segment. 别口镇 falls short in February and August; December is under way (up to the 5th).
# With March's 18 that is 200 patrols against 156 required: 4 townships x 36 and the district's 12, 128%.
YEAR: dict[tuple[str, str], dict[int, int]] = {
    ("tn-chonglong", "qj-chonglong"): {**dict.fromkeys((1, 2, *range(4, 12)), 4), 12: 1},
    ("tn-taian", "qj-taian"): {**dict.fromkeys((1, 2, *range(4, 12)), 4), 12: 1},
    ("tn-yuxi", "qj-yuxi"): {**dict.fromkeys((1, 2, *range(4, 12)), 5), 12: 1},
    ("tn-biekou", "mx-biekou"): {**dict.fromkeys((1, *range(4, 8), 9, 10, 11), 4), 2: 2, 8: 2, 12: 1},
    ("tn-chief", "qj-yuxi"): {**dict.fromkeys((1, 2, 4, 5, 7, 8, 10, 11), 1), 6: 2, 9: 2},
}
DAYS = {1: (2,), 2: (8, 22), 4: (4, 12, 20, 27), 5: (3, 9, 15, 21, 27)}


def _at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def _track(line: list[list[float]], start: datetime, end: datetime) -> bytes:
    """A made-up phone track along a segment's course: 12 points between its ends, evenly timed."""
    steps = 11
    legs = list(itertools.pairwise(line))
    points = []
    for i in range(steps + 1):
        where = i / steps * len(legs)
        leg = min(int(where), len(legs) - 1)
        (x0, y0), (x1, y1) = legs[leg]
        f = where - leg
        points.append([round(x0 + (x1 - x0) * f, 6), round(y0 + (y1 - y0) * f, 6)])
    span = end - start - timedelta(minutes=10)
    times = [(start + timedelta(minutes=5) + span * i / steps).isoformat() for i in range(steps + 1)]
    feature = {
        "type": "Feature",
        "properties": {"coordTimes": times},
        "geometry": {"type": "LineString", "coordinates": points},
    }
    return json.dumps(feature).encode()


class _Play:
    """The demo's people and clock, for the steps below."""

    def __init__(self, app: App, clock: FrozenClock) -> None:
        self.app, self.clock = app, clock
        with app.reader() as uow:
            self.people: dict[str, Actor] = {code: load_actor(uow.session, code) for code in PEOPLE}
            self.courses: dict[str, Any] = dict(
                uow.connection.execute(sa.select(Segment.code, Segment.geometry)).all()  # type: ignore[call-overload]
            )

    def patrol(self, who: str, segment: str, start: datetime, hours: float = 2, kind: str | None = None) -> int:
        """Record a patrol with its track, as the phone uploads it when the patrol ends."""
        end = start + timedelta(hours=hours)
        self.clock.set(end + timedelta(minutes=5))
        track = parse_track(_track(self.courses[segment], start, end), f"{who}-{start:%m%d}.geojson")
        return record_patrol(
            self.app.uow(), self.people[who], segment, started_at=start, ended_at=end, track=track, kind=kind
        ).id

    def fire(self, code: str, trigger: str, who: str, at: datetime, **payload: Any) -> None:
        """Someone fires a trigger at a given moment."""
        self.clock.set(at)
        apply(self.app.uow(), code, trigger, self.people[who], payload)

    def deadline(self, working_days: int) -> str:
        """A date this many working days from the clock's day."""
        return self.app.calendar.add_working_days(local_today(self.clock.now()), working_days).isoformat()


def play(app: App, clock: FrozenClock, console: Console) -> None:
    """Pairings, March's patrols, a swap-patrol and a covert-inspection issue, a joint case and a lead; print them."""
    resume = clock.now()
    quotas = [
        PatrolQuotaIn.model_validate({"level": lv, "count": n, "per": per, "jurisdiction": DEPLOYING})
        for lv, n, per in QUOTAS
    ]
    load(app.uow(), ReferenceData(patrol_quotas=quotas))
    for a, segment_a, b, segment_b in PAIRINGS:
        add_pairing(app.uow(), "QJ", a, segment_a, b, segment_b, date(2026, 1, 1), date(2026, 12, 31))
    _funding_standards(app)
    p = _Play(app, clock)
    patrol_ids = {(who, segment, day): p.patrol(who, segment, _at(day, hour)) for who, segment, day, hour in MARCH}

    # 巡: the 太安镇 chief, on a swap patrol of the 白马镇 bank, finds dumped waste; 白马镇 has it at once.
    clock.set(_at(17, 11, 20))
    swap = report_from_patrol(
        app.uow(),
        p.people["tn-taian"],
        patrol_ids[("tn-taian", "qj-baima", 17)],
        IssueDraft(
            compact="QJ",
            title="白马镇段右岸岸坡建筑垃圾倾倒",
            category="solid_waste",
            place="琼江白马镇段右岸，白马大桥上游约500米",
            lon=105.712,
            lat=30.221,
            description="交叉互巡中发现右岸岸坡倾倒建筑垃圾约20立方米，部分滑入河道。",
        ),
    ).issue_code
    p.fire(swap, "accept", "sn-baima", _at(18, 9), note="已受理，安排清运")
    p.fire(swap, "start_rectify", "sn-baima", _at(18, 9, 30), plan="清运垃圾、设置警示牌", deadline=p.deadline(5))
    p.fire(swap, "report_done", "sn-baima", _at(20, 16), summary="垃圾已清运，设警示牌1块")
    items = ["photos", "site_check", "waste_cleared"]
    p.fire(swap, "request_verify", "tn-taian", _at(23, 11), note="交叉互巡复核")
    p.fire(swap, "pass_check", "sn-baima", _at(23, 15), checklist=items)
    p.fire(swap, "pass_check", "tn-taian", _at(23, 15, 10), checklist=items)
    p.fire(swap, "close", "tn-taian", _at(23, 15, 20), note="一次性销号")

    # 暗访: the 潼南区 office's covert inspection finds livestock wastewater from across the river.
    covert_id = p.patrol("tn-office", "qj-taian", _at(26, 14), hours=1.5, kind="covert")
    clock.set(_at(26, 16))
    covert = report_from_patrol(
        app.uow(),
        p.people["tn-office"],
        covert_id,
        IssueDraft(
            compact="QJ",
            title="暗访发现对岸养殖场废水经沟渠入河",
            category="livestock",
            place="琼江太安镇段对岸，白马镇某养殖场排水沟",
            lon=105.706,
            lat=30.214,
        ),
    ).issue_code
    p.fire(covert, "hand_off", "tn-office", _at(26, 16, 30), receiving="510904101", note="暗访发现，请白马镇查处")
    p.fire(covert, "accept", "sn-baima", _at(27, 10))
    p.fire(covert, "start_rectify", "sn-baima", _at(27, 11), plan="养殖场停止排放，建设沉淀池", deadline=p.deadline(8))

    # 查: the joint team takes on the discharge; the case goes to the procuratorate as a lead.
    clock.set(_at(27, 15))
    case = open_case(
        app.uow(),
        p.people["qj-coord"],
        "QJ",
        "discharge",
        "太安—白马交界养殖废水偷排联合查处",
        ["500152", "510904"],
        date(2026, 3, 27),
        team=["潼南区生态环境综合行政执法支队", "遂宁市安居区生态环境局执法大队", "琼江流域联席会议办公室"],
        issues=[covert],
    )
    clock.set(_at(31, 10))
    lead = transfer_lead(
        app.uow(),
        p.people["tn-office"],
        "QJ",
        "500152",
        "琼江太安段养殖废水污染公益诉讼线索",
        "潼南区人民检察院",
        date(2026, 3, 31),
        case=case,
    )
    p.fire(covert, "report_done", "sn-baima", _at(8, 16, month=4), summary="沉淀池建成，排水沟封堵")
    livestock = ["photos", "site_check", "manure_handled", "no_discharge"]
    p.fire(covert, "request_verify", "tn-office", _at(9, 10, month=4))
    p.fire(covert, "pass_check", "sn-baima", _at(9, 15, month=4), checklist=livestock)
    p.fire(covert, "pass_check", "tn-office", _at(9, 15, 10, month=4), checklist=livestock)
    p.fire(covert, "close", "tn-office", _at(9, 15, 20, month=4))
    clock.set(_at(9, 17, month=4))
    close_case(app.uow(), p.people["qj-coord"], case, date(2026, 4, 9), "责令停止排放，罚款并限期建成治污设施")
    record_receipt(app.uow(), p.people["tn-office"], lead, "潼检公益线索〔2026〕7号", date(2026, 4, 3))

    _patrol_year(p)
    _show(app, console, p, swap, covert)
    clock.set(resume)


def _patrol_year(p: _Play) -> None:
    """潼南's chiefs' patrols in the other months of 2026 (``YEAR``), each as its log gives it: two hours."""
    hours = {who: 8 + i for i, (who, _) in enumerate(YEAR)}
    for month in (1, 2, *range(4, 13)):
        for (who, segment), plan in YEAR.items():
            for day in DAYS[plan.get(month, 0)] if plan.get(month) else ():
                start = _at(day, hours[who], month=month)
                p.clock.set(start + timedelta(hours=2, minutes=5))
                record_patrol(
                    p.app.uow(), p.people[who], segment, started_at=start, ended_at=start + timedelta(hours=2)
                )


def _funding_standards(app: App) -> None:
    """潼南 and 铜梁 budget patrol funding; their townships are classed by their economy."""
    set_funding_standard(app.uow(), "500152", 1500, 9000, date(2026, 1, 1))  # 15 yuan a patrol, 90 a patroller
    set_funding_standard(app.uow(), "500151", 1200, 8000, date(2026, 1, 1))
    for township, grade in (
        ("500152101", "Ⅲ"),
        ("500152102", "Ⅱ"),
        ("500152103", "Ⅰ"),
        ("500152104", "Ⅳ"),
        ("500151101", "Ⅲ"),
        ("500151102", "Ⅳ"),
    ):
        set_township_class(app.uow(), township, grade)


def _show(app: App, console: Console, p: _Play, swap: str, covert: str) -> None:
    console.rule("巡 · 查 patrols and joint enforcement")
    console.print(f"交叉互巡发现 {swap}（已移交白马镇并销号）；暗访发现 {covert}（已联合查处、移送公益诉讼线索）")
    with app.reader() as uow:
        conn = uow.connection
        qj = compact_id_of(conn, "QJ")
        print_completion(console, completion(conn, "2026-03", qj))
        year = completion(conn, "2026", qj)
        print_completion(console, year)
        by_district = district_figures(conn, qj, date(2026, 1, 1), date(2027, 1, 1))["districts"]
        print_funding(console, funding_sheet(funding(conn, "2026-03")), "2026-03")
        print_cases(console, list_cases(conn, p.people["qj-coord"]))
        figures = period_figures(conn, "QJ", date(2026, 1, 1), date(2026, 5, 1), side="500152")
    # The bulletins and revisit reports come later, from the scheduler's months: they are counted there.
    shown = [
        (key, word(f"progress.figure.{key}", False))
        for key in FIGURES
        if key not in ("progress_bulletins", "revisit_reports")
    ]
    console.print("潼南 2026-01-01 – 2026-04-30")
    console.print("  " + "，".join(f"{label} {figures[key]}" for key, label in shown))
    console.print("2026年各区县：")
    for d in by_district:
        console.print(
            f"  {d['name']} 巡河{d['patrols']}次、巡河上报问题{d['patrol_issues']}个、巡河完成率{d['completion']}"
            + (f"（{d['patrols_done']}/{d['patrols_required']}）" if d["patrols_required"] else "（未设巡河计划）")
        )
    console.print(f"潼南 2026年巡河完成率 {percent(year.rate)}（{year.done}/{year.required}）")
