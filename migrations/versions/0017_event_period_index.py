"""event period indexes: a period's steps of a compact read from two indexes instead of the ledger's rows

The bulletins', the dashboard's and the practice's figures count the steps of a compact's issues in a
period. Each issue of the compact had its whole ledger read from the heap and filtered by
``occurred_at`` afterwards, or the whole province's events of the period were read and hash-joined to the
compact's issues. Two indexes, both read without the rows (index-only):

- ix_event_trigger_occurred (trigger, occurred_at) INCLUDE (issue_id): the steps of the kinds a figure
  counts in the period, a range per kind, joined to the compact's issues by issue id;
- ix_event_issue_occurred (issue_id, occurred_at) INCLUDE (trigger): the steps of given issues up to a day
  (how far the issues handed over in a period got by its end).

The plans before and after are in bench/README.md (Province scale, items 3 and 4). On PostgreSQL the
indexes are built CONCURRENTLY, so steps go on being appended to the ledger while they are built.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 21:00:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ('ix_event_issue_occurred', ('issue_id', 'occurred_at'), 'trigger'),
    ('ix_event_trigger_occurred', ('trigger', 'occurred_at'), 'issue_id'),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            for name, columns, included in INDEXES:
                op.execute(f'CREATE INDEX CONCURRENTLY {name} ON event ({", ".join(columns)}) INCLUDE ({included})')
    else:
        for name, columns, _ in INDEXES:
            op.create_index(name, 'event', list(columns), unique=False)


def downgrade() -> None:
    for name, _, _ in reversed(INDEXES):
        op.drop_index(name, table_name='event')
