"""Patrol tracks: GPX or GeoJSON read safely, as runs of positions with their length and duration."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from workflow.core.errors import ValidationFailed
from workflow.patrols.basics import EARTH_RADIUS_M, MAX_TRACK_BYTES, MAX_TRACK_POINTS

# -- tracks ---------------------------------------------------------------------------------------

Position = tuple[float, float]  # (lon, lat), WGS 84


def haversine_m(a: Position, b: Position) -> float:
    """The great-circle distance between two [lon, lat] positions, in metres."""
    lon1, lat1, lon2, lat2 = (math.radians(v) for v in (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True, slots=True)
class Track:
    """A patrol's track: one or more runs of positions, and the first and last time the device stamped."""

    lines: tuple[tuple[Position, ...], ...]
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def length_m(self) -> float:
        """Along each run, not across the gaps between runs."""
        return sum(haversine_m(a, b) for line in self.lines for a, b in itertools.pairwise(line))

    @property
    def points(self) -> int:
        """How many positions."""
        return sum(len(line) for line in self.lines)

    def geojson(self) -> dict[str, Any]:
        """As a GeoJSON LineString (MultiLineString for several runs), to 6 decimals (about 0.1 m)."""
        lines = [[[round(lon, 6), round(lat, 6)] for lon, lat in line] for line in self.lines]
        if len(lines) == 1:
            return {"type": "LineString", "coordinates": lines[0]}
        return {"type": "MultiLineString", "coordinates": lines}


def _instant(text: str, where: str) -> datetime:
    """An ISO 8601 time; GPS times without an offset are UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed("track", f"{where}: {text.strip()!r} is not an ISO 8601 time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _position(lon: Any, lat: Any, where: str) -> Position:
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError):
        raise ValidationFailed("track", f"{where}: ({lon!r}, {lat!r}) is not a position of numbers") from None
    if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
        raise ValidationFailed("track", f"{where}: lon {x}, lat {y} is not a WGS 84 position")
    return x, y


def _assemble(runs: list[list[tuple[Position, datetime | None]]], name: str) -> Track:
    runs = [run for run in runs if run]
    if sum(len(run) for run in runs) < 2:
        raise ValidationFailed("track", f"{name} has fewer than 2 track points")
    if sum(len(run) for run in runs) > MAX_TRACK_POINTS:
        raise ValidationFailed("track", f"{name} has more than {MAX_TRACK_POINTS} points")
    times = [(i, t) for i, t in enumerate(t for run in runs for _, t in run) if t is not None]
    for (_, before), (i, after) in itertools.pairwise(times):
        if after < before:
            raise ValidationFailed("track", f"{name}: point {i + 1} is timed before the point ahead of it")
    return Track(
        tuple(tuple(p for p, _ in run) for run in runs),
        times[0][1] if times else None,
        times[-1][1] if times else None,
    )


def _local(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child) == name]


def _parse_gpx(content: bytes, name: str) -> Track:
    try:
        root = SafeET.fromstring(content, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise ValidationFailed("track", f"{name} is not well-formed GPX: {exc}") from None
    if _local(root) != "gpx":
        raise ValidationFailed("track", f"{name} is XML but not GPX (its root is <{_local(root)}>)")
    segments = [seg for trk in _children(root, "trk") for seg in _children(trk, "trkseg")]
    groups = [_children(seg, "trkpt") for seg in segments]
    if not any(groups):  # a planned route instead of a recorded track
        groups = [_children(rte, "rtept") for rte in _children(root, "rte")]
    runs: list[list[tuple[Position, datetime | None]]] = []
    number = 0
    for group in groups:
        run = []
        for point in group:
            number += 1
            where = f"{name} point {number}"
            stamp = next((c.text for c in point if _local(c) == "time" and c.text), None)
            run.append(
                (
                    _position(point.get("lon"), point.get("lat"), where),
                    _instant(stamp, where) if stamp else None,
                )
            )
        runs.append(run)
    return _assemble(runs, name)


_WGS84_CRS = {"urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:EPSG::4326", "EPSG:4326"}


def _geojson_lines(node: Any, name: str) -> Iterator[tuple[list[Any], list[Any]]]:
    """Each run of positions in a GeoJSON object, with the times a ``coordTimes`` (or ``times``) property gives."""
    if not isinstance(node, dict):
        raise ValidationFailed("track", f"{name} is not a GeoJSON object")
    kind = node.get("type")
    if kind == "FeatureCollection":
        for feature in node.get("features") or []:
            yield from _geojson_lines(feature, name)
        return
    if kind == "Feature":
        geometry = node.get("geometry") or {}
        properties = node.get("properties") or {}
        times = properties.get("coordTimes", properties.get("times")) if isinstance(properties, dict) else None
        stamps: list[Any]
        for i, (coordinates, _) in enumerate(_geojson_lines(geometry, name)):
            if isinstance(times, list) and times and isinstance(times[0], list):
                stamps = times[i] if i < len(times) else []
            else:
                stamps = times if isinstance(times, list) else []
            yield coordinates, stamps
        return
    positions = node.get("coordinates")
    if kind == "LineString" and isinstance(positions, list):
        yield positions, []
    elif kind == "MultiLineString" and isinstance(positions, list):
        for line in positions:
            yield (line if isinstance(line, list) else []), []
    elif kind not in ("Point", "MultiPoint", "Polygon", "MultiPolygon", "GeometryCollection"):
        raise ValidationFailed("track", f"{name}: {kind!r} is not a GeoJSON type")


def _parse_geojson(content: bytes, name: str) -> Track:
    try:
        document = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed("track", f"{name} is not GeoJSON: {exc}") from None
    return read_geojson(document, name)


def read_geojson(document: Any, name: str = "track") -> Track:
    """A track from GeoJSON already parsed (an API body's ``track``), read as ``parse_track`` reads a file."""
    crs = ((document.get("crs") or {}).get("properties") or {}).get("name") if isinstance(document, dict) else None
    if crs is not None and crs not in _WGS84_CRS:
        raise ValidationFailed("track", f"{name} is in CRS {crs}; give WGS 84 [lon, lat] (EPSG:4326)")
    runs: list[list[tuple[Position, datetime | None]]] = []
    number = 0
    for coordinates, stamps in _geojson_lines(document, name):
        if stamps and len(stamps) != len(coordinates):
            raise ValidationFailed("track", f"{name}: {len(stamps)} times for {len(coordinates)} positions")
        run = []
        for i, position in enumerate(coordinates):
            number += 1
            where = f"{name} position {number}"
            if not isinstance(position, list) or len(position) < 2:
                raise ValidationFailed("track", f"{where}: {position!r} is not a [lon, lat] position")
            stamp = stamps[i] if stamps else None
            run.append((_position(position[0], position[1], where), _instant(stamp, where) if stamp else None))
        runs.append(run)
    if not runs:
        raise ValidationFailed("track", f"{name} holds no LineString")
    return _assemble(runs, name)


def parse_track(content: bytes, name: str = "track") -> Track:
    """A GPX (tracks, or a route) or GeoJSON (LineString, MultiLineString, Feature, FeatureCollection) track.

    GPX is read with defusedxml: no DTDs, entities or external references.
    """
    if len(content) > MAX_TRACK_BYTES:
        raise ValidationFailed("track", f"{name} is larger than {MAX_TRACK_BYTES // (1024 * 1024)} MB")
    suffix = PurePath(name).suffix.lower()
    head = content.lstrip()[:1]
    if suffix == ".gpx" or (suffix not in (".geojson", ".json") and head == b"<"):
        return _parse_gpx(content, name)
    if suffix in (".geojson", ".json") or head in (b"{", b"\xef"):
        return _parse_geojson(content, name)
    raise ValidationFailed("track", f"{name} is neither GPX nor GeoJSON")
