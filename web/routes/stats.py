"""The figures of the caller's compacts over a period.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from web.access import Access, Presented, compacts_of, sane_days
from workflow.core.actors import Actor
from workflow.core.calendar import local_today
from workflow.core.clock import SHANGHAI
from workflow.core.errors import NotFound, ValidationFailed
from workflow.core.lookups import member_paths
from workflow.core.uow import UnitOfWork
from workflow.patrols.completion import district_figures
from workflow.reading.figures import compact_codes, stats
from workflow.reading.issues import compact_id_of
from workflow.reading.practice import patrol_counts


def router(access: Access) -> APIRouter:
    """The stats route."""
    wired = access.wired
    api = APIRouter(prefix="/api/v1", tags=["stats"])
    Unit = Annotated[UnitOfWork, Depends(access.unit)]  # noqa: N806 (a type alias, named as one)
    Shown = Annotated[Presented, Depends(access.presented)]  # noqa: N806

    @api.get("/stats", response_model=dict[str, Any])
    async def figures(
        uow: Unit,
        shown: Shown,
        compact: Annotated[str | None, Query(description="a compact's code; default: the caller's")] = None,
        start: Annotated[date | None, Query(alias="from")] = None,
        end: Annotated[date | None, Query(alias="to")] = None,
    ) -> Response:
        """The figures of the caller's compacts over [from, to) (Asia/Shanghai days; default: this year so far).

        Each compact's answer holds its code (``compact``), ``from`` and ``to``; the steps
        taken in the period (handed_over, accepted, disputed, negotiated, joint_meetings,
        dispatched, rectified, verified, closed, revisits, rebounds, archived: each a count of
        that step's events); ``meetings_held`` (meetings, however many issues each took up);
        ``overdue`` and ``overdue_parties``; and ``practice``, the figures
        the practice reports, each counted as follows:

        - boundary_chiefs: chiefs in a swap pairing live in the period; swap_patrols, patrols,
          covert_inspections: patrols made in it; patrol_issues: problems reported from patrols;
        - handed_over: issues first handed over in the period, and of those, by the period's end:
          accepted (taken on by the receiving side, at once or once a dispute or meeting settled
          it), disputed, negotiated (disputed or sent to negotiation), dispatched, rectified,
          closed, closed_without_rebound (closed at the first joint check, never rebounded);
        - rebounds, revisits: rebounds found and revisits started in the period;
        - joint_meetings (and joint_meetings_by_level): meetings held in the period that were not
          cancelled, plus each day and level on which issues were put to a meeting by their own
          step outside a meeting record;
        - progress_bulletins: bulletins the coordinators issued (POST /api/v1/bulletins);
          monthly_bulletins: the scheduler's monthly ones for months beginning in the period;
        - joint_cases, leads_transferred: opened and transferred in the period; revisit_reports:
          filed in it; action_items_open, action_items_overdue: open at the period's end, and of
          those, past their due day.

        ``patrol_districts`` gives, for each district at or under the compact's members (in path
        order, with its ``code`` and ``name``): ``patrols`` its chiefs made on the compact's segments
        in the period (routine and swap) and ``patrol_issues`` reported from them; and its patrol
        completion over the whole months inside the period (``completion_period``, e.g. 2026-01 –
        2026-11; "" when the period holds no whole month): ``chiefs_assessed``, ``patrols_done`` and
        ``patrols_required`` summed over its chiefs held to a quota, and ``completion`` ("128%", or
        "—" when none of its chiefs is held to one). A patrol still under way counts nowhere.

        ``parties`` gives, for each member jurisdiction (its descendants rolled up), the steps
        counted for the side each belongs to (``FIGURE_SIDES``) and its own ``practice``.

        Which compacts: the one ``compact`` names (404 if the caller cannot see it);
        without it, those the caller belongs to, coordinates or audits. A caller of one
        compact gets that one compact's answer as it stands; a caller of several (or of
        none) gets ``{"from", "to", "compacts": [...]}``, each compact's answer in code order.
        """

        def counted(actor: Actor) -> dict[str, Any]:
            # The figures may lag a moment: read on the read replica when one is set (the caller on the primary).
            with access.lagging(uow) as lagging:
                return figures_of(actor, lagging)

        def figures_of(actor: Actor, uow: UnitOfWork) -> dict[str, Any]:
            sane_days(from_=start, to=end)
            today = local_today(wired.clock.now())
            first = start or today.replace(month=1, day=1)
            last = end or today + timedelta(days=1)
            if last <= first:
                raise ValidationFailed("to", f"must be after from ({first.isoformat()})")
            lo = datetime.combine(first, time(0), tzinfo=SHANGHAI)
            hi = datetime.combine(last, time(0), tzinfo=SHANGHAI)

            def answer(code: str) -> dict[str, Any]:
                conn = uow.connection
                compact_id = compact_id_of(conn, code)
                # The compact's patrols, counted once for the practice's figures and the districts' rows.
                patrols = patrol_counts(conn, member_paths(conn, compact_id), lo, hi)
                return stats(conn, code, lo, hi, patrols=patrols) | {
                    "patrol_districts": district_figures(conn, compact_id, first, last, patrols)
                }

            with uow:
                if compact is not None:
                    if compact_id_of(uow.connection, compact) not in compacts_of(actor):
                        raise NotFound("compact", compact)
                    return answer(compact)
                codes = compact_codes(uow.connection, compacts_of(actor))
                if len(codes) == 1:
                    return answer(codes[0])
                return {"from": lo.isoformat(), "to": hi.isoformat(), "compacts": [answer(code) for code in codes]}

        return await access.answer(uow, shown, counted)

    return api
