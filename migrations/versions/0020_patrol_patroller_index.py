"""finished patrols by patroller: a compact's chiefs' patrols over months read by chief, not by the province

Completion (workflow/patrols/completion.py ``_patrol_counts``: a month's or a year's completion of a
compact, the stats' completion by district) counts the finished patrols of the compact's chiefs over the
months assessed. The only index that held a patrol's kind and end was ix_patrol_done_started, ordered by
start, so PostgreSQL read every patrol of the province in those months and kept the compact's: at
province scale 0.25 a year of one compact read 174,606 index entries (55 ms), four times that at scale 1.
This partial index holds each chief's finished patrols by start with their kind, so the count probes
the compact's chiefs one by one: 429 chiefs, 2,302 pages, 12.5 ms, whatever the province's size.

On PostgreSQL it is built CONCURRENTLY, outside the migration's transaction, so patrols go on being
uploaded while it is built.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = 'ix_patrol_done_patroller'
COLUMNS = ['patroller_id', 'started_at', 'kind']
FINISHED = 'ended_at IS NOT NULL'


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        op.create_index(NAME, 'patrol', COLUMNS, unique=False, sqlite_where=sa.text(FINISHED))
        return
    with op.get_context().autocommit_block():
        # A build interrupted before leaves an invalid index of this name behind: drop it first.
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {NAME}')
        op.create_index(
            NAME, 'patrol', COLUMNS, unique=False, postgresql_where=sa.text(FINISHED), postgresql_concurrently=True
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        op.drop_index(NAME, table_name='patrol')
        return
    with op.get_context().autocommit_block():
        op.drop_index(NAME, table_name='patrol', postgresql_concurrently=True)
