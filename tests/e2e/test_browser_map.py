"""The shared map in a real headless Chromium, at a desk and on a 360 px phone: names shown, zoom by the button,
an issue opened from its marker (by a click and by the keyboard), nothing asked of another host; the named SVG
when script is off; 天地图's tiles under the layers when a key is configured."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from tests.e2e.test_browser import Person, browser, site  # noqa: F401  (the fixtures)
from tests.e2e.test_pages_map import Scenario, map_world
from tests.factories import REPORTER, World

SHOTS = Path("/tmp/shots-map")
ZOOMED_BEYOND = "(z) => Number(document.querySelector('[data-watershed]').dataset.zoom) > z"


@pytest.fixture
def scenario(sqlite_world: World, site: str) -> Scenario:  # noqa: F811  (the fixture imported above)
    return map_world(sqlite_world, every_closed_state=False)


def shown_labels(person: Person) -> list[str]:
    return person.page.eval_on_selector_all(
        ".map-label:not(.map-label-hidden)", "els => els.filter(e => e.offsetParent !== null).map(e => e.textContent)"
    )


def zoom(person: Person) -> float:
    return float(person.page.get_attribute("[data-watershed]", "data-zoom") or "nan")


@pytest.mark.parametrize("width", [1200, 360])
def test_the_map_shows_names_zooms_by_its_button_and_opens_an_issue_from_its_marker(
    browser: object,  # noqa: F811
    site: str,  # noqa: F811
    scenario: Scenario,
    width: int,
) -> None:
    SHOTS.mkdir(exist_ok=True)
    person = Person(browser, site, REPORTER, width=width)
    page = person.page
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    person.open("/map")
    page.wait_for_selector("[data-watershed][data-ready]")
    # Without a tile key, the map asks nothing of any other host.
    assert asked
    assert all(url.startswith(site + "/") for url in asked), asked
    assert page.is_hidden("[data-watershed-fallback]")
    page.screenshot(path=str(SHOTS / f"map-{width}.png"), full_page=True)
    first = shown_labels(person)
    assert "琼江" in first
    assert {"潼南区", "安居区"} & set(first)
    before = zoom(person)
    for step in (1, 2):
        page.click(".leaflet-control-zoom-in")
        page.wait_for_function(ZOOMED_BEYOND, arg=before + step - 0.5)
    assert zoom(person) == before + 2
    page.screenshot(path=str(SHOTS / f"map-{width}-zoomed.png"))
    # Closer in, the segments are named too, and no two names shown overlap.
    closer = shown_labels(person)
    assert any(name.endswith("段") for name in closer)
    boxes = page.eval_on_selector_all(
        ".map-label:not(.map-label-hidden)",
        "els => els.filter(e => e.offsetParent !== null).map(e => { const r = e.getBoundingClientRect();"
        " return [r.left, r.top, r.right, r.bottom]; })",
    )
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    # Back to the whole map; the overdue issue's marker opens its page.
    person.open("/map")
    page.wait_for_selector("[data-watershed][data-ready]")
    page.click(f'a.pin.overdue[href="/issues/{scenario.overdue}"]')
    page.wait_for_url(f"**/issues/{scenario.overdue}")
    assert scenario.overdue in page.inner_text("h1")
    # The open one's, by the keyboard.
    person.open("/map")
    page.wait_for_selector("[data-watershed][data-ready]")
    page.focus(f'a.pin.open[href="/issues/{scenario.open}"]')
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/issues/{scenario.open}")
    assert person.refused == []


def test_without_script_the_map_is_the_named_svg_with_issue_links(
    browser: object,  # noqa: F811
    site: str,  # noqa: F811
    scenario: Scenario,
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 800}, java_script_enabled=False)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"{site}/login")
    page.fill("#person", REPORTER)
    page.fill("#password", "琼江清水长流-2026")
    page.click("form[action='/login'] button[type=submit]")
    page.goto(f"{site}/map")
    assert page.is_visible("svg.map text.label")
    assert page.is_hidden("[data-watershed]")
    page.screenshot(path=str(SHOTS / "map-360-noscript.png"), full_page=True)
    page.click(f'svg.map a[href="/issues/{scenario.overdue}"] circle')
    page.wait_for_url(f"**/issues/{scenario.overdue}")
    context.close()


def tile_png() -> bytes:
    """A pale tile with a grid line, so that a screenshot shows where the tiles are."""
    tile = Image.new("RGB", (256, 256), (236, 241, 230))
    ImageDraw.Draw(tile).rectangle((0, 0, 255, 255), outline=(200, 210, 195))
    buffer = io.BytesIO()
    tile.save(buffer, "PNG")
    return buffer.getvalue()


def test_with_a_tile_key_the_map_lays_tianditu_tiles_under_its_layers(
    browser: object,  # noqa: F811
    site: str,  # noqa: F811
    scenario: Scenario,
    sqlite_world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sqlite_world.app.settings, "tianditu_key", "test-key")
    person = Person(browser, site, REPORTER)
    page = person.page
    tiles: list[str] = []
    png = tile_png()

    def serve_tile(route: object) -> None:
        tiles.append(route.request.url)  # type: ignore[attr-defined]
        route.fulfill(body=png, content_type="image/png")  # type: ignore[attr-defined]

    page.route(re.compile(r"^https://t[0-7]\.tianditu\.gov\.cn/"), serve_tile)
    person.open("/map")
    page.wait_for_selector("[data-watershed][data-ready].tiled")
    page.wait_for_selector(".leaflet-tile-loaded")
    page.screenshot(path=str(SHOTS / "map-1200-tianditu.png"))
    assert {re.search(r"/(vec|cva)_w/wmts\?", url).group(1) for url in tiles} == {"vec", "cva"}  # type: ignore[union-attr]
    assert all(url.endswith("&tk=test-key") for url in tiles)
    assert person.refused == []  # the page's policy admits the tile servers' images
    # The base map can be switched off: then no tile is shown.
    page.hover(".leaflet-control-layers")
    page.get_by_label("无底图").check()
    page.wait_for_selector("[data-watershed]:not(.tiled)")
    assert page.locator(".leaflet-tile").count() == 0
