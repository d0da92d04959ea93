"""Look-ups by code that every capability shares: a compact by its code, the paths of its members."""

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
