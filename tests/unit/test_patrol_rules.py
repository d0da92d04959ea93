"""The patrol rules that need no database: quotas per month, track length and times, money in fen."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from workflow.core.errors import ValidationFailed
from workflow.patrols.basics import EARTH_RADIUS_M, KINDS, LEVELS, kind_label, level_label, percent
from workflow.patrols.funding import parse_yuan, yuan
from workflow.patrols.quotas import Quota
from workflow.patrols.tracks import haversine_m, parse_track

# One degree of latitude along a meridian on the sphere the lengths use.
DEGREE_M = EARTH_RADIUS_M * math.pi / 180
T0 = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def gpx(
    *segments: Sequence[tuple[float, float, datetime | None]], namespace: str = "http://www.topografix.com/GPX/1/1"
) -> bytes:
    """A GPX document with one track of the given segments of (lon, lat, time)."""
    body = ""
    for points in segments:
        body += "<trkseg>"
        for lon, lat, at in points:
            stamp = f"<time>{at.strftime('%Y-%m-%dT%H:%M:%SZ')}</time>" if at else ""
            body += f'<trkpt lat="{lat}" lon="{lon}"><ele>250</ele>{stamp}</trkpt>'
        body += "</trkseg>"
    return (
        f'<?xml version="1.0"?><gpx version="1.1" creator="test" xmlns="{namespace}"><trk>{body}</trk></gpx>'.encode()
    )


def meridian(n: int, step: float = 0.01, lon: float = 105.6) -> list[tuple[float, float, datetime | None]]:
    """n points northward along a meridian, ``step`` degrees and ten minutes apart."""
    return [(lon, 30.0 + i * step, T0 + timedelta(minutes=10 * i)) for i in range(n)]


# -- quotas ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quota", "month", "required", "label", "first"),
    [
        # A week is 7 of the month's days, rounded half up: once a week is 4 in any month.
        (Quota("village", 1, "week"), (2026, 2), 4, "2026-02", date(2026, 2, 1)),
        (Quota("village", 1, "week"), (2026, 3), 4, "2026-03", date(2026, 3, 1)),
        (Quota("village", 2, "week"), (2026, 3), 9, "2026-03", date(2026, 3, 1)),  # 62/7 = 8.86
        (Quota("village", 2, "week"), (2026, 2), 8, "2026-02", date(2026, 2, 1)),  # 56/7
        (Quota("township", 1, "tenday"), (2026, 2), 3, "2026-02", date(2026, 2, 1)),
        (Quota("district", 2, "month"), (2026, 3), 2, "2026-03", date(2026, 3, 1)),
        # A quarter is assessed in its last month over the whole quarter, and not before.
        (Quota("city", 1, "quarter"), (2026, 2), 0, "2026-02", date(2026, 2, 1)),
        (Quota("city", 1, "quarter"), (2026, 3), 1, "2026-Q1", date(2026, 1, 1)),
        (Quota("city", 1, "quarter"), (2026, 12), 1, "2026-Q4", date(2026, 10, 1)),
        (Quota("province", 2, "year"), (2026, 11), 0, "2026-11", date(2026, 11, 1)),
        (Quota("province", 2, "year"), (2026, 12), 2, "2026", date(2026, 1, 1)),
    ],
)
def test_a_quota_becomes_a_months_assessment(
    quota: Quota, month: tuple[int, int], required: int, label: str, first: date
) -> None:
    window = quota.window(*month)
    assert (window.required, window.label, window.first) == (required, label, first)
    year, number = month
    assert window.end == (date(year + 1, 1, 1) if number == 12 else date(year, number + 1, 1))


def test_a_rate_may_exceed_a_hundred_percent_and_reads_as_people_write_it() -> None:
    assert percent(Fraction(32, 25)) == "128%"
    assert percent(Fraction(1, 3)) == "33%"
    assert percent(Fraction(2, 3)) == "67%"
    assert percent(None) == "—"


# -- tracks ----------------------------------------------------------------------------------------


def test_a_degree_along_a_meridian_is_its_arc_on_the_sphere() -> None:
    assert haversine_m((105.6, 30.0), (105.6, 31.0)) == pytest.approx(DEGREE_M, abs=0.01)
    # along a parallel the arc shrinks with the cosine of the latitude (short steps: nearly the chord)
    assert haversine_m((105.0, 60.0), (105.001, 60.0)) == pytest.approx(DEGREE_M * 0.001 * 0.5, rel=1e-6)


def test_a_gpx_track_gives_its_length_and_first_and_last_time() -> None:
    track = parse_track(gpx(meridian(5)), "river.gpx")
    assert track.points == 5
    assert track.length_m == pytest.approx(4 * 0.01 * DEGREE_M, rel=1e-9)
    assert (track.started_at, track.ended_at) == (T0, T0 + timedelta(minutes=40))
    assert track.geojson() == {"type": "LineString", "coordinates": [[105.6, 30.0 + i * 0.01] for i in range(5)]}


def test_the_gap_between_two_gpx_segments_is_not_walked() -> None:
    north = [(105.6, 31.0 + i * 0.01, T0 + timedelta(hours=2, minutes=i)) for i in range(3)]
    track = parse_track(gpx(meridian(3), north, namespace="http://www.topografix.com/GPX/1/0"), "two.gpx")
    assert track.length_m == pytest.approx(4 * 0.01 * DEGREE_M, rel=1e-9)
    assert track.geojson()["type"] == "MultiLineString"
    assert track.ended_at == T0 + timedelta(hours=2, minutes=2)


def test_a_gpx_route_is_read_when_there_is_no_track() -> None:
    content = (
        b'<gpx xmlns="http://www.topografix.com/GPX/1/1"><rte>'
        b'<rtept lat="30.0" lon="105.6"/><rtept lat="30.1" lon="105.6"/></rte></gpx>'
    )
    track = parse_track(content, "route.gpx")
    assert track.length_m == pytest.approx(0.1 * DEGREE_M, rel=1e-9)
    assert track.started_at is None


def test_a_geojson_feature_with_coord_times_gives_the_same_as_the_gpx() -> None:
    points = meridian(5)
    feature = {
        "type": "Feature",
        "properties": {"coordTimes": [at.isoformat() for _, _, at in points if at]},
        "geometry": {"type": "LineString", "coordinates": [[lon, lat, 250] for lon, lat, _ in points]},
    }
    track = parse_track(json.dumps(feature).encode(), "river.geojson")
    from_gpx = parse_track(gpx(points), "river.gpx")
    assert track.length_m == pytest.approx(from_gpx.length_m, rel=1e-12)
    assert (track.started_at, track.ended_at) == (from_gpx.started_at, from_gpx.ended_at)


def test_a_geojson_multilinestring_in_a_collection_sums_its_runs() -> None:
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "outfall"},
                "geometry": {"type": "Point", "coordinates": [1, 2]},
            },
            {
                "type": "Feature",
                "properties": {},
                "geometry": {
                    "type": "MultiLineString",
                    "coordinates": [[[105.6, 30.0], [105.6, 30.02]], [[105.7, 30.0], [105.7, 30.01]]],
                },
            },
        ],
    }
    track = parse_track(json.dumps(collection).encode(), "runs.json")
    assert track.length_m == pytest.approx(0.03 * DEGREE_M, rel=1e-9)
    assert track.points == 4


@pytest.mark.parametrize(
    ("content", "name", "reason"),
    [
        (b"<gpx><trk><trkseg><trkpt lat='30' lon='105'>", "cut.gpx", "not well-formed GPX"),
        (b"<kml xmlns='http://www.opengis.net/kml/2.2'/>", "a.gpx", "not GPX (its root is <kml>)"),
        (
            b'<!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<gpx><trk><trkseg><trkpt lat="30" lon="105"><name>&b;</name></trkpt></trkseg></trk></gpx>',
            "bomb.gpx",
            "not well-formed GPX",
        ),
        (gpx([(105.6, 30.0, T0), (105.6, 130.0, T0)]), "far.gpx", "far.gpx point 2: lon 105.6, lat 130.0"),
        (gpx([(105.6, 30.0, T0)]), "one.gpx", "fewer than 2 track points"),
        (
            gpx([(105.6, 30.0, T0), (105.6, 30.1, T0 - timedelta(minutes=1))]),
            "back.gpx",
            "point 2 is timed before the point ahead of it",
        ),
        # [lat, lon] instead of [lon, lat]: the latitude comes out beyond 90
        (b'{"type": "LineString", "coordinates": [[30.0, 105.6], [30.1, 105.6]]}', "swapped.geojson", "lat 105.6"),
        (
            b'{"type": "LineString", "crs": {"type": "name", "properties": {"name": "EPSG:3857"}},'
            b' "coordinates": [[1, 2], [3, 4]]}',
            "mercator.geojson",
            "in CRS EPSG:3857",
        ),
        (
            b'{"type": "Feature", "properties": {"coordTimes": ["2026-03-05T01:00:00Z"]},'
            b' "geometry": {"type": "LineString", "coordinates": [[105.6, 30], [105.6, 30.1]]}}',
            "times.geojson",
            "1 times for 2 positions",
        ),
        (b'{"type": "Point", "coordinates": [105.6, 30]}', "point.geojson", "holds no LineString"),
        (b'{"type": "Polyline"}', "bad.geojson", "'Polyline' is not a GeoJSON type"),
        (b"not json", "x.geojson", "is not GeoJSON"),
        (b"PK\x03\x04", "track.kmz", "neither GPX nor GeoJSON"),
    ],
)
def test_a_bad_track_is_refused_naming_the_file_and_the_reason(content: bytes, name: str, reason: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_track(content, name)
    assert refused.value.field == "track"
    assert reason in refused.value.reason


# -- money -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fen"), [("15", 1500), ("15.5", 1550), ("15.50", 1550), ("0.01", 1), ("1,030,000", 103_000_000)]
)
def test_yuan_are_read_into_whole_fen(text: str, fen: int) -> None:
    assert parse_yuan(text, "per_patrol") == fen


@pytest.mark.parametrize(("text", "reason"), [("1.234", "more than two decimals"), ("-1", "zero or more"), ("abc", "")])
def test_an_amount_that_is_not_whole_fen_is_refused_by_name(text: str, reason: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_yuan(text, "insurance")
    assert refused.value.field == "insurance"
    assert reason in refused.value.reason


def test_fen_read_back_as_yuan() -> None:
    assert [yuan(f) for f in (0, 1, 150, 712, 103_000_000)] == ["0.00", "0.01", "1.50", "7.12", "1030000.00"]


@pytest.mark.parametrize(
    ("count", "per", "zh", "en"),
    [
        (1, "tenday", "每旬不少于1次", "at least 1 patrol every ten days"),
        (2, "year", "每年不少于2次", "at least 2 patrols a year"),
        (1, "quarter", "每季度不少于1次", "at least 1 patrol a quarter"),
        (4, "month", "每月不少于4次", "at least 4 patrols a month"),
    ],
)
def test_a_quota_is_said_in_each_language_from_the_catalogue(count: int, per: str, zh: str, en: str) -> None:
    quota = Quota("village", count, per)
    assert quota.describe() == zh
    assert quota.describe(en=True) == en


def test_patrol_kinds_and_chief_levels_are_worded_by_the_catalogue_and_unknown_codes_kept() -> None:
    assert [kind_label(k) for k in KINDS] == ["日常巡河", "交叉互巡", "暗访巡查"]
    assert kind_label("swap", en=True) == "swap patrol"
    assert [level_label(level) for level in LEVELS] == ["村级", "乡镇级", "区县级", "市级", "省级"]
    assert level_label("village", en=True) == "village"
    # A code no longer listed is shown as stored rather than failing a page or a listing.
    assert kind_label("drone") == "drone"
    assert level_label("county") == "county"
