"""event period index: a compact's steps in a period read as one index range per issue

The bulletins', the dashboard's and the practice's figures count the steps of a compact's issues in a
period. Without this index each issue's whole ledger was read from the heap and filtered by
``occurred_at`` afterwards (or the whole province's events of the period, hash-joined to the compact's
issues); with it, each issue of the compact is one index-only range scan of (issue_id, occurred_at),
the trigger read from the index (bench/README.md, Province scale, items 3 and 4). On PostgreSQL the
index is built CONCURRENTLY, so steps go on being appended to the ledger while it is built.

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-06 21:00:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0017'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            op.execute(
                'CREATE INDEX CONCURRENTLY ix_event_issue_occurred ON event (issue_id, occurred_at) INCLUDE (trigger)'
            )
    else:
        op.create_index('ix_event_issue_occurred', 'event', ['issue_id', 'occurred_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_event_issue_occurred', table_name='event')
