"""What cases and leads share: their kinds, field checks, who sees them and their codes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from workflow.core.actors import SIDE_ROLES, Actor
from workflow.core.models import (
    Compact,
    CompactMember,
    Issue,
    Jurisdiction,
    table_of,
)

_compact = table_of(Compact)
_member = table_of(CompactMember)
_juris = table_of(Jurisdiction)
_issue = table_of(Issue)


KINDS = {"sand_mining": "非法采砂", "fishing": "非法捕捞", "discharge": "非法排污", "other": "其他涉河涉水违法"}


def check_day(value: date, today: date, field: str, after: tuple[str, date] | None = None) -> list[tuple[str, str]]:
    """A date that is not in the future and, when asked, not before another."""
    errors = []
    if value > today:
        errors.append((field, f"{value} is in the future (today is {today})"))
    if after is not None and value < after[1]:
        errors.append((field, f"{value} is before {after[0]} {after[1]}"))
    return errors


def check_text(value: str, field: str, limit: int, *, required: bool = True) -> list[tuple[str, str]]:
    if required and not value.strip():
        return [(field, "is required")]
    if len(value) > limit:
        return [(field, f"is longer than {limit} characters")]
    return []


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
            errors.append((where, f"no jurisdiction with code {code!r}"))
        elif not any(row.path.startswith(p) for p in members):
            errors.append((where, f"{row.name} ({code}) is not within the compact's members"))
        else:
            found.append(row)
    return found


def issue_id_of(
    conn: sa.Connection, code: str, compact_id: int, field: str, errors: list[tuple[str, str]]
) -> int | None:
    """An issue of the compact by code; a refusal naming ``field`` otherwise."""
    row = conn.execute(sa.select(_issue.c.id, _issue.c.compact_id).where(_issue.c.code == code)).first()
    if row is None:
        errors.append((field, f"no issue with code {code!r}"))
    elif row.compact_id != compact_id:
        errors.append((field, f"{code} is another compact's issue"))
    else:
        return int(row.id)
    return None
