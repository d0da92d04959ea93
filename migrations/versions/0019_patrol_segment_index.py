"""finished patrols by segment: a compact's patrols of a period read from the index alone

The practice's patrol figures (stats for a year, the dashboard, the bulletins: workflow/reading/practice.py
``_patrol_source``) count the finished patrols made on the compact's segments in a period, by kind and by
patroller. They found each segment's patrols through ix_patrol_segment_id and then read the table's pages,
where each patrol sits with its track: 21,700 pages for a year of one compact at province scale 0.1
(142 ms). This partial index holds, per segment, the finished patrols' start, patroller, kind and id, so
the same count is an index-only scan: 2,457 pages, 38 ms. ix_patrol_segment_id stays: it serves the
foreign key, whose checks must see unfinished patrols too.

On PostgreSQL it is built CONCURRENTLY, outside the migration's transaction, so patrols go on being
uploaded while it is built.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = 'ix_patrol_done_segment'
COLUMNS = ['segment_id', 'started_at', 'patroller_id', 'kind', 'id']
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
