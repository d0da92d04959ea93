"""What a map draws of each feature and segment line (its name's places, its course at each zoom) is stored by
every writer, read back by the map instead of worked out per request, and the same either way."""

from __future__ import annotations

from typing import Any

import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import shape

from riverchief.demo.play import DATA
from tests.factories import World
from workflow.core.drawing import (
    DRAWN_COLUMNS,
    ZOOMS,
    drawn_column,
    drawn_columns,
    segment_line,
    zoom_tolerance,
)
from workflow.core.models import MapFeature, Segment, table_of
from workflow.core.reference import load, parse_text
from workflow.maps.layers import import_layers, read_layers
from workflow.maps.shared import stored_features

DEMO_MAP = read_layers(DATA.parent, "qiongjiang")
_feature, _segment = table_of(MapFeature), table_of(Segment)

# A river of another compact, its one segment's course given with the reference data (no map layer for it).
HANJIANG = """
jurisdictions:
  - {code: "420000", name: 湖北省, level: province, children: [{code: "420100", name: 武汉市, level: city}]}
rivers:
  - code: hanjiang
    name: 汉江
    segments:
      - {code: hj-wuhan, name: 汉江武汉段, jurisdiction: "420100", geometry: GEOMETRY}
"""
COURSE = [[114.20, 30.55], [114.21, 30.551], [114.22, 30.553], [114.25, 30.58], [114.28, 30.59], [114.30, 30.60]]


def rows(world: World, table: sa.Table) -> dict[str, Any]:
    """Each row of ``table`` by code: its stored geometry and drawing columns."""
    with world.app.reader() as uow:
        found = uow.connection.execute(sa.select(table.c.code, table.c.geometry, *(table.c[c] for c in DRAWN_COLUMNS)))
        return {r.code: r._mapping for r in found}


def columns_of(row: Any) -> dict[str, Any]:
    return {c: row[c] for c in DRAWN_COLUMNS}


def hanjiang(course: list[list[float]] | None) -> str:
    return HANJIANG.replace("GEOMETRY", str(course) if course else "null")


def test_importing_layers_stores_what_the_map_draws_of_every_feature_and_segment_line(world: World) -> None:
    import_layers(world.app.uow(), DEMO_MAP)
    features = rows(world, _feature)
    assert {f["properties"]["code"] for layer in DEMO_MAP.values() for f in layer["features"]} <= set(features)
    for code, row in features.items():
        assert columns_of(row) == drawn_columns(row.geometry), code
    segments = rows(world, _segment)
    for layer_feature in DEMO_MAP["segment"]["features"]:
        row = segments[layer_feature["properties"]["code"]]
        assert columns_of(row) == drawn_columns(segment_line(row.geometry))
    # Coarser zooms keep fewer points of a long course; every zoom names it.
    river = features[DEMO_MAP["river"]["features"][0]["properties"]["code"]]
    points = [shapely.get_num_coordinates(shape(river[drawn_column(zoom)]["geometry"])) for zoom in ZOOMS]
    assert points == sorted(points)
    assert points[0] < shapely.get_num_coordinates(shape(river.geometry))
    assert all(river[drawn_column(zoom)]["places"] for zoom in ZOOMS)


def test_loading_reference_data_stores_what_the_map_draws_of_a_segment_line_and_forgets_it_with_the_line(
    world: World,
) -> None:
    # The world's own segments were written by the reference loader too.
    for code, row in rows(world, _segment).items():
        if row.geometry:
            assert columns_of(row) == drawn_columns(segment_line(row.geometry)), code
    load(world.app.uow(), parse_text(hanjiang(COURSE), "yaml"))
    assert columns_of(rows(world, _segment)["hj-wuhan"]) == drawn_columns(segment_line(COURSE))
    moved = [[lon + 0.01, lat] for lon, lat in COURSE]
    load(world.app.uow(), parse_text(hanjiang(moved), "yaml"))
    stored = columns_of(rows(world, _segment)["hj-wuhan"])
    assert stored == drawn_columns(segment_line(moved)) != drawn_columns(segment_line(COURSE))
    load(world.app.uow(), parse_text(hanjiang(None), "yaml"))
    assert columns_of(rows(world, _segment)["hj-wuhan"]) == dict.fromkeys(DRAWN_COLUMNS)
    with world.app.reader() as uow:
        empty = uow.connection.execute(
            sa.select(_segment.c.code).where(_segment.c.drawn_z10.is_(None), _segment.c.label_places.is_(None))
        ).scalars()
        assert "hj-wuhan" in set(empty)  # SQL NULL, not a JSON null: what the map takes for "not stored"


# The tolerances the pages ask for: as stored (none), each zoom's, between two zooms, finer than the finest
# and coarser than the coarsest.
TOLERANCES = [
    0.0,
    *(zoom_tolerance(zoom) for zoom in ZOOMS),
    zoom_tolerance(11) * 1.5,
    zoom_tolerance(ZOOMS[-1]) / 3,
    zoom_tolerance(ZOOMS[0]) * 4,
]


@pytest.mark.parametrize("named", [True, False])
def test_a_row_stored_without_its_drawing_is_drawn_as_if_it_had_it(world: World, named: bool) -> None:
    import_layers(world.app.uow(), DEMO_MAP)
    load(world.app.uow(), parse_text(hanjiang(COURSE), "yaml"))  # a segment with no feature
    near = (105.0, 29.5, 115.0, 31.0)
    with world.app.reader() as uow:
        stored = {t: stored_features(uow.connection, near, t, named=named) for t in TOLERANCES}
    with world.app.uow() as uow:
        for table in (_feature, _segment):
            uow.connection.execute(sa.update(table).values(dict.fromkeys(DRAWN_COLUMNS)))
        worked_out = {t: stored_features(uow.connection, near, t, named=named) for t in TOLERANCES}
    assert {f.code for f in stored[0.0]} >= {"hj-wuhan", "qj-baima"}
    assert all(f.places for f in stored[0.0] if f.layer == "segment") == named
    for tolerance in TOLERANCES:
        assert stored[tolerance] == worked_out[tolerance], tolerance


def test_the_map_reads_the_stored_drawing_instead_of_working_it_out(world: World) -> None:
    """A drawing stored for a zoom is what a map at that zoom draws (here one stored by hand, to tell it apart)."""
    load(world.app.uow(), parse_text(hanjiang(COURSE), "yaml"))
    marked = {"geometry": {"type": "LineString", "coordinates": [[114.2, 30.5], [114.3, 30.6]]}}
    with world.app.uow() as uow:
        uow.connection.execute(
            sa.update(_segment)
            .where(_segment.c.code == "hj-wuhan")
            .values(
                label_places=[[114.25, 30.55, "left"]],
                **{drawn_column(z): {**marked, "places": [[114.25, 30.55 + z, "below"]]} for z in ZOOMS},
            )
        )
        uow.commit()
    with world.app.reader() as uow:
        for zoom in ZOOMS:
            (drawn,) = [f for f in stored_features(uow.connection, None, zoom_tolerance(zoom)) if f.code == "hj-wuhan"]
            assert drawn.geometry == marked["geometry"]
            assert drawn.places == (((114.25, 30.55 + zoom), "below"),)
        (as_stored,) = [f for f in stored_features(uow.connection) if f.code == "hj-wuhan"]
    assert as_stored.geometry == segment_line(COURSE)
    assert as_stored.places == (((114.25, 30.55), "left"),)
