"""Job runs keyed by period, so a period done is never done again and one missed is caught up once; the daily seal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from workflow.core.ledger import seal_day
from workflow.core.models import (
    JobRun,
    table_of,
)
from workflow.core.uow import UnitOfWork

_job_run = table_of(JobRun)
UowFactory = Callable[[], UnitOfWork]


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
