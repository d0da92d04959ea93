"""Test helpers in one place: the loaded world, its people, and issues walked to a given state."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from riverchief.bootstrap import App
from riverchief.demo.play import DATA
from workflow.core.actors import SYSTEM, Actor, load_actor
from workflow.core.calendar import local_today
from workflow.core.clock import SHANGHAI, FrozenClock
from workflow.core.models import Attachment, Event, Issue, Outbox, ReportFile, table_of
from workflow.core.reference import load, parse
from workflow.core.services import IssueDraft, StepResult, apply, apply_within, current_version, report_issue

START = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)  # a Monday

# The parties of the usual test issue: 太安镇 (Chongqing) reports on the 白马镇 (Sichuan) bank.
REPORTER = "tn-taian"
RECEIVER = "sn-baima"
RECEIVING_CODE = "510904101"
COORDINATOR = "qj-coord"
AUDITOR = "ngo-auditor"
CHECKLIST = ["photos", "site_check", "outfall_closed"]  # domestic_sewage


@dataclass
class World:
    """A loaded compact: the app, its clock and every person as an actor."""

    app: App
    clock: FrozenClock
    people: dict[str, Actor] = field(default_factory=dict)

    def actor(self, code: str) -> Actor:
        """The actor for a person's code (or ``system``)."""
        return SYSTEM if code == "system" else self.people[code]

    def report(self, who: str = REPORTER, **draft: Any) -> str:
        """Report a new issue; returns its code."""
        values: dict[str, Any] = {
            "compact": "QJ",
            "title": "白马镇段排污口",
            "category": "domestic_sewage",
            "segment": "qj-baima",
        }
        values.update(draft)
        return report_issue(self.app.uow(), self.actor(who), IssueDraft(**values)).issue_code

    def fire(
        self, code: str, trigger: str, who: str, expected_version: int | None = None, **payload: Any
    ) -> StepResult:
        """Fire a trigger as a person.

        Reports, evidence and a merged duplicate enter the ledger only with their record (the guards check
        it), as the services do it: the record and the step in one unit of work, refused together.
        """
        if trigger not in ("file_report", "add_evidence", "duplicate_linked"):
            return apply(self.app.uow(), code, trigger, self.actor(who), payload, expected_version)
        with self.app.uow() as uow:
            issue_id, version = current_version(uow, code)
            sha = str(payload.get("sha256", ""))
            if trigger == "file_report":
                compact_id = uow.connection.execute(
                    sa.select(table_of(Issue).c.compact_id).where(table_of(Issue).c.id == issue_id)
                ).scalar_one()
                uow.connection.execute(
                    table_of(ReportFile).insert(),
                    {
                        "compact_id": compact_id,
                        "issue_id": issue_id,
                        "kind": "followup",
                        "title": "test",
                        "path": str(payload.get("file", "")),
                        "sha256": sha,
                        "size": 1,
                        "created_at": self.clock.now(),
                        "prev_hash": "0" * 64,
                        "hash": "1" * 64,
                    },
                )
            elif trigger == "duplicate_linked":
                # The duplicate's side of the merge (mark_duplicate records both in one transaction).
                uow.connection.execute(
                    table_of(Issue)
                    .update()
                    .where(table_of(Issue).c.code == str(payload.get("duplicate", "")))
                    .values(duplicate_of_id=issue_id)
                )
            else:
                uow.connection.execute(
                    table_of(Attachment).insert(),
                    {
                        "issue_id": issue_id,
                        "event_seq": version + 1,
                        "sha256": sha,
                        "filename": "photo.jpg",
                        "content_type": "image/jpeg",
                        "size": 1,
                        "created_at": self.clock.now(),
                    },
                )
            result = apply_within(uow, code, trigger, self.actor(who), payload, expected_version)
            uow.commit()
        return result

    def deadline(self, working_days: int = 10) -> str:
        """A rectification deadline ``working_days`` from now."""
        return self.app.calendar.add_working_days(local_today(self.clock.now()), working_days).isoformat()

    def issue(self, code: str) -> Issue:
        """The issue row as stored now."""
        with self.app.reader() as uow:
            found: Issue = uow.session.execute(sa.select(Issue).where(col(Issue.code) == code)).scalar_one()
            return found

    def events(self, code: str) -> list[Event]:
        """The issue's ledger events in order."""
        with self.app.reader() as uow:
            return list(
                uow.session.execute(
                    sa.select(Event)
                    .join(Issue, col(Issue.id) == col(Event.issue_id))
                    .where(col(Issue.code) == code)
                    .order_by(col(Event.seq))
                ).scalars()
            )

    def outbox(self, code: str) -> list[Outbox]:
        """The issue's outbox rows."""
        with self.app.reader() as uow:
            return list(
                uow.session.execute(
                    sa.select(Outbox)
                    .join(Issue, col(Issue.id) == col(Outbox.issue_id))
                    .where(col(Issue.code) == code)
                    .order_by(col(Outbox.id))
                ).scalars()
            )

    def counts(self) -> dict[str, int]:
        """Rows per table, to show that a refused step wrote nothing."""
        from sqlmodel import SQLModel

        with self.app.reader() as uow:
            return {
                name: uow.session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for name, table in SQLModel.metadata.tables.items()
            }


def load_world(app: App, clock: FrozenClock) -> World:
    """Load the demo's 琼江 compact and resolve its people."""
    load(app.uow(), parse(DATA))
    world = World(app, clock)
    with app.reader() as uow:
        from workflow.core.models import Person

        for code in uow.session.execute(sa.select(col(Person.code))).scalars():
            world.people[code] = load_actor(uow.session, code)
    return world


# The happy path, one step at a time: (trigger, who, payload factory).
def happy_path(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    """The steps from a new report to an archived issue, in order."""
    return [
        ("hand_off", REPORTER, {"receiving": RECEIVING_CODE}),
        ("accept", RECEIVER, {}),
        ("start_rectify", RECEIVER, {"plan": "封堵排口", "deadline": world.deadline(10)}),
        ("progress", RECEIVER, {"note": "完成一半", "percent": 50}),
        ("report_done", RECEIVER, {"summary": "已封堵"}),
        ("request_verify", REPORTER, {}),
        ("pass_check", RECEIVER, {"checklist": CHECKLIST}),
        ("pass_check", REPORTER, {"checklist": CHECKLIST}),
        ("close", REPORTER, {}),
        ("start_revisit", AUDITOR, {}),
        ("no_rebound", AUDITOR, {"finding": "未反弹"}),
        ("archive", COORDINATOR, {}),
    ]


def walk_to(world: World, code: str, last_trigger: str, occurrence: int = 1) -> None:
    """Fire the happy path on ``code`` up to and including the ``occurrence``-th ``last_trigger``."""
    seen = 0
    for trigger, who, payload in happy_path(world):
        world.fire(code, trigger, who, **payload)
        seen += trigger == last_trigger
        if seen == occurrence:
            return
    raise ValueError(f"{last_trigger!r} is not on the happy path")


RIVERCHIEF_CLI = Path(sys.executable).parent / "riverchief"
# Set to 1 to run every command as a process of its own from the start, as the console script does.
WHOLE_PROCESSES = os.environ.get("RIVERCHIEF_TEST_WHOLE_PROCESSES") == "1"


class Zygote:
    """``tests/cli_zygote.py`` in this test process's service: the application imported once, forked per command."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="rc-zygote-"))
        self.socket = str(self.folder / "socket")
        # What the commands import reads no setting, but the consoles made at import read the terminal's size.
        env = Cli(self.folder).environment()
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("cli_zygote.py")), self.socket],
            cwd=Path(__file__).parents[1],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            self.process.kill()
            raise RuntimeError("the command zygote did not start")
        atexit.register(self.close)

    def run(
        self, args: list[str], cwd: Path, env: dict[str, str], timeout: float, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run one command in a forked child, as ``subprocess.run(..., capture_output=True, text=True)`` would."""
        argv = [str(RIVERCHIEF_CLI), *args]
        request = {"argv0": argv[0], "args": args, "cwd": str(cwd), "env": env, "input": input or ""}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(self.socket)
            conn.sendall(json.dumps(request).encode())
            conn.shutdown(socket.SHUT_WR)
            received = b""
            try:
                while chunk := conn.recv(1 << 20):
                    received += chunk
            except TimeoutError:
                pid = received.split(b"\n", 1)[0]
                if pid.isdigit():
                    os.kill(int(pid), signal.SIGKILL)
                raise subprocess.TimeoutExpired(argv, timeout) from None
        _, _, body = received.partition(b"\n")
        if not body:  # the child died before it could answer
            return subprocess.CompletedProcess(argv, -1, "", "the command's process died")
        answer = json.loads(body)

        def text(raw: str) -> str:
            return raw.encode("latin-1").decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")

        return subprocess.CompletedProcess(argv, answer["returncode"], text(answer["stdout"]), text(answer["stderr"]))

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


_zygote: Zygote | None = None


def zygote() -> Zygote:
    """This process's zygote, started at the first command."""
    global _zygote
    if _zygote is None:
        _zygote = Zygote()
    return _zygote


@dataclass
class Cli:
    """Runs the ``riverchief`` command as a user would, in ``home``, against a SQLite file there."""

    home: Path
    env: dict[str, str] = field(default_factory=dict)
    database_name: str = "riverchief.db"

    @property
    def database(self) -> Path:
        """The SQLite file the commands use."""
        return self.home / self.database_name

    def environment(self) -> dict[str, str]:
        """The environment the commands run with: this home's database and settings, no others."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("RIVERCHIEF_") and k not in ("COLUMNS", "LINES") and "proxy" not in k.lower()
        }
        env.update(
            RIVERCHIEF_DATABASE_URL=f"sqlite:///{self.database}",
            RIVERCHIEF_DATA_DIR=str(self.home),
            PYTHONIOENCODING="utf-8",
        )
        env.update(self.env)  # may name another database
        return env

    def __call__(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run one command (``input`` on its standard input, else nothing); the result whatever its exit code."""
        if not WHOLE_PROCESSES:
            return zygote().run(list(args), self.home, self.environment(), timeout=120, input=input)
        return subprocess.run(
            [str(RIVERCHIEF_CLI), *args],
            cwd=self.home,
            env=self.environment(),
            input=input if input is not None else "",
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=120,
            check=False,
        )

    def ok(self, *args: str, input: str | None = None) -> str:
        """Run a command that must succeed; returns its stdout."""
        done = self(*args, input=input)
        assert done.returncode == 0, f"riverchief {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
        assert "Traceback" not in done.stderr
        return done.stdout

    def serve(self, *args: str, wait: float = 30.0) -> tuple[subprocess.Popen[str], str]:
        """Start ``riverchief serve`` on a free loopback port; (the process, its base URL) once it answers."""
        import socket
        import time

        import httpx

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen(
            [str(RIVERCHIEF_CLI), "serve", "--host", "127.0.0.1", "--port", str(port), *args],
            cwd=self.home,
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + wait
        while True:
            try:
                httpx.get(f"{base}/api/v1/openapi.json", timeout=2)
                return server, base
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    raise AssertionError(f"serve did not answer within {wait} s:\n{server.communicate()[0]}") from None
                time.sleep(0.2)


def blank_png(width: int, height: int) -> bytes:
    """A real black-and-white PNG of ``width`` × ``height`` pixels: kilobytes on disk, a pixel a byte once decoded.

    Built row by row, so a decompression bomb costs the test a few megabytes of zeros, never the image.
    """
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte, then a bit a pixel
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_with_gps(lat: tuple[float, float, float], lon: tuple[float, float, float], when: str) -> bytes:
    """A small JPEG whose EXIF gives when (``2026:03:02 10:15:00``, read as Beijing time) and where (N, E) it was
    taken, as a phone's camera writes them."""
    import io

    from PIL import Image

    image = Image.new("RGB", (64, 48), (40, 90, 120))
    exif = Image.Exif()
    exif[0x0132] = when
    exif[0x8825] = {1: "N", 2: lat, 3: "E", 4: lon}
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()
