"""巡: patrol quotas, patrol records and their tracks, swap-patrol pairings, issues found on patrols,
completion per chief and jurisdiction, the annual scorecard (考核) and patrol funding.

The swap rule: a chief patrols and reports on a segment that is not their own
only under a live pairing (交叉互巡) that gives them that segment on that day.
Every issue found on a patrol is reported through ``workflow.services`` and
linked to the patrol; one found on a swap patrol is handed to the owner side
at once, as the practice asks (发现问题第一时间反馈至对方).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import PurePath
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
import sqlalchemy as sa
from defusedxml import DefusedXmlException

from workflow.actors import SIDE_ROLES, Actor
from workflow.clock import SHANGHAI
from workflow.errors import NotFound, NotPermitted, ValidationFailed
from workflow.models import (
    Compact,
    CompactMember,
    Event,
    FundingStandard,
    Issue,
    Jurisdiction,
    Patrol,
    PatrolIssue,
    PatrolQuota,
    Person,
    Segment,
    SwapPairing,
    TownshipClass,
    table_of,
)
from workflow.services import IssueDraft, apply_within, report_issue
from workflow.uow import UnitOfWork

_patrol = table_of(Patrol)
_pairing = table_of(SwapPairing)
_link = table_of(PatrolIssue)
_person = table_of(Person)
_segment = table_of(Segment)
_juris = table_of(Jurisdiction)
_member = table_of(CompactMember)
_compact = table_of(Compact)
_issue = table_of(Issue)
_quota = table_of(PatrolQuota)
_class = table_of(TownshipClass)
_standard = table_of(FundingStandard)
_event = table_of(Event)

KINDS = ("routine", "swap", "covert")
KIND_LABELS = {"routine": "日常巡河", "swap": "交叉互巡", "covert": "暗访巡查"}
# Patrols that count toward a chief's own quota and its funding; a covert inspection checks on others.
QUOTA_KINDS = ("routine", "swap")
RELATIONS = ("upstream", "downstream", "left_bank", "right_bank")
PERIODS = ("week", "tenday", "month", "quarter", "year")
PERIOD_LABELS = {"week": "周", "tenday": "旬", "month": "月", "quarter": "季度", "year": "年"}
LEVEL_LABELS = {"village": "村级", "township": "乡镇级", "district": "区县级", "city": "市级", "province": "省级"}

# Common practice where nothing is configured: a village chief weekly, a township chief every ten days,
# a district chief monthly, a city chief quarterly, a province chief twice a year. Load ``patrol_quotas:``
# with the reference data to put quotas in force (`riverchief load`); none are in force until then.
DEFAULT_QUOTAS: tuple[tuple[str, int, str], ...] = (
    ("village", 1, "week"),
    ("township", 1, "tenday"),
    ("district", 1, "month"),
    ("city", 1, "quarter"),
    ("province", 2, "year"),
)

MAX_PATROL = timedelta(hours=24)
MAX_TRACK_BYTES = 20 * 1024 * 1024
MAX_TRACK_POINTS = 200_000
# The mean radius of the WGS 84 ellipsoid: a haversine sum with it is within about 0.5% of the geodesic.
EARTH_RADIUS_M = 6_371_008.8


def _local_day(at: datetime) -> date:
    return at.astimezone(SHANGHAI).date()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def parse_month(value: str, field: str = "month") -> tuple[int, int]:
    """A month written 2026-03, as (year, month); ValidationFailed naming ``field`` otherwise."""
    try:
        year, month = (int(part) for part in value.split("-"))
        date(year, month, 1)
    except ValueError:
        raise ValidationFailed(field, f"{value!r} is not a month like 2026-03") from None
    if len(value) != 7:
        raise ValidationFailed(field, f"{value!r} is not a month like 2026-03")
    return year, month


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _month_days(year: int, month: int) -> tuple[date, date]:
    """The first day of the month and of the next."""
    return date(year, month, 1), date(*_next_month(year, month), 1)


def _ancestors(path: str) -> list[str]:
    """ "/500000/500152/" → ["/500000/", "/500000/500152/"]."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def _round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def percent(rate: Fraction | None) -> str:
    """A rate as people read it: 128%, or — when nothing was required."""
    return "—" if rate is None else f"{_round_half_up(rate * 100)}%"


# -- quotas ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Window:
    """What one month's assessment of a chief looks at: the days counted and the patrols required."""

    label: str  # 2026-03, 2026-Q1 or 2026
    first: date
    end: date  # exclusive
    required: int


@dataclass(frozen=True, slots=True)
class Quota:
    """``count`` patrols a ``per`` for the chiefs of one level."""

    level: str
    count: int
    per: str

    def window(self, year: int, month: int) -> Window:
        """The assessment in a month.

        Periods up to a month become a monthly number (a week is 7 days of the
        month's, rounded half up: 4 for 1 a week; a ten-day period is a third
        of a month). A quarter or a year is assessed in its last month, over
        the whole period; its other months require nothing.
        """
        first, end = _month_days(year, month)
        label = f"{year}-{month:02d}"
        if self.per == "week":
            return Window(label, first, end, _round_half_up(Fraction(self.count * (end - first).days, 7)))
        if self.per == "tenday":
            return Window(label, first, end, 3 * self.count)
        if self.per == "month":
            return Window(label, first, end, self.count)
        if self.per == "quarter" and month % 3 == 0:
            return Window(f"{year}-Q{month // 3}", date(year, month - 2, 1), end, self.count)
        if self.per == "year" and month == 12:
            return Window(str(year), date(year, 1, 1), end, self.count)
        return Window(label, first, end, 0)

    def describe(self) -> str:
        """每旬不少于1次."""
        return f"每{PERIOD_LABELS[self.per]}不少于{self.count}次"


def quotas(conn: sa.Connection) -> dict[str, Quota]:
    """The quotas in force, by level."""
    return {r.level: Quota(r.level, r._mapping["count"], r.per) for r in conn.execute(sa.select(_quota))}


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


# -- people, segments and sides -------------------------------------------------------------------


def _person_row(conn: sa.Connection, code: str, field: str) -> Any:
    row = conn.execute(
        sa.select(_person.c.id, _person.c.code, _person.c.name, _person.c.role, _person.c.active, _juris.c.path)
        .select_from(_person.outerjoin(_juris, _juris.c.id == _person.c.jurisdiction_id))
        .where(_person.c.code == code)
    ).first()
    if row is None or not row.active:
        raise ValidationFailed(field, f"no active person with code {code!r}")
    return row


def _segment_row(conn: sa.Connection, code: str, field: str = "segment") -> Any:
    row = conn.execute(
        sa.select(
            _segment.c.id,
            _segment.c.code,
            _segment.c.name,
            _segment.c.chief_id,
            _segment.c.counterpart_id,
            _segment.c.relation,
            _juris.c.id.label("jurisdiction_id"),
            _juris.c.code.label("jurisdiction_code"),
            _juris.c.name.label("jurisdiction"),
            _juris.c.path,
        )
        .join(_juris, _juris.c.id == _segment.c.jurisdiction_id)
        .where(_segment.c.code == code)
    ).first()
    if row is None:
        raise ValidationFailed(field, f"no segment with code {code!r}")
    return row


def _owns(person_id: int | None, person_path: str | None, segment: Any) -> bool:
    """A chief's own segment: the one they are chief of, or any in their jurisdiction."""
    return segment.chief_id == person_id or bool(person_path and segment.path.startswith(person_path))


def _member_paths(conn: sa.Connection, compact_id: int) -> list[str]:
    return list(
        conn.execute(
            sa.select(_juris.c.path)
            .join(_member, _member.c.jurisdiction_id == _juris.c.id)
            .where(_member.c.compact_id == compact_id)
        ).scalars()
    )


def _compact_row(conn: sa.Connection, code: str, field: str = "compact") -> Any:
    row = conn.execute(sa.select(_compact.c.id, _compact.c.code).where(_compact.c.code == code)).first()
    if row is None:
        raise ValidationFailed(field, f"no compact with code {code!r}")
    return row


def _side(paths: Iterable[str], path: str) -> str | None:
    """The compact member a jurisdiction belongs to, by path."""
    return next((p for p in paths if path.startswith(p)), None)


# -- swap pairings ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairingView:
    """A swap pairing as people read it."""

    id: int
    compact: str
    chief_a: str
    chief_a_name: str
    segment_a: str
    segment_a_name: str
    chief_b: str
    chief_b_name: str
    segment_b: str
    segment_b_name: str
    relation: str
    starts_on: date
    ends_on: date


def add_pairing(
    uow: UnitOfWork,
    compact: str,
    chief_a: str,
    segment_a: str,
    chief_b: str,
    segment_b: str,
    starts_on: date,
    ends_on: date,
    relation: str | None = None,
) -> int:
    """Pair two boundary chiefs of different sides: each may patrol the other's segment from ``starts_on``
    to ``ends_on``. ``relation`` is how segment A faces segment B; by default the segments' own."""
    with uow:
        conn = uow.connection
        errors: list[tuple[str, str]] = []
        found = _collect(
            errors,
            compact=lambda: _compact_row(conn, compact),
            chief_a=lambda: _person_row(conn, chief_a, "chief_a"),
            segment_a=lambda: _segment_row(conn, segment_a, "segment_a"),
            chief_b=lambda: _person_row(conn, chief_b, "chief_b"),
            segment_b=lambda: _segment_row(conn, segment_b, "segment_b"),
        )
        if ends_on < starts_on:
            errors.append(("ends_on", f"{ends_on} is before starts_on {starts_on}"))
        if relation is not None and relation not in RELATIONS:
            errors.append(("relation", f"{relation!r} is not one of {', '.join(RELATIONS)}"))
        if errors:
            raise ValidationFailed.of(errors)
        row_c, a, seg_a, b, seg_b = (found[k] for k in ("compact", "chief_a", "segment_a", "chief_b", "segment_b"))
        for person, field in ((a, "chief_a"), (b, "chief_b")):
            if person.role != "chief":
                errors.append((field, f"{person.code} is a {person.role}, not a chief"))
        if a.id == b.id:
            errors.append(("chief_b", "a chief is not paired with themselves"))
        for person, seg, field in ((a, seg_a, "segment_a"), (b, seg_b, "segment_b")):
            if not _owns(person.id, person.path, seg):
                errors.append((field, f"{seg.code} ({seg.name}) is not {person.code}'s segment"))
        members = _member_paths(conn, row_c.id)
        sides = [_side(members, seg.path) for seg in (seg_a, seg_b)]
        for seg, side, field in ((seg_a, sides[0], "segment_a"), (seg_b, sides[1], "segment_b")):
            if side is None:
                errors.append((field, f"{seg.code} ({seg.jurisdiction}) is not in compact {compact}"))
        if sides[0] is not None and sides[0] == sides[1]:
            errors.append(("segment_b", f"{seg_a.code} and {seg_b.code} are on the same side of the border"))
        if relation is None:
            if seg_a.counterpart_id == seg_b.id and seg_a.relation:
                relation = seg_a.relation
            else:
                errors.append(("relation", f"{seg_a.code} and {seg_b.code} are not counterparts: give the relation"))
        if errors:
            raise ValidationFailed.of(errors)
        same = sa.or_(
            sa.and_(_pairing.c.chief_a_id == a.id, _pairing.c.segment_b_id == seg_b.id),
            sa.and_(_pairing.c.chief_b_id == a.id, _pairing.c.segment_a_id == seg_b.id),
            sa.and_(_pairing.c.chief_a_id == b.id, _pairing.c.segment_b_id == seg_a.id),
            sa.and_(_pairing.c.chief_b_id == b.id, _pairing.c.segment_a_id == seg_a.id),
        )
        clash = conn.execute(
            sa.select(_pairing.c.id, _pairing.c.starts_on, _pairing.c.ends_on).where(
                same, _pairing.c.starts_on <= ends_on, _pairing.c.ends_on >= starts_on
            )
        ).first()
        if clash is not None:
            raise ValidationFailed(
                "starts_on", f"overlaps pairing #{clash.id} ({clash.starts_on}–{clash.ends_on}) of the same chiefs"
            )
        result = conn.execute(
            _pairing.insert().values(
                compact_id=row_c.id,
                chief_a_id=a.id,
                segment_a_id=seg_a.id,
                chief_b_id=b.id,
                segment_b_id=seg_b.id,
                relation=relation,
                starts_on=starts_on,
                ends_on=ends_on,
                created_at=uow.clock.now(),
            )
        )
        uow.commit()
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _collect(errors: list[tuple[str, str]], **lookups: Any) -> dict[str, Any]:
    """Run every lookup, gathering each refusal, so one answer names all the bad fields."""
    found = {}
    for name, lookup in lookups.items():
        try:
            found[name] = lookup()
        except ValidationFailed as exc:
            errors.extend(exc.errors)
    return found


def list_pairings(conn: sa.Connection, *, compact: str | None = None, on: date | None = None) -> list[PairingView]:
    """Pairings, newest first; those of a compact, or live on a day, when asked."""
    pa, pb = _person.alias("pa"), _person.alias("pb")
    sa_, sb = _segment.alias("sa"), _segment.alias("sb")
    query = (
        sa.select(
            _pairing,
            _compact.c.code.label("compact"),
            pa.c.code.label("a_code"),
            pa.c.name.label("a_name"),
            pb.c.code.label("b_code"),
            pb.c.name.label("b_name"),
            sa_.c.code.label("sa_code"),
            sa_.c.name.label("sa_name"),
            sb.c.code.label("sb_code"),
            sb.c.name.label("sb_name"),
        )
        .join(_compact, _compact.c.id == _pairing.c.compact_id)
        .join(pa, pa.c.id == _pairing.c.chief_a_id)
        .join(pb, pb.c.id == _pairing.c.chief_b_id)
        .join(sa_, sa_.c.id == _pairing.c.segment_a_id)
        .join(sb, sb.c.id == _pairing.c.segment_b_id)
        .order_by(_pairing.c.id.desc())
    )
    if compact is not None:
        query = query.where(_compact.c.code == compact)
    if on is not None:
        query = query.where(_pairing.c.starts_on <= on, _pairing.c.ends_on >= on)
    return [
        PairingView(
            r.id,
            r.compact,
            r.a_code,
            r.a_name,
            r.sa_code,
            r.sa_name,
            r.b_code,
            r.b_name,
            r.sb_code,
            r.sb_name,
            r.relation,
            r.starts_on,
            r.ends_on,
        )
        for r in conn.execute(query)
    ]


def live_pairing(conn: sa.Connection, person_id: int, segment_id: int, first: date, last: date) -> int | None:
    """The pairing that gives ``person_id`` the segment on every day from ``first`` to ``last``, if any."""
    return conn.execute(
        sa.select(_pairing.c.id)
        .where(
            sa.or_(
                sa.and_(_pairing.c.chief_a_id == person_id, _pairing.c.segment_b_id == segment_id),
                sa.and_(_pairing.c.chief_b_id == person_id, _pairing.c.segment_a_id == segment_id),
            ),
            _pairing.c.starts_on <= first,
            _pairing.c.ends_on >= last,
        )
        .order_by(_pairing.c.id)
        .limit(1)
    ).scalar()


# -- patrols --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatrolRecorded:
    """A patrol as stored."""

    id: int
    kind: str
    pairing_id: int | None
    started_at: datetime
    ended_at: datetime
    duration_s: int
    length_m: int | None


def _times(
    started_at: datetime | None, ended_at: datetime | None, track: Track | None, now: datetime
) -> tuple[datetime, datetime]:
    """The patrol's start and end: given, or the track's first and last time."""
    start = started_at or (track.started_at if track else None)
    end = ended_at or (track.ended_at if track else None)
    errors = []
    if start is None:
        errors.append(("start", "is required (the track has no times)"))
    elif start.tzinfo is None:
        errors.append(("start", "needs a UTC offset, e.g. 2026-03-05T09:00+08:00"))
    if end is None:
        errors.append(("end", "is required (the track has no times)"))
    elif end.tzinfo is None:
        errors.append(("end", "needs a UTC offset, e.g. 2026-03-05T11:00+08:00"))
    if errors:
        raise ValidationFailed.of(errors)
    assert start is not None
    assert end is not None
    if end <= start:
        raise ValidationFailed("end", f"{end.isoformat()} is not after the start {start.isoformat()}")
    if end - start > MAX_PATROL:
        raise ValidationFailed("end", "a patrol lasts at most 24 hours; record each day's patrol on its own")
    if end > now:
        raise ValidationFailed("end", f"{end.isoformat()} is in the future")
    first, last = (track.started_at, track.ended_at) if track is not None else (None, None)
    if first is not None and last is not None and (first < start or last > end):
        raise ValidationFailed(
            "track",
            f"its times ({first.isoformat()} to {last.isoformat()}) "
            f"fall outside the patrol ({start.isoformat()} to {end.isoformat()})",
        )
    return start, end


def record_patrol(
    uow: UnitOfWork,
    actor: Actor,
    segment: str,
    *,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    track: Track | None = None,
    kind: str | None = None,
    notes: str = "",
) -> PatrolRecorded:
    """Record a patrol of ``segment`` by ``actor``.

    A chief patrols their own segment (routine) or, under a live pairing, the
    neighbour's (swap); ``kind`` None tells which from the segment. A covert
    inspection (暗访) is by a chief or office above the segment's jurisdiction.
    Times come from the arguments or else from the track.
    """
    if kind is not None and kind not in KINDS:
        raise ValidationFailed("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    if len(notes) > 2000:
        raise ValidationFailed("notes", "is longer than 2000 characters")
    with uow:
        conn = uow.connection
        seg = _segment_row(conn, segment)
        start, end = _times(started_at, ended_at, track, uow.clock.now())
        allowed = ("chief", "office") if kind == "covert" else ("chief",)
        if actor.id is None or actor.role not in allowed:
            raise NotPermitted(actor.code, "patrol", list(allowed), [actor.role])
        first, last = _local_day(start), _local_day(end)
        owns = _owns(actor.id, actor.jurisdiction_path, seg)
        pairing_id = None
        if kind == "covert":
            if seg.chief_id == actor.id or not owns:
                raise ValidationFailed(
                    "segment",
                    f"a covert inspection (暗访) checks on another chief's segment within the inspector's own "
                    f"jurisdiction; {seg.code} ({seg.jurisdiction}) is not such a segment for {actor.code}",
                )
        elif owns:
            if kind == "swap":
                raise ValidationFailed(
                    "segment", f"{seg.code} is {actor.code}'s own segment; a swap patrol is on the neighbour's"
                )
            kind = "routine"
        else:
            pairing_id = live_pairing(conn, actor.id, seg.id, first, last)
            if pairing_id is None:
                raise ValidationFailed(
                    "segment",
                    f"{seg.code} ({seg.name}) is {seg.jurisdiction}'s, not {actor.code}'s, and no live swap pairing "
                    f"gives it to {actor.code} on {first}" + ("" if first == last else f" to {last}"),
                )
            if kind == "routine":
                raise ValidationFailed(
                    "kind", f"{seg.code} is the neighbour's: under pairing #{pairing_id} it is a swap patrol"
                )
            kind = "swap"
        clash = conn.execute(
            sa.select(_patrol.c.id, _patrol.c.started_at).where(
                _patrol.c.patroller_id == actor.id, _patrol.c.started_at < end, _patrol.c.ended_at > start
            )
        ).first()
        if clash is not None:
            when = clash.started_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            raise ValidationFailed("start", f"overlaps {actor.code}'s patrol #{clash.id} started {when}")
        length = round(track.length_m) if track is not None else None
        duration = int((end - start).total_seconds())
        result = conn.execute(
            _patrol.insert().values(
                patroller_id=actor.id,
                segment_id=seg.id,
                kind=kind,
                pairing_id=pairing_id,
                started_at=start,
                ended_at=end,
                duration_s=duration,
                length_m=length,
                track=track.geojson() if track is not None else None,
                notes=notes.strip(),
                created_at=uow.clock.now(),
            )
        )
        uow.commit()
    patrol_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    return PatrolRecorded(patrol_id, kind, pairing_id, start, end, duration, length)


@dataclass(frozen=True, slots=True)
class PatrolView:
    """A patrol as people read it."""

    id: int
    patroller: str
    patroller_name: str
    segment: str
    segment_name: str
    kind: str
    pairing_id: int | None
    started_at: datetime
    ended_at: datetime
    duration_s: int
    length_m: int | None
    issues: list[str]


def list_patrols(
    conn: sa.Connection, *, person: str | None = None, month: str | None = None, limit: int = 500
) -> list[PatrolView]:
    """Patrols, latest first; one person's, or one month's, when asked."""
    query = (
        sa.select(
            _patrol,
            _person.c.code.label("p_code"),
            _person.c.name.label("p_name"),
            _segment.c.code.label("s_code"),
            _segment.c.name.label("s_name"),
        )
        .join(_person, _person.c.id == _patrol.c.patroller_id)
        .join(_segment, _segment.c.id == _patrol.c.segment_id)
        .order_by(_patrol.c.started_at.desc(), _patrol.c.id.desc())
        .limit(limit)
    )
    if person is not None:
        query = query.where(_person.c.code == person)
    if month is not None:
        first, end = _month_days(*parse_month(month))
        query = query.where(_patrol.c.started_at >= _midnight(first), _patrol.c.started_at < _midnight(end))
    rows = conn.execute(query).all()
    found: dict[int, list[str]] = {}
    if rows:
        for patrol_id, code in conn.execute(
            sa.select(_link.c.patrol_id, _issue.c.code)
            .join(_issue, _issue.c.id == _link.c.issue_id)
            .where(_link.c.patrol_id.in_([r.id for r in rows]))
            .order_by(_issue.c.code)
        ):
            found.setdefault(patrol_id, []).append(code)
    return [
        PatrolView(
            r.id,
            r.p_code,
            r.p_name,
            r.s_code,
            r.s_name,
            r.kind,
            r.pairing_id,
            r.started_at,
            r.ended_at,
            r.duration_s,
            r.length_m,
            found.get(r.id, []),
        )
        for r in rows
    ]


# -- issues found on a patrol ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatrolReport:
    """An issue reported from a patrol, and the side it went to."""

    issue_code: str
    patrol_id: int
    kind: str
    state: str
    handed_to: str | None  # the owner side's division code, for an issue found on a swap patrol


def report_from_patrol(uow: UnitOfWork, actor: Actor, patrol_id: int, draft: IssueDraft) -> PatrolReport:
    """Report an issue found on a patrol, as its patroller; it is linked to the patrol.

    Found on a swap patrol, it is handed at once to the jurisdiction that owns
    the segment (the owner side); a covert inspection's issue is marked by its
    patrol's kind. The report, the link and the hand-off are three steps: the
    issue stands reported even if a later one is refused, and says so.
    """
    with uow:
        conn = uow.connection
        patrol = conn.execute(
            sa.select(
                _patrol.c.id,
                _patrol.c.kind,
                _patrol.c.patroller_id,
                _patrol.c.pairing_id,
                _segment.c.code.label("segment"),
                _juris.c.code.label("owner"),
                _compact.c.code.label("pairing_compact"),
            )
            .join(_segment, _segment.c.id == _patrol.c.segment_id)
            .join(_juris, _juris.c.id == _segment.c.jurisdiction_id)
            .outerjoin(_pairing, _pairing.c.id == _patrol.c.pairing_id)
            .outerjoin(_compact, _compact.c.id == _pairing.c.compact_id)
            .where(_patrol.c.id == patrol_id)
        ).first()
    if patrol is None:
        raise NotFound("patrol", patrol_id)
    if actor.id != patrol.patroller_id:
        raise NotPermitted(actor.code, "report_from_patrol", ["the patroller"], [])
    if draft.segment not in (None, patrol.segment):
        raise ValidationFailed("segment", f"patrol #{patrol_id} was on {patrol.segment}, not {draft.segment}")
    if patrol.kind == "swap" and draft.compact != patrol.pairing_compact:
        raise ValidationFailed("compact", f"the swap pairing of patrol #{patrol_id} is {patrol.pairing_compact}'s")
    reported = report_issue(uow, actor, replace(draft, segment=patrol.segment))
    with uow:
        issue_id = uow.connection.execute(
            sa.select(_issue.c.id).where(_issue.c.code == reported.issue_code)
        ).scalar_one()
        uow.connection.execute(_link.insert().values(issue_id=issue_id, patrol_id=patrol_id))
        uow.commit()
    if patrol.kind != "swap":
        return PatrolReport(reported.issue_code, patrol_id, patrol.kind, reported.state, None)
    with uow:
        handed = apply_within(
            uow,
            reported.issue_code,
            "hand_off",
            actor,
            {"receiving": patrol.owner, "note": "交叉互巡发现，即时反馈责任方"},
        )
        uow.commit()
    return PatrolReport(reported.issue_code, patrol_id, patrol.kind, handed.state, patrol.owner)


# -- completion -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChiefCompletion:
    """One chief's patrols against their quota in one month's assessment."""

    person: str
    name: str
    jurisdiction_id: int
    jurisdiction_code: str
    jurisdiction: str
    path: str
    level: str
    window: str
    done: int
    required: int

    @property
    def rate(self) -> Fraction | None:
        """done / required (may exceed 1); None when nothing was required."""
        return Fraction(self.done, self.required) if self.required else None

    @property
    def under(self) -> bool:
        """Below quota in an assessed period."""
        return self.done < self.required


@dataclass(frozen=True, slots=True)
class JurisdictionCompletion:
    """A jurisdiction's assessed chiefs (its own and those under it) taken together."""

    code: str
    name: str
    level: str
    depth: int
    chiefs: int
    under: int
    done: int
    required: int

    @property
    def rate(self) -> Fraction | None:
        """done / required over its chiefs."""
        return Fraction(self.done, self.required) if self.required else None


@dataclass(frozen=True, slots=True)
class Completion:
    """A month's patrol completion: per chief, per jurisdiction, and overall."""

    month: str
    chiefs: list[ChiefCompletion]
    jurisdictions: list[JurisdictionCompletion]

    @property
    def done(self) -> int:
        """Patrols counted over every assessed chief."""
        return sum(c.done for c in self.chiefs if c.required)

    @property
    def required(self) -> int:
        """Patrols required over every assessed chief."""
        return sum(c.required for c in self.chiefs)

    @property
    def rate(self) -> Fraction | None:
        """The overall completion rate (Wanzhou's 128%)."""
        return Fraction(self.done, self.required) if self.required else None

    @property
    def under_quota(self) -> list[ChiefCompletion]:
        """The chiefs below their quota, lowest rate first."""
        return sorted((c for c in self.chiefs if c.under), key=lambda c: (c.done / c.required, c.path, c.person))


def _chiefs(conn: sa.Connection, compact_id: int | None, person: str | None = None) -> list[Any]:
    """Active chiefs with a jurisdiction (within the compact's members, when given)."""
    query = (
        sa.select(
            _person.c.id,
            _person.c.code,
            _person.c.name,
            _juris.c.id.label("jurisdiction_id"),
            _juris.c.code.label("jurisdiction_code"),
            _juris.c.name.label("jurisdiction"),
            _juris.c.path,
            _juris.c.level,
        )
        .join(_juris, _juris.c.id == _person.c.jurisdiction_id)
        .where(_person.c.role == "chief", _person.c.active.is_(True))
        .order_by(_juris.c.path, _person.c.code)
    )
    if person is not None:
        query = query.where(_person.c.code == person)
    rows = conn.execute(query).all()
    if compact_id is None:
        return list(rows)
    members = _member_paths(conn, compact_id)
    return [r for r in rows if _side(members, r.path)]


def _patrol_counts(conn: sa.Connection, first: date, end: date, people: Sequence[int]) -> dict[int, int]:
    """Patrols that count toward a quota, per patroller, started on the days [first, end)."""
    if not people:
        return {}
    rows = conn.execute(
        sa.select(_patrol.c.patroller_id, sa.func.count())
        .where(
            _patrol.c.kind.in_(QUOTA_KINDS),
            _patrol.c.started_at >= _midnight(first),
            _patrol.c.started_at < _midnight(end),
            _patrol.c.patroller_id.in_(sorted(set(people))),
        )
        .group_by(_patrol.c.patroller_id)
    )
    return dict(rows.all())  # a result has keys(): dict() would read it as a mapping


def _assess(conn: sa.Connection, month: str, chiefs: list[Any], in_force: dict[str, Quota]) -> list[ChiefCompletion]:
    year, number = parse_month(month)
    windows = {r.id: in_force[r.level].window(year, number) for r in chiefs if r.level in in_force}
    counts: dict[tuple[date, date], dict[int, int]] = {}
    for span in {(w.first, w.end) for w in windows.values()}:
        counts[span] = _patrol_counts(conn, *span, [pid for pid, w in windows.items() if (w.first, w.end) == span])
    out = []
    for r in chiefs:
        w = windows.get(r.id)
        if w is None:
            continue
        done = counts[(w.first, w.end)].get(r.id, 0)
        out.append(
            ChiefCompletion(
                r.code, r.name, r.jurisdiction_id, r.jurisdiction_code, r.jurisdiction, r.path, r.level, w.label,
                done, w.required,
            )
        )  # fmt: skip
    return out


def completion(conn: sa.Connection, month: str, compact_id: int | None = None) -> Completion:
    """Each chief held to a quota, with the patrols done against it in the month's assessment, and the
    jurisdictions above them rolled up (within the compact's members when one is given)."""
    chiefs = _assess(conn, month, _chiefs(conn, compact_id), quotas(conn))
    members = _member_paths(conn, compact_id) if compact_id is not None else None
    totals: dict[str, list[int]] = {}
    for c in chiefs:
        if not c.required:
            continue
        for path in _ancestors(c.path):
            if members is not None and not _side(members, path):
                continue
            t = totals.setdefault(path, [0, 0, 0, 0])
            t[0] += 1
            t[1] += c.under
            t[2] += c.done
            t[3] += c.required
    names = {
        r.path: r
        for r in conn.execute(
            sa.select(_juris.c.path, _juris.c.code, _juris.c.name, _juris.c.level).where(
                _juris.c.path.in_(sorted(totals))
            )
        )
    }
    depth0 = min((p.count("/") for p in totals), default=0)
    rows = [
        JurisdictionCompletion(names[p].code, names[p].name, names[p].level, p.count("/") - depth0, *totals[p])
        for p in sorted(totals)
        if p in names
    ]
    return Completion(month, chiefs, rows)


def under_quota(conn: sa.Connection, month: str, compact_id: int | None = None) -> list[ChiefCompletion]:
    """The chiefs below their quota in the month's assessment (月通报)."""
    return completion(conn, month, compact_id).under_quota


def _three_months(period: str) -> list[str]:
    """A quarter's months ("2026-Q1"), or the three months ending with a month ("2026-05")."""
    if "-Q" in period:
        head, _, q = period.partition("-Q")
        if not (len(head) == 4 and head.isdigit() and q in ("1", "2", "3", "4")):
            raise ValidationFailed("period", f"{period!r} is not a quarter like 2026-Q1 or a month like 2026-03")
        return [f"{head}-{m:02d}" for m in range((int(q) - 1) * 3 + 1, int(q) * 3 + 1)]
    year, month = parse_month(period, "period")
    months = []
    for _ in range(3):
        months.append(f"{year}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months[::-1]


@dataclass(frozen=True, slots=True)
class InterviewEntry:
    """A chief below quota in each of three months running (季约谈), with the three months."""

    person: str
    name: str
    jurisdiction_id: int
    jurisdiction: str
    months: list[ChiefCompletion]


def interview_list(conn: sa.Connection, period: str, compact_id: int | None = None) -> list[InterviewEntry]:
    """The chiefs below quota in every month of a quarter (or of the three months ending with a month).

    A quota longer than a month is assessed once in its period, so only
    chiefs assessed monthly can be under it three months running.
    """
    months = _three_months(period)
    per_month = [{c.person: c for c in under_quota(conn, m, compact_id)} for m in months]
    common = set(per_month[0]).intersection(*per_month[1:])
    entries = []
    for code in sorted(common, key=lambda k: (per_month[-1][k].path, k)):
        last = per_month[-1][code]
        entries.append(
            InterviewEntry(code, last.name, last.jurisdiction_id, last.jurisdiction, [m[code] for m in per_month])
        )
    return entries


def bulletin_figures(conn: sa.Connection, compact_id: int, month: str) -> dict[str, Any]:
    """The patrol part of a monthly bulletin (月通报): completion and the chiefs under quota by name."""
    done = completion(conn, month, compact_id)
    return {
        "assessed": sum(1 for c in done.chiefs if c.required),
        "done": done.done,
        "required": done.required,
        "rate": percent(done.rate),
        "under_quota": [
            {
                "person": c.person,
                "name": c.name,
                "jurisdiction": c.jurisdiction,
                "window": c.window,
                "done": c.done,
                "required": c.required,
                "rate": percent(c.rate),
            }
            for c in done.under_quota
        ],
    }


def interview_parties(conn: sa.Connection, compact_id: int, quarter: str) -> list[dict[str, Any]]:
    """The chiefs under patrol quota three months running, as parties of a quarterly interview list (季约谈)."""
    return [
        {
            "party": "patrol",
            "jurisdiction_id": e.jurisdiction_id,
            "jurisdiction": e.jurisdiction,
            "chiefs": [e.name],
            "issues": [],
            "person": e.person,
            "months": [{"month": m.window, "done": m.done, "required": m.required} for m in e.months],
        }
        for e in interview_list(conn, quarter, compact_id)
    ]


# -- the scorecard (考核) --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scorecard:
    """A chief's year for the annual assessment (考核)."""

    person: str
    name: str
    jurisdiction: str
    year: int
    months: list[ChiefCompletion]  # each month of the year that has ended
    swap_patrols: int
    issues_found: int
    issues_found_on_patrols: int
    handoffs_received: int
    answered_in_time: int
    answered_late: int
    unanswered: int  # its deadline passed without an answer
    pending: int  # its deadline has not come yet
    overdue_items: list[str]

    @property
    def patrols_done(self) -> int:
        """Patrols counted in the assessed months."""
        return sum(m.done for m in self.months if m.required)

    @property
    def patrols_required(self) -> int:
        """Patrols required over the year so far."""
        return sum(m.required for m in self.months)

    @property
    def completion(self) -> Fraction | None:
        """The year's patrol completion rate."""
        return Fraction(self.patrols_done, self.patrols_required) if self.patrols_required else None

    @property
    def months_under(self) -> list[str]:
        """The assessments below quota."""
        return [m.window for m in self.months if m.under]


def scorecard(conn: sa.Connection, person: str, year: int, now: datetime) -> Scorecard:
    """A chief's scorecard for a year, as it stands at ``now``.

    Patrol completion over the months that have ended; issues they reported
    (and of those, found on a patrol); hand-offs to their side, answered
    (accepted or disputed) before the deadline or not; and the issues whose
    deadline their side missed (an overdue wait on their side in the year).
    """
    # jobs reads this module for the bulletins; its overdue walk is imported here, when used.
    from workflow.jobs import overdue_waits

    row = _person_row(conn, person, "person")
    if row.role not in SIDE_ROLES or row.path is None:
        raise ValidationFailed("person", f"{person} is a {row.role}; scorecards are for chiefs and offices")
    start, end = _midnight(date(year, 1, 1)), _midnight(date(year + 1, 1, 1))
    in_force = quotas(conn)
    chief = _chiefs(conn, None, person) if row.role == "chief" else []
    months = [
        m
        for n in range(1, 13)
        if _midnight(_month_days(year, n)[1]) <= now
        for m in _assess(conn, f"{year}-{n:02d}", chief, in_force)
    ]
    swaps = conn.execute(
        sa.select(sa.func.count()).where(
            _patrol.c.patroller_id == row.id,
            _patrol.c.kind == "swap",
            _patrol.c.started_at >= start,
            _patrol.c.started_at < end,
        )
    ).scalar_one()
    found = conn.execute(
        sa.select(_issue.c.id, _link.c.patrol_id)
        .outerjoin(_link, _link.c.issue_id == _issue.c.id)
        .where(_issue.c.reporter_id == row.id, _issue.c.created_at >= start, _issue.c.created_at < end)
    ).all()
    answers = _handoff_answers(conn, row.path, start, end, now)
    overdue: set[str] = set()
    paths: dict[int, str] = dict(conn.execute(sa.select(_juris.c.id, _juris.c.path)).all())
    compacts = {
        compact_id
        for compact_id, path in conn.execute(
            sa.select(_member.c.compact_id, _juris.c.path).join(_juris, _juris.c.id == _member.c.jurisdiction_id)
        )
        if row.path.startswith(path) or path.startswith(row.path)
    }
    for compact_id in sorted(compacts):
        for o in overdue_waits(conn, compact_id, start, min(end, now)):  # a deadline still ahead is not missed
            if o.jurisdiction_id is not None and paths.get(o.jurisdiction_id, "").startswith(row.path):
                overdue.add(o.issue_code)
    jurisdiction = conn.execute(sa.select(_juris.c.name).where(_juris.c.path == row.path)).scalar_one()
    return Scorecard(
        row.code,
        row.name,
        jurisdiction,
        year,
        months,
        swaps,
        len(found),
        sum(1 for f in found if f.patrol_id is not None),
        len(answers),
        answers.count("in_time"),
        answers.count("late"),
        answers.count("unanswered"),
        answers.count("pending"),
        sorted(overdue),
    )


_ANSWERS = ("accept", "dispute")


def _handoff_answers(conn: sa.Connection, path: str, start: datetime, end: datetime, now: datetime) -> list[str]:
    """For each hand-off to a side at or under ``path`` in [start, end): in_time, late, unanswered or pending."""
    event = _event
    handoffs = conn.execute(
        sa.select(event.c.issue_id, event.c.seq, event.c.due_at)
        .join(_issue, _issue.c.id == event.c.issue_id)
        .join(_juris, _juris.c.id == _issue.c.receiving_jurisdiction_id)
        .where(
            event.c.trigger == "hand_off",
            event.c.occurred_at >= start,
            event.c.occurred_at < end,
            _juris.c.path.startswith(path),
        )
    ).all()
    if not handoffs:
        return []
    answered: dict[int, list[tuple[int, datetime]]] = {}
    for issue_id, seq, at in conn.execute(
        sa.select(event.c.issue_id, event.c.seq, event.c.occurred_at)
        .where(event.c.issue_id.in_({h.issue_id for h in handoffs}), event.c.trigger.in_(_ANSWERS))
        .order_by(event.c.seq)
    ):
        answered.setdefault(issue_id, []).append((seq, at))
    out = []
    for h in handoffs:
        answer = next((at for seq, at in answered.get(h.issue_id, []) if seq > h.seq), None)
        if answer is not None:
            out.append("in_time" if h.due_at is None or answer <= h.due_at else "late")
        else:
            out.append("pending" if h.due_at is None or now <= h.due_at else "unanswered")
    return out


# -- funding --------------------------------------------------------------------------------------

# The district's share of a township's patrol funding, by the township's class (percent).
DISTRICT_SHARE: dict[str, int] = {"I": 70, "II": 80, "III": 90, "IV": 95}
GRADE_LABELS = {"I": "Ⅰ", "II": "Ⅱ", "III": "Ⅲ", "IV": "Ⅳ"}
_GRADE_ALIASES = {
    **{g: g for g in DISTRICT_SHARE},
    **{label: g for g, label in GRADE_LABELS.items()},
    **{str(i + 1): g for i, g in enumerate(DISTRICT_SHARE)},
}


def parse_yuan(text: str, field: str) -> int:
    """An amount in yuan ("15", "15.5", "15.50") as whole fen; never through a float."""
    try:
        amount = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:
        raise ValidationFailed(field, f"{text!r} is not an amount in yuan, e.g. 15.00") from None
    if not amount.is_finite() or amount < 0:
        raise ValidationFailed(field, f"{text!r} is not an amount of zero or more")
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise ValidationFailed(field, f"{text!r} has more than two decimals (fen are the smallest unit)")
    return int(fen)


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals: 150 → 1.50."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _jurisdiction_row(conn: sa.Connection, code: str, field: str = "jurisdiction") -> Any:
    row = conn.execute(
        sa.select(_juris.c.id, _juris.c.code, _juris.c.name, _juris.c.level, _juris.c.path).where(_juris.c.code == code)
    ).first()
    if row is None:
        raise ValidationFailed(field, f"no jurisdiction with code {code!r}")
    return row


def set_township_class(uow: UnitOfWork, jurisdiction: str, grade: str) -> str:
    """Set a township's class (Ⅰ–Ⅳ; I–IV and 1–4 are read too); returns the class as stored."""
    stored = _GRADE_ALIASES.get(grade.strip().upper() if grade.isascii() else grade.strip())
    if stored is None:
        raise ValidationFailed("class", f"{grade!r} is not one of Ⅰ, Ⅱ, Ⅲ, Ⅳ (or I–IV)")
    with uow:
        conn = uow.connection
        row = _jurisdiction_row(conn, jurisdiction)
        if row.level != "township":
            raise ValidationFailed(
                "jurisdiction", f"{row.name} ({row.code}) is a {row.level}; classes are for townships"
            )
        if conn.execute(sa.select(_class.c.grade).where(_class.c.jurisdiction_id == row.id)).first() is None:
            conn.execute(_class.insert().values(jurisdiction_id=row.id, grade=stored))
        else:
            conn.execute(_class.update().where(_class.c.jurisdiction_id == row.id).values(grade=stored))
        uow.commit()
    return stored


def set_funding_standard(
    uow: UnitOfWork, jurisdiction: str, per_patrol_fen: int, insurance_fen: int, effective_from: date
) -> None:
    """Set (or replace) a jurisdiction's patrol funding standard from a day: the subsidy per patrol and the
    yearly accident insurance per patroller, in fen. It applies to every township under the jurisdiction."""
    errors = [
        (name, "must be zero or more fen")
        for name, value in (("per_patrol", per_patrol_fen), ("insurance", insurance_fen))
        if value < 0
    ]
    if errors:
        raise ValidationFailed.of(errors)
    with uow:
        conn = uow.connection
        row = _jurisdiction_row(conn, jurisdiction)
        key = sa.and_(_standard.c.jurisdiction_id == row.id, _standard.c.effective_from == effective_from)
        values = {"per_patrol_fen": per_patrol_fen, "insurance_fen_per_patroller_year": insurance_fen}
        if conn.execute(sa.select(_standard.c.id).where(key)).first() is None:
            conn.execute(_standard.insert().values(jurisdiction_id=row.id, effective_from=effective_from, **values))
        else:
            conn.execute(_standard.update().where(key).values(**values))
        uow.commit()


@dataclass(frozen=True, slots=True)
class FundingRow:
    """One township's patrol funding for a month, in fen."""

    code: str
    name: str
    funder: str  # the jurisdiction whose standard applies
    grade: str
    patrols: int
    patrollers: int
    per_patrol_fen: int
    subsidy_fen: int
    insurance_fen: int
    district_percent: int
    district_fen: int
    township_fen: int

    @property
    def total_fen(self) -> int:
        """Subsidy and insurance together."""
        return self.subsidy_fen + self.insurance_fen


def funding(conn: sa.Connection, month: str) -> list[FundingRow]:
    """Each township under a funding standard in force on the month's first day: its patrols in the month
    (routine and swap, by the patrollers at or under it), its patrollers (active chiefs at or under it),
    the subsidy, a month of insurance, and the district's and township's shares by the township's class.

    Amounts are whole fen, rounded half up once per township; the township's
    share is what the district's leaves, so the two always add up.
    """
    first, end = _month_days(*parse_month(month))
    standards: dict[str, Any] = {}
    for r in conn.execute(
        sa.select(_standard, _juris.c.path, _juris.c.name)
        .join(_juris, _juris.c.id == _standard.c.jurisdiction_id)
        .where(_standard.c.effective_from <= first)
        .order_by(_standard.c.effective_from)
    ):
        standards[r.path] = r  # the latest in force per jurisdiction
    if not standards:
        return []
    townships = [
        t
        for t in conn.execute(
            sa.select(_juris.c.id, _juris.c.code, _juris.c.name, _juris.c.path, _class.c.grade)
            .outerjoin(_class, _class.c.jurisdiction_id == _juris.c.id)
            .where(_juris.c.level == "township")
            .order_by(_juris.c.path)
        )
        if any(t.path.startswith(p) for p in standards)
    ]
    missing = [
        ("township_class", f"{t.name} ({t.code}) has no class (Ⅰ–Ⅳ): set it with `riverchief patrol class {t.code} Ⅱ`")
        for t in townships
        if t.grade is None
    ]
    if missing:
        raise ValidationFailed.of(missing)
    people = conn.execute(
        sa.select(_person.c.id, _juris.c.path)
        .join(_juris, _juris.c.id == _person.c.jurisdiction_id)
        .where(_person.c.role == "chief", _person.c.active.is_(True))
    ).all()
    patrols = conn.execute(
        sa.select(_juris.c.path, sa.func.count())
        .select_from(_patrol.join(_person, _person.c.id == _patrol.c.patroller_id))
        .join(_juris, _juris.c.id == _person.c.jurisdiction_id)
        .where(
            _patrol.c.kind.in_(QUOTA_KINDS),
            _patrol.c.started_at >= _midnight(first),
            _patrol.c.started_at < _midnight(end),
        )
        .group_by(_juris.c.path)
    ).all()
    rows = []
    for t in townships:
        standard = standards[max((p for p in standards if t.path.startswith(p)), key=len)]
        done = sum(n for path, n in patrols if path.startswith(t.path))
        patrollers = sum(1 for p in people if p.path.startswith(t.path))
        subsidy = done * standard.per_patrol_fen
        insurance = _round_half_up(Fraction(standard.insurance_fen_per_patroller_year * patrollers, 12))
        share = DISTRICT_SHARE[t.grade]
        district = _round_half_up(Fraction((subsidy + insurance) * share, 100))
        rows.append(
            FundingRow(
                t.code,
                t.name,
                standard.name,
                t.grade,
                done,
                patrollers,
                standard.per_patrol_fen,
                subsidy,
                insurance,
                share,
                district,
                subsidy + insurance - district,
            )
        )
    return rows


FUNDING_COLUMNS = (
    "乡镇代码",
    "乡镇（街道）",
    "补助标准单位",
    "类别",
    "巡河次数",
    "巡河人员",
    "每次补助（元）",
    "巡河补贴（元）",
    "意外保险（元）",
    "合计（元）",
    "区级补助比例",
    "区级承担（元）",
    "乡镇承担（元）",
)


def funding_sheet(rows: Sequence[FundingRow]) -> list[list[Any]]:
    """The finance office's table: a header, a row per township, and a total row; amounts as Decimal yuan."""

    def money(fen: int) -> Decimal:
        return Decimal(fen).scaleb(-2)

    sheet: list[list[Any]] = [list(FUNDING_COLUMNS)]
    for r in rows:
        sheet.append(
            [
                r.code,
                r.name,
                r.funder,
                GRADE_LABELS[r.grade],
                r.patrols,
                r.patrollers,
                money(r.per_patrol_fen),
                money(r.subsidy_fen),
                money(r.insurance_fen),
                money(r.total_fen),
                f"{r.district_percent}%",
                money(r.district_fen),
                money(r.township_fen),
            ]
        )
    sheet.append(
        [
            "",
            "合计",
            "",
            "",
            sum(r.patrols for r in rows),
            sum(r.patrollers for r in rows),
            "",
            money(sum(r.subsidy_fen for r in rows)),
            money(sum(r.insurance_fen for r in rows)),
            money(sum(r.total_fen for r in rows)),
            "",
            money(sum(r.district_fen for r in rows)),
            money(sum(r.township_fen for r in rows)),
        ]
    )
    return sheet
