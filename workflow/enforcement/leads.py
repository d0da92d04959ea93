"""Litigation lead transfers (公益诉讼线索移送), seen only by the side that transferred them and the coordinators."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from workflow.core.actors import Actor
from workflow.core.calendar import local_today
from workflow.core.errors import NotFound, NotPermitted, Reason, ValidationFailed
from workflow.core.lookups import insert_with_code, member_paths
from workflow.core.models import (
    Compact,
    EnforcementCase,
    Issue,
    Jurisdiction,
    LeadTransfer,
    table_of,
)
from workflow.core.uow import UnitOfWork
from workflow.enforcement.basics import can_see, check_day, check_text, compact_of, issue_id_of, jurisdiction_ids
from workflow.enforcement.cases import party_paths

_case = table_of(EnforcementCase)
_lead = table_of(LeadTransfer)
_compact = table_of(Compact)
_juris = table_of(Jurisdiction)
_issue = table_of(Issue)


# -- litigation lead transfers --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeadView:
    """A public-interest litigation lead transferred to a procuratorate."""

    code: str
    compact: str
    jurisdiction: str
    jurisdiction_code: str
    title: str
    procuratorate: str
    transferred_on: date
    receipt_no: str | None
    received_on: date | None
    outcome: str | None
    issue: str | None
    case: str | None
    issue_title: str | None = None


def transfer_lead(
    uow: UnitOfWork,
    actor: Actor,
    compact: str,
    jurisdiction: str,
    title: str,
    procuratorate: str,
    transferred_on: date,
    *,
    issue: str | None = None,
    case: str | None = None,
) -> str:
    """Record a litigation lead transferred by a side to a procuratorate (移送公益诉讼线索); returns its code."""
    with uow:
        conn = uow.connection
        row = compact_of(conn, actor, compact)
        errors: list[tuple[str, str]] = []
        errors += check_text(title, "title", 200)
        errors += check_text(procuratorate, "procuratorate", 200)
        errors += check_day(transferred_on, local_today(uow.clock.now()), "transferred_on")
        sides = jurisdiction_ids(conn, [jurisdiction], "jurisdiction", member_paths(conn, row.id), errors)
        issue_id = issue_id_of(conn, issue, row.id, "issue", errors) if issue else None
        case_id = None
        if case is not None:
            found = conn.execute(sa.select(_case.c.id, _case.c.compact_id).where(_case.c.code == case)).first()
            paths = party_paths(conn, [found.id]).get(found.id, []) if found is not None else []
            if found is None or not can_see(actor, found.compact_id, paths):
                errors.append(("case", Reason.in_both("no_case_seen", code=case, actor=actor.code)))
            elif found.compact_id != row.id:
                errors.append(("case", Reason.in_both("no_case_here", code=case)))
            else:
                case_id = found.id
        if errors:
            raise ValidationFailed.of(errors)
        side = sides[0]
        if not can_see(actor, row.id, [side.path]):
            raise NotPermitted(actor.code, "transfer_lead", ["coordinator", "the side's chief or office"], [])
        _, code = insert_with_code(
            conn,
            _lead,
            f"{row.code}-XS-{transferred_on.year}-",
            {
                "compact_id": row.id,
                "jurisdiction_id": side.id,
                "title": title.strip(),
                "procuratorate": procuratorate.strip(),
                "transferred_on": transferred_on,
                "issue_id": issue_id,
                "case_id": case_id,
                "created_by": actor.id,
                "created_at": uow.clock.now(),
            },
        )
        uow.commit()
    return code


def _visible_lead(conn: sa.Connection, actor: Actor, code: str) -> Any:
    row = conn.execute(
        sa.select(_lead, _juris.c.path).join(_juris, _juris.c.id == _lead.c.jurisdiction_id).where(_lead.c.code == code)
    ).first()
    if row is None or not can_see(actor, row.compact_id, [row.path]):
        raise NotFound("litigation lead", code)
    return row


def record_receipt(
    uow: UnitOfWork, actor: Actor, code: str, receipt_no: str, received_on: date, outcome: str | None = None
) -> None:
    """Record the procuratorate's receipt (回执) of a lead, and its outcome when known.

    A receipt is recorded once: sent again with the same number and day it may add the outcome
    that was not known the first time, but it never replaces what was recorded.
    """
    with uow:
        conn = uow.connection
        row = _visible_lead(conn, actor, code)
        errors = check_text(receipt_no, "receipt_no", 60)
        errors += check_day(
            received_on, local_today(uow.clock.now()), "received_on", ("transferred_on", row.transferred_on)
        )
        if outcome is not None:
            errors += check_text(outcome, "outcome", 2000)
        if row.receipt_no is not None and (receipt_no.strip(), received_on) != (row.receipt_no, row.received_on):
            recorded = f"{row.receipt_no}（{row.received_on}）"
            errors.append(("receipt_no", Reason.in_both("receipt_recorded", receipt=(recorded, row.receipt_no))))
        if row.outcome is not None and outcome is not None and outcome.strip() != row.outcome:
            errors.append(("outcome", Reason.in_both("outcome_recorded", outcome=row.outcome)))
        if errors:
            raise ValidationFailed.of(errors)
        values: dict[str, Any] = {"receipt_no": receipt_no.strip(), "received_on": received_on}
        if outcome is not None:
            values["outcome"] = outcome.strip()
        conn.execute(_lead.update().where(_lead.c.id == row.id).values(**values))
        uow.commit()


def list_leads(
    conn: sa.Connection,
    actor: Actor,
    *,
    compact: str | None = None,
    issue: str | None = None,
    case: str | None = None,
    code: str | None = None,
) -> list[LeadView]:
    """The leads the actor may see (of a compact, from an issue or a case, or one by code, when asked), newest
    first."""
    query = (
        sa.select(
            _lead,
            _compact.c.code.label("compact"),
            _juris.c.code.label("j_code"),
            _juris.c.name.label("j_name"),
            _juris.c.path,
            _issue.c.code.label("issue_code"),
            _issue.c.title.label("issue_title"),
            _case.c.code.label("case_code"),
        )
        .join(_compact, _compact.c.id == _lead.c.compact_id)
        .join(_juris, _juris.c.id == _lead.c.jurisdiction_id)
        .outerjoin(_issue, _issue.c.id == _lead.c.issue_id)
        .outerjoin(_case, _case.c.id == _lead.c.case_id)
        .order_by(_lead.c.transferred_on.desc(), _lead.c.id.desc())
    )
    for column, wanted in (
        (_compact.c.code, compact),
        (_issue.c.code, issue),
        (_case.c.code, case),
        (_lead.c.code, code),
    ):
        if wanted is not None:
            query = query.where(column == wanted)
    return [
        LeadView(
            r.code,
            r.compact,
            r.j_name,
            r.j_code,
            r.title,
            r.procuratorate,
            r.transferred_on,
            r.receipt_no,
            r.received_on,
            r.outcome,
            r.issue_code,
            r.case_code,
            r.issue_title,
        )
        for r in conn.execute(query)
        if can_see(actor, r.compact_id, [r.path])
    ]


def lead_view(conn: sa.Connection, actor: Actor, code: str) -> LeadView:
    """One lead, if the actor may see it; NotFound otherwise, as if it did not exist."""
    found = list_leads(conn, actor, code=code)
    if not found:
        raise NotFound("litigation lead", code)
    return found[0]
