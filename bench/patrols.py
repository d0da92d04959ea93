"""1,000 patrols with 500-point tracks posted through the API, in one batch and one by one, against the floor.

Run: ``.venv/bin/python -m bench.patrols [--patrols 1000] [--points 500] [--rounds 3] [--dialect sqlite|postgres|both]``

On the 琼江 compact of the demo, the 太安镇 chief's patrols of his own segment (one every 8 hours, 2 hours
long, a GeoJSON Feature with a time per position) go through ``POST /api/v1/patrols`` of the real app
(``fastapi.testclient.TestClient``, a bearer token, an ``Idempotency-Key`` as a phone sends): once as one
list, and once as ``--patrols`` requests of one patrol each. The floor inserts the same rows (every column,
the track as the JSON the API stores) into the same schema on the same engine with SQLAlchemy Core: the batch
as one executemany in one transaction, the singles as one transaction each. Rows are deleted between runs
(not timed); the lanes alternate within each round. Time per patrol, and its ratio to the floor, are medians
over the rounds. Then, tracemalloc on, one batch of each: the peak of Python allocations (the request body's
bytes are made before tracing starts, so what the client sends is not counted; what the server reads, parses,
checks and stores is). Figures go to bench/patrols.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

from bench.host import git_state, host
from bench.sweep import _drop, _fresh_engine
from riverchief.bootstrap import App, bootstrap
from riverchief.migrate import upgrade
from riverchief.settings import Settings
from tests.factories import load_world
from web.api import create_api
from workflow.accounts.tokens import create_token
from workflow.core.clock import SHANGHAI, FrozenClock
from workflow.core.models import IdempotencyKey, Patrol, Person, Segment, table_of
from workflow.patrols.tracks import read_geojson

_patrol = table_of(Patrol)
FIRST = datetime(2025, 1, 1, 8, 0, tzinfo=SHANGHAI)
EVERY = timedelta(hours=8)
LASTS = timedelta(hours=2)
PATROLLER, SEGMENT = "tn-taian", "qj-taian"


def patrols(count: int, points: int) -> list[dict[str, Any]]:
    """``count`` patrols as the phone sends them: a track of ``points`` positions along the segment, timed."""
    items = []
    for n in range(count):
        start = FIRST + n * EVERY
        step = (LASTS - timedelta(minutes=10)) / max(points - 1, 1)
        coordinates = [
            [round(105.664 + 0.07 * i / points, 6), round(30.150 + 0.12 * i / points, 6)] for i in range(points)
        ]
        times = [(start + timedelta(minutes=5) + i * step).isoformat() for i in range(points)]
        items.append(
            {
                "segment": SEGMENT,
                "started_at": start.isoformat(),
                "ended_at": (start + LASTS).isoformat(),
                "track": {
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": coordinates},
                    "properties": {"coordTimes": times},
                },
                "notes": f"巡河 {n + 1}",
            }
        )
    return items


def floor_rows(app: App, items: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The rows the API stores for ``items``, made beforehand: what the floor inserts."""
    with app.engine.connect() as conn:
        person = conn.execute(sa.select(table_of(Person).c.id).where(table_of(Person).c.code == PATROLLER)).scalar()
        segment = conn.execute(sa.select(table_of(Segment).c.id).where(table_of(Segment).c.code == SEGMENT)).scalar()
    rows = []
    for item in items:
        track = read_geojson(item["track"])
        start, end = datetime.fromisoformat(item["started_at"]), datetime.fromisoformat(item["ended_at"])
        rows.append(
            {
                "patroller_id": person,
                "segment_id": segment,
                "kind": "routine",
                "pairing_id": None,
                "started_at": start,
                "ended_at": end,
                "duration_s": int((end - start).total_seconds()),
                "length_m": round(track.length_m),
                "track": track.geojson(),
                "notes": item["notes"],
                "created_at": now,
            }
        )
    return rows


class Lanes:
    """The four ways of storing the same patrols, each timed from nothing stored."""

    def __init__(self, app: App, client: TestClient, token: str, items: list[dict[str, Any]], now: datetime) -> None:
        self.app, self.client = app, client
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.batch_body = json.dumps(items, ensure_ascii=False).encode()
        self.single_bodies = [json.dumps(item, ensure_ascii=False).encode() for item in items]
        self.rows = floor_rows(app, items, now)
        self.count = len(items)
        self.keys = 0

    def clear(self) -> None:
        with self.app.engine.begin() as conn:
            conn.execute(table_of(IdempotencyKey).delete())
            conn.execute(_patrol.delete())

    def stored(self) -> int:
        with self.app.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(_patrol)).scalar_one())

    def _key(self) -> dict[str, str]:
        self.keys += 1
        return self.headers | {"Idempotency-Key": f"bench-{self.keys}"}

    def api_batch(self) -> None:
        answer = self.client.post("/api/v1/patrols", content=self.batch_body, headers=self._key())
        if answer.status_code != 201:
            raise RuntimeError(f"the batch was refused: {answer.status_code} {answer.text[:500]}")

    def api_single(self) -> None:
        for body in self.single_bodies:
            answer = self.client.post("/api/v1/patrols", content=body, headers=self._key())
            if answer.status_code != 201:
                raise RuntimeError(f"a patrol was refused: {answer.status_code} {answer.text[:500]}")

    def floor_batch(self) -> None:
        with self.app.engine.begin() as conn:
            conn.execute(_patrol.insert(), self.rows)

    def floor_single(self) -> None:
        statement = _patrol.insert()
        for row in self.rows:
            with self.app.engine.begin() as conn:
                conn.execute(statement, row)

    def timed(self, lane: Callable[[], None]) -> float:
        """Seconds to store every patrol through ``lane``, from an empty table; checks they were all stored."""
        self.clear()
        started = time.perf_counter()
        lane()
        took = time.perf_counter() - started
        if self.stored() != self.count:
            raise RuntimeError(f"{lane.__name__} stored {self.stored()} patrols, not {self.count}")
        return took

    def peak(self, lane: Callable[[], None]) -> int:
        """tracemalloc's peak while ``lane`` stores every patrol, in bytes."""
        self.clear()
        tracemalloc.start()
        try:
            lane()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


LANES = (("batch", "api_batch", "floor_batch"), ("one by one", "api_single", "floor_single"))


def measure(dialect: str, count: int, points: int, rounds: int, memory: bool = True) -> dict[str, Any]:
    """Per patrol: the API's and the floor's median seconds, their ratio, and the batch's peak memory."""
    folder = Path(tempfile.mkdtemp())
    name = "riverchief_bench_patrols"
    engine = _fresh_engine(dialect, folder, name)
    try:
        upgrade(engine)
        now = FIRST + count * EVERY + timedelta(days=1)
        clock = FrozenClock(now)
        app = bootstrap(Settings(database_url=str(engine.url), data_dir=folder), clock=clock, engine=engine)
        load_world(app, clock)
        token = create_token(app.uow(), PATROLLER, "bench")[1]
        items = patrols(count, points)
        with TestClient(create_api(app)) as client:
            lanes = Lanes(app, client, token, items, now)
            lanes.timed(lanes.api_batch)  # warm-up: imports, caches, the first connection
            lanes.timed(lanes.floor_batch)
            seconds: dict[str, list[float]] = {}
            for r in range(rounds):
                for label, ours, floor in LANES:
                    pair = [(f"{label} api", getattr(lanes, ours)), (f"{label} floor", getattr(lanes, floor))]
                    for key, lane in pair if r % 2 == 0 else pair[::-1]:
                        seconds.setdefault(key, []).append(lanes.timed(lane))
            figures: dict[str, Any] = {}
            for label, _, _ in LANES:
                api, floor = statistics.median(seconds[f"{label} api"]), statistics.median(seconds[f"{label} floor"])
                figures[label] = {
                    "api_ms_per_patrol": api / count * 1000,
                    "floor_ms_per_patrol": floor / count * 1000,
                    "ratio": api / floor,
                    "api_s": seconds[f"{label} api"],
                    "floor_s": seconds[f"{label} floor"],
                }
            if memory:
                figures["batch"]["api_peak_bytes"] = lanes.peak(lanes.api_batch)
                figures["batch"]["floor_peak_bytes"] = lanes.peak(lanes.floor_batch)
            figures["body_bytes"] = len(lanes.batch_body)
        return {"dialect": dialect, "patrols": count, "points": points, "rounds": rounds, "lanes": figures}
    finally:
        _drop(dialect, engine, name)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.patrols", description=__doc__.splitlines()[0])
    parser.add_argument("--patrols", type=int, default=1000)
    parser.add_argument("--points", type=int, default=500, help="positions in each track (default 500)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each lane (default 3)")
    parser.add_argument("--dialect", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the tracemalloc pass")
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("patrols.json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Measure and print a table per dialect; write the figures to bench/patrols.json."""
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    runs = []
    for dialect in ("sqlite", "postgres") if args.dialect == "both" else (args.dialect,):
        result = measure(dialect, args.patrols, args.points, args.rounds, args.memory)
        runs.append(result)
        lanes = result["lanes"]
        table = Table(
            title=f"{args.patrols:,} patrols of {args.points} points through the API, {dialect} "
            f"(batch body {lanes['body_bytes'] / 2**20:.1f} MiB, median of {args.rounds})"
        )
        for column in ("lane", "api ms/patrol", "floor ms/patrol", "ratio", "api peak MiB", "floor peak MiB"):
            table.add_column(column, justify="left" if column == "lane" else "right")
        for label, _, _ in LANES:
            f = lanes[label]
            peaks = [f"{f[k] / 2**20:.1f}" if k in f else "—" for k in ("api_peak_bytes", "floor_peak_bytes")]
            table.add_row(
                label, f"{f['api_ms_per_patrol']:.2f}", f"{f['floor_ms_per_patrol']:.2f}", f"{f['ratio']:.2f}", *peaks
            )
        console.print(table)
    report = {"benchmark": "patrols", "host": host(), "git": git_state("workflow", "web", "bench"), "runs": runs}
    args.output.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
