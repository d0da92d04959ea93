"""The compact's figures over a period.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from web.access import Access, compacts_of, sane_days
from workflow.core.actors import Actor
from workflow.core.calendar import local_today
from workflow.core.clock import SHANGHAI
from workflow.core.errors import NotFound, ValidationFailed
from workflow.core.uow import UnitOfWork
from workflow.reading.figures import stats
from workflow.reading.issues import compact_id_of


def router(access: Access) -> APIRouter:
    """The stats route."""
    wired = access.wired
    api = APIRouter(prefix="/api/v1", tags=["stats"])
    Caller = Annotated[Actor, Depends(access.caller)]  # noqa: N806 (a type alias, named as one)
    Unit = Annotated[UnitOfWork, Depends(access.unit)]  # noqa: N806

    @api.get("/stats")
    def figures(
        uow: Unit,
        actor: Caller,
        compact: str = "QJ",
        start: Annotated[date | None, Query(alias="from")] = None,
        end: Annotated[date | None, Query(alias="to")] = None,
    ) -> dict[str, Any]:
        """The compact's figures over [from, to) (Asia/Shanghai days; default: this year so far), overdue by party.

        ``parties`` gives the same figures for each member jurisdiction, its
        descendants rolled up (which side each counts: ``workflow.jobs.stats``).
        """
        sane_days(from_=start, to=end)
        today = local_today(wired.clock.now())
        first = start or today.replace(month=1, day=1)
        last = end or today + timedelta(days=1)
        if last <= first:
            raise ValidationFailed("to", f"must be after from ({first.isoformat()})")
        with uow:
            scope = compact_id_of(uow.connection, compact)
            if scope not in compacts_of(actor):
                raise NotFound("compact", compact)
            return stats(
                uow.connection,
                compact,
                datetime.combine(first, time(0), tzinfo=SHANGHAI),
                datetime.combine(last, time(0), tzinfo=SHANGHAI),
            )

    return api
