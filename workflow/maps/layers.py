"""The shared map's GeoJSON layers: checked, imported as an upsert by code in one transaction, exported back.

A layer is refused whole when any feature is bad; each error names the
feature by its index and code, and says why (geometry invalid or of the wrong
type for the layer, not WGS 84, lat/lon swapped, a property missing, a code
the reference data does not know). The segment layer writes each segment's
line to ``segment.geometry`` as well, which report maps and the router read.
Each geometry is stored with what a map draws of it (``workflow.core.drawing``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import shapely
import sqlalchemy as sa
from shapely.geometry import shape

from workflow.core.drawing import drawn_columns, segment_line
from workflow.core.errors import ValidationFailed
from workflow.core.models import Jurisdiction, MapFeature, River, Segment, line_box, table_of
from workflow.core.payload import check_parsed, load_json
from workflow.core.uow import UnitOfWork

# The geometry types each layer takes.
LAYERS: dict[str, tuple[str, ...]] = {
    "jurisdiction": ("Polygon", "MultiPolygon"),
    "river": ("LineString", "MultiLineString"),
    "segment": ("LineString",),
    "catchment": ("Polygon", "MultiPolygon"),
    "outfall": ("Point",),
    "sewage_plant": ("Point", "Polygon", "MultiPolygon"),
    "sensitive": ("Point", "Polygon", "MultiPolygon"),
}
# Layers whose features must name the jurisdiction they lie in.
NEEDS_JURISDICTION = ("outfall", "sewage_plant", "sensitive")
# The properties of each layer that name other things by code, kept as foreign keys;
# every property besides these and code and name is kept as given.
REFERENCES: dict[str, tuple[str, ...]] = {
    "jurisdiction": (),
    "river": (),
    "segment": ("river", "jurisdiction"),  # checked against the reference data
    **dict.fromkeys(("catchment", "outfall", "sewage_plant", "sensitive"), ("jurisdiction", "river", "segment")),
}
# CRS names that mean WGS 84 lon/lat. CGCS2000 (EPSG:4490), China's national
# geographic system, agrees with WGS 84 to within centimetres, so it is taken too.
WGS84_NAMES = frozenset(
    {
        "urn:ogc:def:crs:ogc:1.3:crs84",
        "urn:ogc:def:crs:ogc::crs84",
        "ogc:crs84",
        "crs84",
        "wgs84",
        "epsg:4326",
        "urn:ogc:def:crs:epsg::4326",
        "urn:ogc:def:crs:epsg:6.6:4326",
        "epsg:4490",
        "urn:ogc:def:crs:epsg::4490",
    }
)
MAX_ERRORS = 20
BATCH = 500

Progress = Callable[[int, int], None]


@dataclass
class CheckedFeature:
    """A feature that passed the checks that need no database."""

    index: int
    code: str
    name: str
    geometry: dict[str, Any]
    bounds: tuple[float, float, float, float]
    refs: dict[str, str] = field(default_factory=dict)  # jurisdiction / river / segment codes named
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """How errors name the feature: its index in the file and its code."""
        return _where(self.index, self.code)


def _where(index: int, code: object) -> str:
    return f"features[{index}]" + (f" ({code})" if isinstance(code, str | int) and str(code) else "")


def read_geojson(path: Path) -> dict[str, Any]:
    """A GeoJSON file as a document; ValidationFailed names the file and what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationFailed(str(path), f"cannot be read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ValidationFailed(str(path), f"is not UTF-8 text: byte {exc.start}") from exc
    try:
        document = load_json(text, str(path))
    except json.JSONDecodeError as exc:
        raise ValidationFailed(str(path), f"is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(document, dict):
        raise ValidationFailed(str(path), "is not a GeoJSON FeatureCollection")
    return document


def read_layers(folder: Path, stem: str) -> dict[str, dict[str, Any]]:
    """The layers kept as ``{stem}-{layer}.geojson`` in a folder, by layer, for ``import_layers``."""
    return {layer: read_geojson(path) for layer in LAYERS if (path := folder / f"{stem}-{layer}.geojson").exists()}


def import_geojson(uow: UnitOfWork, layer: str, document: dict[str, Any], *, progress: Progress | None = None) -> int:
    """Import a FeatureCollection into a layer (an upsert by code, one transaction); returns the features written."""
    return import_layers(uow, {layer: document}, progress=progress)[layer]


def import_layers(
    uow: UnitOfWork, documents: Mapping[str, dict[str, Any]], *, progress: Progress | None = None
) -> dict[str, int]:
    """Import several layers in one transaction; nothing is written unless every feature of every layer is good."""
    checked: dict[str, list[CheckedFeature]] = {}
    for layer in sorted(documents, key=lambda name: list(LAYERS).index(name) if name in LAYERS else -1):
        with _named(layer, len(documents) > 1):
            checked[layer] = check_document(layer, documents[layer])
    total, done = sum(len(features) for features in checked.values()), 0
    with uow:
        conn, now = uow.connection, uow.clock.now()
        for layer, features in checked.items():
            with _named(layer, len(documents) > 1):
                ids = _resolve(conn, layer, features)
            for batch in _batches(features, BATCH):
                _write(conn, layer, batch, ids, now)
                done += len(batch)
                if progress is not None:
                    progress(done, total)
        uow.commit()
    return {layer: len(features) for layer, features in checked.items()}


@contextmanager
def _named(layer: str, prefix: bool) -> Iterator[None]:
    # With several layers at once, each error says which layer's feature it is.
    try:
        yield
    except ValidationFailed as exc:
        if not prefix:
            raise
        raise ValidationFailed.of([(f"{layer}.{f}", reason) for f, reason in exc.errors]) from exc


def _write(
    conn: sa.Connection, layer: str, batch: list[CheckedFeature], ids: dict[int, dict[str, int | None]], now: datetime
) -> None:
    t = table_of(MapFeature)
    codes = [f.code for f in batch]
    existing = dict(conn.execute(sa.select(t.c.code, t.c.id).where(t.c.layer == layer, t.c.code.in_(codes))).all())
    rows = [
        {
            "layer": layer,
            "code": f.code,
            "name": f.name,
            **ids[f.index],
            "properties": f.properties,
            "geometry": f.geometry,
            "min_lon": f.bounds[0],
            "min_lat": f.bounds[1],
            "max_lon": f.bounds[2],
            "max_lat": f.bounds[3],
            "imported_at": now,
            **drawn_columns(f.geometry),  # what the map draws of it, worked out once here, not per request
        }
        for f in batch
    ]
    new = [r for r in rows if r["code"] not in existing]
    old = [{**r, "_id": existing[r["code"]]} for r in rows if r["code"] in existing]
    if new:
        conn.execute(sa.insert(t), new)
    if old:
        conn.execute(sa.update(t).where(t.c.id == sa.bindparam("_id")), old)
    if layer == "segment":
        s = table_of(Segment)
        lines = [(ids[f.index]["segment_id"], _line(f.geometry)) for f in batch]
        conn.execute(
            sa.update(s).where(s.c.id == sa.bindparam("_id")),
            [
                {"_id": segment_id, "geometry": line, **line_box(line), **drawn_columns(segment_line(line))}
                for segment_id, line in lines
            ],
        )


def check_document(layer: str, document: dict[str, Any]) -> list[CheckedFeature]:
    """Every check that needs no database; ValidationFailed names each bad feature and the reason."""
    if layer not in LAYERS:
        raise ValidationFailed("layer", f"{layer!r} is not one of {', '.join(LAYERS)}")
    # However it was parsed (a file, a form, a test): no text a database refuses, no huge number, no deep nesting.
    check_parsed(document, "document")
    if document.get("type") != "FeatureCollection":
        raise ValidationFailed("type", f"must be 'FeatureCollection', not {document.get('type')!r}")
    crs_problem = _crs_problem(document.get("crs"))
    if crs_problem:
        raise ValidationFailed("crs", crs_problem)
    features = document.get("features")
    if not isinstance(features, list):
        raise ValidationFailed("features", "must be a list of Features")
    errors: list[tuple[str, str]] = []
    checked: list[CheckedFeature] = []
    first_at: dict[str, int] = {}
    for index, feature in enumerate(features):
        found, problems = _check_feature(layer, index, feature)
        if found is not None:
            if found.code in first_at:
                problems.append((found.where + ".properties.code", f"repeats features[{first_at[found.code]}]"))
            first_at.setdefault(found.code, index)
            checked.append(found)
        errors += problems
    if errors:
        raise ValidationFailed.of(_capped(errors))
    return checked


def _capped(errors: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if len(errors) <= MAX_ERRORS:
        return errors
    return [*errors[:MAX_ERRORS], ("features", f"and {len(errors) - MAX_ERRORS} more problems")]


def _crs_problem(crs: Any) -> str | None:
    # RFC 7946 dropped the crs member and means WGS 84 lon/lat; older files still name one.
    if crs is None:
        return None
    name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
    if isinstance(name, str) and name.strip().lower() in WGS84_NAMES:
        return None
    return f"{name or crs!r} is not WGS 84 (EPSG:4326 / CRS84): reproject the layer to lon/lat first"


def _check_feature(layer: str, index: int, feature: Any) -> tuple[CheckedFeature | None, list[tuple[str, str]]]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return None, [(f"features[{index}]", "is not a GeoJSON Feature")]
    props = feature.get("properties")
    props = props if isinstance(props, dict) else {}
    raw_code = props.get("code")
    code = str(raw_code).strip() if isinstance(raw_code, str | int) and not isinstance(raw_code, bool) else ""
    where = _where(index, code)
    errors: list[tuple[str, str]] = []
    if not code:
        errors.append((f"{where}.properties.code", "is missing: every feature needs a code"))
    elif len(code) > 60:
        errors.append((f"{where}.properties.code", "is longer than 60 characters"))
    name = props.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append((f"{where}.properties.name", "is missing: every feature needs a name"))
    elif len(name) > 200:
        errors.append((f"{where}.properties.name", "is longer than 200 characters"))
    refs: dict[str, str] = {}
    for key in REFERENCES[layer]:
        value = props.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            refs[key] = str(value).strip()
        elif value is not None:
            errors.append((f"{where}.properties.{key}", "must be a code"))
    if layer in NEEDS_JURISDICTION and "jurisdiction" not in refs:
        errors.append((f"{where}.properties.jurisdiction", f"is missing: a {layer} names the jurisdiction it lies in"))
    geometry, bounds, problem = _check_geometry(layer, feature.get("geometry"))
    if problem:
        errors.append((f"{where}.geometry", problem))
    if errors or geometry is None or bounds is None:
        return None, errors
    extra = {k: v for k, v in props.items() if k not in ("code", "name", *REFERENCES[layer])}
    return CheckedFeature(index, code, str(name).strip(), geometry, bounds, refs, extra), []


def _check_geometry(
    layer: str, geometry: Any
) -> tuple[dict[str, Any] | None, tuple[float, float, float, float] | None, str | None]:
    allowed = LAYERS[layer]
    if not isinstance(geometry, dict) or "type" not in geometry:
        return None, None, "is missing"
    kind = geometry.get("type")
    if kind not in allowed:
        return None, None, f"is a {kind}; the {layer} layer takes {' or '.join(allowed)}"
    coordinates = geometry.get("coordinates")
    try:
        positions = list(_positions(coordinates, _DEPTH[str(kind)]))
    except ValueError as exc:
        return None, None, f"coordinates are not {kind} positions: {exc}"
    if not positions:
        return None, None, "is empty"
    problem = _position_problem(positions)
    if problem:
        return None, None, problem
    try:
        geom = shape({"type": kind, "coordinates": coordinates})
    except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
        return None, None, f"cannot be read as a {kind}: {exc}"
    if geom.is_empty:
        return None, None, "is empty"
    reason = shapely.is_valid_reason(geom)
    if reason != "Valid Geometry":
        return None, None, f"is not valid: {reason}"
    stored = {"type": kind, "coordinates": json.loads(json.dumps(coordinates))}
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in geom.bounds)
    return stored, (min_lon, min_lat, max_lon, max_lat), None


# How deep the positions are nested in each geometry type's coordinates.
_DEPTH = {"Point": 0, "LineString": 1, "Polygon": 2, "MultiPoint": 1, "MultiLineString": 2, "MultiPolygon": 3}


def _positions(value: Any, depth: int) -> Iterator[tuple[float, float]]:
    if depth == 0:
        if not isinstance(value, list) or len(value) not in (2, 3):
            raise ValueError(f"{value!r} is not a [lon, lat] position")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value):
            raise ValueError(f"{value!r} is not a [lon, lat] position of numbers")
        yield float(value[0]), float(value[1])
        return
    if not isinstance(value, list):
        raise ValueError(f"{value!r} is not a list")
    for item in value:
        yield from _positions(item, depth - 1)


def _in_china(lon: float, lat: float) -> bool:
    return 73.0 <= lon <= 136.0 and 3.0 <= lat <= 54.0


def _position_problem(positions: Sequence[tuple[float, float]]) -> str | None:
    if not all(_in_china(lon, lat) for lon, lat in positions) and all(_in_china(lat, lon) for lon, lat in positions):
        lon, lat = next(p for p in positions if not _in_china(*p))
        return (
            f"looks like lat/lon swapped: ({lon:g}, {lat:g}) lies in China only as ({lat:g}, {lon:g}); "
            "GeoJSON positions are [lon, lat]"
        )
    for lon, lat in positions:
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            return (
                f"({lon:g}, {lat:g}) is not a WGS 84 [lon, lat] position: projected coordinates "
                "(e.g. EPSG:3857 or a CGCS2000 Gauss-Krüger zone)? reproject to EPSG:4326 first"
            )
    return None


def _resolve(conn: sa.Connection, layer: str, checked: list[CheckedFeature]) -> dict[int, dict[str, int | None]]:
    """The foreign keys of each feature, by index; ValidationFailed names every unknown code."""
    j, r, s = table_of(Jurisdiction), table_of(River), table_of(Segment)

    def lookup(table: sa.Table, codes: set[str]) -> dict[str, int]:
        if not codes:
            return {}
        rows = conn.execute(sa.select(table.c.code, table.c.id).where(table.c.code.in_(sorted(codes))))
        return dict(rows.all())

    own = {f.code for f in checked}
    named = {key: {f.refs[key] for f in checked if key in f.refs} for key in ("jurisdiction", "river", "segment")}
    jurisdictions = lookup(j, named["jurisdiction"] | (own if layer == "jurisdiction" else set()))
    rivers = lookup(r, named["river"] | (own if layer == "river" else set()))
    wanted = sorted(named["segment"] | (own if layer == "segment" else set()))
    segments = {
        code: (sid, rid, jid)
        for code, sid, rid, jid in conn.execute(
            sa.select(s.c.code, s.c.id, s.c.river_id, s.c.jurisdiction_id).where(s.c.code.in_(wanted))
        )
    }
    errors: list[tuple[str, str]] = []
    ids: dict[int, dict[str, int | None]] = {}
    for f in checked:
        out: dict[str, int | None] = {"jurisdiction_id": None, "river_id": None, "segment_id": None}
        if layer == "segment":
            errors += _segment_errors(conn, f, segments.get(f.code))
            if f.code in segments:
                out["segment_id"], out["river_id"], out["jurisdiction_id"] = segments[f.code]
        elif layer in ("jurisdiction", "river"):
            out[f"{layer}_id"] = (jurisdictions if layer == "jurisdiction" else rivers).get(f.code)
            if out[f"{layer}_id"] is None:
                errors.append((f"{f.where}.properties.code", f"no {layer} with code {f.code!r}: load it first"))
        else:
            for key, known in (("jurisdiction", jurisdictions), ("river", rivers), ("segment", segments)):
                if key in f.refs:
                    found = known.get(f.refs[key])
                    out[f"{key}_id"] = found[0] if isinstance(found, tuple) else found
                    if found is None:
                        errors.append((f"{f.where}.properties.{key}", f"no {key} with code {f.refs[key]!r}"))
        ids[f.index] = out
    if errors:
        raise ValidationFailed.of(_capped(errors))
    return ids


def _segment_errors(
    conn: sa.Connection, feature: CheckedFeature, segment: tuple[int, int, int] | None
) -> list[tuple[str, str]]:
    """A segment feature must name a loaded segment, and its river and jurisdiction if it gives them."""
    if segment is None:
        return [(f"{feature.where}.properties.code", f"no segment with code {feature.code!r}: load it first")]
    _, river_id, jurisdiction_id = segment
    j, r = table_of(Jurisdiction), table_of(River)
    actual = {
        "river": conn.execute(sa.select(r.c.code).where(r.c.id == river_id)).scalar_one(),
        "jurisdiction": conn.execute(sa.select(j.c.code).where(j.c.id == jurisdiction_id)).scalar_one(),
    }
    return [
        (
            f"{feature.where}.properties.{key}",
            f"segment {feature.code} belongs to {key} {code}, not {feature.refs[key]}",
        )
        for key, code in actual.items()
        if key in feature.refs and feature.refs[key] != code
    ]


def _line(geometry: dict[str, Any]) -> list[list[float]]:
    return [[float(p[0]), float(p[1])] for p in geometry["coordinates"]]


def _batches(items: list[CheckedFeature], size: int) -> Iterator[list[CheckedFeature]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def export_geojson(conn: sa.Connection, layer: str) -> dict[str, Any]:
    """A layer as a FeatureCollection that imports back unchanged (the segment layer from ``segment.geometry``)."""
    if layer not in LAYERS:
        raise ValidationFailed("layer", f"{layer!r} is not one of {', '.join(LAYERS)}")
    f, j, r, s = table_of(MapFeature), table_of(Jurisdiction), table_of(River), table_of(Segment)
    if layer == "segment":
        return _export_segments(conn)
    jc, rc, sc = j.c.code.label("j"), r.c.code.label("r"), s.c.code.label("s")
    query = (
        sa.select(f.c.code, f.c.name, f.c.properties, f.c.geometry, jc, rc, sc)
        .select_from(f.outerjoin(j, j.c.id == f.c.jurisdiction_id))
        .outerjoin(r, r.c.id == f.c.river_id)
        .outerjoin(s, s.c.id == f.c.segment_id)
        .where(f.c.layer == layer)
        .order_by(f.c.code)
    )
    features = []
    for row in conn.execute(query):
        props: dict[str, Any] = {"code": row.code, "name": row.name}
        if layer not in ("jurisdiction", "river"):
            refs = {"jurisdiction": row.j, "river": row.r, "segment": row.s}
            props |= {k: v for k, v in refs.items() if v is not None}
        props |= row.properties or {}
        features.append({"type": "Feature", "geometry": row.geometry, "properties": props})
    return {"type": "FeatureCollection", "name": layer, "features": features}


def _export_segments(conn: sa.Connection) -> dict[str, Any]:
    f, j, r, s = table_of(MapFeature), table_of(Jurisdiction), table_of(River), table_of(Segment)
    query = (
        sa.select(s.c.code, s.c.name, s.c.geometry, j.c.code.label("j"), r.c.code.label("r"), f.c.name.label("fname"))
        .add_columns(f.c.properties)
        .select_from(s.join(j, j.c.id == s.c.jurisdiction_id).join(r, r.c.id == s.c.river_id))
        .outerjoin(f, sa.and_(f.c.segment_id == s.c.id, f.c.layer == "segment"))
        .where(s.c.geometry.is_not(None))
        .order_by(s.c.code)
    )
    features = []
    for row in conn.execute(query):
        if not row.geometry:
            continue
        props: dict[str, Any] = {"code": row.code, "name": row.fname or row.name, "river": row.r, "jurisdiction": row.j}
        props |= row.properties or {}
        geometry = {"type": "LineString", "coordinates": row.geometry}
        features.append({"type": "Feature", "geometry": geometry, "properties": props})
    return {"type": "FeatureCollection", "name": "segment", "features": features}
