"""The report form on a 360 px phone: the segment and the receiving side follow the position, and the open
problems of the same kind already reported near it are shown first."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_browser import Person, browser, site  # noqa: F401 (fixtures)
from tests.factories import REPORTER, World

SHOTS = Path("/tmp/shots-dup")
BAIMA_SIDE = (105.6950, 30.2080)  # north-west of 琼江白马镇段 (the neighbour's bank, under a swap pairing)
TAIAN_SIDE = (105.7090, 30.1960)  # south-east of 琼江太安镇段 (the reporter's own bank)


def tap(person: Person, lon: float, lat: float) -> None:
    """Tap the report form's map where (lon, lat) is drawn, as a finger would."""
    x, y = person.page.evaluate(
        """([lon, lat]) => {
            const svg = document.querySelector("svg[data-pick]");
            const d = svg.dataset;
            const point = new DOMPoint((lon - d.lon0) / d.lonPerUnit, (d.lat0 - lat) / d.latPerUnit)
                .matrixTransform(svg.getScreenCTM());
            return [point.x, point.y];
        }""",
        [lon, lat],
    )
    person.page.mouse.click(x, y)


def settled(person: Person) -> dict[str, str]:
    """Once the form has routed the position: the segment chosen, the route line, the swap note."""
    page = person.page
    page.wait_for_function(
        """() => {
            const result = document.querySelector("[data-route-result]");
            const lon = document.querySelector("#lon").value, lat = document.querySelector("#lat").value;
            return result.dataset.routedFor === `${lon},${lat}`;
        }"""
    )
    return page.evaluate(
        """() => ({
            segment: document.querySelector("select[name=segment]").value,
            result: document.querySelector("[data-route-result]").textContent,
            receiving: document.querySelector("[data-route-result]").dataset.receiving,
            swap: document.querySelector("[data-swap-note]").hidden ? "" :
                  document.querySelector("[data-swap-note]").textContent,
        })"""
    )


def routed(person: Person) -> dict[str, object]:
    """What /route.json says of the position now in the form, asked directly."""
    lon = person.page.input_value("#lon")
    lat = person.page.input_value("#lat")
    answer = person.page.request.get(f"{person.site}/route.json", params={"lon": lon, "lat": lat})
    assert answer.ok
    found: dict[str, object] = answer.json()
    return found


def receiving_sides_shown(seen: dict[str, str]) -> int:
    """How many receiving sides the screen names: the swap note's owner, or the route line's proposal."""
    return bool(seen["swap"]) + ("建议接收方" in seen["result"])


@pytest.mark.slow
def test_the_segment_and_receiving_side_follow_every_move_and_nearby_problems_come_first(
    sqlite_world: World,
    site: str,  # noqa: F811
    browser: object,  # noqa: F811
) -> None:
    SHOTS.mkdir(exist_ok=True)
    lon, lat = BAIMA_SIDE
    known = sqlite_world.report(
        "sn-baima", title="白马镇码头排污口", lon=lon + 0.001, lat=lat - 0.001, segment="qj-baima"
    )
    elsewhere = sqlite_world.report("sn-baima", title="远处排污口", lon=lon + 0.05, lat=lat + 0.05, segment=None)
    chief = Person(browser, site, REPORTER, width=360)
    # Scrolls jump rather than glide, so a busy machine cannot leave one half-way when the test looks.
    chief.page.emulate_media(reduced_motion="reduce")
    chief.open("/report")

    # The neighbour's bank: its segment, and the one side the problem goes to, said once (by the swap note).
    tap(chief, *BAIMA_SIDE)
    first = settled(chief)
    assert first["segment"] == routed(chief)["segment"] == "qj-baima", first
    assert "白马镇" in first["swap"], first
    assert receiving_sides_shown(first) == 1, first
    chief.page.screenshot(path=str(SHOTS / "1-neighbours-bank.png"), full_page=True)

    # Then the reporter's own bank: the segment follows, and so does the side, still one of them.
    tap(chief, *TAIAN_SIDE)
    second = settled(chief)
    answer = routed(chief)
    assert second["segment"] == answer["segment"] == "qj-taian", second
    assert second["swap"] == "", second
    assert receiving_sides_shown(second) <= 1, second
    receiving = answer["receiving"]
    assert second["receiving"] == (receiving["code"] if isinstance(receiving, dict) else ""), (second, answer)
    chief.page.screenshot(path=str(SHOTS / "2-own-bank.png"), full_page=True)

    # Typed coordinates count as a move too.
    chief.page.fill("#lon", str(BAIMA_SIDE[0]))
    chief.page.fill("#lat", str(BAIMA_SIDE[1]))
    chief.page.locator("#lat").dispatch_event("change")
    assert settled(chief)["segment"] == "qj-baima"

    # A category chosen at a point near an open problem of that kind: the form shows it first, with its distance.
    nearby = chief.page.locator("[data-testid=nearby]")
    assert nearby.is_hidden()
    chief.page.select_option("#category", "domestic_sewage")
    nearby.wait_for(state="visible")
    links = nearby.locator("a")
    assert links.count() == 1
    assert links.first.get_attribute("href") == f"/issues/{known}"
    assert "附近已有同类问题" in nearby.inner_text()
    assert "米" in nearby.inner_text()
    assert elsewhere not in nearby.inner_text()
    first_in_form = chief.page.evaluate("document.querySelector('#report-form > section').dataset.testid")
    assert first_in_form == "nearby"
    # Scrolled to the list's top edge, give or take the fraction of a pixel the layout rounds to.
    chief.page.wait_for_function(
        "() => { const box = document.querySelector('[data-nearby]').getBoundingClientRect();"
        " return box.top > -1 && box.top < window.innerHeight; }"
    )
    chief.page.screenshot(path=str(SHOTS / "3-nearby-first.png"))
    assert chief.overflow() <= 0

    # Another kind of problem there has none: the list goes away, and the chief goes on.
    chief.page.select_option("#category", "livestock")
    nearby.wait_for(state="hidden")
    assert chief.refused == []
    chief.close()
