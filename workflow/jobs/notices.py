"""Notices for what the scheduler noticed, queued once per topic and recipient."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from states import Party
from workflow.core.models import (
    Outbox,
    table_of,
)

_outbox = table_of(Outbox)


# A notice for something the scheduler noticed: queued once per topic and recipient.
# (No DISTINCT: each person row appears once, and PostgreSQL cannot compare json values.)
_NOTICE = sa.text(
    """
    INSERT INTO outbox (topic, issue_id, recipient_id, kind, detail, status, attempts, next_attempt_at, created_at)
    SELECT :topic, :issue_id, p.id, :kind, :detail, 'pending', 0, :now, :now
    FROM person p
    WHERE p.active AND (
        (p.role IN ('chief', 'office') AND p.jurisdiction_id IN (:side_a, :side_b))
        OR p.id IN (SELECT s.person_id FROM compact_staff s
                    WHERE s.compact_id = :compact_id AND s.role IN (:staff_a, :staff_b))
        OR (p.role = 'admin' AND :admins = 1)
    )
    ON CONFLICT DO NOTHING
    """
).bindparams(
    sa.bindparam("now", type_=_outbox.c.created_at.type),
    sa.bindparam("detail", type_=_outbox.c.detail.type),
)


def queue_notice(
    conn: sa.Connection,
    *,
    topic: str,
    kind: str,
    compact_id: int,
    parties: set[Party],
    now: datetime,
    issue: Any = None,
    issue_id: int | None = None,
    detail: dict[str, Any] | None = None,
    admins: bool = False,
) -> int:
    """Queue a notice to the given parties of an issue (or a compact's staff, and admins); returns rows queued."""
    result = conn.execute(
        _NOTICE,
        {
            "topic": topic,
            "kind": kind,
            "detail": detail,
            "now": now,
            "issue_id": issue.id if issue is not None else issue_id,
            "side_a": issue.reporting_jurisdiction_id if issue is not None and Party.REPORTING in parties else -1,
            "side_b": (
                issue.receiving_jurisdiction_id
                if issue is not None and Party.RECEIVING in parties and issue.receiving_jurisdiction_id
                else -1
            ),
            "compact_id": compact_id,
            "staff_a": "coordinator" if Party.COORDINATOR in parties else "",
            "staff_b": "auditor" if Party.AUDITOR in parties else "",
            "admins": int(admins),
        },
    )
    return int(result.rowcount)
