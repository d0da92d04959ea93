"""查: joint enforcement cases (联合执法) and litigation leads (公益诉讼线索移送).

A case is seen only by its parties (a chief or office at or above one of its jurisdictions) and the
compact's coordinators, a lead only by the side that transferred it and the coordinators; to anyone
else they do not exist (404). Who may open, close, link or record a receipt is the workflow's to say
(``workflow.enforcement``); these routes only carry the request there and the answer back.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from states.policy import CASE_KINDS
from web.access import Access, compacts_named, iso
from web.idempotency import once
from workflow.core.actors import Actor
from workflow.core.uow import UnitOfWork
from workflow.enforcement.cases import CaseView, case_view, close_case, link_issue, list_cases, open_case
from workflow.enforcement.leads import LeadView, lead_view, list_leads, record_receipt, transfer_lead

# Lengths are the workflow's to check (it names the field in the API's own refusal); these only bound a body.
CODE = Field(max_length=40)
TEXT = Field(max_length=2000)


class CaseIn(BaseModel):
    """A joint enforcement case to open between two or more of the compact's jurisdictions."""

    compact: str = Field(max_length=10)
    kind: str = Field(max_length=20, description=f"one of {', '.join(CASE_KINDS)}")
    title: str = TEXT
    parties: list[Annotated[str, CODE]] = Field(max_length=50, description="the parties' division codes, two or more")
    opened_on: date
    team: list[Annotated[str, TEXT]] = Field(default_factory=list, max_length=50, description="units and officers")
    issues: list[Annotated[str, CODE]] = Field(default_factory=list, max_length=100, description="issue codes")


class CloseIn(BaseModel):
    """The case's end: the day and what was decided and done (处理结果)."""

    closed_on: date
    outcome: str = TEXT


class LinkIn(BaseModel):
    """An issue of the same compact the case deals with."""

    issue: str = CODE


class LeadIn(BaseModel):
    """A public-interest litigation lead a side transferred to a procuratorate."""

    compact: str = Field(max_length=10)
    jurisdiction: str = Field(max_length=20, description="the transferring side's division code")
    title: str = TEXT
    procuratorate: str = TEXT
    transferred_on: date
    issue: str | None = Field(default=None, max_length=40, description="the issue it came from")
    case: str | None = Field(default=None, max_length=40, description="the joint case it came from")


class ReceiptIn(BaseModel):
    """The procuratorate's receipt (回执), and its outcome when known."""

    receipt_no: str = TEXT
    received_on: date
    outcome: str | None = Field(default=None, max_length=2000)


def kind_label(kind: str) -> str:
    """A case kind's Chinese label (the policy's list), or the code itself for a kind no longer listed."""
    found = CASE_KINDS.get(kind)
    return found.label_zh if found is not None else kind


def case_json(c: CaseView, leads: list[LeadView] | None = None) -> dict[str, Any]:
    """A case as the API answers it; with its leads (those the caller may see) when given."""
    out = {
        "code": c.code,
        "compact": c.compact,
        "kind": c.kind,
        "kind_label": kind_label(c.kind),
        "title": c.title,
        "status": "closed" if c.closed else "open",
        "parties": [{"code": code, "name": name} for code, name in zip(c.party_codes, c.parties, strict=True)],
        "team": c.team,
        "opened_on": iso(c.opened_on),
        "closed_on": iso(c.closed_on),
        "outcome": c.outcome,
        "issues": [{"code": code, "title": title} for code, title in zip(c.issues, c.issue_titles, strict=True)],
    }
    if leads is not None:
        out["leads"] = [{"code": lead.code, "title": lead.title} for lead in leads]
    return out


def lead_json(lead: LeadView) -> dict[str, Any]:
    """A lead as the API answers it."""
    return {
        "code": lead.code,
        "compact": lead.compact,
        "jurisdiction": {"code": lead.jurisdiction_code, "name": lead.jurisdiction},
        "title": lead.title,
        "procuratorate": lead.procuratorate,
        "transferred_on": iso(lead.transferred_on),
        "status": "received" if lead.receipt_no is not None else "transferred",
        "receipt_no": lead.receipt_no,
        "received_on": iso(lead.received_on),
        "outcome": lead.outcome,
        "issue": {"code": lead.issue, "title": lead.issue_title} if lead.issue is not None else None,
        "case": lead.case,
    }


def router(access: Access) -> APIRouter:
    """The enforcement case and litigation lead routes."""
    api = APIRouter(prefix="/api/v1", tags=["enforcement"])
    Caller = Annotated[Actor, Depends(access.caller)]  # noqa: N806 (a type alias, named as one)
    Unit = Annotated[UnitOfWork, Depends(access.unit)]  # noqa: N806

    def shown_case(uow: UnitOfWork, actor: Actor, code: str) -> dict[str, Any]:
        with uow:
            found = case_view(uow.connection, actor, code)
            leads = list_leads(uow.connection, actor, case=code)
        return case_json(found, leads)

    def shown_lead(uow: UnitOfWork, actor: Actor, code: str) -> dict[str, Any]:
        with uow:
            return lead_json(lead_view(uow.connection, actor, code))

    @api.get("/cases")
    def cases(uow: Unit, actor: Caller, compact: str | None = None) -> list[dict[str, Any]]:
        """The joint enforcement cases the caller is a party to or coordinates, newest first."""
        if compact is not None:
            compacts_named(uow, actor, compact)
        with uow:
            return [case_json(c) for c in list_cases(uow.connection, actor, compact=compact)]

    @api.post("/cases", status_code=201)
    def open_(uow: Unit, body: CaseIn, actor: Caller, request: Request) -> Any:
        """Open a joint enforcement case (a coordinator, or a chief or office at or above one of the parties).

        With an ``Idempotency-Key`` header, the same case sent again returns the first answer and opens nothing more.
        """

        def make() -> dict[str, Any]:
            code = open_case(
                uow,
                actor,
                body.compact,
                body.kind,
                body.title,
                body.parties,
                body.opened_on,
                team=body.team,
                issues=body.issues,
            )
            return shown_case(uow, actor, code)

        return once(uow, actor, request, body, make)

    @api.get("/cases/{code}")
    def case(uow: Unit, code: str, actor: Caller) -> dict[str, Any]:
        """One case: parties, team, linked issues and the leads from it the caller may see."""
        return shown_case(uow, actor, code)

    @api.post("/cases/{code}/close")
    def close(uow: Unit, code: str, body: CloseIn, actor: Caller) -> dict[str, Any]:
        """Close a case with its outcome (a party or a coordinator); a closed case is not closed again."""
        close_case(uow, actor, code, body.closed_on, body.outcome)
        return shown_case(uow, actor, code)

    @api.post("/cases/{code}/issues")
    def link(uow: Unit, code: str, body: LinkIn, actor: Caller) -> dict[str, Any]:
        """Link an issue of the same compact to an open case (a party or a coordinator); linking twice is one link."""
        link_issue(uow, actor, code, body.issue)
        return shown_case(uow, actor, code)

    @api.get("/leads")
    def leads(uow: Unit, actor: Caller, compact: str | None = None) -> list[dict[str, Any]]:
        """The litigation leads the caller's side transferred, or all of a compact the caller coordinates."""
        if compact is not None:
            compacts_named(uow, actor, compact)
        with uow:
            return [lead_json(lead) for lead in list_leads(uow.connection, actor, compact=compact)]

    @api.post("/leads", status_code=201)
    def transfer(uow: Unit, body: LeadIn, actor: Caller, request: Request) -> Any:
        """Record a lead transferred to a procuratorate (the side's chief or office, or a coordinator).

        With an ``Idempotency-Key`` header, the same lead sent again returns the first answer and records nothing more.
        """

        def make() -> dict[str, Any]:
            code = transfer_lead(
                uow,
                actor,
                body.compact,
                body.jurisdiction,
                body.title,
                body.procuratorate,
                body.transferred_on,
                issue=body.issue or None,
                case=body.case or None,
            )
            return shown_lead(uow, actor, code)

        return once(uow, actor, request, body, make)

    @api.get("/leads/{code}")
    def lead(uow: Unit, code: str, actor: Caller) -> dict[str, Any]:
        """One lead and its receipt."""
        return shown_lead(uow, actor, code)

    @api.post("/leads/{code}/receipt")
    def receipt(uow: Unit, code: str, body: ReceiptIn, actor: Caller) -> dict[str, Any]:
        """Record the procuratorate's receipt once; sent again with the same number, it may add the outcome."""
        record_receipt(uow, actor, code, body.receipt_no, body.received_on, body.outcome)
        return shown_lead(uow, actor, code)

    return api
