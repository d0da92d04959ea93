"""Point routing against a province-size boundary set, against a bare STRtree query (the floor).

Run: ``.venv/bin/python -m bench.routing [--cells 3000] [--parents 100] [--points 100000] [--segments 2000]``

The map is made up and reproducible (``--seed``): a jittered grid of seeds
over a 5°×5° box (lon 103–108, lat 28–33, about 480 × 555 km) cut into
Voronoi cells (``shapely.voronoi_polygons``), the "townships"; each cell goes
to the nearest of ``--parents`` coarser seeds and each parent, the
"district", is the union of its cells, so children nest exactly in their
parents and neighbours share their borders. ``--segments`` river segments are
random walks of five vertices, 2–3 km a step.

Each case routes the same ``--points`` uniform random points one call at a
time, in the same process, in ``--rounds`` interleaved rounds (floor first in
odd rounds, router first in even ones); medians are reported:

* **floor**: ``STRtree.query(Point(lon, lat), predicate="intersects")`` over
  the same polygons (parents and cells), making the point included, nothing
  else: which polygons hold the point, unordered, no distances, no sides.
* **Router, polygons only**: ``Router.route`` with no segments: the deepest
  jurisdiction, and every jurisdiction within ``--border-m`` metres.
* **Router, with segments**: the same plus the nearest segment within
  ``--segment-max-m`` and the bank.
* **floor, vectorised**: one ``STRtree.query`` of all the points as an
  array, to show what a call from Python costs on top of GEOS.

The router's jurisdiction is checked against the floor's answer for every
point (the deepest polygon that holds it). With ``--db`` the map is also
imported through ``import_geojson`` into a fresh SQLite file and loaded back
with ``Router.load``, and both are timed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray
from rich.console import Console
from rich.table import Table

from bench.host import cpu_model
from workflow.maps.router import Area, Line, Router

BOX = (103.0, 28.0, 108.0, 33.0)


def make_map(cells: int, parents: int, segments: int, seed: int) -> tuple[list[Area], list[Line]]:
    """Parents and their cells as areas with tree paths, and random river segments."""
    rng = np.random.default_rng(seed)
    min_lon, min_lat, max_lon, max_lat = BOX
    frame = shapely.box(*BOX)

    def jittered(n: int) -> NDArray[np.float64]:
        side = max(1, round(n**0.5))
        step_lon, step_lat = (max_lon - min_lon) / side, (max_lat - min_lat) / side
        grid = np.array(
            [(min_lon + (i + 0.5) * step_lon, min_lat + (j + 0.5) * step_lat) for i in range(side) for j in range(side)]
        )
        jitter: NDArray[np.float64] = rng.uniform(-0.4, 0.4, grid.shape) * (step_lon, step_lat)
        return grid + jitter

    cell_seeds, parent_seeds = jittered(cells), jittered(parents)
    polygons = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(cell_seeds), extend_to=frame))
    polygons = shapely.intersection(polygons, frame)
    # Voronoi cells come back in no particular order: give each to the parent nearest its seed.
    owner_of_cell = {}
    for k, polygon in enumerate(polygons):
        inside = cell_seeds[shapely.contains_xy(polygon, cell_seeds[:, 0], cell_seeds[:, 1])]
        centre = inside[0] if len(inside) else np.array(shapely.get_coordinates(polygon.centroid)[0])
        owner_of_cell[k] = int(np.argmin(np.hypot(*(parent_seeds - centre).T)))
    children: dict[int, list[int]] = {}
    for k, parent in owner_of_cell.items():
        children.setdefault(parent, []).append(k)
    areas: list[Area] = []
    for parent, members in sorted(children.items()):
        code = f"p{parent:04d}"
        union = shapely.coverage_union_all(polygons[members])
        areas.append(Area(code, f"district {parent}", union, f"/{code}/"))
        areas += [Area(f"c{k:05d}", f"township {k}", polygons[k], f"/{code}/c{k:05d}/") for k in members]
    lines = []
    for n in range(segments):
        start = rng.uniform((min_lon, min_lat), (max_lon, max_lat))
        steps = rng.normal(0, 0.02, (4, 2)) + rng.normal(0, 0.015, 2)
        coords = np.vstack([start, start + np.cumsum(steps, axis=0)])
        lines.append(Line(f"s{n:05d}", f"segment {n}", coords.tolist()))
    return areas, lines


def _timed(run: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _machine() -> dict[str, str]:
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "shapely": shapely.__version__,
        "geos": ".".join(map(str, shapely.geos_version)),
        "numpy": np.__version__,
    }


def main() -> None:
    """Build the map, route the points through the floor and the router, print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=3000)
    parser.add_argument("--parents", type=int, default=100)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--segments", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--border-m", type=float, default=200.0)
    parser.add_argument("--segment-max-m", type=float, default=2000.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", action=argparse.BooleanOptionalAction, default=True, help="time import and load")
    args = parser.parse_args()
    console = Console(width=160)
    load_before = os.getloadavg()

    build_s, _, (areas, lines) = _timed(lambda: make_map(args.cells, args.parents, args.segments, args.seed))
    rng = np.random.default_rng(args.seed + 1)
    points = rng.uniform(BOX[:2], BOX[2:], (args.points, 2))
    vertices = sum(len(shapely.get_coordinates(a.geometry)) for a in areas)
    console.print(
        f"map: {len(areas)} polygons ({sum(a.path.count('/') == 2 for a in areas)} parents), "
        f"{vertices} vertices, {len(lines)} segments, built in {build_s:.1f} s; {len(points)} points"
    )

    tree_s, _, tree = _timed(lambda: shapely.STRtree([a.geometry for a in areas]))
    plain_s, _, plain = _timed(lambda: Router(areas, border_m=args.border_m, segment_max_m=args.segment_max_m))
    full_s, _, full = _timed(lambda: Router(areas, lines, border_m=args.border_m, segment_max_m=args.segment_max_m))
    pairs = [(float(lon), float(lat)) for lon, lat in points]

    def floor() -> list[Any]:
        return [tree.query(shapely.Point(lon, lat), predicate="intersects") for lon, lat in pairs]

    def route_with(router: Router) -> Callable[[], list[Any]]:
        return lambda: [router.route(lon, lat) for lon, lat in pairs]

    cases: dict[str, Callable[[], list[Any]]] = {
        "floor: STRtree.query(point, intersects)": floor,
        "Router.route, polygons only": route_with(plain),
        "Router.route, with segments": route_with(full),
    }
    timings: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    answers: dict[str, list[Any]] = {}
    for round_no in range(args.rounds):
        order = list(cases) if round_no % 2 == 0 else list(reversed(cases))
        for name in order:
            wall, cpu, answers[name] = _timed(cases[name])
            timings[name].append((wall, cpu))
    vector_wall, vector_cpu, _ = _timed(lambda: tree.query(shapely.points(points), predicate="intersects"))

    # The router's jurisdiction must be the deepest polygon the floor found (or, off every polygon, its own choice).
    depth = [a.path.count("/") for a in areas]
    agree = sum(
        1
        for hits, routed in zip(
            answers["floor: STRtree.query(point, intersects)"], answers["Router.route, with segments"], strict=True
        )
        if len(hits) and routed.jurisdiction in {areas[i].code for i in hits if depth[i] == max(depth[j] for j in hits)}
    )
    inside = sum(1 for hits in answers["floor: STRtree.query(point, intersects)"] if len(hits))
    with_sides = sum(1 for r in answers["Router.route, polygons only"] if len(r.sides) > 1)
    with_segment = sum(1 for r in answers["Router.route, with segments"] if r.segment is not None)

    floor_wall = statistics.median(w for w, _ in timings["floor: STRtree.query(point, intersects)"])
    floor_cpu = statistics.median(c for _, c in timings["floor: STRtree.query(point, intersects)"])
    table = Table(title=f"routing {len(points):,} points, median of {args.rounds} rounds")
    for column in ("case", "build s", "route s", "µs/point", "points/s", "ratio", "CPU ratio"):
        table.add_column(column, justify="left" if column == "case" else "right")
    builds = {"floor: STRtree.query(point, intersects)": tree_s, "Router.route, polygons only": plain_s}
    builds["Router.route, with segments"] = full_s
    for name, runs in timings.items():
        wall, cpu = statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)
        table.add_row(
            name,
            f"{builds[name]:.2f}",
            f"{wall:.2f}",
            f"{1e6 * wall / len(points):.1f}",
            f"{len(points) / wall:,.0f}",
            f"{wall / floor_wall:.2f}",
            f"{cpu / floor_cpu:.2f}",
        )
    table.add_row(
        "floor, vectorised: one query of all points",
        "",
        f"{vector_wall:.2f}",
        f"{1e6 * vector_wall / len(points):.1f}",
        f"{len(points) / vector_wall:,.0f}",
        f"{vector_wall / floor_wall:.2f}",
        f"{vector_cpu / floor_cpu:.2f}",
    )
    console.print(table)
    console.print(
        f"agreement: {agree:,} of {inside:,} points inside the map got the deepest polygon the floor found; "
        f"{with_sides:,} points within {args.border_m:g} m of a border got two or more sides; "
        f"{with_segment:,} had a segment within {args.segment_max_m:g} m"
    )
    if args.db:
        _database(console, areas, args)
    machine = _machine()
    console.print(
        f"machine: {machine['cpus']} CPUs ({machine['cpu']}), Python {machine['python']}, "
        f"shapely {machine['shapely']}, GEOS {machine['geos']}, numpy {machine['numpy']}; "
        f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after"
    )


def _database(console: Console, areas: list[Area], args: argparse.Namespace) -> None:
    """Import the polygons into a fresh SQLite file through import_geojson, then Router.load them back."""
    import sqlalchemy as sa

    from riverchief.bootstrap import bootstrap
    from riverchief.migrate import upgrade
    from riverchief.settings import Settings
    from workflow.core.db import make_engine
    from workflow.core.models import Jurisdiction, table_of
    from workflow.maps.layers import import_geojson

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/routing.db"
        engine = make_engine(url)
        upgrade(engine)
        app = bootstrap(Settings(database_url=url, data_dir=Path(folder)), engine=engine)
        j = table_of(Jurisdiction)
        with engine.begin() as conn:
            for area in areas:  # parents first: make_map lists each parent before its cells
                parent = area.path.rstrip("/").rsplit("/", 1)[0]
                parent_id = conn.execute(sa.select(j.c.id).where(j.c.path == parent + "/")).scalar() if parent else None
                conn.execute(
                    sa.insert(j).values(
                        code=area.code,
                        name=area.name,
                        level="township" if parent else "district",
                        parent_id=parent_id,
                        path=area.path,
                    )
                )
        document = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"code": a.code, "name": a.name},
                    "geometry": shapely.geometry.mapping(a.geometry),
                }
                for a in areas
            ],
        }
        document = json.loads(json.dumps(document))  # tuples to lists, as read from a file
        import_s, _, count = _timed(lambda: import_geojson(app.uow(), "jurisdiction", document))
        again_s, _, _ = _timed(lambda: import_geojson(app.uow(), "jurisdiction", document))
        with app.reader() as uow:
            load_s, _, router = _timed(lambda: Router.load(uow.connection, border_m=args.border_m))
        engine.dispose()
    console.print(
        f"database (SQLite): import_geojson of {count:,} polygons {import_s:.2f} s, again (all updates) "
        f"{again_s:.2f} s; Router.load {load_s:.2f} s ({len(router.jurisdiction_names):,} jurisdictions)"
    )


if __name__ == "__main__":
    main()
