"""issue compact sides: a compact's issues with their sides read from the index, not from the table

The year's stats, the dashboard and the practice's figures join the compact's steps of a period
(ix_event_compact_trigger_occurred, migration 0021) to their issues for the issue's sides
(reporting_jurisdiction_id, receiving_jurisdiction_id) and whether it was merged into another
(duplicate_of_id). PostgreSQL hashed the compact's issues for that join, all of them over ten years,
through ix_issue_compact_id (compact_id), and read every one of their rows: at province scale 0.1, 10,500
rows on 1,673 of the table's 1,674 pages (a compact's issues are spread over the whole table), in each
such statement. This index holds each issue's compact, id and those three columns, so the same hash is
built from the index alone (an index-only scan, about 50 pages a compact) and the issue rows are not read.

It replaces ix_issue_compact_id, whose key it begins with, so that a step writes no more index entries than
before; none of its columns changes on a step that did not already change an indexed column (the state),
so a step that was a heap-only (HOT) update stays one. On PostgreSQL both are built and dropped
CONCURRENTLY, outside the migration's transaction, so steps go on while it is built.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 00:40:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0024'
down_revision: str | None = '0023'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = 'ix_issue_compact_sides'
COLUMNS = ['compact_id', 'id']
INCLUDED = ['reporting_jurisdiction_id', 'receiving_jurisdiction_id', 'duplicate_of_id']
OLD = 'ix_issue_compact_id'


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        op.create_index(NAME, 'issue', COLUMNS, unique=False)
        op.drop_index(OLD, table_name='issue')
        return
    with op.get_context().autocommit_block():
        # A build interrupted before leaves an invalid index of this name behind: drop it first.
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {NAME}')
        op.create_index(
            NAME, 'issue', COLUMNS, unique=False, postgresql_include=INCLUDED, postgresql_concurrently=True
        )
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {OLD}')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        op.create_index(OLD, 'issue', ['compact_id'], unique=False)
        op.drop_index(NAME, table_name='issue')
        return
    with op.get_context().autocommit_block():
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {OLD}')
        op.create_index(OLD, 'issue', ['compact_id'], unique=False, postgresql_concurrently=True)
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {NAME}')
