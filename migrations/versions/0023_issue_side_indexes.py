"""issues by side: the list of a party's issues reads that party's issues, not its compact's

The issue list filtered by a party on one side (``/api/v1/issues?party=…&side=receiving``, the coordinator's
"this township's issues") joins each issue to its side's jurisdiction and keeps those under the party's path.
With no index on a side, PostgreSQL took the few jurisdictions under the path and, for each, read every issue
of the compact again: at province scale 1 a township's receiving issues in the first border compact read
70,000 pages, 383 ms (nine jurisdictions × 10,500 issues). With an index on each side by creation, it reads
each jurisdiction's own issues: 1,500 pages, 14 ms; 2 ms for a party with none.

A side changes once or twice in an issue's life (a report, a hand-off), so the indexes cost a step's
UPDATE little; they are built CONCURRENTLY on PostgreSQL, outside the migration's transaction.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 00:55:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0023'
down_revision: str | None = '0022'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    'ix_issue_reporting_created': ['reporting_jurisdiction_id', 'created_at', 'id'],
    'ix_issue_receiving_created': ['receiving_jurisdiction_id', 'created_at', 'id'],
}


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        for name, columns in INDEXES.items():
            op.create_index(name, 'issue', columns, unique=False)
        return
    with op.get_context().autocommit_block():
        for name, columns in INDEXES.items():
            # A build interrupted before leaves an invalid index of this name behind: drop it first.
            op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {name}')
            op.create_index(name, 'issue', columns, unique=False, postgresql_concurrently=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        for name in INDEXES:
            op.drop_index(name, table_name='issue')
        return
    with op.get_context().autocommit_block():
        for name in INDEXES:
            op.drop_index(name, table_name='issue', postgresql_concurrently=True)
