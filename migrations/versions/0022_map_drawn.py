"""map drawn: what a map draws of each feature and segment line, stored with it instead of worked out per request

The shared map and the issue page's small map parsed every stored geometry in their frame with shapely,
simplified it to the drawing's tolerance and worked out where its name goes, on every request (bench/README.md,
Province scale, "The map drawn once"). None of that changes until the geometry does, so it is now written with
the geometry (workflow/core/drawing.py ``drawn_columns``): ``label_places``, the places of the name on the
geometry as stored, and ``drawn_z8`` ... ``drawn_z14``, the course simplified to half a pixel of each zoom with
the places of the name on it. Rows written before this migration are filled here in batches of ids, with a
copy of the functions the writers use (a migration keeps what it ran; tests/integration/test_migrations.py
checks that the copy and the project's agree). On PostgreSQL each batch is one statement committed on its
own, so a live database holds no long transaction over the tables; the columns are added IF NOT EXISTS and
only empty rows filled, so an upgrade interrupted while filling can be run again.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 00:00:00
"""

import json
import math
from collections.abc import Sequence
from typing import Any

import shapely
import sqlalchemy as sa
from alembic import op
from shapely.geometry import shape
from shapely.ops import polylabel


revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500  # rows a statement fills: a province has about 20,000 segments
TABLES = ('map_feature', 'segment')
ZOOMS = tuple(range(8, 15))
COLUMNS = ('label_places', *(f'drawn_z{zoom}' for zoom in ZOOMS))
ALONG_LINE = (0.5, 0.35, 0.65, 0.2, 0.8)

# A batch's rows as one JSON array of {"id": ..., column: value, ...}, written by one statement.
_FILL_POSTGRESQL = """
    UPDATE {table} SET {sets}
    FROM json_to_recordset(CAST(:rows AS json)) AS v(id integer, {columns})
    WHERE {table}.id = v.id
"""


# -- what a map draws of a geometry: a copy of workflow/core/drawing.py as of this migration --------------


def _shape(geometry: dict[str, Any]) -> Any:
    try:
        if geometry.get('type') == 'LineString':
            found = shapely.linestrings(geometry['coordinates'])
        else:
            found = shape(geometry)
    except (ValueError, TypeError, AttributeError, KeyError, shapely.errors.GEOSException):
        return None
    return None if found.is_empty else found


def _rounded(point: Any) -> tuple[float, float]:
    return round(point.x, 6), round(point.y, 6)


def _sides_of(line: Any, distance: float) -> tuple[str, str]:
    step = line.length / 20
    before, after = line.interpolate(max(distance - step, 0)), line.interpolate(min(distance + step, line.length))
    across = abs(after.x - before.x) * math.cos(math.radians((after.y + before.y) / 2))
    return ('above', 'below') if across >= abs(after.y - before.y) else ('right', 'left')


def _places(found: Any) -> list[list[Any]]:
    parts = list(getattr(found, 'geoms', [found]))
    if found.geom_type in ('MultiLineString', 'LineString'):
        line = max(parts, key=lambda p: p.length)
        return [
            [*_rounded(line.interpolate(f, normalized=True)), side]
            for f in ALONG_LINE
            for side in _sides_of(line, f * line.length)
        ]
    if found.geom_type in ('MultiPolygon', 'Polygon'):
        area = max(parts, key=lambda p: p.area)
        inside = [polylabel(area, tolerance=math.sqrt(area.area) / 50), area.representative_point(), area.centroid]
        points = dict.fromkeys(_rounded(p) for p in inside if area.contains(p))
        return [[*p, 'center'] for p in points]
    return [[*_rounded(parts[0].representative_point()), 'center']]


def _drawing(geometry: dict[str, Any], tolerance: float) -> dict[str, Any]:
    found = _shape(geometry)
    if found is None:
        return {'geometry': geometry, 'places': []}
    if found.geom_type not in ('Point', 'MultiPoint'):
        simpler = found.simplify(tolerance, preserve_topology=found.geom_type in ('Polygon', 'MultiPolygon'))
        if not simpler.is_empty:
            found, geometry = simpler, json.loads(shapely.to_geojson(simpler))
    return {'geometry': geometry, 'places': _places(found)}


def drawn_columns(geometry: dict[str, Any]) -> dict[str, Any]:
    """The columns of a row with this GeoJSON geometry (a segment's line as a LineString)."""
    found = _shape(geometry)
    columns: dict[str, Any] = {'label_places': _places(found) if found is not None else []}
    for zoom in ZOOMS:
        columns[f'drawn_z{zoom}'] = _drawing(geometry, 180.0 / 2 ** (zoom + 8))
    return columns


# -- the migration ----------------------------------------------------------------------------------------


def _geometry(table: str, stored: Any) -> dict[str, Any] | None:
    if table == 'segment':  # [[lon, lat], ...], drawn as a LineString of its first two numbers
        if not isinstance(stored, list) or not stored:
            return None
        return {'type': 'LineString', 'coordinates': [[p[0], p[1]] for p in stored]}
    return stored if isinstance(stored, dict) and stored else None


def _fill(conn: sa.Connection, table: str) -> None:
    read = sa.text(
        f'SELECT id, geometry FROM {table} WHERE id >= :low AND id < :high AND label_places IS NULL ORDER BY id'
    ).columns(id=sa.Integer, geometry=sa.JSON)
    if conn.dialect.name == 'postgresql':
        write = sa.text(
            _FILL_POSTGRESQL.format(
                table=table,
                sets=', '.join(f'{c} = v.{c}' for c in COLUMNS),
                columns=', '.join(f'{c} json' for c in COLUMNS),
            )
        )
    else:
        write = sa.text(f'UPDATE {table} SET {", ".join(f"{c} = :{c}" for c in COLUMNS)} WHERE id = :id')
    last = conn.execute(sa.text(f'SELECT max(id) FROM {table}')).scalar() or 0
    for low in range(1, last + 1, BATCH):
        rows = []
        for row in conn.execute(read, {'low': low, 'high': low + BATCH}):
            geometry = _geometry(table, row.geometry)
            if geometry is not None:
                rows.append({'id': row.id, **drawn_columns(geometry)})
        if not rows:
            continue
        if conn.dialect.name == 'postgresql':
            conn.execute(write, {'rows': json.dumps(rows)})
        else:
            conn.execute(write, [{k: v if k == 'id' else json.dumps(v) for k, v in r.items()} for r in rows])


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != 'postgresql':
        for table in TABLES:
            for name in COLUMNS:
                op.add_column(table, sa.Column(name, sa.JSON(), nullable=True))
            _fill(conn, table)
        return
    for table in TABLES:
        op.execute(f'ALTER TABLE {table} ' + ', '.join(f'ADD COLUMN IF NOT EXISTS {c} json' for c in COLUMNS))
    # The columns are committed, then each batch on its own.
    with op.get_context().autocommit_block():
        for table in TABLES:
            _fill(conn, table)


def downgrade() -> None:
    # Not in a batch: SQLite (3.35 and later) drops a column in place, where a batch would copy the table,
    # which the foreign keys of the issues and patrols on it refuse.
    for table in TABLES:
        for name in reversed(COLUMNS):
            op.drop_column(table, name)
