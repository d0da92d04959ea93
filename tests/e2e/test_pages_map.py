"""The shared map page (一张图) as the server sends it: named layers, issues as links in their groups, a legend
that counts only the open issues as 未办结, and nothing from elsewhere unless a tile service is configured."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from shapely.geometry import Point, box, shape

from states.chart import OPEN_STATES
from tests.factories import RECEIVING_CODE, REPORTER, World, walk_to
from web.access import compacts_of
from web.api import create_api
from web.pages import LANG_COOKIE, _templates, watershed
from web.pages.offline import shell_version, worker_script
from web.pages.text import Text
from web.pages.watershed import MAP_WIDTH, TIANDITU_HOSTS, resolution
from workflow.accounts.signin import set_password
from workflow.core.drawing import DRAWN_COLUMNS, label_places
from workflow.core.models import MapFeature, Segment, table_of
from workflow.core.reference import load, parse_text
from workflow.maps.layers import import_layers, read_layers
from workflow.maps.shared import (
    CLOSED_RECENT,
    closed_span,
    frame_of_compacts,
    marked_issues,
    stored_features,
    stored_frame,
)

DEMO = Path(__file__).resolve().parents[2] / "riverchief" / "demo"
STATIC = Path(__file__).resolve().parents[2] / "web" / "static"
PASSWORD = "琼江清水长流-2026"
# Where the issues of the scenario stand: along the 琼江 between 太安 and 白马.
ALONG = [(105.676, 30.170), (105.690, 30.190), (105.700, 30.204), (105.712, 30.228), (105.722, 30.250)]


@dataclasses.dataclass(frozen=True)
class Scenario:
    """The issues on the map by what they should show as; the dismissed one is on no map."""

    overdue: str
    open: str
    closed: tuple[str, ...]
    dismissed: str


def map_world(world: World, *, every_closed_state: bool = True) -> Scenario:
    """Issues in each group: one overdue, one open, closed ones (销号, and with ``every_closed_state`` one under
    revisit and one archived too), and a dismissed one."""
    spots = iter(ALONG)

    def report(title: str) -> str:
        lon, lat = next(spots)
        return world.report(title=title, lon=lon, lat=lat)

    overdue = report("白马镇段排口污水直排")
    world.fire(overdue, "hand_off", REPORTER, receiving=RECEIVING_CODE)
    world.clock.advance(days=10)  # past the three working days to accept it
    closed = [report("太安镇段岸边垃圾堆放")]
    walk_to(world, closed[0], "close")
    if every_closed_state:
        closed.append(report("白马镇段养殖废水"))
        walk_to(world, closed[-1], "start_revisit")
        closed.append(report("琼江右岸排污口"))
        walk_to(world, closed[-1], "archive")
    fresh = report("岸边新发现排口")
    dismissed = world.report(title="误报", lon=105.70, lat=30.21)
    world.fire(dismissed, "dismiss", REPORTER, reason="现场核实不存在")
    return Scenario(overdue, fresh, tuple(closed), dismissed)


@contextmanager
def signed_in(world: World, person: str = REPORTER) -> Iterator[TestClient]:
    with TestClient(create_api(world.app)) as client:
        answer = client.post("/login", data={"person": person, "password": PASSWORD, "next": "/"})
        assert answer.status_code == 200
        yield client


@pytest.fixture
def layers(sqlite_world: World) -> World:
    """The world with the demo's map layers, its reporting chief with a password."""
    import_layers(sqlite_world.app.uow(), read_layers(DEMO, "qiongjiang"))
    set_password(sqlite_world.app.uow(), REPORTER, PASSWORD)
    return sqlite_world


@pytest.fixture
def client(layers: World) -> Iterator[TestClient]:
    with signed_in(layers) as signed:
        yield signed


@pytest.fixture
def scenario(layers: World) -> Scenario:
    # Built before anyone signs in: it moves the clock on by days.
    return map_world(layers)


def map_data(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="map-data">(.*?)</script>', html, re.DOTALL)
    assert found is not None
    return json.loads(found.group(1))


def layer(data: dict, key: str) -> list[dict]:
    return next(x["features"]["features"] for x in data["layers"] if x["key"] == key)


def legend(html: str) -> dict[str, int]:
    rows = re.findall(r'<li data-key="([a-z_]+)">.*?([0-9]+)</li>', html)
    return {key: int(n) for key, n in rows}


def test_the_map_names_jurisdictions_inside_them_and_rivers_and_segments_halfway_along(client: TestClient) -> None:
    page = client.get("/map")
    assert page.status_code == 200
    data = map_data(page.text)
    jurisdictions = {f["properties"]["name"]: f for f in layer(data, "jurisdiction")}
    assert {"潼南区", "安居区", "白马镇", "太安镇"} <= set(jurisdictions)
    for feature in jurisdictions.values():
        for lon, lat, side in feature["properties"]["places"]:
            assert shape(feature["geometry"]).contains(Point(lon, lat)), feature["properties"]["name"]
            assert side == "center"
    # Larger areas are named before the townships inside them.
    assert jurisdictions["潼南区"]["properties"]["rank"] < jurisdictions["白马镇"]["properties"]["rank"]
    for key, names in (("river", {"琼江", "磨溪河"}), ("segment", {"琼江白马镇段", "琼江太安镇段", "磨溪河别口镇段"})):
        lines = {f["properties"]["name"]: f for f in layer(data, key)}
        assert names <= set(lines)
        for feature in lines.values():
            line = shape(feature["geometry"])
            places = feature["properties"]["places"]
            # Halfway along first; other places along the line where the middle is crowded.
            along = [line.project(Point(lon, lat), normalized=True) for lon, lat, _ in places]
            assert along[0] == pytest.approx(0.5, abs=0.01)
            assert len(set(along)) > 1
            assert all(line.distance(Point(lon, lat)) < 1e-6 for lon, lat, _ in places)
            assert {side for _, _, side in places} <= {"above", "below", "right", "left"}
    # Outfalls and plants are named on hover, not on the map.
    assert all(f["properties"]["rank"] is None for f in layer(data, "outfall"))
    # The SVG drawn for a page without script is named too, each name once at most.
    names = [unescape(n) for n in re.findall(r'<text class="label [^"]*"[^>]*>([^<]+)</text>', page.text)]
    assert {"潼南区", "琼江"} <= set(names)
    assert any(n.endswith("段") for n in names)
    assert len(names) == len(set(names))


def test_every_issue_on_the_map_links_to_its_page_in_its_group(layers: World, scenario: Scenario) -> None:
    with signed_in(layers) as client:
        page = client.get("/map").text
    marks = map_data(page)["issues"]["features"]["features"]
    groups = {m["properties"]["href"]: m["properties"]["group"] for m in marks}
    expected = {scenario.overdue: "overdue", scenario.open: "open"} | dict.fromkeys(scenario.closed, "closed")
    assert groups == {f"/issues/{code}": group for code, group in expected.items()}
    for code, group in expected.items():
        # The SVG's markers are links too, coloured by the same group.
        assert re.search(rf'<a href="/issues/{code}">\s*<g class="issue {group}"', page)
    assert f"/issues/{scenario.dismissed}" not in page


def test_the_legend_counts_as_open_only_the_issues_not_closed(layers: World, scenario: Scenario) -> None:
    with signed_in(layers) as client:
        counts = legend(client.get("/map").text)
    with layers.app.reader() as uow:
        states = list(uow.connection.execute(sa.text("SELECT state FROM issue")).scalars())
    assert counts["open"] == sum(state in OPEN_STATES for state in states) == 2
    assert counts["overdue"] == 1
    assert counts["closed"] == len(scenario.closed)
    # 已销号 and 回头看中 are not terminal, yet not open either.
    assert {"du.closed", "du.revisiting", "archived"} <= set(states)


def test_without_a_tile_key_the_map_names_no_other_host(client: TestClient) -> None:
    page = client.get("/map")
    script = (STATIC / "map.js").read_text(encoding="utf-8")
    for text in (page.text, script):
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.IGNORECASE)
    assert map_data(page.text)["tiles"] is None
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' data: blob:;" in policy
    assert "tianditu" not in policy


def test_with_a_tile_key_the_map_offers_tianditu_and_the_policy_admits_its_tiles_only(layers: World) -> None:
    settings = layers.app.settings.model_copy(update={"tianditu_key": "k&ey"})
    tiled = World(dataclasses.replace(layers.app, settings=settings), layers.clock, layers.people)
    with signed_in(tiled) as client:
        page = client.get("/map")
        tiles = map_data(page.text)["tiles"]
        assert tiles["urls"][0].startswith("https://t{s}.tianditu.gov.cn/vec_w/wmts?")
        assert tiles["urls"][1].startswith("https://t{s}.tianditu.gov.cn/cva_w/wmts?")
        assert all(url.endswith("&tk=k%26ey") for url in tiles["urls"])
        directives = dict(d.split(" ", 1) for d in page.headers["content-security-policy"].split("; "))
        assert directives["img-src"].split() == ["'self'", "data:", "blob:", *TIANDITU_HOSTS]
        assert directives["script-src"] == "'self'"
        assert directives["default-src"] == "'self'"
        # Every other page keeps the policy that names no other host.
        assert "tianditu" not in client.get("/queue").headers["content-security-policy"]


def test_a_name_cannot_end_the_data_block(sqlite_world: World, client: TestClient) -> None:
    name = '潼南区</script><script>alert("x")</script>'
    with sqlite_world.app.uow() as uow:
        feature = table_of(MapFeature)
        uow.connection.execute(feature.update().where(feature.c.code == "500152").values(name=name))
        uow.commit()
    page = client.get("/map").text
    assert "<script>alert" not in page
    assert name in {f["properties"]["name"] for f in layer(map_data(page), "jurisdiction")}


def test_a_name_goes_inside_a_u_shaped_area_though_its_centroid_does_not() -> None:
    ring = [(0, 0), (3, 0), (3, 3), (2, 3), (2, 1), (1, 1), (1, 3), (0, 3), (0, 0)]
    area = shape({"type": "Polygon", "coordinates": [ring]})
    assert not area.contains(area.centroid)
    places = label_places({"type": "Polygon", "coordinates": [ring]})
    assert places
    for at, side in places:
        assert area.contains(Point(at))
        assert side == "center"
    assert label_places({"type": "Polygon", "coordinates": []}) == ()


def test_a_line_is_named_above_or_below_where_it_runs_across_and_beside_where_it_runs_up() -> None:
    across = label_places({"type": "LineString", "coordinates": [[105.0, 30.0], [105.2, 30.05], [105.4, 30.0]]})
    up = label_places({"type": "LineString", "coordinates": [[105.0, 30.0], [105.05, 30.2], [105.0, 30.4]]})
    assert across[:2] == (((105.2, 30.05), "above"), ((105.2, 30.05), "below"))
    assert up[:2] == (((105.05, 30.2), "right"), ((105.05, 30.2), "left"))


def test_the_service_worker_keeps_the_map_and_its_vendored_library_in_the_shell(tmp_path: Path) -> None:
    shell = json.loads(worker_script().decode().split("const SHELL = ", 1)[1].split(";", 1)[0])
    leaflet = "/static/vendor/leaflet/"
    assert {"/static/map.js", leaflet + "leaflet.js", leaflet + "leaflet.css", leaflet + "images/layers.png"} <= set(
        shell
    )
    assert leaflet + "LICENSE" not in shell
    # A vendored file changed is a new shell, as a file at the top is.
    (tmp_path / "sw.js").write_text('const VERSION = "__SHELL_VERSION__";')
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "lib.js").write_text("a")
    before = shell_version(tmp_path)
    (tmp_path / "vendor" / "lib.js").write_text("b")
    assert shell_version(tmp_path) != before


def test_a_map_near_a_place_draws_only_the_segments_that_come_near_it(sqlite_world: World) -> None:
    """An issue's small map reads what lies near it, segments known only from the reference data included,
    not every segment there is (a province has tens of thousands)."""
    with sqlite_world.app.reader() as uow:
        everything = {f.code for f in stored_features(uow.connection) if f.layer == "segment"}
        lines = dict(uow.connection.execute(sa.text("SELECT code, geometry FROM segment")).all())
        code, line = next((c, json.loads(g) if isinstance(g, str) else g) for c, g in lines.items() if g)
        lon, lat = line[0]
        near = {f.code for f in stored_features(uow.connection, (lon - 1e-4, lat - 1e-4, lon + 1e-4, lat + 1e-4))}
    assert len(everything) > 1
    assert code in near
    assert near < everything


# Another compact's river far from the 琼江 (in 湖北), with its course: on no map of the 琼江 compact.
HANJIANG = """
jurisdictions:
  - code: "420000"
    name: 湖北省
    level: province
    children:
      - {code: "420100", name: 武汉市, level: city}
      - {code: "420900", name: 孝感市, level: city}
people:
  - {code: hj-coord, name: 汉江协调人, role: coordinator}
compacts:
  - {code: HJ, name: 汉江协作, members: ["420100", "420900"], coordinators: [hj-coord]}
rivers:
  - code: hanjiang
    name: 汉江
    segments:
      - code: hj-wuhan
        name: 汉江武汉段
        jurisdiction: "420100"
        geometry: [[114.20, 30.55], [114.25, 30.58], [114.30, 30.60]]
"""


def test_the_map_frames_the_viewers_compact_and_leaves_out_a_segment_far_from_it(layers: World) -> None:
    load(layers.app.uow(), parse_text(HANJIANG, "yaml"))
    with signed_in(layers) as client:
        page = client.get("/map").text
    data = map_data(page)
    drawn = {f["properties"]["name"]: f["geometry"] for f in layer(data, "segment")}
    assert {"琼江白马镇段", "琼江太安镇段", "磨溪河别口镇段"} <= set(drawn)
    assert "汉江武汉段" not in drawn
    assert "汉江武汉段" not in page  # nor in the SVG drawn for a page without script
    # The frame Leaflet first shows holds every line of the compact, and nothing near 湖北.
    (south, west), (north, east) = data["frame"]
    with layers.app.reader() as uow:
        lines = dict(uow.connection.execute(sa.select(table_of(Segment).c.name, table_of(Segment).c.geometry)).all())
    for name, geometry in drawn.items():
        stored = shape({"type": "LineString", "coordinates": lines[name]})
        assert box(west, south, east, north).covers(stored), name
        # Simplified to half a pixel of the 720-wide drawing: never farther than that from the stored course.
        assert shape(geometry).hausdorff_distance(stored) <= resolution((west, south, east, north), MAP_WIDTH) + 1e-9
        assert len(geometry["coordinates"]) <= len(lines[name])
    assert east < 110


def test_a_map_near_a_place_reads_only_the_segments_whose_box_meets_it(sqlite_world: World) -> None:
    """The frame is in the statement (the segment's box against it), not a filter over every line read."""
    load(sqlite_world.app.uow(), parse_text(HANJIANG, "yaml"))
    frame = (105.65, 30.15, 105.75, 30.28)  # around the 白马 segment
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if re.search(r"\bFROM segment\b", statement):
            sent.append((statement, parameters))

    engine = sqlite_world.app.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with sqlite_world.app.reader() as uow:
            features = stored_features(uow.connection, frame)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    [(statement, parameters)] = sent
    with engine.connect() as conn:
        read = {row.code for row in conn.exec_driver_sql(statement, parameters)}
        everything = dict(conn.execute(sa.select(table_of(Segment).c.code, table_of(Segment).c.geometry)).all())
    west, south, east, north = frame
    meeting = {
        code
        for code, line in everything.items()
        if line and shape({"type": "LineString", "coordinates": line}).intersects(box(west, south, east, north))
    }
    assert meeting <= read < {code for code, line in everything.items() if line}
    assert "hj-wuhan" not in read
    assert {f.code for f in features if f.layer == "segment"} == read  # no map layer imported: all from the rows


def marked(page: str) -> set[str]:
    """The issues a page marks, in map.js's data and in the SVG alike."""
    data = {m["properties"]["href"] for m in map_data(page)["issues"]["features"]["features"]}
    assert data == set(re.findall(r'<a href="(/issues/[^"]+)">\s*<g class="issue ', page))
    return data


def test_a_closed_issue_shows_while_recent_and_then_only_in_its_year_an_open_one_always(layers: World) -> None:
    spots = iter(ALONG)
    old_open = layers.report(title="岸边旧排口", lon=next(spots)[0], lat=30.17)
    old_closed = layers.report(title="太安镇段岸边垃圾堆放", lon=next(spots)[0], lat=30.19)
    walk_to(layers, old_closed, "close")
    with layers.app.reader() as uow:
        closed_at = uow.connection.execute(sa.text("SELECT closed_at FROM issue WHERE code = :c"), {"c": old_closed})
        year = str(closed_at.scalar_one())[:4]
    with signed_in(layers) as client:
        recent = client.get("/map").text
    assert {f"/issues/{old_open}", f"/issues/{old_closed}"} <= marked(recent)
    layers.clock.advance(days=800)  # more than two years on: the closure is no longer recent
    with signed_in(layers) as client:
        now = client.get("/map")
        in_its_year = client.get("/map", params={"closed": year}).text
        without = client.get("/map", params={"closed": "none"}).text
        other_year = client.get("/map", params={"closed": str(int(year) + 1)}).text
    assert now.status_code == 200
    assert marked(now.text) == {f"/issues/{old_open}"}
    assert legend(now.text)["open"] == 1
    assert legend(now.text)["closed"] == 0
    # The page offers the closure's year (without script: a form that sends it), the last twelve months chosen.
    assert re.search(r'<option value="recent" selected>', now.text)
    assert f'<option value="{year}">' in now.text
    assert marked(in_its_year) == {f"/issues/{old_open}", f"/issues/{old_closed}"}
    assert legend(in_its_year)["closed"] == 1
    assert f'<option value="{year}" selected>' in in_its_year
    assert f"{year}年销号" in map_data(in_its_year)["issues"]["groups"]["closed"]
    assert marked(without) == marked(other_year) == {f"/issues/{old_open}"}


def test_a_period_not_on_the_list_is_refused_by_name_and_the_recent_one_shown(layers: World) -> None:
    scenario = map_world(layers)
    with signed_in(layers) as client:
        for bad in ("1899", "last-week", "2x"):
            page = client.get("/map", params={"closed": bad})
            assert page.status_code == 422
            assert "显示的已销号问题" in unescape(re.search(r'data-testid="flash">([^<]*)', page.text).group(1))
            assert len(marked(page.text)) == 2 + len(scenario.closed)
        client.cookies.set(LANG_COOKIE, "en")
        english = client.get("/map", params={"closed": "recent"}).text
    assert "Closed in the last 12 months" in english
    assert "销号" not in english


def test_the_pages_draw_the_same_maps_from_the_stored_drawings_as_worked_out_on_the_fly(
    layers: World, scenario: Scenario
) -> None:
    """The map page, an issue's small map and the report form's map, drawn from what the layer import and the
    reference loader stored, and again once every stored drawing is gone (a row written before them)."""
    pages = ["/map", f"/issues/{scenario.open}", "/report"]

    def drawn() -> dict[str, str]:
        with signed_in(layers) as client:
            answers = {path: client.get(path) for path in pages}
        assert all(a.status_code == 200 for a in answers.values())
        return {path: a.text for path, a in answers.items()}

    def svgs(html: str) -> list[str]:
        return re.findall(r"<svg\b.*?</svg>", html, re.DOTALL)

    stored = drawn()
    with layers.app.uow() as uow:
        for table in (table_of(MapFeature), table_of(Segment)):
            assert uow.connection.execute(sa.select(sa.func.count()).where(table.c.drawn_z12.is_not(None))).scalar()
            uow.connection.execute(sa.update(table).values(dict.fromkeys(DRAWN_COLUMNS)))
        uow.commit()
    worked_out = drawn()
    for path in pages:
        assert svgs(stored[path]), path
        assert svgs(stored[path]) == svgs(worked_out[path]), path
    assert '<text class="label' in svgs(stored["/map"])[0]
    assert map_data(stored["/map"]) == map_data(worked_out["/map"])


def svg_of(html: str) -> str:
    """The page's SVG map, the white space between its elements left out."""
    found = re.search(r"<svg\b.*?</svg>", html, re.DOTALL)
    assert found is not None
    return re.sub(r">\s+<", "><", found.group(0)).strip()


def test_a_second_request_is_the_same_page_from_the_kept_base_and_the_same_as_drawn_afresh(
    layers: World, scenario: Scenario
) -> None:
    """The kept base gives what the template's ``svg_map`` draws of the map drawn afresh (``svg_drawing``,
    ``map_data``): every shape, name and marker, escaped alike."""
    with signed_in(layers) as client:
        first = client.get("/map")
        kept = {id(base) for base in watershed.BASES._kept.values()}
        over = {id(svg) for base in watershed.BASES._kept.values() if base for svg in base.drawn.values()}
        second = client.get("/map")
        assert {id(base) for base in watershed.BASES._kept.values()} == kept  # drawn once, then read
        # and so are the issues' markers and the names around them, for the same marks
        assert {id(svg) for base in watershed.BASES._kept.values() if base for svg in base.drawn.values()} == over
    assert first.status_code == second.status_code == 200
    assert svg_of(first.text) == svg_of(second.text)
    assert map_data(first.text) == map_data(second.text)
    t = Text("zh")
    now = layers.clock.now()
    with layers.app.reader() as uow:
        compacts = compacts_of(layers.actor(REPORTER))
        issues = marked_issues(uow.connection, compacts, now, closed_span(CLOSED_RECENT, now))
        frame = frame_of_compacts(uow.connection, compacts, issues)
        assert frame is not None
        features = stored_features(uow.connection, frame, resolution(frame, MAP_WIDTH))
    marks = watershed.marks_of(issues, t)
    afresh = _templates.env.from_string('{% from "_map.html" import svg_map %}{{ svg_map(drawing, label) }}').render(
        drawing=watershed.svg_drawing(features, marks, frame), label=t("map_title")
    )
    assert svg_of(afresh) == svg_of(first.text)
    assert '<text class="label' in afresh
    assert 'class="issue overdue"' in afresh
    words = t("map_closed_recent")
    assert map_data(first.text) == json.loads(json.dumps(watershed.map_data(features, marks, t, None, frame, words)))


def test_an_issues_small_map_is_drawn_once_until_a_row_in_its_frame_is_written_again(
    layers: World, scenario: Scenario
) -> None:
    path = f"/issues/{scenario.open}"
    with signed_in(layers) as client:
        first = client.get(path).text
        kept = {key: id(drawing) for key, drawing in watershed.NEIGHBOURHOODS._kept.items()}
        assert client.get(path).text == first
        assert {key: id(drawing) for key, drawing in watershed.NEIGHBOURHOODS._kept.items()} == kept  # read again
        with layers.app.uow() as uow:  # a river in the frame renamed, as an import would
            renamed = uow.connection.execute(
                sa.update(table_of(MapFeature))
                .where(table_of(MapFeature).c.layer == "river")
                .values(name=table_of(MapFeature).c.name + "<改>")
            ).rowcount
            uow.commit()
        assert renamed
        again = client.get(path).text
    assert len(watershed.NEIGHBOURHOODS._kept.keys() - kept.keys()) == 1  # drawn anew, under a key of its own
    assert svg_of(again) != svg_of(first)
    assert "&lt;改&gt;</title>" in svg_of(again)


def test_after_an_import_renames_a_river_and_moves_its_line_the_map_shows_the_change_escaped(
    layers: World, scenario: Scenario
) -> None:
    def river(page: str) -> dict[str, Any]:
        return next(f for f in layer(map_data(page), "river") if f["properties"]["name"].startswith("琼江"))

    with signed_in(layers) as client:
        before = client.get("/map").text
        document = read_layers(DEMO, "qiongjiang")["river"]
        qiongjiang = next(f for f in document["features"] if f["properties"]["code"] == "qiongjiang")
        qiongjiang["properties"]["name"] = "琼江<b>新</b>"
        line = qiongjiang["geometry"]["coordinates"]
        line[len(line) // 2] = [line[len(line) // 2][0] + 0.01, line[len(line) // 2][1] - 0.01]
        import_layers(layers.app.uow(), {"river": document})
        after = client.get("/map").text
    assert river(before)["properties"]["name"] == "琼江"
    assert river(after)["properties"]["name"] == "琼江<b>新</b>"
    assert river(after)["geometry"] != river(before)["geometry"]
    assert "琼江&lt;b&gt;新&lt;/b&gt;" in svg_of(after)
    assert "<b>" not in after
    assert svg_of(after) != svg_of(before)


def test_two_viewers_of_different_compacts_never_see_each_others_map(layers: World) -> None:
    load(layers.app.uow(), parse_text(HANJIANG, "yaml"))
    set_password(layers.app.uow(), "hj-coord", PASSWORD)
    pages = {}
    for person in (REPORTER, "hj-coord", REPORTER, "hj-coord"):
        with signed_in(layers, person) as client:
            pages.setdefault(person, []).append(client.get("/map").text)
    qiongjiang, hanjiang = pages[REPORTER], pages["hj-coord"]
    assert "汉江武汉段" not in qiongjiang[1]
    assert "琼江白马镇段" in svg_of(qiongjiang[1])
    assert "琼江白马镇段" not in hanjiang[1]
    assert "汉江武汉段" in svg_of(hanjiang[1])
    assert svg_of(qiongjiang[0]) == svg_of(qiongjiang[1])
    assert svg_of(hanjiang[0]) == svg_of(hanjiang[1])


def test_the_kept_maps_and_their_names_placings_stay_few(layers: World) -> None:
    bases = watershed.Bases(size=2)
    with layers.app.reader() as uow:
        frames = [(105.6 + i / 100, 30.1, 105.8 + i / 100, 30.3) for i in range(4)]
        drawn = [bases.get(stored_frame(uow.connection, f, resolution(f, MAP_WIDTH)), f) for f in frames]
    assert len(bases) == 2
    base = drawn[-1]
    assert base is not None
    for i in range(watershed.Bases.PLACED + 3):
        bases.names(base, [(10.0 * i, 10.0)])
    assert len(base.placed) == watershed.Bases.PLACED
    # A base kept is the one drawn: the same rows in the same frame are read again, not drawn again.
    with layers.app.reader() as uow:
        again = bases.get(stored_frame(uow.connection, frames[-1], resolution(frames[-1], MAP_WIDTH)), frames[-1])
    assert again is base
