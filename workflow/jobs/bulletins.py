"""The monthly bulletin and the quarterly interview list, filed once per compact and period."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from states import Party
from workflow.core.clock import SHANGHAI
from workflow.core.models import (
    Bulletin,
    Compact,
    table_of,
)
from workflow.jobs.notices import queue_notice
from workflow.jobs.runs import UowFactory
from workflow.patrols import completion
from workflow.reading import practice
from workflow.reading.figures import month_bounds, step_counts
from workflow.reading.meetings import action_items
from workflow.reading.overdue import overdue_parties

_bulletin = table_of(Bulletin)


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
        parties = overdue_parties(conn, compact_id, start, end)
        month = {**step_counts(conn, compact_id, start, end), "overdue": sum(len(p["issues"]) for p in parties)}
        return {
            "month": month,
            "year_to_date": step_counts(conn, compact_id, year_start, end),
            "patrols": completion.bulletin_figures(conn, compact_id, period),  # with the chiefs under quota by name
            "enforcement": practice.bulletin_counts(conn, compact_id, start, end),
            # Action items past their day and still open at the month's end: named until they are done.
            "overdue_actions": [
                {"code": a.code, "title": a.title, "owner": a.owner, "due_on": a.due_on.isoformat()}
                for a in action_items(conn, [compact_id], end, status="open", overdue=True)
                if a.due_on < end.date()
            ],
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
                {(p["party"], p["jurisdiction_id"]): p for p in overdue_parties(conn, compact_id, start, end)}
            )
        every_month = set(per_month[0]).intersection(*per_month[1:])
        parties = [per_month[-1][key] for key in sorted(every_month, key=lambda k: (k[0], k[1] or 0))]
        parties += completion.interview_parties(conn, compact_id, period)  # under patrol quota three months running
        return {"months": months, "named": len(parties)}, parties

    return {"interview_lists": _per_compact(uow, now, "interview", period, compute, notify_when_empty=False)}
