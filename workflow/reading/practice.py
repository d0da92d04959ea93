"""The practice's figures over a period: boundary chiefs, patrols, problems found, cases, leads, bulletins."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa

from workflow.core.clock import SHANGHAI
from workflow.core.errors import ValidationFailed
from workflow.core.lookups import compact_row, member_paths
from workflow.core.models import (
    ActionItem,
    Bulletin,
    EnforcementCase,
    EnforcementParty,
    Event,
    Issue,
    Jurisdiction,
    LeadTransfer,
    Meeting,
    MeetingInvitee,
    MeetingIssue,
    Patrol,
    PatrolIssue,
    Person,
    ReportFile,
    Segment,
    SwapPairing,
    table_of,
)

_case = table_of(EnforcementCase)
_party = table_of(EnforcementParty)
_lead = table_of(LeadTransfer)
_juris = table_of(Jurisdiction)
_issue = table_of(Issue)
_event = table_of(Event)


# -- the practice's figures over a period ---------------------------------------------------------

# The figures of the practice notes, in their order; the catalogue words each (``progress.figure.<key>``).
FIGURES: tuple[str, ...] = (
    "boundary_chiefs",
    "swap_patrols",
    "patrols",
    "covert_inspections",
    "patrol_issues",
    "handed_over",
    "accepted",
    "disputed",
    "negotiated",
    "dispatched",
    "rectified",
    "closed",
    "closed_without_rebound",
    "rebounds",
    "joint_cases",
    "leads_transferred",
    "joint_meetings",
    "progress_bulletins",
    "monthly_bulletins",
    "action_items_open",
    "action_items_overdue",
    "revisits",
    "revisit_reports",
)


def _at_or_under(path: str | None, side: str | None) -> bool:
    """A jurisdiction ``path`` at or under ``side``'s path; every path is under no side (the whole compact)."""
    return side is None or (path is not None and path.startswith(side))


def _summed(rows: Iterable[Any], sides: Sequence[str | None]) -> list[int]:
    """Counts per jurisdiction path (rows of path, n) summed for each side: those at or under it."""
    rows = list(rows)
    return [sum(n for path, n in rows if _at_or_under(path, side)) for side in sides]


def period_figures(
    conn: sa.Connection, compact: str, start: date, end: date, side: str | None = None
) -> dict[str, Any]:
    """The practice's figures for a compact over the days [start, end), or for one side of it.

    Counted as the practice notes count them: boundary chiefs in a pairing
    live in the period; swap patrols, patrols and covert inspections made in
    it; the issues handed over in it (by ``side``, when given) and, of those,
    how many were accepted (受理: not disputed), rectified, and closed at the
    first joint check without a rebound (一次性销号未反弹) by ``end``; joint
    cases opened and leads transferred; joint meetings convened and revisits
    started on the compact's issues (with ``side`` as either party); the
    monthly bulletins for months in the period and the revisit reports filed.
    """
    return sides_figures(conn, compact, start, end, [side])[0]


def sides_figures(
    conn: sa.Connection,
    compact: str,
    start: date,
    end: date,
    sides: Sequence[str | None],
    patrols: PatrolCounts | None = None,
) -> list[dict[str, Any]]:
    """``period_figures`` for each of ``sides`` (a jurisdiction's code, or None for the whole compact), in order.

    The sides share the statements: each reads the period's rows of the compact once, grouped by the
    jurisdiction paths they count for, and each side sums the groups at or under its own path. So the
    whole compact and all its members cost the statements of one side, and the joint meetings of each.
    ``patrols``: the compact's ``patrol_counts`` of the same days, when the caller has them already.
    """
    row = compact_row(conn, compact)
    paths = _side_paths(conn, sides)
    since, until = (datetime.combine(d, time(0), tzinfo=SHANGHAI) for d in (start, end))
    if until <= since:
        raise ValidationFailed("end", f"{end} is not after start {start}")
    steps = _events(conn, row.id, ("rebound", "start_revisit"), since, until, paths)
    shared = {
        "progress_bulletins": _progress_bulletins(conn, row.id, since, until),
        "monthly_bulletins": _bulletins(conn, row.id, start, end),
        "revisit_reports": _count(
            conn,
            sa.select(sa.func.count()).where(
                table_of(ReportFile).c.compact_id == row.id,
                table_of(ReportFile).c.kind == "revisit",
                table_of(ReportFile).c.created_at >= since,
                table_of(ReportFile).c.created_at < until,
            ),
        ),
    }
    per_side = zip(
        _boundary_chiefs(conn, row.id, start, end, paths),
        _patrol_figures(
            patrols if patrols is not None else patrol_counts(conn, member_paths(conn, row.id), since, until), paths
        ),
        _cohort(conn, row.id, since, until, paths),
        _joint_cases(conn, row.id, start, end, paths),
        _leads(conn, row.id, start, end, paths),
        _action_figures(conn, row.id, until, paths),
        steps,
        strict=True,
    )
    answers = []
    for path, (chiefs, patrolled, cohort, cases, leads, actions, counted) in zip(paths, per_side, strict=True):
        figures: dict[str, Any] = {
            "boundary_chiefs": chiefs,
            **patrolled,
            **cohort,
            "joint_cases": cases,
            "leads_transferred": leads,
            **meeting_figures(conn, row.id, since, until, path),
            "rebounds": counted["rebound"],
            **actions,
            "revisits": counted["start_revisit"],
            **shared,
        }
        answers.append(
            {key: figures[key] for key in FIGURES} | {"joint_meetings_by_level": figures["joint_meetings_by_level"]}
        )
    return answers


def _side_paths(conn: sa.Connection, sides: Sequence[str | None]) -> list[str | None]:
    """The jurisdiction path of each side's code (None stays None); ValidationFailed naming ``side`` for a
    code that is no jurisdiction's."""
    codes = sorted({s for s in sides if s is not None})
    known: dict[str, str] = (
        dict(conn.execute(sa.select(_juris.c.code, _juris.c.path).where(_juris.c.code.in_(codes))).all())
        if codes
        else {}
    )
    for code in codes:
        if code not in known:
            raise ValidationFailed("side", f"no jurisdiction with code {code!r}")
    return [None if s is None else known[s] for s in sides]


def meeting_figures(
    conn: sa.Connection, compact_id: int, since: datetime, until: datetime, path: str | None = None
) -> dict[str, Any]:
    """Joint meetings held in [since, until), in all and by level: each meeting record that was not cancelled
    (with ``path``, one that invited that side or decided one of its issues), and each day and level on which
    issues were put to a meeting by their own ``convene`` step, outside any record (as before meetings were
    records: one meeting per day and level)."""
    meetings, invitees, agenda = table_of(Meeting), table_of(MeetingInvitee), table_of(MeetingIssue)
    query = sa.select(meetings.c.level).where(
        meetings.c.compact_id == compact_id,
        meetings.c.status != "cancelled",
        meetings.c.starts_at >= since,
        meetings.c.starts_at < until,
    )
    if path is not None:
        reporting, receiving = _juris.alias("mreporting"), _juris.alias("mreceiving")
        invited = (
            sa.select(invitees.c.meeting_id)
            .join(_juris, _juris.c.id == invitees.c.jurisdiction_id)
            .where(invitees.c.meeting_id == meetings.c.id, _juris.c.path.startswith(path))
        )
        decided = (
            sa.select(agenda.c.meeting_id)
            .join(_issue, _issue.c.id == agenda.c.issue_id)
            .join(reporting, reporting.c.id == _issue.c.reporting_jurisdiction_id)
            .outerjoin(receiving, receiving.c.id == _issue.c.receiving_jurisdiction_id)
            .where(
                agenda.c.meeting_id == meetings.c.id,
                sa.or_(reporting.c.path.startswith(path), receiving.c.path.startswith(path)),
            )
        )
        query = query.where(sa.or_(invited.exists(), decided.exists()))
    levels = list(conn.execute(query).scalars())
    source, within = _steps_in(compact_id, since, until, path)
    bare = conn.execute(
        sa.select(_event.c.payload, _event.c.occurred_at)
        .select_from(source)
        .where(*within, _event.c.trigger == "convene")
    ).all()
    days = {
        (e.payload.get("meeting_date") or e.occurred_at.astimezone(SHANGHAI).date().isoformat(), e.payload.get("level"))
        for e in bare
        if not e.payload.get("meeting")
    }
    levels += [level for _, level in days]
    by_level = {level: levels.count(level) for level in ("township", "district", "city", "province")}
    return {"joint_meetings": len(levels), "joint_meetings_by_level": by_level}


def _steps_in(compact_id: int, since: datetime, until: datetime, path: str | None) -> tuple[Any, tuple[Any, ...]]:
    """The ledger (joined to its issues and their sides when ``path`` is given), and the conditions for the
    compact's steps in [since, until) with ``path`` (None: anywhere) at or above either side.

    The compact is the event's own (``ix_event_compact_trigger_occurred``, migration 0021): the period's
    steps of the compact, not of the province.
    """
    if path is None:
        return _event, _period(compact_id, since, until)
    source, reporting, receiving, within = _sided(compact_id, since, until)
    return source, (*within, sa.or_(reporting.c.path.startswith(path), receiving.c.path.startswith(path)))


def _period(compact_id: int, since: datetime, until: datetime) -> tuple[Any, ...]:
    """The conditions for the compact's steps in [since, until)."""
    return (_event.c.compact_id == compact_id, _event.c.occurred_at >= since, _event.c.occurred_at < until)


def _sided(compact_id: int, since: datetime, until: datetime) -> tuple[Any, Any, Any, tuple[Any, ...]]:
    """The ledger joined to its issues and their two sides' jurisdictions, those two (reporting, receiving), and
    the conditions for the compact's steps in [since, until)."""
    reporting, receiving = _juris.alias("reporting"), _juris.alias("receiving")
    source = (
        _event.join(_issue, _issue.c.id == _event.c.issue_id)
        .join(reporting, reporting.c.id == _issue.c.reporting_jurisdiction_id)
        .outerjoin(receiving, receiving.c.id == _issue.c.receiving_jurisdiction_id)
    )
    # The issue's compact too: the issues joined are then the compact's, not the province's read whole.
    return source, reporting, receiving, (*_period(compact_id, since, until), _issue.c.compact_id == compact_id)


def _progress_bulletins(conn: sa.Connection, compact_id: int, since: datetime, until: datetime) -> int:
    """Progress bulletins (通报整改情况) the coordinators issued in the period."""
    bulletin = table_of(Bulletin)
    return _count(
        conn,
        sa.select(sa.func.count()).where(
            bulletin.c.compact_id == compact_id,
            bulletin.c.kind == "progress",
            bulletin.c.created_at >= since,
            bulletin.c.created_at < until,
        ),
    )


def _action_figures(
    conn: sa.Connection, compact_id: int, until: datetime, sides: Sequence[str | None]
) -> list[dict[str, int]]:
    """Action items still open at the period's end, and how many of those were past their due day: for each
    side (its owners at or under it), from one statement grouped by owner."""
    actions = table_of(ActionItem)
    open_then = sa.or_(actions.c.status == "open", actions.c.done_at >= until)
    late = sa.case((actions.c.due_at < until, 1), else_=0)
    rows = conn.execute(
        sa.select(_juris.c.path, late, sa.func.count())
        .select_from(actions.join(_juris, _juris.c.id == actions.c.owner_jurisdiction_id))
        .where(
            actions.c.compact_id == compact_id,
            actions.c.status != "cancelled",
            actions.c.created_at < until,
            open_then,
        )
        .group_by(_juris.c.path, late)
    ).all()
    return [
        {"action_items_open": open_, "action_items_overdue": overdue}
        for open_, overdue in zip(
            _summed(((path, n) for path, _, n in rows), sides),
            _summed(((path, n) for path, was_late, n in rows if was_late), sides),
            strict=True,
        )
    ]


def _count(conn: sa.Connection, query: sa.Select[Any]) -> int:
    return int(conn.execute(query).scalar_one())


def _boundary_chiefs(
    conn: sa.Connection, compact_id: int, start: date, end: date, sides: Sequence[str | None]
) -> list[int]:
    """The chiefs in a pairing live in the period, for each side (the chiefs' own jurisdictions at or under it)."""
    pairing, person = table_of(SwapPairing), table_of(Person)
    chiefs: set[tuple[int, str]] = set()
    for column in (pairing.c.chief_a_id, pairing.c.chief_b_id):
        chiefs |= {
            (chief, path)
            for chief, path in conn.execute(
                sa.select(column, _juris.c.path)
                .join(person, person.c.id == column)
                .join(_juris, _juris.c.id == person.c.jurisdiction_id)
                .where(pairing.c.compact_id == compact_id, pairing.c.starts_on < end, pairing.c.ends_on >= start)
            ).all()
        }
    return [len({chief for chief, path in chiefs if _at_or_under(path, side)}) for side in sides]


def _joint_cases(
    conn: sa.Connection, compact_id: int, start: date, end: date, sides: Sequence[str | None]
) -> list[int]:
    """Joint cases opened in the period, for each side (a party of the case at or under it)."""
    parties = conn.execute(
        sa.select(_case.c.id, _juris.c.path)
        .distinct()
        .join(_party, _party.c.case_id == _case.c.id)
        .join(_juris, _juris.c.id == _party.c.jurisdiction_id)
        .where(_case.c.compact_id == compact_id, _case.c.opened_on >= start, _case.c.opened_on < end)
    ).all()
    return [len({case for case, path in parties if _at_or_under(path, side)}) for side in sides]


def _leads(conn: sa.Connection, compact_id: int, start: date, end: date, sides: Sequence[str | None]) -> list[int]:
    """Leads transferred in the period, for each side (the transferring jurisdiction at or under it)."""
    return _summed(
        conn.execute(
            sa.select(_juris.c.path, sa.func.count())
            .select_from(_lead.join(_juris, _juris.c.id == _lead.c.jurisdiction_id))
            .where(_lead.c.compact_id == compact_id, _lead.c.transferred_on >= start, _lead.c.transferred_on < end)
            .group_by(_juris.c.path)
        ).all(),
        sides,
    )


def _patrols_by_place(in_compact: Any, since: datetime, until: datetime, *, found: bool = False) -> sa.Select[Any]:
    """The finished patrols on the compact's segments (``in_compact``: a condition on their jurisdiction) in
    [since, until), counted by the patroller's jurisdiction path and the patrol's kind; ``found``: the problems
    reported on them instead.

    Counted by patroller first, the patrollers' places looked up after: a compact's year of patrols (18,000 at
    province scale) joined row by row to the people and the jurisdictions hashed both tables whole.
    """
    patrol, person, segment, link = table_of(Patrol), table_of(Person), table_of(Segment), table_of(PatrolIssue)
    source = patrol.join(segment, segment.c.id == patrol.c.segment_id).join(
        _juris, _juris.c.id == segment.c.jurisdiction_id
    )
    if found:
        source = source.join(link, link.c.patrol_id == patrol.c.id)
    counted = (
        sa.select(patrol.c.patroller_id, patrol.c.kind, sa.func.count().label("n"))
        .select_from(source)
        .where(
            patrol.c.started_at >= since,
            patrol.c.started_at < until,
            patrol.c.ended_at.is_not(None),  # a patrol still under way (on a phone) counts once it is stopped
            in_compact,
        )
        .group_by(patrol.c.patroller_id, patrol.c.kind)
        .subquery("by_patroller")
    )
    patroller = _juris.alias("patroller")
    return (
        sa.select(patroller.c.path, counted.c.kind, sa.cast(sa.func.sum(counted.c.n), sa.Integer).label("n"))
        .select_from(
            counted.join(person, person.c.id == counted.c.patroller_id).join(
                patroller, patroller.c.id == person.c.jurisdiction_id
            )
        )
        .group_by(patroller.c.path, counted.c.kind)
    )


@dataclass(frozen=True, slots=True)
class PatrolCounts:
    """A compact's finished patrols on its segments in a period, counted by the patroller's jurisdiction path
    and kind (``made``: rows of path, kind, n), and the problems reported on them (``found``: path, kind, n):
    two statements, which the practice's figures and the districts' rows each sum their own way; with the
    paths of the compact's members (``members``) they were read for."""

    members: Sequence[str]
    made: Sequence[Any]
    found: Sequence[Any]


def patrol_counts(conn: sa.Connection, members: Sequence[str], since: datetime, until: datetime) -> PatrolCounts:
    """The ``PatrolCounts`` of the compact whose members have these paths, over [since, until)."""
    if not members:
        return PatrolCounts(members, [], [])
    in_compact = sa.or_(*(_juris.c.path.startswith(p) for p in members))
    made = conn.execute(_patrols_by_place(in_compact, since, until)).all()
    # no patrol, no problem found on one
    found = conn.execute(_patrols_by_place(in_compact, since, until, found=True)).all() if made else []
    return PatrolCounts(members, made, found)


def _patrol_figures(counts: PatrolCounts, sides: Sequence[str | None]) -> list[dict[str, int]]:
    """Patrols on the compact's segments by patrollers on each side, by kind; and the issues reported on them."""
    answers = []
    for side in sides:
        kinds: Counter[str] = Counter()
        for path, kind, n in counts.made:
            if _at_or_under(path, side):
                kinds[kind] += n
        answers.append(
            {
                "swap_patrols": kinds["swap"],
                "patrols": kinds["routine"] + kinds["swap"],
                "covert_inspections": kinds["covert"],
                "patrol_issues": sum(n for path, _, n in counts.found if _at_or_under(path, side)),
            }
        )
    return answers


def patrols_by_district(conn: sa.Connection, counts: PatrolCounts) -> list[dict[str, Any]]:
    """Each district at or under the compact's members (``counts.members``), in path order, with the patrols its
    patrollers made on the compact's segments in the period of ``counts`` (routine and swap, as ``patrols``
    counts them) and the problems reported from them: one statement however many districts."""
    if not counts.members:
        return []
    districts = conn.execute(
        sa.select(_juris.c.code, _juris.c.name, _juris.c.path)
        .where(_juris.c.level == "district", sa.or_(*(_juris.c.path.startswith(p) for p in counts.members)))
        .order_by(_juris.c.path)
    ).all()
    return [
        {
            "code": d.code,
            "name": d.name,
            "patrols": sum(n for at, kind, n in counts.made if kind != "covert" and at.startswith(d.path)),
            "patrol_issues": sum(n for at, _, n in counts.found if at.startswith(d.path)),
        }
        for d in districts
    ]


# 受理: taken on by the receiving side, at once or once a dispute or a meeting settled it; and how far else.
_REACHED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("accepted", ("accept", "agree", "resolve", "start_rectify")),
    ("disputed", ("dispute",)),
    ("negotiated", ("dispute", "negotiate")),
    ("dispatched", ("dispatch",)),
    ("rectified", ("report_done",)),
    ("closed", ("close",)),
)


def _cohort(
    conn: sa.Connection, compact_id: int, since: datetime, until: datetime, sides: Sequence[str | None]
) -> list[dict[str, int]]:
    """The issues first handed over in the period (by each side, as the reporting one), and how far they got
    by its end.

    One statement however many sides: the cohort found once (the compact's hand-offs in the period, from
    ``ix_event_compact_trigger_occurred``), each issue of it marked once for every figure one of whose steps
    it reached by ``until`` (its steps from ``ix_event_issue_occurred``), and the marks counted by the
    reporting side's path; each side sums the paths at or under its own.
    """
    reporting = _juris.alias("reporting")
    cohort = (
        sa.select(_event.c.issue_id, reporting.c.path)
        .distinct()
        .join(_issue, _issue.c.id == _event.c.issue_id)
        .join(reporting, reporting.c.id == _issue.c.reporting_jurisdiction_id)
        .where(
            _event.c.compact_id == compact_id,
            _issue.c.compact_id == compact_id,  # the compact's issues joined, not the province's
            _event.c.trigger == "hand_off",
            _event.c.occurred_at >= since,
            _event.c.occurred_at < until,
            # A duplicate handed over before it was merged is the original's problem, counted once there.
            _issue.c.duplicate_of_id.is_(None),
        )
        .cte("cohort")
    )
    reached = (
        sa.select(
            _event.c.issue_id,
            *(
                sa.func.max(sa.case((_event.c.trigger.in_(triggers), 1), else_=0)).label(key)
                for key, triggers in _REACHED
            ),
        )
        .where(
            _event.c.issue_id.in_(sa.select(cohort.c.issue_id)),
            _event.c.trigger.in_(sorted({t for _, triggers in _REACHED for t in triggers})),
            _event.c.occurred_at < until,
        )
        .group_by(_event.c.issue_id)
        .subquery("reached")
    )
    # 一次性销号: closed at the first joint check, and no rebound reopened it.
    first_time = sa.case(
        (
            sa.and_(
                _issue.c.closed_at.is_not(None),
                _issue.c.closed_at < until,
                _issue.c.check_round == 1,
                _issue.c.rebound_count == 0,
            ),
            1,
        ),
        else_=0,
    )
    keys = ("handed_over", *(key for key, _ in _REACHED), "closed_without_rebound")
    rows = conn.execute(
        sa.select(
            cohort.c.path,
            sa.func.count().label("handed_over"),
            *(sa.func.coalesce(sa.func.sum(reached.c[key]), 0).label(key) for key, _ in _REACHED),
            sa.func.sum(first_time).label("closed_without_rebound"),
        )
        .select_from(
            cohort.join(_issue, _issue.c.id == cohort.c.issue_id).outerjoin(
                reached, reached.c.issue_id == cohort.c.issue_id
            )
        )
        .group_by(cohort.c.path)
    ).all()
    return [
        {key: sum(int(r._mapping[key]) for r in rows if _at_or_under(r.path, side)) for key in keys} for side in sides
    ]


def _events(
    conn: sa.Connection,
    compact_id: int,
    triggers: tuple[str, ...],
    since: datetime,
    until: datetime,
    sides: Sequence[str | None],
) -> list[dict[str, int]]:
    """The steps of these triggers on the compact's issues in [since, until), by trigger, for each side (at or
    above either side of the step's issue): one grouped statement, by the issues' sides when a side is asked."""
    if all(side is None for side in sides):
        source, within = _steps_in(compact_id, since, until, None)
        whole: dict[str, int] = dict(
            conn.execute(
                sa.select(_event.c.trigger, sa.func.count())
                .select_from(source)
                .where(*within, _event.c.trigger.in_(triggers))
                .group_by(_event.c.trigger)
            ).all()
        )
        return [{trigger: whole.get(trigger, 0) for trigger in triggers} for _ in sides]
    source, reporting, receiving, within = _sided(compact_id, since, until)
    rows = conn.execute(
        sa.select(_event.c.trigger, reporting.c.path, receiving.c.path, sa.func.count())
        .select_from(source)
        .where(*within, _event.c.trigger.in_(triggers))
        .group_by(_event.c.trigger, reporting.c.path, receiving.c.path)
    ).all()
    return [
        {
            trigger: sum(
                n
                for step, on_reporting, on_receiving, n in rows
                if step == trigger and (_at_or_under(on_reporting, side) or _at_or_under(on_receiving, side))
            )
            for trigger in triggers
        }
        for side in sides
    ]


def _bulletins(conn: sa.Connection, compact_id: int, start: date, end: date) -> int:
    """Monthly bulletins (月通报) for months that begin in the period."""
    bulletin = table_of(Bulletin)
    periods = conn.execute(
        sa.select(bulletin.c.period).where(bulletin.c.compact_id == compact_id, bulletin.c.kind == "monthly")
    ).scalars()
    return sum(1 for p in periods if start <= date(int(p[:4]), int(p[5:7]), 1) < end)


def bulletin_counts(conn: sa.Connection, compact_id: int, start: datetime, end: datetime) -> dict[str, int]:
    """Joint cases opened and leads transferred in [start, end): the enforcement line of a bulletin."""
    first, last = start.astimezone(SHANGHAI).date(), end.astimezone(SHANGHAI).date()
    cases = conn.execute(
        sa.select(sa.func.count()).where(
            _case.c.compact_id == compact_id, _case.c.opened_on >= first, _case.c.opened_on < last
        )
    ).scalar_one()
    leads = conn.execute(
        sa.select(sa.func.count()).where(
            _lead.c.compact_id == compact_id, _lead.c.transferred_on >= first, _lead.c.transferred_on < last
        )
    ).scalar_one()
    return {"joint_cases": int(cases), "leads_transferred": int(leads)}
