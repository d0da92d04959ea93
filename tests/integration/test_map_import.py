"""Map layers: GeoJSON checked feature by feature, imported whole or not at all, exported back, routed."""

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from riverchief.demo.play import DATA
from tests.factories import Cli, World
from workflow.core.errors import ValidationFailed
from workflow.core.models import MapFeature, Segment, table_of
from workflow.core.reference import load, parse
from workflow.maps.layers import export_geojson, import_geojson, import_layers, read_layers
from workflow.maps.router import CachedRouter, Router

DEMO_MAP = read_layers(DATA.parent, "qiongjiang")
TAIAN, BAIMA = "500152102", "510904101"
# Inside 太安镇 near the demo's border with 白马镇 (the 琼江 between them), on the Chongqing side.
NEAR_THE_BORDER = (105.7045, 30.2040)


def feature(code: str | None, geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    """A GeoJSON Feature with a code (when given) and a name."""
    properties = {"name": f"要素 {code}", **props}
    if code is not None:
        properties["code"] = code
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def point(lon: float, lat: float) -> dict[str, Any]:
    """A GeoJSON Point."""
    return {"type": "Point", "coordinates": [lon, lat]}


def square(lon: float, lat: float, size: float = 0.01) -> dict[str, Any]:
    """A GeoJSON Polygon: a square with its south-west corner at (lon, lat)."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def collection(*features: dict[str, Any], **members: Any) -> dict[str, Any]:
    """A FeatureCollection."""
    return {"type": "FeatureCollection", **members, "features": list(features)}


def outfall(code: str | None, lon: float = 105.70, lat: float = 30.19, **props: Any) -> dict[str, Any]:
    """An outfall in 太安镇 unless told otherwise."""
    return feature(code, point(lon, lat), **{"jurisdiction": TAIAN, **props})


def stored(world: World) -> list[tuple[str, str, str]]:
    """Every map feature as (layer, code, name)."""
    f = table_of(MapFeature)
    with world.app.reader() as uow:
        rows = uow.connection.execute(sa.select(f.c.layer, f.c.code, f.c.name).order_by(f.c.layer, f.c.code))
        return [tuple(row) for row in rows]


def segment_lines(world: World) -> dict[str, Any]:
    """Each segment's stored line."""
    s = table_of(Segment)
    with world.app.reader() as uow:
        return dict(uow.connection.execute(sa.select(s.c.code, s.c.geometry)).all())


BOW_TIE = {
    "type": "Polygon",
    "coordinates": [[[105.70, 30.10], [105.72, 30.12], [105.72, 30.10], [105.70, 30.12], [105.70, 30.10]]],
}

# (layer, the bad feature, the field named, words of the reason)
MALFORMED = [
    ("jurisdiction", feature(TAIAN, BOW_TIE), f"features[1] ({TAIAN}).geometry", "Self-intersection"),
    ("outfall", outfall("of-x", lon=30.19, lat=105.70), "features[1] (of-x).geometry", "looks like lat/lon swapped"),
    ("outfall", outfall("of-x", lon=11_768_000.0, lat=3_521_000.0), "features[1] (of-x).geometry", "not a WGS 84"),
    ("outfall", outfall(None), "features[1].properties.code", "is missing"),
    (
        "outfall",
        {**outfall("of-x"), "properties": {"code": "of-x", "jurisdiction": TAIAN}},
        "(of-x).properties.name",
        "is missing",
    ),
    ("outfall", feature("of-x", point(105.70, 30.19)), "features[1] (of-x).properties.jurisdiction", "is missing"),
    (
        "outfall",
        outfall("of-x", jurisdiction="999999"),
        "features[1] (of-x).properties.jurisdiction",
        "no jurisdiction",
    ),
    ("outfall", outfall("of-x", river="yangtze"), "features[1] (of-x).properties.river", "no river"),
    (
        "outfall",
        feature("of-x", square(105.70, 30.19), jurisdiction=TAIAN),
        "features[1] (of-x).geometry",
        "is a Polygon",
    ),
    ("outfall", outfall("of-ok"), "features[1] (of-ok).properties.code", "repeats features[0]"),
    (
        "jurisdiction",
        feature("999999", square(105.70, 30.10)),
        "features[1] (999999).properties.code",
        "no jurisdiction",
    ),
    (
        "segment",
        feature("qj-nowhere", {"type": "LineString", "coordinates": [[105.7, 30.1], [105.8, 30.2]]}),
        "features[1] (qj-nowhere).properties.code",
        "no segment",
    ),
    (
        "segment",
        feature("qj-taian", {"type": "LineString", "coordinates": [[105.7, 30.1], [105.8, 30.2]]}, river="moxi-he"),
        "features[1] (qj-taian).properties.river",
        "belongs to river qiongjiang",
    ),
]


@pytest.mark.parametrize(("layer", "bad", "field", "reason"), MALFORMED)
def test_a_malformed_feature_is_named_with_its_reason_and_nothing_is_imported(
    sqlite_world: World, layer: str, bad: dict[str, Any], field: str, reason: str
) -> None:
    world = sqlite_world
    good = {
        "jurisdiction": feature(BAIMA, square(105.66, 30.16)),
        "outfall": outfall("of-ok"),
        "segment": feature("qj-baima", {"type": "LineString", "coordinates": [[105.66, 30.15], [105.73, 30.27]]}),
    }[layer]
    lines = segment_lines(world)
    with pytest.raises(ValidationFailed) as refused:
        import_geojson(world.app.uow(), layer, collection(good, bad))
    assert any(field in f and reason in r for f, r in refused.value.errors), refused.value.errors
    assert stored(world) == []
    assert segment_lines(world) == lines


@pytest.mark.parametrize("crs", ["EPSG:4549", "EPSG:3857", "urn:ogc:def:crs:EPSG::32648"])
def test_a_layer_in_another_crs_is_refused(sqlite_world: World, crs: str) -> None:
    world = sqlite_world
    named = {"type": "name", "properties": {"name": crs}}
    with pytest.raises(ValidationFailed) as refused:
        import_geojson(world.app.uow(), "outfall", collection(outfall("of-1"), crs=named))
    assert refused.value.field == "crs"
    assert crs in refused.value.reason
    assert stored(world) == []


def test_a_layer_naming_wgs84_as_its_crs_is_taken(world: World) -> None:
    named = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    assert import_geojson(world.app.uow(), "outfall", collection(outfall("of-1"), crs=named)) == 1


def test_a_bad_layer_among_several_refuses_them_all_and_names_its_layer(world: World) -> None:
    documents = {**DEMO_MAP, "outfall": collection(outfall("of-1"), outfall("of-2", jurisdiction="999999"))}
    with pytest.raises(ValidationFailed) as refused:
        import_layers(world.app.uow(), documents)
    assert refused.value.field == "outfall.features[1] (of-2).properties.jurisdiction"
    assert stored(world) == []


def test_importing_again_updates_by_code_in_place(world: World) -> None:
    import_geojson(world.app.uow(), "outfall", collection(outfall("of-1"), outfall("of-2")))
    f = table_of(MapFeature)
    with world.app.reader() as uow:
        ids = dict(uow.connection.execute(sa.select(f.c.code, f.c.id)).all())
    renamed = feature("of-2", point(105.71, 30.20), name="太安镇排口（改）", jurisdiction=TAIAN, kind="industrial")
    assert import_geojson(world.app.uow(), "outfall", collection(renamed, outfall("of-3"))) == 2
    assert stored(world) == [
        ("outfall", "of-1", "要素 of-1"),
        ("outfall", "of-2", "太安镇排口（改）"),
        ("outfall", "of-3", "要素 of-3"),
    ]
    with world.app.reader() as uow:
        row = uow.connection.execute(sa.select(f).where(f.c.code == "of-2")).one()
    assert row.id == ids["of-2"]
    assert row.geometry == point(105.71, 30.20)
    assert row.properties == {"kind": "industrial"}
    assert (row.min_lon, row.min_lat, row.max_lon, row.max_lat) == (105.71, 30.20, 105.71, 30.20)


def test_every_demo_layer_exports_as_it_was_imported_and_imports_back_unchanged(world: World) -> None:
    counts = import_layers(world.app.uow(), DEMO_MAP)
    assert counts == {layer: len(document["features"]) for layer, document in DEMO_MAP.items()}
    with world.app.reader() as uow:
        exported = {layer: export_geojson(uow.connection, layer) for layer in DEMO_MAP}
    for layer, document in DEMO_MAP.items():
        by_code = {f["properties"]["code"]: f for f in document["features"]}
        assert {f["properties"]["code"]: f for f in exported[layer]["features"]} == by_code, layer
    before = stored(world)
    import_layers(world.app.uow(), exported)
    assert stored(world) == before
    with world.app.reader() as uow:
        assert {layer: export_geojson(uow.connection, layer) for layer in DEMO_MAP} == exported


def test_the_segment_layer_moves_the_segment_line_the_router_reads(world: World) -> None:
    moved = [[105.70, 30.19], [105.72, 30.21]]
    line = {"type": "LineString", "coordinates": moved}
    import_geojson(world.app.uow(), "segment", collection(feature("qj-taian", line, river="qiongjiang")))
    assert segment_lines(world)["qj-taian"] == moved
    with world.app.reader() as uow:
        routed = Router.load(uow.connection).route(105.71, 30.20)
    assert routed.segment == "qj-taian"
    assert routed.distance_m == pytest.approx(0.0, abs=0.01)


def test_the_demo_map_routes_a_point_near_the_border_river_to_both_sides(world: World) -> None:
    import_layers(world.app.uow(), DEMO_MAP)
    with world.app.reader() as uow:
        router = Router.load(uow.connection)
    routed = router.route(*NEAR_THE_BORDER)
    assert routed.jurisdiction == TAIAN
    assert routed.sides == (TAIAN, BAIMA)
    assert routed.segment == "qj-taian"
    assert routed.bank == "left_bank"  # between the 太安 line and the river's middle, facing downstream (north-east)
    inland = router.route(105.70, 30.10)
    assert (inland.jurisdiction, inland.sides) == (TAIAN, (TAIAN,))


def test_every_demo_segment_lies_mostly_in_its_own_jurisdiction(world: World) -> None:
    import_layers(world.app.uow(), DEMO_MAP)
    with world.app.reader() as uow:
        router = Router.load(uow.connection)
    for f in DEMO_MAP["segment"]["features"]:
        (lon0, lat0), (lon1, lat1) = f["geometry"]["coordinates"][1:3]
        middle = router.route((lon0 + lon1) / 2, (lat0 + lat1) / 2)
        assert f["properties"]["jurisdiction"] in middle.sides, f["properties"]["code"]


def test_the_cached_router_is_rebuilt_only_when_the_map_changes(world: World) -> None:
    import_layers(world.app.uow(), DEMO_MAP)
    cache = CachedRouter()
    with world.app.reader() as uow:
        first = cache.get(uow.connection)
        assert cache.get(uow.connection) is first
    world.clock.advance(minutes=1)
    moved = [[105.70, 30.19], [105.72, 30.21]]
    import_geojson(
        world.app.uow(), "segment", collection(feature("qj-taian", {"type": "LineString", "coordinates": moved}))
    )
    with world.app.reader() as uow:
        second = cache.get(uow.connection)
    assert second is not first
    assert second.route(105.71, 30.20).distance_m == pytest.approx(0.0, abs=0.01)
    load(world.app.uow(), parse(DATA))  # the reference data puts the segment's old line back, without a map import
    with world.app.reader() as uow:
        third = cache.get(uow.connection)
    assert third is not second
    assert third.route(105.71, 30.20).distance_m > 100


def test_a_large_import_reports_its_progress(world: World) -> None:
    many = [outfall(f"of-{i:04d}", lon=105.70 + i * 1e-5) for i in range(1_200)]
    seen: list[tuple[int, int]] = []
    assert import_geojson(world.app.uow(), "outfall", collection(*many), progress=lambda *p: seen.append(p)) == 1_200
    assert seen[-1] == (1_200, 1_200)
    assert [done for done, _ in seen] == sorted({done for done, _ in seen})
    assert len(seen) > 1


# -- the CLI -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mapped(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A database with the 琼江 compact and its jurisdiction and segment layers imported through the CLI."""
    cli = Cli(tmp_path_factory.mktemp("map"))
    cli.ok("init")
    cli.ok("load", str(DATA))
    for layer in ("jurisdiction", "segment"):
        out = cli.ok("map", "import", layer, str(DATA.parent / f"qiongjiang-{layer}.geojson"))
        assert f"imported {len(DEMO_MAP[layer]['features'])} {layer} features" in out
    return cli


def test_the_cli_routes_a_point_with_both_sides_and_the_bank(mapped: Cli) -> None:
    routed = json.loads(mapped.ok("map", "route", *map(str, NEAR_THE_BORDER), "--json"))
    assert routed["jurisdiction"] == TAIAN
    assert routed["jurisdiction_name"] == "太安镇"
    assert [side["code"] for side in routed["sides"]] == [TAIAN, BAIMA]
    assert (routed["segment"], routed["bank"]) == ("qj-taian", "left_bank")
    text = mapped.ok("map", "route", *map(str, NEAR_THE_BORDER))
    assert "太安镇" in text
    assert "白马镇" in text
    assert "琼江太安镇段" in text


def test_the_cli_refuses_a_bad_file_in_one_line_naming_the_feature(mapped: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(collection(outfall("of-1"), outfall("of-2", lon=30.19, lat=105.70))), encoding="utf-8")
    done = mapped("map", "import", "outfall", str(bad))
    assert done.returncode == 3
    assert "features[1] (of-2).geometry" in done.stderr
    assert "lat/lon swapped" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert json.loads(mapped.ok("map", "export", "outfall"))["features"] == []


def test_the_cli_exports_a_layer_that_imports_back(mapped: Cli, tmp_path: Path) -> None:
    out = tmp_path / "jurisdiction.geojson"
    mapped.ok("map", "export", "jurisdiction", "-o", str(out))
    exported = json.loads(out.read_text(encoding="utf-8"))

    def by_code(features: list[dict[str, Any]]) -> dict[str, Any]:
        return {f["properties"]["code"]: f for f in features}

    assert by_code(exported["features"]) == by_code(DEMO_MAP["jurisdiction"]["features"])
    assert "imported 14 jurisdiction features" in mapped.ok("map", "import", "jurisdiction", str(out))
