"""The zooms a map's drawing is stored at, and which one a drawing of a given resolution reads."""

from __future__ import annotations

import pytest

from workflow.core.drawing import DRAWN_COLUMNS, ZOOMS, zoom_for, zoom_tolerance
from workflow.core.models import Drawn


def test_each_zoom_is_half_a_pixel_of_a_tile_and_half_the_one_before() -> None:
    assert zoom_tolerance(0) == 360 / 256 / 2
    assert all(zoom_tolerance(z + 1) * 2 == zoom_tolerance(z) for z in ZOOMS)


@pytest.mark.parametrize("zoom", ZOOMS)
def test_a_drawing_reads_the_coarsest_zoom_at_or_finer_than_its_resolution(zoom: int) -> None:
    assert zoom_for(zoom_tolerance(zoom)) == zoom
    assert zoom_for(zoom_tolerance(zoom) * 1.999) == zoom
    assert zoom_for(zoom_tolerance(zoom) * 0.999) == (zoom + 1 if zoom < ZOOMS[-1] else None)


def test_beyond_the_stored_zooms_a_drawing_reads_the_coarsest_or_the_geometry_as_stored() -> None:
    assert zoom_for(1.0) == ZOOMS[0]  # a whole country in a few pixels: still the coarsest stored
    assert zoom_for(zoom_tolerance(ZOOMS[-1]) / 2) is None  # finer than every zoom: as stored
    assert zoom_for(0.0) is None


def test_the_tables_have_a_column_for_each_stored_zoom() -> None:
    assert tuple(Drawn.model_fields) == DRAWN_COLUMNS
