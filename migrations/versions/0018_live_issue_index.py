"""live issue and finished patrol indexes: a compact's live issues newest first, a month's finished patrols

ix_issue_live_created holds only the issues in no terminal state (a twentieth of them at province
scale): the queue reads a compact's from it instead of all its issues, and a list filtered by whom an
issue waits on, by a live state or by a phase pages through it instead of the whole table's
ix_issue_created. Its predicate names the terminal states of states/chart.py as they are today; the
queries say it the same way (workflow.core.models.live), and tests/unit/test_live_index.py fails if the
chart's terminal states ever differ from the ones named here (a new migration must then rebuild it).

ix_patrol_done_started covers what the funding and completion counts read of a month's finished
patrols (when, who, which kind), so they are read from the index rather than from the table's pages,
where each patrol sits with its track.

On PostgreSQL both are built CONCURRENTLY, outside the migration's transaction, so that reports and
steps go on while they are built.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The terminal states when this migration was written, sorted: the index's predicate.
TERMINAL_STATES = ('archived', 'dismissed', 'duplicate')
LIVE = "state NOT IN (" + ", ".join(f"'{name}'" for name in TERMINAL_STATES) + ")"
FINISHED = "ended_at IS NOT NULL"


def _indexes(create: bool) -> None:
    postgresql = op.get_bind().dialect.name == 'postgresql'
    indexes = (
        ('ix_issue_live_created', 'issue', ['compact_id', 'created_at', 'id'], LIVE),
        ('ix_patrol_done_started', 'patrol', ['started_at', 'patroller_id', 'kind'], FINISHED),
    )
    for name, table, columns, where in indexes:
        if not postgresql:
            if create:
                op.create_index(name, table, columns, unique=False, sqlite_where=sa.text(where))
            else:
                op.drop_index(name, table_name=table)
            continue
        with op.get_context().autocommit_block():
            if create:
                op.create_index(
                    name, table, columns, unique=False, postgresql_where=sa.text(where), postgresql_concurrently=True
                )
            else:
                op.drop_index(name, table_name=table, postgresql_concurrently=True)


def upgrade() -> None:
    _indexes(create=True)


def downgrade() -> None:
    _indexes(create=False)
