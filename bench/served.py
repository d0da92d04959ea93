"""A server as a process of its own on a loopback port, and the keep-alive HTTP clients that load it.

Shared by the benches that measure riverchief over real HTTP (``bench.api``, ``bench.province``): how a
server is started, waited for, measured (its CPU and PostgreSQL's) and always stopped, and the client.
"""

from __future__ import annotations

import asyncio
import http.client
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

RIVERCHIEF = Path(sys.executable).parent / "riverchief"


# -- the servers -----------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    """Distinct TCP ports nobody listens on now."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without riverchief's settings or proxies, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERCHIEF_") and "proxy" not in k.lower()}
    return {**env, "PYTHONIOENCODING": "utf-8", **extra}


@dataclass
class Server:
    """A server process on a loopback port, its output going to a log file."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> None:
        """Raise if the process has exited."""
        if self.process.poll() is not None:
            tail = self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{tail}")

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until it answers HTTP (any status will do)."""
        deadline = time.monotonic() + timeout
        while True:
            self.alive()
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                conn.request("GET", "/api/v1/issues/ready")
                conn.getresponse().read()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not answer on port {self.port} in {timeout:.0f}s") from None
                time.sleep(0.1)
            finally:
                conn.close()

    def cpu_seconds(self) -> float:
        """User + system CPU of the process and its descendants (the workers, when there are several)."""
        return sum(self.cpu_by_process().values())

    def cpu_by_process(self) -> dict[int, float]:
        """User + system CPU of the process and of each of its descendants, by pid."""
        return {pid: _cpu_of(pid) for pid in _tree(self.process.pid)}


def _tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _cpu_of(pid: int, missing: float = 0.0) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return missing
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


@contextmanager
def started(
    name: str, command: Sequence[str], env: dict[str, str], cwd: Path, port: int, log: Path
) -> Iterator[Server]:
    """A server process in a process group of its own, the group stopped (SIGTERM, then SIGKILL) on exit.

    On exit whatever the way out: an error, Ctrl-C (the terminal's SIGINT reaches the bench only, the
    group being apart) or SIGTERM once ``stop_on_sigterm`` is in force. The whole group, since a server
    with ``--workers N`` supervises worker processes that would outlive a killed supervisor.
    """
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield Server(name, port, process, log)
        finally:
            _signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()
            _signal_group(process, signal.SIGKILL)  # a worker left behind by its supervisor


def _signal_group(process: subprocess.Popen[bytes], sent: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sent)  # the group's id is the leader's pid (start_new_session)


def stop_on_sigterm() -> None:
    """Make SIGTERM end this process as Ctrl-C would (SystemExit), so that ``started`` stops its servers."""

    def leave(number: int, _frame: Any) -> None:
        raise SystemExit(128 + number)

    signal.signal(signal.SIGTERM, leave)


def database_cpu_seconds(engine: Engine) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend on the engine's database, by pid (none when the server is not
    on this machine: its processes are not in /proc); this statement's own backend left out."""
    with engine.connect() as conn:
        pids = conn.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
        ).scalars()
        return {pid: cpu for pid in pids if (cpu := _cpu_of(pid, missing=-1.0)) >= 0}


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two readings by pid (a process new since the first counts from 0)."""
    return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())


def serve_flags(workers: int) -> list[str]:
    """``--workers N`` for ``riverchief serve`` when more than one is asked for and the command has it."""
    if workers == 1:
        return []
    shown = subprocess.run([str(RIVERCHIEF), "serve", "--help"], capture_output=True, text=True, check=False).stdout
    if "--workers" not in shown:
        raise SystemExit("riverchief serve has no --workers option here: run with --workers 1")
    return ["--workers", str(workers)]


# -- the clients -----------------------------------------------------------------------------------


class ProtocolError(Exception):
    """A response this client does not read (it expects Content-Length bodies, as uvicorn sends them)."""


# What a request on a Connection raises when the server or the connection fails it: counted, not fatal.
CLIENT_FAILURES = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ProtocolError, ValueError)


class Connection:
    """One keep-alive HTTP/1.1 connection speaking just what the bench needs.

    A hand-written client: httpx's AsyncClient took a whole CPU for about 100 requests a second on this
    machine, which would have measured the client instead of the servers.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.host = f"Host: 127.0.0.1:{port}\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, token: str | None = None, body: bytes = b"", *, cookie: str | None = None
    ) -> tuple[int, bytes]:
        """Send one request, with a bearer token or a cookie (``name=value``), and read its response: (status, body)."""
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        head = f"{method} {path} HTTP/1.1\r\n".encode() + self.host
        if token is not None:
            head += f"Authorization: Bearer {token}\r\n".encode()
        if cookie is not None:
            head += f"Cookie: {cookie}\r\n".encode()
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
        self.writer.write(head + b"\r\n" + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "content-length" not in headers:
            raise ProtocolError(f"no Content-Length in {lines[0]!r}")
        content = await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, content

    async def close(self) -> None:
        """Close the connection (a later request opens a new one)."""
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()


def quantile(values: list[float], q: float) -> float:
    """The nearest-rank quantile of ``values`` (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]
