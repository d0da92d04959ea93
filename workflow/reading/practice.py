"""The practice's figures over a period: boundary chiefs, patrols, problems found, cases, leads, bulletins."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import sqlalchemy as sa

from workflow.core.clock import SHANGHAI
from workflow.core.errors import ValidationFailed
from workflow.core.lookups import compact_row, member_paths
from workflow.core.models import (
    Bulletin,
    EnforcementCase,
    EnforcementParty,
    Event,
    Issue,
    Jurisdiction,
    LeadTransfer,
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

# The figures of the practice notes, in their order, with their labels.
FIGURES: tuple[tuple[str, str], ...] = (
    ("boundary_chiefs", "边界河长"),
    ("swap_patrols", "交叉互换巡河"),
    ("patrols", "巡河"),
    ("covert_inspections", "暗访巡查"),
    ("patrol_issues", "巡河上报问题"),
    ("handed_over", "移交问题"),
    ("accepted", "受理"),
    ("rectified", "整改到位"),
    ("joint_cases", "联合查处"),
    ("leads_transferred", "移送公益诉讼线索"),
    ("joint_meetings", "联席会议"),
    ("progress_bulletins", "通报整改情况"),
    ("revisits", "回头看"),
    ("revisit_reports", "回访报告"),
    ("closed_without_rebound", "一次性销号未反弹"),
)


def _under(column: Any, path: str | None) -> Any:
    """``column`` (a jurisdiction path) at or under ``path``; always true without one."""
    return sa.true() if path is None else column.startswith(path)


def period_figures(
    conn: sa.Connection, compact: str, start: date, end: date, side: str | None = None
) -> dict[str, int]:
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
    row = compact_row(conn, compact)
    path = None
    if side is not None:
        path = conn.execute(sa.select(_juris.c.path).where(_juris.c.code == side)).scalar()
        if path is None:
            raise ValidationFailed("side", f"no jurisdiction with code {side!r}")
    since, until = (datetime.combine(d, time(0), tzinfo=SHANGHAI) for d in (start, end))
    if until <= since:
        raise ValidationFailed("end", f"{end} is not after start {start}")
    members = member_paths(conn, row.id)
    in_compact = sa.or_(*(_juris.c.path.startswith(p) for p in members)) if members else sa.false()
    figures = {
        "boundary_chiefs": _boundary_chiefs(conn, row.id, start, end, path),
        **_patrol_figures(conn, in_compact, since, until, path),
        **_cohort(conn, row.id, since, until, path),
        "joint_cases": _count(
            conn,
            sa.select(sa.func.count(sa.distinct(_case.c.id)))
            .join(_party, _party.c.case_id == _case.c.id)
            .join(_juris, _juris.c.id == _party.c.jurisdiction_id)
            .where(
                _case.c.compact_id == row.id,
                _case.c.opened_on >= start,
                _case.c.opened_on < end,
                _under(_juris.c.path, path),
            ),
        ),
        "leads_transferred": _count(
            conn,
            sa.select(sa.func.count())
            .select_from(_lead.join(_juris, _juris.c.id == _lead.c.jurisdiction_id))
            .where(
                _lead.c.compact_id == row.id,
                _lead.c.transferred_on >= start,
                _lead.c.transferred_on < end,
                _under(_juris.c.path, path),
            ),
        ),
        "joint_meetings": _events(conn, row.id, "convene", since, until, path),
        "progress_bulletins": _bulletins(conn, row.id, start, end),
        "revisits": _events(conn, row.id, "start_revisit", since, until, path),
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
    return {key: figures[key] for key, _ in FIGURES}


def _count(conn: sa.Connection, query: sa.Select[Any]) -> int:
    return int(conn.execute(query).scalar_one())


def _boundary_chiefs(conn: sa.Connection, compact_id: int, start: date, end: date, path: str | None) -> int:
    pairing, person = table_of(SwapPairing), table_of(Person)
    chiefs: set[int] = set()
    for column in (pairing.c.chief_a_id, pairing.c.chief_b_id):
        chiefs |= set(
            conn.execute(
                sa.select(column)
                .join(person, person.c.id == column)
                .join(_juris, _juris.c.id == person.c.jurisdiction_id)
                .where(
                    pairing.c.compact_id == compact_id,
                    pairing.c.starts_on < end,
                    pairing.c.ends_on >= start,
                    _under(_juris.c.path, path),
                )
            ).scalars()
        )
    return len(chiefs)


def _patrol_figures(
    conn: sa.Connection, in_compact: Any, since: datetime, until: datetime, path: str | None
) -> dict[str, int]:
    """Patrols on the compact's segments by patrollers on the side, by kind; and the issues reported on them."""
    patrol, person, segment, link = table_of(Patrol), table_of(Person), table_of(Segment), table_of(PatrolIssue)
    patroller = _juris.alias("patroller")
    where = (
        patrol.c.started_at >= since,
        patrol.c.started_at < until,
        in_compact,
        _under(patroller.c.path, path),
    )
    source = (
        patrol.join(segment, segment.c.id == patrol.c.segment_id)
        .join(_juris, _juris.c.id == segment.c.jurisdiction_id)
        .join(person, person.c.id == patrol.c.patroller_id)
        .join(patroller, patroller.c.id == person.c.jurisdiction_id)
    )
    by_kind = sa.select(patrol.c.kind, sa.func.count()).select_from(source).where(*where).group_by(patrol.c.kind)
    kinds: dict[str, int] = dict(conn.execute(by_kind).all())
    issues = _count(
        conn, sa.select(sa.func.count()).select_from(source.join(link, link.c.patrol_id == patrol.c.id)).where(*where)
    )
    return {
        "swap_patrols": kinds.get("swap", 0),
        "patrols": kinds.get("routine", 0) + kinds.get("swap", 0),
        "covert_inspections": kinds.get("covert", 0),
        "patrol_issues": issues,
    }


def _cohort(conn: sa.Connection, compact_id: int, since: datetime, until: datetime, path: str | None) -> dict[str, int]:
    """The issues first handed over in the period (by the side), and how far they got by its end."""
    reporting = _juris.alias("reporting")
    handed = (
        sa.select(_event.c.issue_id)
        .join(_issue, _issue.c.id == _event.c.issue_id)
        .join(reporting, reporting.c.id == _issue.c.reporting_jurisdiction_id)
        .where(
            _issue.c.compact_id == compact_id,
            _event.c.trigger == "hand_off",
            _event.c.occurred_at >= since,
            _event.c.occurred_at < until,
            _under(reporting.c.path, path),
        )
    )
    ids = set(conn.execute(handed).scalars())

    def reached(trigger: str) -> int:
        return _count(
            conn,
            sa.select(sa.func.count(sa.distinct(_event.c.issue_id))).where(
                _event.c.issue_id.in_(ids), _event.c.trigger == trigger, _event.c.occurred_at < until
            ),
        )

    # 一次性销号: closed at the first joint check, and no rebound reopened it.
    first_time = _count(
        conn,
        sa.select(sa.func.count()).where(
            _issue.c.id.in_(ids),
            _issue.c.closed_at.is_not(None),
            _issue.c.closed_at < until,
            _issue.c.check_round == 1,
            _issue.c.rebound_count == 0,
        ),
    )
    return {
        "handed_over": len(ids),
        "accepted": reached("accept"),
        "rectified": reached("report_done"),
        "closed_without_rebound": first_time,
    }


def _events(
    conn: sa.Connection, compact_id: int, trigger: str, since: datetime, until: datetime, path: str | None
) -> int:
    reporting, receiving = _juris.alias("reporting"), _juris.alias("receiving")
    either = sa.true() if path is None else sa.or_(reporting.c.path.startswith(path), receiving.c.path.startswith(path))
    return _count(
        conn,
        sa.select(sa.func.count())
        .select_from(
            _event.join(_issue, _issue.c.id == _event.c.issue_id)
            .join(reporting, reporting.c.id == _issue.c.reporting_jurisdiction_id)
            .outerjoin(receiving, receiving.c.id == _issue.c.receiving_jurisdiction_id)
        )
        .where(
            _issue.c.compact_id == compact_id,
            _event.c.trigger == trigger,
            _event.c.occurred_at >= since,
            _event.c.occurred_at < until,
            either,
        ),
    )


def _bulletins(conn: sa.Connection, compact_id: int, start: date, end: date) -> int:
    """Monthly bulletins (通报整改情况) for months that begin in the period."""
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
