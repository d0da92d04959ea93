"""The scheduler's periodic jobs, as plain functions of (units of work, clock, period).

Each job is idempotent on its own: escalations are ordinary ``apply`` calls
with the version the sweep saw, notices carry a topic that is unique per
recipient, bulletins and seals are unique per period. ``run_job`` adds the
job-runs table on top, so a period done is never done again and a period
missed is caught up once.
"""

from __future__ import annotations

import calendar as month_calendar
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from states import Party
from states.policy import DEADLINES, ESCALATIONS, REVISIT_REMIND_WORKING_DAYS
from workflow import enforcement, patrols
from workflow.actors import SYSTEM
from workflow.calendar import local_today
from workflow.clock import SHANGHAI
from workflow.deadlines import next_check, reminder_times, waiting_path
from workflow.errors import WorkflowError
from workflow.ledger import seal_day
from workflow.models import (
    Bulletin,
    Compact,
    CompactMember,
    Event,
    Issue,
    JobRun,
    Jurisdiction,
    Outbox,
    Person,
    Revisit,
    table_of,
)
from workflow.queries import compact_id_of
from workflow.services import apply
from workflow.uow import UnitOfWork

log = logging.getLogger(__name__)

_issue = table_of(Issue)
_event = table_of(Event)
_revisit = table_of(Revisit)
_job_run = table_of(JobRun)
_bulletin = table_of(Bulletin)
_outbox = table_of(Outbox)

UowFactory = Callable[[], UnitOfWork]

# A notice for something the scheduler noticed: queued once per topic and recipient.
# (No DISTINCT: each person row appears once, and PostgreSQL cannot compare json values.)
_NOTICE = sa.text(
    """
    INSERT INTO outbox (topic, issue_id, recipient_id, kind, detail, status, attempts, next_attempt_at, created_at)
    SELECT :topic, :issue_id, p.id, :kind, :detail, 'pending', 0, :now, :now
    FROM person p
    WHERE p.active AND (
        (p.role IN ('chief', 'office') AND p.jurisdiction_id IN (:side_a, :side_b))
        OR p.id IN (SELECT s.person_id FROM compact_staff s
                    WHERE s.compact_id = :compact_id AND s.role IN (:staff_a, :staff_b))
    )
    ON CONFLICT DO NOTHING
    """
).bindparams(
    sa.bindparam("now", type_=_outbox.c.created_at.type),
    sa.bindparam("detail", type_=_outbox.c.detail.type),
)


def queue_notice(
    conn: sa.Connection,
    *,
    topic: str,
    kind: str,
    compact_id: int,
    parties: set[Party],
    now: datetime,
    issue: Any = None,
    issue_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Queue a notice to the given parties of an issue (or a compact's staff); returns rows queued."""
    result = conn.execute(
        _NOTICE,
        {
            "topic": topic,
            "kind": kind,
            "detail": detail,
            "now": now,
            "issue_id": issue.id if issue is not None else issue_id,
            "side_a": issue.reporting_jurisdiction_id if issue is not None and Party.REPORTING in parties else -1,
            "side_b": (
                issue.receiving_jurisdiction_id
                if issue is not None and Party.RECEIVING in parties and issue.receiving_jurisdiction_id
                else -1
            ),
            "compact_id": compact_id,
            "staff_a": "coordinator" if Party.COORDINATOR in parties else "",
            "staff_b": "auditor" if Party.AUDITOR in parties else "",
        },
    )
    return int(result.rowcount)


# -- the deadline sweep ---------------------------------------------------------------------------

_reporting = table_of(Jurisdiction).alias("reporting")
_receiving = table_of(Jurisdiction).alias("receiving")
_DUE = (
    sa.select(_issue, _reporting.c.path.label("reporting_path"), _receiving.c.path.label("receiving_path"))
    .select_from(
        _issue.join(_reporting, _reporting.c.id == _issue.c.reporting_jurisdiction_id).outerjoin(
            _receiving, _receiving.c.id == _issue.c.receiving_jurisdiction_id
        )
    )
    .where(_issue.c.next_check_at <= sa.bindparam("now", type_=_issue.c.next_check_at.type))
    .order_by(_issue.c.next_check_at)
    .limit(sa.bindparam("batch"))
)
_SET_NEXT_CHECK = (
    _issue.update()
    .where(_issue.c.id == sa.bindparam("b_id"), _issue.c.version == sa.bindparam("b_version"))
    .values(next_check_at=sa.bindparam("b_next", type_=_issue.c.next_check_at.type))
)


def _waiting_party(state: str) -> set[Party]:
    policy = DEADLINES.get(state)
    return {Party(policy.waits_on)} if policy else {Party.RECEIVING}


def deadline_sweep(uow: UowFactory, now: datetime, *, batch: int = 500) -> dict[str, int]:
    """Remind before deadlines; on a missed deadline escalate (as ``system``) or name the overdue party.

    Looks only at issues whose ``next_check_at`` has come, through its index,
    so its cost follows the issues due, not the issues open.
    """
    counts = {"reminded": 0, "escalated": 0, "overdue": 0, "skipped": 0}
    while True:
        with uow() as unit:
            rows = unit.connection.execute(_DUE, {"now": now, "batch": batch}).all()
        if not rows:
            return counts
        for row in rows:
            counts[_check_one(uow, row, now)] += 1
        if len(rows) < batch:
            return counts


def _check_one(uow: UowFactory, row: Any, now: datetime) -> str:
    if row.due_at is not None and now >= row.due_at:
        escalation = ESCALATIONS.get(row.state)
        if escalation is not None:
            try:
                apply(uow(), row.id, escalation.trigger, SYSTEM, dict(escalation.payload), row.version)
            except WorkflowError as exc:
                # Someone acted on the issue since the sweep read it; the next sweep sees the new state.
                log.info("escalation of %s skipped: %s", row.code, exc)
                return "skipped"
            return "escalated"
        return _notice_once(uow, row, now, "overdue", _waiting_party(row.state) | {Party.COORDINATOR}, None)
    calendar = uow().calendar.for_path(waiting_path(row.state, row.reporting_path, row.receiving_path))
    since = row.waiting_since or now
    passed = [kind for kind, at in reminder_times(calendar, since, row.due_at) if at <= now]
    kind = passed[-1] if passed else "due_soon"
    after = next_check(calendar, since, row.due_at, now)
    return _notice_once(uow, row, now, f"remind_{kind}", _waiting_party(row.state), after)


def _notice_once(
    uow: UowFactory, row: Any, now: datetime, kind: str, parties: set[Party], after: datetime | None
) -> str:
    with uow() as unit:
        moved = unit.connection.execute(_SET_NEXT_CHECK, {"b_id": row.id, "b_version": row.version, "b_next": after})
        if moved.rowcount != 1:
            return "skipped"  # the issue moved on since the sweep read it
        queue_notice(
            unit.connection,
            topic=f"{kind}:{row.id}:v{row.version}",
            kind="overdue" if kind == "overdue" else "reminder",
            compact_id=row.compact_id,
            parties=parties,
            now=now,
            issue=row,
            detail={"code": row.code, "state": row.state, "due_at": row.due_at.isoformat(), "reminder": kind},
        )
        unit.commit()
    return "overdue" if kind == "overdue" else "reminded"


# -- revisits -------------------------------------------------------------------------------------


def revisit_sweep(uow: UowFactory, now: datetime) -> dict[str, int]:
    """Bring due revisits to the auditors, remind overdue ones, archive issues whose revisits all came back clean."""
    today = local_today(now)
    counts = {"due": 0, "reminded": 0, "archived": 0}
    with uow() as unit:
        calendar = unit.calendar
        rows = unit.connection.execute(
            sa.select(_revisit, _issue.c.compact_id, _issue.c.code, _issue.c.state)
            .join(_issue, _issue.c.id == _revisit.c.issue_id)
            .where(_revisit.c.status == "planned", _revisit.c.due_on <= today)
            .order_by(_revisit.c.due_on)
        ).all()
        for r in rows:
            detail = {"code": r.code, "due_on": r.due_on.isoformat(), "cycle": r.cycle, "seq": r.seq}
            if r.notified_at is None:
                queue_notice(
                    unit.connection,
                    topic=f"revisit_due:{r.id}",
                    issue_id=r.issue_id,
                    kind="revisit_due",
                    compact_id=r.compact_id,
                    parties={Party.AUDITOR},
                    now=now,
                    detail=detail,
                )
                unit.connection.execute(_revisit.update().where(_revisit.c.id == r.id).values(notified_at=now))
                counts["due"] += 1
            elif r.reminded_at is None and today > calendar.add_working_days(r.due_on, REVISIT_REMIND_WORKING_DAYS):
                queue_notice(
                    unit.connection,
                    topic=f"revisit_overdue:{r.id}",
                    issue_id=r.issue_id,
                    kind="revisit_overdue",
                    compact_id=r.compact_id,
                    parties={Party.AUDITOR, Party.COORDINATOR},
                    now=now,
                    detail=detail,
                )
                unit.connection.execute(_revisit.update().where(_revisit.c.id == r.id).values(reminded_at=now))
                counts["reminded"] += 1
        unit.commit()
    for issue_id, version in _ready_to_archive(uow):
        try:
            apply(uow(), issue_id, "archive", SYSTEM, {"note": "回头看均未反弹，系统归档"}, version)
            counts["archived"] += 1
        except WorkflowError as exc:
            log.info("archiving issue %s skipped: %s", issue_id, exc)
    return counts


def _ready_to_archive(uow: UowFactory) -> list[tuple[int, int]]:
    """Closed issues whose last revisit was clean and that have no planned revisit left."""
    pending = sa.select(_revisit.c.id).where(_revisit.c.issue_id == _issue.c.id, _revisit.c.status == "planned")
    with uow() as unit:
        rows = unit.connection.execute(
            sa.select(_issue.c.id, _issue.c.version).where(
                _issue.c.state == "du.closed", _issue.c.last_revisit_clean.is_(True), ~pending.exists()
            )
        ).all()
    return [(r.id, r.version) for r in rows]


# -- bulletins ------------------------------------------------------------------------------------

# The figures of a bulletin, in the practice's terms: label, and the triggers counted.
FIGURES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("handed_over", "问题交办", ("hand_off",)),
    ("accepted", "受理", ("accept",)),
    ("disputed", "提出异议", ("dispute",)),
    ("negotiated", "难点商办", ("dispute", "negotiate")),
    ("joint_meetings", "卡点会办", ("convene",)),
    ("dispatched", "河长调度", ("dispatch",)),
    ("rectified", "整改完成", ("report_done",)),
    ("verified", "复核验收", ("request_verify",)),
    ("closed", "销号", ("close",)),
    ("revisits", "回头看", ("start_revisit",)),
    ("rebounds", "反弹", ("rebound",)),
    ("archived", "归档", ("archive",)),
)


def month_bounds(period: str) -> tuple[datetime, datetime]:
    """The first instant of a month ("2026-03") and of the next, in Asia/Shanghai."""
    year, month = (int(x) for x in period.split("-"))
    start = datetime(year, month, 1, tzinfo=SHANGHAI)
    days = month_calendar.monthrange(year, month)[1]
    return start, start + timedelta(days=days)


def _figures(conn: sa.Connection, compact_id: int, start: datetime, end: datetime) -> dict[str, int]:
    by_trigger: dict[str, int] = dict(
        conn.execute(
            sa.select(_event.c.trigger, sa.func.count())
            .join(_issue, _issue.c.id == _event.c.issue_id)
            .where(_issue.c.compact_id == compact_id, _event.c.occurred_at >= start, _event.c.occurred_at < end)
            .group_by(_event.c.trigger)
        ).all()
    )
    return {key: sum(by_trigger.get(t, 0) for t in triggers) for key, _, triggers in FIGURES}


@dataclass(frozen=True, slots=True)
class Overdue:
    """One missed deadline: whose it was, on which issue, and for how long in the period."""

    party: str
    jurisdiction_id: int | None
    issue_code: str
    state: str
    due_at: datetime
    until: datetime | None  # when the wait ended; None if it still goes on


def overdue_waits(conn: sa.Connection, compact_id: int, start: datetime, end: datetime) -> Iterator[Overdue]:
    """Each wait of the compact's issues whose deadline passed before ``end`` and that lasted past ``start``."""
    nxt = sa.func.lead(_event.c.occurred_at, type_=_event.c.occurred_at.type).over(
        partition_by=_event.c.issue_id, order_by=_event.c.seq
    )
    changes = (
        sa.select(_event.c.issue_id, _event.c.to_state, _event.c.due_at, _event.c.from_state, nxt.label("until"))
        .join(_issue, _issue.c.id == _event.c.issue_id)
        .where(_issue.c.compact_id == compact_id, _event.c.from_state != _event.c.to_state)
        .subquery()
    )
    rows = conn.execute(
        sa.select(changes, _issue.c.code, _issue.c.reporting_jurisdiction_id, _issue.c.receiving_jurisdiction_id)
        .join(_issue, _issue.c.id == changes.c.issue_id)
        .where(changes.c.due_at.is_not(None), changes.c.due_at < end)
    ).all()
    for r in rows:
        until = r.until
        if until is not None and (until <= r.due_at or until < start):
            continue  # met in time, or settled before the period
        policy = DEADLINES.get(r.to_state)
        party = policy.waits_on if policy else "receiving"
        jurisdiction = {"reporting": r.reporting_jurisdiction_id, "receiving": r.receiving_jurisdiction_id}.get(party)
        yield Overdue(party, jurisdiction, r.code, r.to_state, r.due_at, until)


def _overdue_parties(conn: sa.Connection, compact_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """The overdue parties by name (jurisdiction and its chiefs), with the issues they are late on."""
    grouped: dict[tuple[str, int | None], list[str]] = {}
    for o in overdue_waits(conn, compact_id, start, end):
        grouped.setdefault((o.party, o.jurisdiction_id), []).append(o.issue_code)
    names = dict(conn.execute(sa.select(table_of(Jurisdiction).c.id, table_of(Jurisdiction).c.name)).all())
    people = table_of(Person)
    parties = []
    for (party, jid), codes in sorted(grouped.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        chiefs = []
        if jid is not None:
            chiefs = list(
                conn.execute(
                    sa.select(people.c.name)
                    .where(people.c.jurisdiction_id == jid, people.c.role == "chief", people.c.active.is_(True))
                    .order_by(people.c.name)
                ).scalars()
            )
        parties.append(
            {
                "party": party,
                "jurisdiction_id": jid,
                "jurisdiction": names.get(jid, "联席会议" if party == "coordinator" else "第三方回访机构"),
                "chiefs": chiefs,
                "issues": sorted(set(codes)),
            }
        )
    return parties


Compute = Callable[[sa.Connection, int], tuple[dict[str, Any], list[dict[str, Any]]]]


def _per_compact(
    uow: UowFactory, now: datetime, kind: str, period: str, compute: Compute, *, notify_when_empty: bool
) -> int:
    """Write one bulletin record of ``kind`` per compact that has none for the period; tell its coordinators."""
    written = 0
    with uow() as unit:
        conn = unit.connection
        for compact_id, code in conn.execute(sa.select(table_of(Compact).c.id, table_of(Compact).c.code)).all():
            exists = conn.execute(
                sa.select(_bulletin.c.id).where(
                    _bulletin.c.compact_id == compact_id, _bulletin.c.kind == kind, _bulletin.c.period == period
                )
            ).first()
            if exists:
                continue
            figures, parties = compute(conn, compact_id)
            conn.execute(
                _bulletin.insert(),
                {
                    "compact_id": compact_id,
                    "kind": kind,
                    "period": period,
                    "figures": figures,
                    "parties": parties,
                    "created_at": now,
                },
            )
            if parties or notify_when_empty:
                notice = "bulletin" if kind == "monthly" else kind
                queue_notice(
                    conn,
                    topic=f"{notice}:{code}:{period}",
                    kind=notice,
                    compact_id=compact_id,
                    parties={Party.COORDINATOR},
                    now=now,
                    detail={"compact": code, "period": period},
                )
            written += 1
        unit.commit()
    return written


def monthly_bulletin(uow: UowFactory, now: datetime, period: str) -> dict[str, int]:
    """月通报: per compact, the month's figures and the overdue parties by name; one record per compact and month."""
    start, end = month_bounds(period)
    year_start = datetime(start.year, 1, 1, tzinfo=SHANGHAI)

    def compute(conn: sa.Connection, compact_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        parties = _overdue_parties(conn, compact_id, start, end)
        month = {**_figures(conn, compact_id, start, end), "overdue": sum(len(p["issues"]) for p in parties)}
        return {
            "month": month,
            "year_to_date": _figures(conn, compact_id, year_start, end),
            "patrols": patrols.bulletin_figures(conn, compact_id, period),  # with the chiefs under quota by name
            "enforcement": enforcement.bulletin_counts(conn, compact_id, start, end),
        }, parties

    return {"bulletins": _per_compact(uow, now, "monthly", period, compute, notify_when_empty=True)}


def quarter_months(period: str) -> list[str]:
    """The three months of a quarter ("2026-Q1")."""
    year, q = period.split("-Q")
    first = (int(q) - 1) * 3 + 1
    return [f"{year}-{m:02d}" for m in range(first, first + 3)]


def quarterly_interviews(uow: UowFactory, now: datetime, period: str) -> dict[str, int]:
    """季约谈: the parties and chiefs named overdue in each month of the quarter, three months running."""
    months = quarter_months(period)

    def compute(conn: sa.Connection, compact_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        per_month = []
        for month in months:
            start, end = month_bounds(month)
            per_month.append(
                {(p["party"], p["jurisdiction_id"]): p for p in _overdue_parties(conn, compact_id, start, end)}
            )
        every_month = set(per_month[0]).intersection(*per_month[1:])
        parties = [per_month[-1][key] for key in sorted(every_month, key=lambda k: (k[0], k[1] or 0))]
        parties += patrols.interview_parties(conn, compact_id, period)  # under patrol quota three months running
        return {"months": months, "named": len(parties)}, parties

    return {"interview_lists": _per_compact(uow, now, "interview", period, compute, notify_when_empty=False)}


def daily_seal(uow: UowFactory, now: datetime, period: str) -> dict[str, int]:
    """Seal the ledger for a day ("2026-03-02")."""
    with uow() as unit:
        seal = seal_day(unit.session, date.fromisoformat(period), now)
        unit.commit()
    return {"chains": seal.chains}


# -- job runs -------------------------------------------------------------------------------------


def _claim(uow: UowFactory, job: str, period: str, now: datetime) -> bool:
    """Record that a run has started; False when the period was already done."""
    with uow() as unit:
        conn = unit.connection
        status = conn.execute(
            sa.select(_job_run.c.status).where(_job_run.c.job == job, _job_run.c.period == period)
        ).scalar()
        if status == "done":
            return False
        if status is None:
            conn.execute(_job_run.insert(), {"job": job, "period": period, "status": "running", "started_at": now})
        unit.commit()
    return True


def run_job(
    uow: UowFactory, job: str, period: str, now: datetime, work: Callable[[], dict[str, Any]]
) -> dict[str, Any] | None:
    """Run ``work`` for (job, period) unless that period is done; None when it was."""
    if not _claim(uow, job, period, now):
        return None
    detail = work()
    with uow() as unit:
        unit.connection.execute(
            _job_run.update()
            .where(_job_run.c.job == job, _job_run.c.period == period)
            .values(status="done", finished_at=now, detail=detail)
        )
        unit.commit()
    return detail


def done_periods(uow: UowFactory, job: str) -> set[str]:
    """Every period of ``job`` that is done."""
    with uow() as unit:
        return set(
            unit.connection.execute(
                sa.select(_job_run.c.period).where(_job_run.c.job == job, _job_run.c.status == "done")
            ).scalars()
        )


def last_done(uow: UowFactory, job: str) -> str | None:
    """The latest period of ``job`` that is done."""
    with uow() as unit:
        return unit.connection.execute(
            sa.select(sa.func.max(_job_run.c.period)).where(_job_run.c.job == job, _job_run.c.status == "done")
        ).scalar()


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


def _member_figures(conn: sa.Connection, compact_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Each member jurisdiction of the compact (its descendants rolled up) with the figures of its issues.

    One grouped query over (member, trigger, which sides the member is on):
    an event counts once for a member even where both sides are under it.
    """
    jurisdictions = table_of(Jurisdiction)
    member = jurisdictions.alias("member")
    reporting = jurisdictions.alias("reporting_side")
    receiving = jurisdictions.alias("receiving_side")
    members = conn.execute(
        sa.select(member.c.id, member.c.code, member.c.name, member.c.path)
        .join(table_of(CompactMember), table_of(CompactMember).c.jurisdiction_id == member.c.id)
        .where(table_of(CompactMember).c.compact_id == compact_id)
        .order_by(member.c.code)
    ).all()
    on_reporting = reporting.c.path.startswith(member.c.path)
    on_receiving = receiving.c.path.startswith(member.c.path)
    per_event = (
        sa.select(
            member.c.id.label("member_id"),
            _event.c.trigger,
            sa.case((on_reporting, 1), else_=0).label("on_reporting"),
            sa.case((on_receiving, 1), else_=0).label("on_receiving"),
        )
        .select_from(
            _event.join(_issue, _issue.c.id == _event.c.issue_id)
            .join(reporting, reporting.c.id == _issue.c.reporting_jurisdiction_id)
            .outerjoin(receiving, receiving.c.id == _issue.c.receiving_jurisdiction_id)
            .join(table_of(CompactMember), table_of(CompactMember).c.compact_id == _issue.c.compact_id)
            .join(member, member.c.id == table_of(CompactMember).c.jurisdiction_id)
        )
        .where(
            _issue.c.compact_id == compact_id,
            _event.c.occurred_at >= start,
            _event.c.occurred_at < end,
            _event.c.trigger.in_(sorted({t for _, _, triggers in FIGURES for t in triggers})),
            sa.or_(on_reporting, on_receiving),
        )
        .subquery()
    )
    counted = conn.execute(sa.select(per_event, sa.func.count().label("n")).group_by(*per_event.c)).all()
    figures = {m.id: dict.fromkeys(FIGURE_SIDES, 0) for m in members}
    for r in counted:
        sides = {side for side, on in (("reporting", r.on_reporting), ("receiving", r.on_receiving)) if on}
        for key, _, triggers in FIGURES:
            if r.trigger in triggers and sides & FIGURE_SIDES[key]:
                figures[r.member_id][key] += r.n
    waits = list(overdue_waits(conn, compact_id, start, end))
    waited_on = {o.jurisdiction_id for o in waits if o.jurisdiction_id is not None}
    lookup = sa.select(jurisdictions.c.id, jurisdictions.c.path).where(jurisdictions.c.id.in_(waited_on))
    paths: dict[int, str] = dict(conn.execute(lookup).all())
    return [
        {
            "code": m.code,
            "name": m.name,
            **figures[m.id],
            "overdue": len({o.issue_code for o in waits if paths.get(o.jurisdiction_id or 0, "").startswith(m.path)}),
        }
        for m in members
    ]


def stats(conn: sa.Connection, compact_code: str, start: datetime, end: datetime) -> dict[str, Any]:
    """The figures of a compact over [start, end), in the practice's terms, with the overdue parties by name.

    ``parties`` gives the same figures for each member jurisdiction of the
    compact, its descendants rolled up, counting an event for the member that
    is (or is above) the side ``FIGURE_SIDES`` names: handed_over for the
    reporting side; accepted, disputed, dispatched, rectified, revisits and
    rebounds for the receiving side; negotiated, joint_meetings, verified,
    closed and archived for both sides. ``overdue`` there counts the issues
    whose missed deadline waited on that member's side.
    """
    compact_id = compact_id_of(conn, compact_code)
    parties = _overdue_parties(conn, compact_id, start, end)
    return {
        "compact": compact_code,
        "from": start.isoformat(),
        "to": end.isoformat(),
        **_figures(conn, compact_id, start, end),
        "overdue": sum(len(p["issues"]) for p in parties),
        "overdue_parties": parties,
        "parties": _member_figures(conn, compact_id, start, end),
    }
