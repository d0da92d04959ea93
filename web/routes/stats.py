"""The figures of the caller's compacts over a period.

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
from workflow.reading.figures import compact_codes, stats
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
        compact: Annotated[str | None, Query(description="a compact's code; default: the caller's")] = None,
        start: Annotated[date | None, Query(alias="from")] = None,
        end: Annotated[date | None, Query(alias="to")] = None,
    ) -> dict[str, Any]:
        """The figures of the caller's compacts over [from, to) (Asia/Shanghai days; default: this year so far).

        Each compact's answer holds its code (``compact``), ``from`` and ``to``, the
        practice's figures, ``overdue`` and ``overdue_parties``; ``parties`` gives the
        same figures for each member jurisdiction, its descendants rolled up (which side
        each counts: ``workflow.jobs.stats``).

        Which compacts: the one ``compact`` names (404 if the caller cannot see it);
        without it, those the caller belongs to, coordinates or audits. A caller of one
        compact gets that one compact's answer as it stands; a caller of several (or of
        none) gets ``{"from", "to", "compacts": [...]}``, each compact's answer in code order.
        """
        sane_days(from_=start, to=end)
        today = local_today(wired.clock.now())
        first = start or today.replace(month=1, day=1)
        last = end or today + timedelta(days=1)
        if last <= first:
            raise ValidationFailed("to", f"must be after from ({first.isoformat()})")
        lo = datetime.combine(first, time(0), tzinfo=SHANGHAI)
        hi = datetime.combine(last, time(0), tzinfo=SHANGHAI)
        with uow:
            if compact is not None:
                if compact_id_of(uow.connection, compact) not in compacts_of(actor):
                    raise NotFound("compact", compact)
                return stats(uow.connection, compact, lo, hi)
            codes = compact_codes(uow.connection, compacts_of(actor))
            if len(codes) == 1:
                return stats(uow.connection, codes[0], lo, hi)
            return {
                "from": lo.isoformat(),
                "to": hi.isoformat(),
                "compacts": [stats(uow.connection, code, lo, hi) for code in codes],
            }

    return api
