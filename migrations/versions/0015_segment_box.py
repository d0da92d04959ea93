"""segment box: the bounding box of each segment's line, and an index on it, so that a map reads only its frame

The issue page's small map and the map page read every segment of the province and dropped in Python
those outside their frame (bench/README.md, Province scale, item 1). The box columns are filled from the
stored line, in batches of ids so that a live database never holds one long transaction over the table;
on PostgreSQL the index is built CONCURRENTLY, outside any transaction, so that writers are not blocked.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000  # segments a statement fills: a province has about 20,000

# The box of each line in an id range, from the stored [[lon, lat], ...] (JSON); a JSON null is left alone.
_FILL = {
    'postgresql': """
        UPDATE segment SET min_lon = b.min_lon, min_lat = b.min_lat, max_lon = b.max_lon, max_lat = b.max_lat
        FROM (
            SELECT s.id, min((p ->> 0)::float8) AS min_lon, min((p ->> 1)::float8) AS min_lat,
                   max((p ->> 0)::float8) AS max_lon, max((p ->> 1)::float8) AS max_lat
            FROM segment s CROSS JOIN LATERAL json_array_elements(s.geometry) AS p
            WHERE s.id >= :low AND s.id < :high AND json_typeof(s.geometry) = 'array'
            GROUP BY s.id
        ) AS b
        WHERE segment.id = b.id
    """,
    'sqlite': """
        UPDATE segment SET
            min_lon = (SELECT min(json_extract(p.value, '$[0]')) FROM json_each(segment.geometry) AS p),
            min_lat = (SELECT min(json_extract(p.value, '$[1]')) FROM json_each(segment.geometry) AS p),
            max_lon = (SELECT max(json_extract(p.value, '$[0]')) FROM json_each(segment.geometry) AS p),
            max_lat = (SELECT max(json_extract(p.value, '$[1]')) FROM json_each(segment.geometry) AS p)
        WHERE id >= :low AND id < :high AND json_type(geometry) = 'array'
    """,
}
_COLUMNS = ('min_lon', 'max_lon', 'min_lat', 'max_lat')


def _fill(conn: sa.Connection) -> None:
    last = conn.execute(sa.text('SELECT max(id) FROM segment')).scalar() or 0
    for low in range(1, last + 1, BATCH):
        conn.execute(sa.text(_FILL[conn.dialect.name]), {'low': low, 'high': low + BATCH})


def upgrade() -> None:
    with op.batch_alter_table('segment', schema=None) as batch_op:
        for name in _COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Float(), nullable=True))

    if op.get_bind().dialect.name == 'postgresql':
        # Each batch commits on its own, and the index is built without a lock that stops writers.
        with op.get_context().autocommit_block():
            _fill(op.get_bind())
            op.execute(f'CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_segment_box ON segment ({", ".join(_COLUMNS)})')
    else:
        _fill(op.get_bind())
        with op.batch_alter_table('segment', schema=None) as batch_op:
            batch_op.create_index('ix_segment_box', list(_COLUMNS), unique=False)


def downgrade() -> None:
    # Not in a batch: SQLite (3.35 and later) drops a column in place, where a batch would copy the table,
    # which the foreign keys of the issues and patrols on it refuse.
    op.drop_index('ix_segment_box', table_name='segment')
    for name in reversed(_COLUMNS):
        op.drop_column('segment', name)
