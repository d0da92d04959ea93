"""What cases and leads share: their kinds, field checks, who sees them and their codes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from states.policy import CASE_KINDS
from workflow.core.actors import SIDE_ROLES, Actor
from workflow.core.errors import Reason, ValidationFailed
from workflow.core.lookups import compact_row
from workflow.core.models import (
    Compact,
    CompactMember,
    Issue,
    Jurisdiction,
    table_of,
)
from workflow.core.payload import day_problem, text_problem

_compact = table_of(Compact)
_member = table_of(CompactMember)
_juris = table_of(Jurisdiction)
_issue = table_of(Issue)


def check_kind(kind: str) -> list[tuple[str, str]]:
    """A case kind of the policy's list (``states.policy.CASE_KINDS``)."""
    if kind in CASE_KINDS:
        return []
    return [("kind", Reason.in_both("case_kind", kind=kind, kinds=", ".join(CASE_KINDS)))]


def check_day(value: date, today: date, field: str, after: tuple[str, date] | None = None) -> list[tuple[str, str]]:
    """A date within the range any input may name, not in the future and, when asked, not before another."""
    problem = day_problem(value)
    if problem is not None:
        return [(field, problem)]
    errors: list[tuple[str, str]] = []
    if value > today:
        errors.append((field, Reason.in_both("not_after_today", today=today, value=value)))
    if after is not None and value < after[1]:
        errors.append((field, Reason.in_both("not_before", day=after[1], value=value, what=after[0])))
    return errors


def check_text(value: str, field: str, limit: int, *, required: bool = True) -> list[tuple[str, str]]:
    """Text that is given (when required), storable, and at most ``limit`` characters."""
    problem = text_problem(value)
    if problem is not None:
        return [(field, problem)]
    if required and not value.strip():
        return [(field, Reason.in_both("required"))]
    if len(value) > limit:
        return [(field, Reason.in_both("enf_too_long", n=limit))]
    return []


def compact_of(conn: sa.Connection, actor: Actor, code: str) -> Any:
    """The compact by code; one the actor has no part in is as unknown as one that does not exist."""
    row = compact_row(conn, code)
    if row.id not in actor.member_of | actor.coordinates | actor.audits:
        raise ValidationFailed("compact", Reason.in_both("no_compact_known", code=code))
    return row


def can_see(actor: Actor, compact_id: int, paths: Iterable[str]) -> bool:
    """A coordinator of the compact, or a chief or office at or above one of the jurisdictions."""
    if compact_id in actor.coordinates:
        return True
    mine = actor.jurisdiction_path
    return actor.role in SIDE_ROLES and bool(mine) and any(p.startswith(mine or "") for p in paths)


def jurisdiction_ids(
    conn: sa.Connection, codes: Sequence[str], field: str, members: list[str], errors: list[tuple[str, str]]
) -> list[Any]:
    """The jurisdictions by code, each within one of the compact's members."""
    found = []
    for i, code in enumerate(codes):
        where = f"{field}[{i}]" if len(codes) > 1 or field == "parties" else field
        row = conn.execute(
            sa.select(_juris.c.id, _juris.c.code, _juris.c.name, _juris.c.path).where(_juris.c.code == code)
        ).first()
        if row is None:
            errors.append((where, Reason.in_both("no_jurisdiction_known", code=code)))
        elif not any(row.path.startswith(p) for p in members):
            errors.append((where, Reason.in_both("not_within_members", name=row.name, code=code)))
        else:
            found.append(row)
    return found


def issue_id_of(
    conn: sa.Connection, code: str, compact_id: int, field: str, errors: list[tuple[str, str]]
) -> int | None:
    """An issue of the compact by code; a refusal naming ``field`` otherwise.

    Another compact's issue is refused as one that does not exist: its code says nothing to this compact.
    """
    row = conn.execute(sa.select(_issue.c.id).where(_issue.c.code == code, _issue.c.compact_id == compact_id)).first()
    if row is None:
        errors.append((field, Reason.in_both("no_issue_with_code", code=code)))
        return None
    return int(row.id)
