"""The province bench's rows over HTTP still run end to end, and a server it starts is always stopped.

Not a timing test: a tiny province, two clients for a moment against ``riverchief serve --workers 2``; every
request must be answered and every figure reported, so the bench cannot rot unnoticed.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from rich.console import Console

from bench import province
from bench.served import Server, _tree, started

# A parent that starts a child, as a server with --workers N starts its workers, then waits.
PARENT = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(120)\n"
)


@pytest.fixture(scope="module")
def tiny_province(postgres_server: str) -> Iterator[str]:
    """A province at scale 0.001 in a database of its own, dropped afterwards."""
    name = f"riverchief_test_province_http_{os.getpid()}"
    province.load(0.001, 18, name, Console(quiet=True))
    yield name
    admin = sa.create_engine(province.database_url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
@pytest.mark.slow
def test_the_http_rows_load_each_page_from_a_served_app_and_report_their_figures(tiny_province: str) -> None:
    args = province.parse_args(
        [
            *("measure", "--database", tiny_province, "--only", "over HTTP", "--clients", "2"),
            *("--workers", "2", "--http-seconds", "0.5", "--warmup", "1"),
        ]
    )
    result = province.measure(args, Console(quiet=True))

    rows = result["many clients"]
    assert set(rows) == {
        "issue list page, 2 clients over HTTP, 2 workers",
        "issue page, 2 clients over HTTP, 2 workers",
    }
    for label, r in rows.items():
        assert r["n"] > 0, label
        assert r["errors"] == {}, label
        assert 0 < r["p50"] <= r["p95"] <= r["p99"] <= r["max"], label
        assert r["per_s"] > 0, label
        assert r["server_cpu_ms"] > 0, label
        assert r["database_cpu_ms"] >= 0, label  # counted in clock ticks: a short run may see none
    assert result["one client"] == {}  # --only left the in-process rows out
    assert "| issue page, 2 clients over HTTP, 2 workers |" in province.markdown(result)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"  # dead, waiting for a parent to read its status


def test_a_started_server_is_stopped_with_the_processes_it_started_even_when_the_bench_fails(
    tmp_path: Path,
) -> None:
    log = tmp_path / "server.log"
    seen: list[tuple[Server, int]] = []

    def failing_bench() -> None:
        with started("parent", [sys.executable, "-c", PARENT], dict(os.environ), tmp_path, 0, log) as server:
            deadline = time.monotonic() + 30
            while not log.read_text().strip() and time.monotonic() < deadline:
                time.sleep(0.05)
            child = int(log.read_text().split()[0])
            assert child in _tree(server.process.pid)
            seen.append((server, child))
            raise RuntimeError("the bench failed")

    with pytest.raises(RuntimeError, match="the bench failed"):
        failing_bench()

    ((server, child),) = seen
    assert server.process.returncode is not None
    deadline = time.monotonic() + 10
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child)
