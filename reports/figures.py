"""Geometry for the inline SVG figures: computed here, drawn by the templates (which escape every label)."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MapFigure:
    """A segment's course and the problem's position, fitted into a box."""

    width: int
    height: int
    line: str  # SVG polyline points
    point: tuple[float, float] | None
    start: tuple[float, float] | None
    scale_px: float  # length of the scale bar
    scale_label: str


def map_figure(
    course: list[list[float]] | None, point: tuple[float, float] | None, width: int = 520, height: int = 240
) -> MapFigure | None:
    """Project lon/lat (equirectangular, corrected for latitude) into the box; None with nothing to draw."""
    coords = [(float(lon), float(lat)) for lon, lat in (course or [])]
    everything = coords + ([point] if point else [])
    if not everything:
        return None
    lons, lats = [c[0] for c in everything], [c[1] for c in everything]
    mid_lat = math.radians((min(lats) + max(lats)) / 2)
    kx = math.cos(mid_lat)
    span_x = max((max(lons) - min(lons)) * kx, 0.004)
    span_y = max(max(lats) - min(lats), 0.004)
    pad = 28
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    ox = (width - span_x * scale) / 2
    oy = (height - span_y * scale) / 2

    def project(lon: float, lat: float) -> tuple[float, float]:
        return round(ox + (lon - min(lons)) * kx * scale, 1), round(height - oy - (lat - min(lats)) * scale, 1)

    # A scale bar of a round number of kilometres, about a fifth of the width.
    km_per_px = 111.32 / scale
    target_km = km_per_px * width / 5
    step = 10 ** math.floor(math.log10(target_km)) if target_km > 0 else 1
    km = next(m * step for m in (5, 2, 1) if m * step <= target_km) if target_km >= step else step
    return MapFigure(
        width=width,
        height=height,
        line=" ".join(f"{x},{y}" for x, y in (project(*c) for c in coords)),
        point=project(*point) if point else None,
        start=project(*coords[0]) if coords else None,
        scale_px=round(km / km_per_px, 1),
        scale_label=f"{km:g} km",
    )


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a chart, with its label and value."""

    label: str
    value: int
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True, slots=True)
class BarChart:
    """Horizontal bars with their labels: legible in print, solid fills only."""

    width: int
    height: int
    label_width: int
    bars: list[Bar]


def bar_chart(
    rows: list[tuple[str, int]], width: int = 520, bar_height: int = 16, gap: int = 6, label_width: int = 150
) -> BarChart:
    """Bars scaled to the largest value; an empty chart still has its labels."""
    top = max((v for _, v in rows), default=0) or 1
    usable = width - label_width - 40
    bars = [
        Bar(label, value, label_width, i * (bar_height + gap) + 4, round(usable * value / top, 1), bar_height)
        for i, (label, value) in enumerate(rows)
    ]
    return BarChart(width, len(rows) * (bar_height + gap) + 8, label_width, bars)
