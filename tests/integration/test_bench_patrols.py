"""The patrol bench still runs end to end: a few small patrols through every lane on SQLite.

Not a timing test: it checks that each lane stores every patrol (the bench raises otherwise) and that the
figures it reports are there and positive, so the bench cannot rot unnoticed.
"""

from bench.patrols import LANES, measure


def test_every_lane_stores_every_patrol_and_reports_its_figures() -> None:
    result = measure("sqlite", count=6, points=20, rounds=1)

    lanes = result["lanes"]
    for label, _, _ in LANES:
        figures = lanes[label]
        assert figures["api_ms_per_patrol"] > 0, label
        assert figures["floor_ms_per_patrol"] > 0, label
        assert figures["ratio"] > 0, label
    assert lanes["batch"]["api_peak_bytes"] > lanes["batch"]["floor_peak_bytes"] > 0
    assert lanes["body_bytes"] > 6 * 20 * 20  # every point went into the body
