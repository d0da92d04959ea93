"""Look-ups by code that every capability shares: a compact by its code, the paths of its members, the next
free record code (QJ-ZF-2026-001)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from workflow.core.errors import ValidationFailed
from workflow.core.models import Compact, CompactMember, Jurisdiction, table_of

_compact = table_of(Compact)
_member = table_of(CompactMember)
_juris = table_of(Jurisdiction)


def compact_row(conn: sa.Connection, code: str, field: str = "compact") -> Any:
    """The compact's id and code; ValidationFailed naming ``field`` when there is none."""
    row = conn.execute(sa.select(_compact.c.id, _compact.c.code).where(_compact.c.code == code)).first()
    if row is None:
        raise ValidationFailed(field, f"no compact with code {code!r}")
    return row


def member_paths(conn: sa.Connection, compact_id: int) -> list[str]:
    """The jurisdiction paths of the compact's members."""
    return list(
        conn.execute(
            sa.select(_juris.c.path)
            .join(_member, _member.c.jurisdiction_id == _juris.c.id)
            .where(_member.c.compact_id == compact_id)
        ).scalars()
    )


def in_compact(path: sa.ColumnElement[str], compact_id: sa.ColumnElement[int]) -> sa.Exists:
    """True when the jurisdiction at ``path`` is a member of the compact or lies under one: for a guard to
    ask in the statement that finds the jurisdiction, instead of reading the members' paths in another."""
    member = _juris.alias("member_place")
    return sa.exists().where(
        _member.c.compact_id == compact_id,
        member.c.id == _member.c.jurisdiction_id,
        sa.func.substr(path, 1, sa.func.length(member.c.path)) == member.c.path,
    )


def next_code(conn: sa.Connection, table: sa.Table, prefix: str) -> str:
    """The next code after the highest with the prefix, e.g. QJ-ZF-2026-007 after QJ-ZF-2026-006."""
    codes = conn.execute(sa.select(table.c.code).where(table.c.code.startswith(prefix))).scalars()
    last = max((int(c[len(prefix) :]) for c in codes if c[len(prefix) :].isdigit()), default=0)
    return f"{prefix}{last + 1:03d}"


def insert_with_code(conn: sa.Connection, table: sa.Table, prefix: str, values: dict[str, Any]) -> tuple[int, str]:
    """Insert a row under the next free code; a code taken meanwhile by another writer is tried again."""
    for _ in range(5):
        code = next_code(conn, table, prefix)
        try:
            with conn.begin_nested():
                result = conn.execute(table.insert().values(code=code, **values))
        except sa.exc.IntegrityError:
            continue
        return int(result.inserted_primary_key[0]), code  # type: ignore[index]
    raise ValidationFailed("code", f"could not find a free code after {prefix}; try again")
