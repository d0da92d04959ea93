"""What cases and leads share: their kinds, field checks, who sees them and their codes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from states.policy import CASE_KINDS
from workflow.core.actors import SIDE_ROLES, Actor
from workflow.core.errors import ValidationFailed
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
    return [("kind", f"不是可选的案件类型 ({kind!r} is not one of {', '.join(CASE_KINDS)})")]


def check_day(value: date, today: date, field: str, after: tuple[str, date] | None = None) -> list[tuple[str, str]]:
    """A date within the range any input may name, not in the future and, when asked, not before another."""
    problem = day_problem(value)
    if problem is not None:
        return [(field, problem)]
    errors = []
    if value > today:
        errors.append((field, f"不能晚于今天 {today} ({value} is in the future)"))
    if after is not None and value < after[1]:
        errors.append((field, f"不能早于 {after[1]} ({value} is before {after[0]} {after[1]})"))
    return errors


def check_text(value: str, field: str, limit: int, *, required: bool = True) -> list[tuple[str, str]]:
    """Text that is given (when required), storable, and at most ``limit`` characters."""
    problem = text_problem(value)
    if problem is not None:
        return [(field, problem)]
    if required and not value.strip():
        return [(field, "必填 (is required)")]
    if len(value) > limit:
        return [(field, f"不能超过 {limit} 个字 (is longer than {limit} characters)")]
    return []


def compact_of(conn: sa.Connection, actor: Actor, code: str) -> Any:
    """The compact by code; one the actor has no part in is as unknown as one that does not exist."""
    row = compact_row(conn, code)
    if row.id not in actor.member_of | actor.coordinates | actor.audits:
        raise ValidationFailed("compact", f"没有这个协作机制 (no compact with code {code!r})")
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
            errors.append((where, f"没有这个行政区 (no jurisdiction with code {code!r})"))
        elif not any(row.path.startswith(p) for p in members):
            errors.append((where, f"{row.name} 不在本协作机制内 ({code} is not within the compact's members)"))
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
        errors.append((field, f"本协作机制没有这个问题 (no issue with code {code!r} in this compact)"))
        return None
    return int(row.id)
