"""The bulletin's figures: steps counted per period, per compact and per member party (and for which side)."""

from __future__ import annotations

import calendar as month_calendar
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from workflow.core.clock import SHANGHAI
from workflow.core.models import (
    Compact,
    CompactMember,
    Event,
    Issue,
    Jurisdiction,
    table_of,
)
from workflow.reading.issues import compact_id_of
from workflow.reading.overdue import Overdue, overdue_parties, overdue_waits
from workflow.reading.practice import PatrolCounts, meeting_figures, sides_figures

_issue = table_of(Issue)
_event = table_of(Event)


# -- bulletins ------------------------------------------------------------------------------------

# The figures of a bulletin, in the practice's terms, and the triggers each counts; the catalogue words each
# (``bulletin.figure.<key>`` in states.words).
FIGURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("handed_over", ("hand_off",)),
    ("accepted", ("accept",)),
    ("disputed", ("dispute",)),
    ("negotiated", ("dispute", "negotiate")),
    ("joint_meetings", ("convene",)),
    ("dispatched", ("dispatch",)),
    ("rectified", ("report_done",)),
    ("verified", ("request_verify",)),
    ("closed", ("close",)),
    ("revisits", ("start_revisit",)),
    ("rebounds", ("rebound",)),
    ("archived", ("archive",)),
)
_COUNTED = sorted({t for _, triggers in FIGURES for t in triggers})


def month_bounds(period: str) -> tuple[datetime, datetime]:
    """The first instant of a month ("2026-03") and of the next, in Asia/Shanghai."""
    year, month = (int(x) for x in period.split("-"))
    start = datetime(year, month, 1, tzinfo=SHANGHAI)
    days = month_calendar.monthrange(year, month)[1]
    return start, start + timedelta(days=days)


def _steps(
    conn: sa.Connection, compact_id: int, start: datetime, end: datetime, paths: Sequence[str] = ()
) -> list[Any]:
    """The figures' steps of the compact's issues in [start, end), counted by trigger and, for each of
    ``paths`` (the k-th), whether the issue's reporting side (``reporting_k``) and receiving side
    (``receiving_k``) are at or under it.

    One grouped statement however many paths: the compact's steps of the counted kinds in the period are
    read once from ``ix_event_compact_trigger_occurred`` (a range per kind), and come out of the
    grouping as a handful of rows. A report merged into another (a duplicate) is the same problem: its
    steps before the merge (a hand-off, an acceptance) are not counted again beside the original's.
    """
    # The steps counted by trigger and by the issue's two sides first (a compact's year at province scale:
    # 9,374 steps in 4,576 groups), their sides' paths looked up after: joined row by row, the planner looked
    # the two jurisdictions of every step up, 56,565 pages.
    by_sides = (
        sa.select(
            _event.c.trigger,
            _issue.c.reporting_jurisdiction_id.label("reporting_id"),
            _issue.c.receiving_jurisdiction_id.label("receiving_id"),
            sa.func.count().label("n"),
        )
        .select_from(_event.join(_issue, _issue.c.id == _event.c.issue_id))
        .where(
            _event.c.compact_id == compact_id,
            # The issue's too: the issues joined are then the compact's, with their sides read from
            # ix_issue_compact_sides without the rows, not the province's read whole.
            _issue.c.compact_id == compact_id,
            _issue.c.duplicate_of_id.is_(None),
            _event.c.occurred_at >= start,
            _event.c.occurred_at < end,
            _event.c.trigger.in_(_COUNTED),
        )
        .group_by(_event.c.trigger, _issue.c.reporting_jurisdiction_id, _issue.c.receiving_jurisdiction_id)
        .subquery("by_sides")
    )
    if not paths:
        return list(
            conn.execute(
                sa.select(by_sides.c.trigger, sa.cast(sa.func.sum(by_sides.c.n), sa.Integer).label("n")).group_by(
                    by_sides.c.trigger
                )
            ).all()
        )
    reporting = table_of(Jurisdiction).alias("reporting_side")
    receiving = table_of(Jurisdiction).alias("receiving_side")
    flags: list[sa.Label[int]] = []
    for k, path in enumerate(paths):
        flags.append(sa.case((reporting.c.path.startswith(path), 1), else_=0).label(f"reporting_{k}"))
        flags.append(sa.case((receiving.c.path.startswith(path), 1), else_=0).label(f"receiving_{k}"))
    source = by_sides.join(reporting, reporting.c.id == by_sides.c.reporting_id).outerjoin(
        receiving, receiving.c.id == by_sides.c.receiving_id
    )
    return list(
        conn.execute(
            sa.select(by_sides.c.trigger, *flags, sa.cast(sa.func.sum(by_sides.c.n), sa.Integer).label("n"))
            .select_from(source)
            .group_by(by_sides.c.trigger, *flags)
        ).all()
    )


def _by_figure(steps: Iterable[Any]) -> dict[str, int]:
    by_trigger: Counter[str] = Counter()
    for r in steps:
        by_trigger[r.trigger] += r.n
    return {key: sum(by_trigger[t] for t in triggers) for key, triggers in FIGURES}


def step_counts(conn: sa.Connection, compact_id: int, start: datetime, end: datetime) -> dict[str, int]:
    """The steps of the compact's issues in [start, end), by figure (a duplicate's steps not counted)."""
    return _by_figure(_steps(conn, compact_id, start, end))


_REPORTING_SIDE = frozenset({"reporting"})
_RECEIVING_SIDE = frozenset({"receiving"})
_BOTH_SIDES = _REPORTING_SIDE | _RECEIVING_SIDE

# For the per-party figures: which side of an issue a figure counts for.
FIGURE_SIDES: dict[str, frozenset[str]] = {
    "handed_over": _REPORTING_SIDE,  # it handed the problem over
    "accepted": _RECEIVING_SIDE,  # it took the problem on
    "disputed": _RECEIVING_SIDE,  # it disputed a hand-off
    "negotiated": _BOTH_SIDES,  # difficult points settle between both sides
    "joint_meetings": _BOTH_SIDES,  # both sides sit in the joint meeting
    "dispatched": _RECEIVING_SIDE,  # the order to act goes to the side that must fix it
    "rectified": _RECEIVING_SIDE,  # it did the work
    "verified": _BOTH_SIDES,  # both sides check together (复核验收)
    "closed": _BOTH_SIDES,  # both sides signed the closure
    "revisits": _RECEIVING_SIDE,  # its rectification is looked at again
    "rebounds": _RECEIVING_SIDE,  # its rectification did not hold
    "archived": _BOTH_SIDES,  # the issue is settled for both
}


def _members(conn: sa.Connection, compact_id: int) -> list[Any]:
    """The compact's member jurisdictions, in code order."""
    jurisdictions, members = table_of(Jurisdiction), table_of(CompactMember)
    return list(
        conn.execute(
            sa.select(jurisdictions.c.id, jurisdictions.c.code, jurisdictions.c.name, jurisdictions.c.path)
            .join(members, members.c.jurisdiction_id == jurisdictions.c.id)
            .where(members.c.compact_id == compact_id)
            .order_by(jurisdictions.c.code)
        ).all()
    )


def _member_figures(
    conn: sa.Connection, members: Sequence[Any], steps: Iterable[Any], waits: Sequence[Overdue]
) -> list[dict[str, Any]]:
    """Each member jurisdiction of the compact (its descendants rolled up) with the figures of its issues.

    ``steps`` are ``_steps`` with the members' paths, in the same order: an event counts once for a member
    even where both sides are under it; ``waits`` the compact's overdue waits of the period.
    """
    figures = [dict.fromkeys(FIGURE_SIDES, 0) for _ in members]
    for r in steps:
        for k, counted in enumerate(figures):
            sides = {side for side in ("reporting", "receiving") if r._mapping[f"{side}_{k}"]}
            for key, triggers in FIGURES:
                if r.trigger in triggers and sides & FIGURE_SIDES[key]:
                    counted[key] += r.n
    waited_on = {o.jurisdiction_id for o in waits if o.jurisdiction_id is not None}
    jurisdictions = table_of(Jurisdiction)
    lookup = sa.select(jurisdictions.c.id, jurisdictions.c.path).where(jurisdictions.c.id.in_(waited_on))
    paths: dict[int, str] = dict(conn.execute(lookup).all())
    return [
        {
            "code": m.code,
            "name": m.name,
            **counted,
            "overdue": len({o.issue_code for o in waits if paths.get(o.jurisdiction_id or 0, "").startswith(m.path)}),
        }
        for m, counted in zip(members, figures, strict=True)
    ]


def compact_codes(conn: sa.Connection, compact_ids: Iterable[int]) -> list[str]:
    """The codes of these compacts, in code order."""
    compact = table_of(Compact)
    return list(
        conn.execute(
            sa.select(compact.c.code).where(compact.c.id.in_(list(compact_ids))).order_by(compact.c.code)
        ).scalars()
    )


def stats(
    conn: sa.Connection,
    compact_code: str,
    start: datetime,
    end: datetime,
    *,
    practice: bool = True,
    patrols: PatrolCounts | None = None,
) -> dict[str, Any]:
    """The figures of a compact over [start, end), in the practice's terms, with the overdue parties by name.

    ``parties`` gives the same figures for each member jurisdiction of the
    compact, its descendants rolled up, counting an event for the member that
    is (or is above) the side ``FIGURE_SIDES`` names: handed_over for the
    reporting side; accepted, disputed, dispatched, rectified, revisits and
    rebounds for the receiving side; negotiated, joint_meetings, verified,
    closed and archived for both sides. ``overdue`` there counts the issues
    whose missed deadline waited on that member's side. ``patrols``: the
    compact's ``patrol_counts`` of the same period, when the caller has them.
    """
    compact_id = compact_id_of(conn, compact_code)
    waits = list(overdue_waits(conn, compact_id, start, end))  # read once: for the parties and each member
    parties = overdue_parties(conn, compact_id, start, end, waits)
    first, last = start.astimezone(SHANGHAI).date(), end.astimezone(SHANGHAI).date()
    member_rows = _members(conn, compact_id)
    steps = _steps(conn, compact_id, start, end, [m.path for m in member_rows])
    members = _member_figures(conn, member_rows, steps, waits)
    whole: dict[str, Any] | None = None
    if practice:
        # The practice's figures, the compact's and each member's: a dozen statements shared by all, and the
        # joint meetings of each; only where asked for.
        whole, *by_member = sides_figures(
            conn, compact_code, first, last, [None, *(m["code"] for m in members)], patrols
        )
        for member, figures in zip(members, by_member, strict=True):
            member["practice"] = figures
    # Meetings, not the issues put to them: what the dashboard shows beside the step counts. The practice's
    # figures count the same meetings when the period runs midnight to midnight, as the pages' periods do.
    days = tuple(datetime.combine(d, time(0), tzinfo=SHANGHAI) for d in (first, last))
    if whole is not None and days == (start, end):
        held = whole["joint_meetings"]
    else:
        held = meeting_figures(conn, compact_id, start, end)["joint_meetings"]
    return {
        "compact": compact_code,
        "from": start.isoformat(),
        "to": end.isoformat(),
        **_by_figure(steps),
        "overdue": sum(len(p["issues"]) for p in parties),
        "overdue_parties": parties,
        "meetings_held": held,
        **({"practice": whole} if whole is not None else {}),
        "parties": members,
    }
