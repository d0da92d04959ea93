"""查 on the pages: joint enforcement cases (联合执法) and litigation leads (公益诉讼线索移送).

The list of both, a case opened, linked to issues and closed, a lead transferred and its receipt recorded;
and, for the issue page, the cases and leads linked to an issue. Each is seen only by whom
``workflow.enforcement`` shows it to (its parties or side, and the compact's coordinators); to anyone else
it does not exist (404). Every change goes through ``workflow.enforcement``, whose refusals come back
beside the field they name.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from states.policy import CASE_KINDS
from web.access import Access
from web.pages.deps import Posted, Viewer
from web.pages.text import Text
from workflow.core.actors import SIDE_ROLES, Actor
from workflow.core.calendar import local_today
from workflow.core.errors import NotFound, NotPermitted, ValidationFailed
from workflow.core.lookups import member_paths
from workflow.core.models import Compact, Jurisdiction, table_of
from workflow.enforcement.cases import CaseView, case_view, close_case, link_issue, list_cases, open_case
from workflow.enforcement.leads import LeadView, lead_view, list_leads, record_receipt, transfer_lead

DONE = ("opened", "closed", "linked", "transferred", "received")
CODES = re.compile(r"[\s,，、;；]+")  # how people separate issue numbers typed in one field

_compact = table_of(Compact)
_juris = table_of(Jurisdiction)


@dataclass(frozen=True, slots=True)
class Linked:
    """The cases and leads linked to an issue that the viewer may see, and whether they may add one."""

    cases: list[CaseView]
    leads: list[LeadView]
    may_add: bool


def may_take_part(actor: Actor) -> bool:
    """Whether the person could be a party to a case or a lead at all: a coordinator, or a member's chief or office.

    (Whether they see a given one is ``workflow.enforcement``'s ``can_see``; this only decides the menu and forms.)
    """
    return bool(actor.coordinates) or (actor.role in SIDE_ROLES and bool(actor.member_of))


def linked_to_issue(view: Viewer, code: str) -> Linked:
    """For the issue page: the cases and leads linked to the issue that the viewer may see."""
    with view.uow as uow:
        cases = list_cases(uow.connection, view.actor, issue=code)
        leads = list_leads(uow.connection, view.actor, issue=code)
    return Linked(cases, leads, may_take_part(view.actor))


def field_errors(t: Text, exc: ValidationFailed) -> dict[str, str]:
    """The refusal's reasons by the form field they belong to (``parties[1]`` is the ``parties`` field)."""
    out: dict[str, str] = {}
    for field, why in exc.errors:
        name, reason = field.split("[", 1)[0], t.reason(why)
        out[name] = f"{out[name]}{t('list_sep')}{reason}" if name in out else reason
    return out


def _day(form: FormData, name: str, bad: str) -> date:
    try:
        return date.fromisoformat(str(form.get(name) or "").strip())
    except ValueError as exc:
        raise ValidationFailed(name, bad) from exc


def _text(form: FormData, name: str) -> str:
    return str(form.get(name) or "")


def router(
    access: Access,
    viewer: Callable[..., Viewer],
    render: Callable[..., HTMLResponse],
    check_csrf: Callable[[Viewer, FormData], None],
) -> APIRouter:
    """The enforcement pages, with the page helpers of ``web.pages.routes``."""
    wired = access.wired
    pages = APIRouter(include_in_schema=False)
    Seen = Annotated[Viewer, Depends(viewer)]  # noqa: N806 (a type alias, named as one)

    def kinds(view: Viewer) -> list[tuple[str, str]]:
        return [(k.code, k.label_zh if view.t.zh else k.label_en) for k in CASE_KINDS.values()]

    def kind_label(view: Viewer, kind: str) -> str:
        found = CASE_KINDS.get(kind)
        if found is None:
            return kind
        return found.label_zh if view.t.zh else found.label_en

    def today() -> str:
        return local_today(wired.clock.now()).isoformat()

    def compacts(view: Viewer) -> list[tuple[str, str]]:
        """The compacts the viewer could open a case or transfer a lead in, by code and name."""
        mine = view.actor.coordinates | (view.actor.member_of if view.actor.role in SIDE_ROLES else frozenset())
        with view.uow as uow:
            rows = uow.connection.execute(
                sa.select(_compact.c.code, _compact.c.name).where(_compact.c.id.in_(mine)).order_by(_compact.c.code)
            ).all()
        return [(r.code, r.name) for r in rows]

    def chosen(view: Viewer, wanted: str | None) -> tuple[list[tuple[str, str]], str]:
        """The viewer's compacts and the one the form is for (the one asked for, else the first)."""
        mine = compacts(view)
        if not mine:
            raise NotPermitted(view.actor.code, "enforcement", ["coordinator", "a member's chief or office"], [])
        codes = [c for c, _ in mine]
        return mine, wanted if wanted in codes else codes[0]

    def jurisdictions(view: Viewer, compact: str, *, own_side: bool = False) -> list[list[tuple[str, str, int]]]:
        """The compact's jurisdictions, a group per member: (code, name, depth under the member), the member first.

        With ``own_side``, only those a chief or office acts for (theirs and under it), unless the viewer
        coordinates the compact.
        """
        with view.uow as uow:
            row = uow.connection.execute(sa.select(_compact.c.id).where(_compact.c.code == compact)).first()
            if row is None:
                return []
            paths = sorted(member_paths(uow.connection, row.id))
            found = uow.connection.execute(
                sa.select(_juris.c.code, _juris.c.name, _juris.c.path).order_by(_juris.c.path)
            ).all()
        mine = "/" if row.id in view.actor.coordinates or not own_side else view.actor.jurisdiction_path or "\x00"
        groups = []
        for member in paths:
            group = [
                (r.code, r.name, r.path.count("/") - member.count("/"))
                for r in found
                if r.path.startswith(member) and r.path.startswith(mine)
            ]
            if group:
                groups.append(group)
        return groups

    def not_found(request: Request, view: Viewer) -> HTMLResponse:
        return render(request, "message.html", view, 404, message=view.t("not_found"))

    def forbidden(request: Request, view: Viewer) -> HTMLResponse:
        """For one who can take part in no case or lead (an auditor, an admin): the forms are not theirs."""
        return render(request, "message.html", view, 403, message=view.t("forbidden"))

    def flash_of(view: Viewer, done: str | None) -> tuple[str, str] | None:
        return ("ok", view.t("enf_done_" + done)) if done in DONE else None

    # -- the list -------------------------------------------------------------------------------

    @pages.get("/enforcement")
    def enforcement_page(request: Request, view: Seen) -> HTMLResponse:
        with view.uow as uow:
            cases = list_cases(uow.connection, view.actor)
            leads = list_leads(uow.connection, view.actor)
        return render(
            request,
            "enforcement.html",
            view,
            cases=cases,
            leads=leads,
            kind_label=lambda k: kind_label(view, k),
            may_add=may_take_part(view.actor),
        )

    # -- a case ---------------------------------------------------------------------------------

    def case_form(
        request: Request, view: Viewer, status: int, values: dict[str, Any], errors: dict[str, str], flash: Any = None
    ) -> HTMLResponse:
        mine, compact = chosen(view, values.get("compact"))
        return render(
            request,
            "case_new.html",
            view,
            status,
            compacts=mine,
            compact=compact,
            kinds=kinds(view),
            jurisdictions=jurisdictions(view, compact),
            values=values,
            errors=errors,
            flash=flash,
            today=today(),
        )

    @pages.get("/cases/new")
    def new_case(
        request: Request,
        view: Seen,
        compact: Annotated[str | None, Query(max_length=10)] = None,
        issue: Annotated[str | None, Query(max_length=40)] = None,
    ) -> HTMLResponse:
        if not may_take_part(view.actor):
            return forbidden(request, view)
        values: dict[str, Any] = {"compact": compact, "issues": issue or "", "opened_on": today(), "parties": []}
        return case_form(request, view, 200, values, {})

    @pages.post("/cases")
    async def open_case_page(request: Request, form: Posted, view: Seen) -> Response:
        check_csrf(view, form)
        if not may_take_part(view.actor):
            return forbidden(request, view)
        parties = [str(p) for p in form.getlist("parties") if str(p).strip()]
        values: dict[str, Any] = {
            k: _text(form, k) for k in ("compact", "kind", "title", "team", "opened_on", "issues")
        }
        values["parties"] = parties

        def make() -> str:
            opened = _day(form, "opened_on", view.t("bad_date"))
            team = [line.strip() for line in values["team"].splitlines() if line.strip()]
            issues = [c for c in CODES.split(values["issues"]) if c]
            return open_case(
                view.uow,
                view.actor,
                values["compact"],
                values["kind"],
                values["title"],
                parties,
                opened,
                team=team,
                issues=issues,
            )

        try:
            code = await run_in_threadpool(make)
        except ValidationFailed as exc:
            return case_form(request, view, 422, values, field_errors(view.t, exc), ("bad", view.t("fix_fields")))
        except NotPermitted:
            return case_form(request, view, 403, values, {}, ("bad", view.t("forbidden")))
        return RedirectResponse(f"/cases/{quote(code)}?done=opened", status_code=303)

    def case_page(
        request: Request,
        view: Viewer,
        code: str,
        status: int = 200,
        *,
        flash: Any = None,
        errors: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> HTMLResponse:
        with view.uow as uow:
            found = case_view(uow.connection, view.actor, code)
            leads = list_leads(uow.connection, view.actor, case=code)
        return render(
            request,
            "case.html",
            view,
            status,
            c=found,
            leads=leads,
            kind_label=kind_label(view, found.kind),
            errors=errors or {},
            values=values or {},
            flash=flash,
            today=today(),
        )

    @pages.get("/cases/{code}")
    def show_case(request: Request, view: Seen, code: str, done: str | None = None) -> HTMLResponse:
        try:
            return case_page(request, view, code, flash=flash_of(view, done))
        except NotFound:
            return not_found(request, view)

    def case_step(name: str, step: Callable[[Viewer, FormData, str], None]) -> Any:
        async def handler(request: Request, form: Posted, view: Seen, code: str) -> Response:
            check_csrf(view, form)
            values = {k: _text(form, k) for k in form}
            try:
                await run_in_threadpool(step, view, form, code)
            except NotFound:
                return not_found(request, view)
            except ValidationFailed as exc:
                flash = ("bad", view.t("fix_fields"))
                errors = field_errors(view.t, exc)
                return await run_in_threadpool(
                    lambda: case_page(request, view, code, 422, flash=flash, errors=errors, values=values)
                )
            return RedirectResponse(f"/cases/{quote(code)}?done={name}", status_code=303)

        handler.__name__ = f"case_{name}"
        return handler

    def _close(view: Viewer, form: FormData, code: str) -> None:
        closed_on = _day(form, "closed_on", view.t("bad_date"))
        close_case(view.uow, view.actor, code, closed_on, _text(form, "outcome"))

    def _link(view: Viewer, form: FormData, code: str) -> None:
        link_issue(view.uow, view.actor, code, _text(form, "issue").strip())

    pages.add_api_route("/cases/{code}/close", case_step("closed", _close), methods=["POST"])
    pages.add_api_route("/cases/{code}/issues", case_step("linked", _link), methods=["POST"])

    # -- a lead ---------------------------------------------------------------------------------

    def lead_form(
        request: Request, view: Viewer, status: int, values: dict[str, Any], errors: dict[str, str], flash: Any = None
    ) -> HTMLResponse:
        mine, compact = chosen(view, values.get("compact"))
        with view.uow as uow:
            cases = list_cases(uow.connection, view.actor, compact=compact)
        return render(
            request,
            "lead_new.html",
            view,
            status,
            compacts=mine,
            compact=compact,
            sides=jurisdictions(view, compact, own_side=True),
            cases=cases,
            values=values,
            errors=errors,
            flash=flash,
            today=today(),
        )

    @pages.get("/leads/new")
    def new_lead(
        request: Request,
        view: Seen,
        compact: Annotated[str | None, Query(max_length=10)] = None,
        issue: Annotated[str | None, Query(max_length=40)] = None,
        case: Annotated[str | None, Query(max_length=40)] = None,
    ) -> HTMLResponse:
        if not may_take_part(view.actor):
            return forbidden(request, view)
        values = {
            "compact": compact,
            "issue": issue or "",
            "case": case or "",
            "transferred_on": today(),
            "jurisdiction": view.who.jurisdiction[0] if view.who.jurisdiction else "",
        }
        return lead_form(request, view, 200, values, {})

    @pages.post("/leads")
    async def transfer_lead_page(request: Request, form: Posted, view: Seen) -> Response:
        check_csrf(view, form)
        if not may_take_part(view.actor):
            return forbidden(request, view)
        names = ("compact", "jurisdiction", "title", "procuratorate", "transferred_on", "issue", "case")
        values: dict[str, Any] = {k: _text(form, k) for k in names}

        def make() -> str:
            transferred = _day(form, "transferred_on", view.t("bad_date"))
            return transfer_lead(
                view.uow,
                view.actor,
                values["compact"],
                values["jurisdiction"],
                values["title"],
                values["procuratorate"],
                transferred,
                issue=values["issue"].strip() or None,
                case=values["case"].strip() or None,
            )

        try:
            code = await run_in_threadpool(make)
        except ValidationFailed as exc:
            return lead_form(request, view, 422, values, field_errors(view.t, exc), ("bad", view.t("fix_fields")))
        except NotPermitted:
            return lead_form(request, view, 403, values, {}, ("bad", view.t("forbidden")))
        return RedirectResponse(f"/leads/{quote(code)}?done=transferred", status_code=303)

    def lead_page(
        request: Request,
        view: Viewer,
        code: str,
        status: int = 200,
        *,
        flash: Any = None,
        errors: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
    ) -> HTMLResponse:
        with view.uow as uow:
            found = lead_view(uow.connection, view.actor, code)
        return render(
            request,
            "lead.html",
            view,
            status,
            lead=found,
            errors=errors or {},
            values=values or {},
            flash=flash,
            today=today(),
        )

    @pages.get("/leads/{code}")
    def show_lead(request: Request, view: Seen, code: str, done: str | None = None) -> HTMLResponse:
        try:
            return lead_page(request, view, code, flash=flash_of(view, done))
        except NotFound:
            return not_found(request, view)

    @pages.post("/leads/{code}/receipt")
    async def receipt(request: Request, form: Posted, view: Seen, code: str) -> Response:
        check_csrf(view, form)
        values = {k: _text(form, k) for k in ("receipt_no", "received_on", "outcome")}

        def record() -> None:
            received = _day(form, "received_on", view.t("bad_date"))
            outcome = values["outcome"].strip() or None
            record_receipt(view.uow, view.actor, code, values["receipt_no"], received, outcome)

        try:
            await run_in_threadpool(record)
        except NotFound:
            return not_found(request, view)
        except ValidationFailed as exc:
            flash = ("bad", view.t("fix_fields"))
            errors = field_errors(view.t, exc)
            return await run_in_threadpool(
                lambda: lead_page(request, view, code, 422, flash=flash, errors=errors, values=values)
            )
        return RedirectResponse(f"/leads/{quote(code)}?done=received", status_code=303)

    return pages
