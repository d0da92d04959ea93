"""event waits index: the ledger's state changes by issue, with their state, deadline and time

The overdue waits of a period (workflow/reading/overdue.py: the bulletins, the interview lists, the
stats and the dashboard) pair each state change of an issue with the next one. This partial index holds
only the state changes, in each issue's order, with every column that pairing reads, so PostgreSQL
reads it without the table (an index-only scan) for the few hundred issues a period can concern,
instead of a sequential scan of the whole ledger. On PostgreSQL it is built CONCURRENTLY, outside the
migration's transaction, so steps go on writing events while it is built.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ['issue_id', 'seq', 'to_state', 'due_at', 'occurred_at']
STATE_CHANGES = 'from_state <> to_state'


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            # A build interrupted before leaves an invalid index of this name behind: drop it first.
            op.execute('DROP INDEX CONCURRENTLY IF EXISTS ix_event_waits')
            op.execute(
                f'CREATE INDEX CONCURRENTLY ix_event_waits ON event ({", ".join(COLUMNS)}) WHERE {STATE_CHANGES}'
            )
        return
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index('ix_event_waits', COLUMNS, unique=False, sqlite_where=sa.text(STATE_CHANGES))


def downgrade() -> None:
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index('ix_event_waits')
