"""The shared map page (一张图, ``/map``) and the stored layers the other pages' small maps draw.

``/map`` is drawn twice from the same data: as an SVG on the server, with names and issue links (what a
page without script, a print and a phone without script see), and by ``web/static/map.js`` with the
vendored Leaflet from the GeoJSON in a ``<script type="application/json">`` block, which it replaces the
SVG with: zoom and pan, names that make way for each other, layers to switch. No tile is fetched unless a
天地图 key is configured; then its vector map and annotation are offered as the base map, and that page's
policy admits the tile servers' images, nothing more.

What both draw of the stored layers is the same for every request until a feature or segment in the frame is
written again, so it is drawn once per process and kept (``Bases``, by a digest of the rows as read: an
import, a reference load or a migration that rewrites one changes it); a request draws only its issues.

(No postponed annotations here: FastAPI reads the route signatures at run time.)
"""

import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Annotated, Any, NamedTuple, TypeVar
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup, escape

from states.chart import CHART
from web.access import Access, compacts_of
from web.pages.deps import Viewer
from web.pages.maps import (
    Label,
    MapDrawing,
    Projection,
    Shape,
    Spot,
    draw,
    label_svg,
    placed,
    projected,
    projection,
    shape_svg,
    shapes_of_geojson,
    spots,
)
from web.pages.text import Text
from web.security import page_policy
from workflow.core.calendar import local_today
from workflow.core.uow import UnitOfWork
from workflow.maps.shared import (
    CLOSED_NONE,
    CLOSED_RECENT,
    ISSUE_GROUPS,
    LAYER_ORDER,
    Box,
    Feature,
    MarkedIssue,
    StoredFrame,
    closed_span,
    earliest_closure,
    frame_of_compacts,
    marked_issues,
    stored_features,
    stored_frame,
)

MAP_LAYERS = LAYER_ORDER
K = TypeVar("K")
V = TypeVar("V")
MAP_WIDTH = 720  # the SVG's width, in its units (pixels at 100%)
# How each layer is drawn: CSS classes shared by the SVG and the Leaflet paths (web/static/app.css).
MAP_CSS = {
    "jurisdiction": "jurisdiction",
    "catchment": "catchment",
    "sensitive": "sensitive",
    "river": "river",
    "segment": "segment",
    "sewage_plant": "poi plant",
    "outfall": "poi",
}
# Which names are written on the map, and which first when they would cover each other: the rivers, the
# larger jurisdictions, the segments, then the townships and villages. Other layers are named on hover.
_JURISDICTION_RANK = {"province": 1, "city": 1, "district": 1, "township": 3, "village": 4}
_LABEL_RANK = {"river": 0, "segment": 2}
# Font sizes of the SVG's names, by rank (the Leaflet map's are in app.css).
_LABEL_SIZE = {0: 14.0, 1: 15.0, 2: 11.5, 3: 12.0, 4: 11.0}

TIANDITU_SUBDOMAINS = "01234567"
TIANDITU_HOSTS = tuple(f"https://t{s}.tianditu.gov.cn" for s in TIANDITU_SUBDOMAINS)
_TIANDITU_URL = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER={layer}"
    "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)


def label_rank(feature: Feature) -> int | None:
    """The order in which a feature's name is placed (smaller first), or None when it is not written."""
    if feature.layer == "jurisdiction":
        return _JURISDICTION_RANK.get(feature.level or "", 1)
    return _LABEL_RANK.get(feature.layer)


def resolution(frame: Box, pixels: int) -> float:
    """Half a pixel, in degrees, of a drawing of ``frame`` ``pixels`` wide: the tolerance its lines are
    simplified to (a finer course would not show), read as stored at the zoom at or finer than it."""
    west, south, east, north = frame
    across = (east - west) * math.cos(math.radians((south + north) / 2))
    return max(across, north - south) / pixels / 2


def frame_shape(frame: Box) -> Shape:
    """A frame as a shape for ``draw``'s ``frame``: what the drawing fits, the rest clipped around it."""
    west, south, east, north = frame
    return Shape("polygon", [[(west, south), (east, south), (east, north), (west, north)]], "frame")


def map_shapes(conn: sa.Connection, near: Box | None = None, pixels: int = 0) -> tuple[list[Shape], dict[str, int]]:
    """The stored layers as shapes to draw, bottom to top, and how many features each layer has; with a frame
    (``near``) and the drawing's width (``pixels``), only what meets the frame, simplified to half a pixel."""
    tolerance = resolution(near, pixels) if near is not None and pixels else 0.0
    return _layer_shapes(stored_features(conn, near, tolerance, named=False))  # these small maps write no names


def _layer_shapes(features: Sequence[Feature]) -> tuple[list[Shape], dict[str, int]]:
    """The features as shapes to draw, bottom to top, and how many features each layer has."""
    shapes: list[Shape] = []
    counts: dict[str, int] = {}
    for f in features:
        shapes += shapes_of_geojson(f.geometry, MAP_CSS[f.layer], f.name)
        counts[f.layer] = counts.get(f.layer, 0) + 1
    return shapes, counts


class Drawn:
    """Small maps drawn lately in this process, by what they were drawn of: the same key, the same drawing
    (never changed once made), whoever asks for it. The least lately used is let go past ``size``."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[Any, ...], MapDrawing | None] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, key: tuple[Any, ...], make: Callable[[], MapDrawing | None]) -> MapDrawing | None:
        """The drawing kept under ``key``, or ``make``'s, then kept."""
        return _kept(self._kept, self._lock, key, self.size, make)


def _kept(kept: OrderedDict[K, V], lock: threading.Lock, key: K, size: int, make: Callable[[], V]) -> V:
    """``kept[key]`` (now the most lately used), or else ``make()``, kept under ``key`` with the least lately used
    let go past ``size``. ``make`` runs outside the lock: two requests may both make the same thing once."""
    with lock:
        if key in kept:
            kept.move_to_end(key)
            return kept[key]
    made = make()
    with lock:
        kept[key] = made
        while len(kept) > size:
            kept.popitem(last=False)
    return made


NEIGHBOURHOODS = Drawn()


def neighbourhood(conn: sa.Connection, focus: Sequence[Shape], near: Box, pixels: int) -> MapDrawing | None:
    """An issue's small map: the stored areas and lines meeting ``near`` drawn under ``focus`` (its segment and
    place), fitted to the focus and clipped around it, ``pixels`` wide.

    Kept by the digest of the rows read and the focus: a page shown again (as after each step) with nothing
    written in its frame is not decoded and drawn again; any row written there, or a focus moved, draws anew.
    """
    stored = stored_frame(conn, near, resolution(near, pixels), named=False)  # these small maps write no names

    def make() -> MapDrawing | None:
        around, _ = _layer_shapes(stored.features())
        return draw([*(s for s in around if s.kind != "point"), *focus], width=pixels, frame=focus, margin=0.25)

    return NEIGHBOURHOODS.get((stored.digest(), near, pixels, repr(focus)), make)


def tianditu(key: str | None, t: Text) -> dict[str, Any] | None:
    """The 天地图 base map for Leaflet (vector map and its annotation, Web Mercator), when a key is set."""
    if not key:
        return None
    return {
        "name": t("map_base_tianditu"),
        "urls": [_TIANDITU_URL.format(layer=layer, key=quote(key, safe="")) for layer in ("vec", "cva")],
        "subdomains": TIANDITU_SUBDOMAINS,
        "attribution": t("map_tianditu_attribution"),
    }


class Mark(NamedTuple):
    """An issue as the map marks it: where, in which group, its words and the link to its page (made once, for
    both the SVG and map.js)."""

    issue: MarkedIssue
    text: str
    href: str


def marks_of(issues: Sequence[MarkedIssue], t: Text) -> list[Mark]:
    """The issues' marks, each state's words looked up once."""
    states: dict[str, str] = {}
    marks = []
    for i in issues:
        if i.state not in states:
            found = CHART.state(i.state)
            states[i.state] = found.label_zh if t.zh else found.label_en
        text = t("map_issue", code=i.code, title=i.title, state=states[i.state])
        marks.append(Mark(i, text, f"/issues/{quote(i.code)}"))
    return marks


def closed_choices(t: Text, this_year: int, earliest: int | None) -> list[tuple[str, str]]:
    """What the closed layer may show (value, words): the last twelve months, each year from this one back to
    the first closure's, or none."""
    first = min(earliest, this_year) if earliest is not None else this_year
    years = [(str(y), t("map_closed_year", year=y)) for y in range(this_year, first - 1, -1)]
    return [(CLOSED_RECENT, t("map_closed_recent")), *years, (CLOSED_NONE, t("map_closed_none"))]


def map_data(
    features: Sequence[Feature],
    marks: Sequence[Mark],
    t: Text,
    tiles: dict[str, Any] | None,
    frame: Box | None = None,
    closed_words: str = "",
) -> dict[str, Any]:
    """What map.js draws: each layer as a GeoJSON FeatureCollection with its name, the issues (the closed group
    named as the legend names it), the words, and the frame it first shows ([[south, west], [north, east]], as
    the SVG's; None: all it draws). Made afresh, as ``/map`` makes it from a kept base (``page_data``)."""
    layers = [{**layer, "name": t("layer_" + layer["key"])} for layer in _layers(features)]
    return {"layers": layers, **_marks_data(marks, t, tiles, frame, closed_words)}


def _layers(features: Sequence[Feature]) -> list[dict[str, Any]]:
    """Each layer map.js draws, without its name (the page's words)."""
    layers = []
    for layer in MAP_LAYERS:
        members = [f for f in features if f.layer == layer]
        if not members:
            continue
        collection = [
            {
                "type": "Feature",
                "geometry": f.geometry,
                "properties": {
                    "name": f.name,
                    "places": [[at[0], at[1], side] for at, side in f.places],
                    "rank": label_rank(f),
                },
            }
            for f in members
        ]
        layers.append(
            {"key": layer, "css": MAP_CSS[layer], "features": {"type": "FeatureCollection", "features": collection}}
        )
    return layers


def _marks_data(
    marks: Sequence[Mark], t: Text, tiles: dict[str, Any] | None, frame: Box | None, closed_words: str
) -> dict[str, Any]:
    """What map.js draws besides the stored layers: the issues, the tiles, the frame, the words."""
    points = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [m.issue.lon, m.issue.lat]},
            "properties": {"href": m.href, "text": m.text, "group": m.issue.group},
        }
        for m in marks
    ]
    return {
        "issues": {
            "groups": {"open": t("open_issues"), "closed": closed_words or t("map_closed")},
            "features": {"type": "FeatureCollection", "features": points},
        },
        "tiles": tiles,
        "frame": [[frame[1], frame[0]], [frame[3], frame[2]]] if frame is not None else None,
        "words": {"zoom_in": t("map_zoom_in"), "zoom_out": t("map_zoom_out"), "plain": t("map_base_plain")},
    }


def svg_drawing(features: Sequence[Feature], marks: Sequence[Mark], frame: Box | None = None) -> MapDrawing | None:
    """The map as an SVG: every layer, the names that fit without covering each other, issues as links; fitted
    to ``frame`` when given (what reaches beyond it is clipped), else to everything drawn. Drawn afresh, as
    ``/map`` draws it from a kept base (``svg_page``); a test holds the two equal."""
    shapes, labels = _shapes_and_labels(features)
    shapes += [_marker(m) for m in marks]
    return draw(shapes, width=MAP_WIDTH, labels=labels, frame=[frame_shape(frame)] if frame is not None else None)


def _shapes_and_labels(features: Sequence[Feature]) -> tuple[list[Shape], list[Label]]:
    shapes: list[Shape] = []
    labels: list[Label] = []
    for f in features:
        shapes += shapes_of_geojson(f.geometry, MAP_CSS[f.layer], f.name)
        rank = label_rank(f)
        if rank is not None and f.places:
            labels.append(Label(f.name, f.places, f"label-{f.layer} rank-{rank}", rank, _LABEL_SIZE[rank]))
    return shapes, labels


def _marker(m: Mark) -> Shape:
    return Shape("point", [[(m.issue.lon, m.issue.lat)]], f"issue {m.issue.group}", m.text, m.href)


class Base(NamedTuple):
    """What ``/map`` draws the same for every request until a feature or segment in its frame is written again:
    the stored layers projected into the frame and written as SVG, the spots their names may take, the places
    of the points among them (names make way for them as for the issues), the layers' JSON for map.js and how
    many features each layer has. Only the issues, the legend's counts and the words are drawn per request."""

    project: Projection
    areas: str  # the SVG of the areas and lines, drawn under the names
    points: str  # the SVG of the stored points, drawn over the names with the issues
    spots: list[tuple[dict[str, object], list[Spot]]]
    marks: list[tuple[float, float]]  # the stored points, projected
    layers: list[tuple[str, str, str]]  # each layer's key, CSS class and features as HTML-safe JSON
    counts: dict[str, int]
    placed: OrderedDict[tuple[tuple[float, float], ...], str]  # the names' SVG, by the issues' places
    drawn: OrderedDict[tuple[Mark, ...], str]  # the names' and the issues' SVG over the base, by the issues' marks


def base_of(features: Sequence[Feature], frame: Box | None) -> Base | None:
    """The base of a map of ``features`` fitted to ``frame`` (None: to them all); None when there is nothing."""
    shapes, labels = _shapes_and_labels(features)
    project = projection([frame_shape(frame)] if frame is not None else shapes, width=MAP_WIDTH)
    if project is None:
        return None
    items = [projected(shape, project) for shape in shapes]
    points = [item for item in items if item["kind"] == "point"]
    counts: dict[str, int] = {}
    for f in features:
        counts[f.layer] = counts.get(f.layer, 0) + 1
    return Base(
        project,
        "".join(shape_svg(item) for item in items if item["kind"] != "point"),
        "".join(shape_svg(item) for item in points),
        spots(labels, project),
        [(float(item["x"]), float(item["y"])) for item in points],  # type: ignore[arg-type]
        [(layer["key"], layer["css"], _json(layer["features"])) for layer in _layers(features)],
        counts,
        OrderedDict(),
        OrderedDict(),
    )


def _json(value: Any) -> str:
    """JSON that may stand in a <script> block, as the template's ``tojson`` writes it."""
    return str(htmlsafe_json_dumps(value, dumps=json.dumps, sort_keys=True))


class Bases:
    """The last few bases drawn, by what they were drawn of (the frame's rows' digest and the frame), in this
    process: a map of the same rows in the same frame is the same base, whoever asks for it."""

    PLACED = 4  # the names' placings kept per base: one per set of issue places seen lately

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[str, Box | None], Base | None] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, stored: StoredFrame, frame: Box | None) -> Base | None:
        """The base of ``stored`` in ``frame``: kept, or drawn now and kept (the least lately used let go)."""
        key = (stored.digest(), frame)
        return _kept(self._kept, self._lock, key, self.size, lambda: base_of(stored.features(), frame))

    def over(self, base: Base, marks: Sequence[Mark]) -> str:
        """The SVG over ``base``'s areas: the names that fit, the stored points and the issues' markers; kept per
        base for the last few sets of marks (a compact's 1,500 markers projected and written each request)."""

        def draw_over() -> str:
            issues = [projected(_marker(m), base.project) for m in marks]
            names = self.names(base, [(float(i["x"]), float(i["y"])) for i in issues])  # type: ignore[arg-type]
            return f"{names}\n{base.points}{''.join(shape_svg(i) for i in issues)}"

        return _kept(base.drawn, self._lock, tuple(marks), self.PLACED, draw_over)

    def names(self, base: Base, issues: Sequence[tuple[float, float]]) -> str:
        """The SVG of the names that fit on ``base`` around these issue markers (and its stored points)."""
        return _kept(
            base.placed,
            self._lock,
            tuple(issues),
            self.PLACED,
            lambda: "".join(label_svg(label) for label in placed(base.spots, [*base.marks, *issues])),
        )


BASES = Bases()


def svg_page(base: Base, marks: Sequence[Mark], label: str) -> Markup:
    """The page's SVG map: the base's areas and lines, the names that fit, the stored points and the issues,
    as ``_map.html``'s ``svg_map`` writes a drawing."""
    role = "group" if marks else "img"
    return Markup(
        f'<svg class="map" viewBox="0 0 {base.project.width} {base.project.height}" role="{role}" '
        f'aria-label="{escape(label)}" data-testid="map">\n{base.areas}\n{BASES.over(base, marks)}\n</svg>'
    )


def page_data(
    base: Base, marks: Sequence[Mark], t: Text, tiles: dict[str, Any] | None, frame: Box | None, shown: str
) -> Markup:
    """What map.js draws (``map_data``) as HTML-safe JSON, the base's layers as kept."""
    layers = ",".join(
        f'{{"css": {_json(css)}, "features": {features}, "key": {_json(key)}, "name": {_json(t("layer_" + key))}}}'
        for key, css, features in base.layers
    )
    rest = _json(_marks_data(marks, t, tiles, frame, shown))
    return Markup(f'{{"layers": [{layers}], {rest[1:]}')


def legend(
    counts: dict[str, int], issues: Sequence[MarkedIssue], t: Text, closed_words: str = ""
) -> list[tuple[str, str, str, int]]:
    """The legend's rows (key, CSS class, words, count): each layer, the open issues (the overdue among them
    too), the overdue, the closed ones shown (``closed_words`` says which)."""
    rows = [(layer, MAP_CSS[layer], t("layer_" + layer), counts[layer]) for layer in MAP_LAYERS if layer in counts]
    groups = {group: sum(1 for i in issues if i.group == group) for group in ISSUE_GROUPS}
    rows.append(("open", "issue open", t("open_issues"), groups["open"] + groups["overdue"]))
    rows.append(("overdue", "issue overdue", t("map_overdue"), groups["overdue"]))
    rows.append(("closed", "issue closed", closed_words or t("map_closed"), groups["closed"]))
    return rows


def router(access: Access, viewer: Callable[..., Viewer], render: Callable[..., HTMLResponse]) -> APIRouter:
    """The shared map page."""
    wired = access.wired
    pages = APIRouter(include_in_schema=False)
    Seen = Annotated[Viewer, Depends(viewer)]  # noqa: N806 (a type alias, named as one)
    # The map may lag a little behind the primary: it reads the replica when one is configured.
    Replica = Annotated[UnitOfWork, Depends(access.replica)]  # noqa: N806

    @pages.get("/map")
    def watershed(
        request: Request, view: Seen, lagging: Replica, closed: Annotated[str | None, Query(max_length=20)] = None
    ) -> HTMLResponse:
        compacts = compacts_of(view.actor)
        now = wired.clock.now()
        with lagging as uow:
            first = earliest_closure(uow.connection, compacts) if compacts else None
            choices = closed_choices(view.t, local_today(now).year, local_today(first).year if first else None)
            words = dict(choices)
            # An unknown period (a link edited by hand): the default, said so.
            flash = ("bad", view.t("map_closed_bad")) if closed and closed not in words else None
            chosen = closed if closed in words else CLOSED_RECENT
            issues = marked_issues(uow.connection, compacts, now, closed_span(chosen, now))
            # The viewer's compacts, not the province: what lies in their frame, as fine as the map can show.
            frame = frame_of_compacts(uow.connection, compacts, issues)
            tolerance = resolution(frame, MAP_WIDTH) if frame is not None else 0.0
            stored = stored_frame(uow.connection, frame, tolerance)
        # The stored layers as drawn for the last request of the same rows in the same frame, if any.
        base = BASES.get(stored, frame)
        tiles = tianditu(wired.settings.tianditu_key, view.t)
        marks = marks_of(issues, view.t)
        shown = view.t("map_closed_hidden") if chosen == CLOSED_NONE else words[chosen]
        page = render(
            request,
            "map.html",
            view,
            422 if flash else 200,
            svg=svg_page(base, marks, view.t("map_title")) if base is not None else None,
            legend=legend(base.counts if base is not None else {}, issues, view.t, shown),
            map_json=page_data(base, marks, view.t, tiles, frame, shown) if base is not None else None,
            closed_choices=choices,
            closed=chosen,
            flash=flash,
        )
        if tiles:
            page.headers["Content-Security-Policy"] = page_policy(image_hosts=TIANDITU_HOSTS)
        return page

    return pages
