"""How fast the dispatcher delivers email, against the floor: plain smtplib sending the same messages.

Run ``.venv/bin/python -m bench.dispatch [--messages N]``. In one process:

* the sink: an aiosmtpd ``Controller`` on 127.0.0.1 that accepts every message (in its own thread, for both
  sides alike);
* the world: the 琼江 compact on a fresh SQLite file, 太安镇's chief given an email address, and N outbox rows
  made by N real ``progress`` steps (``apply``), each owed to that one chief: one email per row. The rows of
  the steps that set the issues up are marked sent first. The database is made once and copied for each run;
* dispatcher: ``Dispatcher.drain()`` with the SMTP channel (plain SMTP), i.e. all it does per row: claim the
  batch, render the three templates, write the inbox message, build the email, open one SMTP connection and
  send, record the delivery, mark the row sent;
* floor: ``smtplib`` alone, one connection per message as the dispatcher does, each message built with the
  stdlib the same way (same headers, the same subject, plain-text and HTML bodies, taken from a message the
  dispatcher sent), only the Message-ID varying: what SMTP itself costs here;
* memory: the tracemalloc peak of each over the same N messages, in a second pass (tracemalloc slows Python
  down, so it is off while timing).

Results go to bench/dispatch-results.json. The machine's load average is recorded beside the figures: the
sink and both senders share the CPU, so a busy machine slows both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import smtplib
import socket
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from functools import partial
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from rich.console import Console
from rich.table import Table

from notifications.channels import SmtpChannel, SmtpSettings, message_id
from notifications.dispatcher import Dispatcher
from riverchief.bootstrap import bootstrap
from riverchief.migrate import upgrade
from riverchief.settings import Settings
from tests.factories import RECEIVER, REPORTER, START, load_world, walk_to
from workflow.core.clock import FrozenClock
from workflow.core.db import make_engine
from workflow.core.models import Outbox, Person

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "dispatch-results.json"
SENDER = "河长制跨界协作 <noreply@localhost>"  # SmtpSettings' default
RECIPIENT = ("陈志强", "taian@tongnan.example.cn")  # 太安镇's chief, who hears of every progress step
ISSUES = 20
NOTE = "排口封堵完成一半，正在清理管网并核查沿线排水户"


class Sink:
    """Accepts every message; keeps a count and the first one (the floor's model)."""

    def __init__(self) -> None:
        self.count = 0
        self.first: bytes | None = None

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        if self.first is None:
            self.first = bytes(envelope.original_content)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the world ---------------------------------------------------------------------------------------


def make_database(folder: Path, messages: int, name: str = "base") -> Path:
    """A SQLite file with ``messages`` pending outbox rows, one email each."""
    path = folder / f"{name}.sqlite"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        clock = FrozenClock(START)
        app = bootstrap(Settings(database_url=url, data_dir=folder), clock=clock, engine=engine)
        world = load_world(app, clock)
        with engine.begin() as conn:
            conn.execute(sa.update(Person).where(Person.code == REPORTER).values(email=RECIPIENT[1]))
        codes = [world.report(title=f"白马镇段排污口{i + 1}号") for i in range(ISSUES)]
        for code in codes:
            walk_to(world, code, "start_rectify")
        with engine.begin() as conn:  # the set-up steps' notifications are not what is measured
            conn.execute(sa.update(Outbox).values(status="sent"))
        for i in range(messages):
            world.fire(codes[i % ISSUES], "progress", RECEIVER, note=NOTE, percent=i % 100)
        with engine.connect() as conn:
            pending = conn.execute(sa.select(sa.func.count()).where(Outbox.status == "pending")).scalar_one()
        if pending != messages:
            raise RuntimeError(f"{pending} pending outbox rows, not {messages}")
    finally:
        engine.dispose()  # checkpoints the WAL, so the file alone is the database
    return path


def copy_of(base: Path, name: str) -> str:
    """A fresh copy of the prepared database; returns its URL."""
    target = base.with_name(f"{name}.sqlite")
    shutil.copyfile(base, target)
    return f"sqlite:///{target}"


# -- the two senders ---------------------------------------------------------------------------------


@dataclass
class Run:
    """One measured run."""

    seconds: float
    messages: int
    peak_mib: float | None = None

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds

    def record(self, seconds: float, peak_mib: float | None) -> None:
        """The timing pass gives the seconds, the memory pass (slowed by tracemalloc) the peak."""
        if peak_mib is None:
            self.seconds = seconds
        else:
            self.peak_mib = peak_mib


@contextmanager
def dispatcher_on(url: str, folder: Path, port: int) -> Iterator[Dispatcher]:
    """A dispatcher with the SMTP channel on a copy of the database; checks afterwards that nothing is left."""
    engine = make_engine(url)
    try:
        app = bootstrap(Settings(database_url=url, data_dir=folder), clock=FrozenClock(START), engine=engine)
        channel = SmtpChannel(SmtpSettings(host="127.0.0.1", port=port, security="none", sender=SENDER))
        yield app.dispatcher(channels=[channel])
        with engine.connect() as conn:
            left = conn.execute(sa.select(sa.func.count()).where(Outbox.status != "sent")).scalar_one()
        if left:
            raise RuntimeError(f"{left} outbox rows were not sent")
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Model:
    """The subject and bodies of a message the dispatcher sent."""

    subject: str
    text: str
    html: str

    @classmethod
    def of(cls, raw: bytes) -> Model:
        import email
        import email.policy

        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        if not isinstance(parsed, EmailMessage):
            raise TypeError(type(parsed))
        plain, html = parsed.get_body(("plain",)), parsed.get_body(("html",))
        if plain is None or html is None:
            raise RuntimeError("the dispatcher's email has no plain or HTML part")
        return cls(str(parsed["Subject"]), plain.get_content(), html.get_content())


def run_floor(model: Model, messages: int, port: int) -> int:
    """Send ``messages`` equivalent emails with smtplib, one connection each; returns how many."""
    sender_name, sender_addr = "河长制跨界协作", "noreply@localhost"
    when = format_datetime(START.astimezone(UTC))
    for i in range(messages):
        msg = EmailMessage()
        msg["Subject"] = model.subject
        msg["From"] = Address(sender_name, addr_spec=sender_addr)
        msg["To"] = Address(RECIPIENT[0], addr_spec=RECIPIENT[1])
        msg["Message-ID"] = message_id(f"event-{i}", "localhost")
        msg["Date"] = when
        msg["X-Riverchief-Key"] = f"event-{i}"
        msg.set_content(model.text)
        msg.add_alternative(model.html, subtype="html")
        with smtplib.SMTP("127.0.0.1", port, timeout=15) as smtp:
            smtp.send_message(msg)
    return messages


def timed(work: Callable[[], Any], *, memory: bool) -> tuple[float, float | None, Any]:
    """Seconds taken and, when ``memory``, the tracemalloc peak in MiB."""
    if memory:
        tracemalloc.start()
        tracemalloc.reset_peak()
    start = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - start
    peak = None
    if memory:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return seconds, peak, result


# -- the bench ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dispatch", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000, help="outbox rows / emails per run (default 2000)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    n = args.messages
    console = Console(width=None if sys.stdout.isatty() else 120)
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="bench-dispatch-") as tmp:
        folder = Path(tmp)
        with console.status(f"writing {n} progress steps..."):
            started = time.perf_counter()
            base = make_database(folder, n)
            setup_seconds = time.perf_counter() - started
            warm_up = make_database(folder, 20, "warm-up")
        sink = Sink()
        port = free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        try:
            # Warm up both paths (imports, template compilation, the sink's loop) on a few messages.
            with dispatcher_on(copy_of(warm_up, "warm-up-run"), folder, port) as dispatcher:
                dispatcher.drain()
            if sink.first is None:
                raise RuntimeError("the warm-up sent nothing")
            model = Model.of(sink.first)
            run_floor(model, 20, port)

            runs = {"dispatcher": Run(0.0, n), "floor": Run(0.0, n)}
            outcomes: Counter[str] = Counter()
            for memory in (False, True):
                pass_name = "memory" if memory else "timing"
                before = sink.count
                with (
                    console.status(f"{pass_name}: dispatcher, {n} emails..."),
                    dispatcher_on(copy_of(base, f"dispatch-{pass_name}"), folder, port) as dispatcher,
                ):
                    seconds, peak, outcomes = timed(partial(dispatcher.drain, max_batches=10_000), memory=memory)
                received = sink.count - before
                if outcomes != Counter(sent=n) or received != n:
                    raise RuntimeError(f"not every row went out: {outcomes}, {received} received")
                runs["dispatcher"].record(seconds, peak)

                before = sink.count
                with console.status(f"{pass_name}: floor, {n} emails..."):
                    seconds, peak, _ = timed(partial(run_floor, model, n, port), memory=memory)
                if sink.count - before != n:
                    raise RuntimeError(f"the floor sent {sink.count - before} of {n}")
                runs["floor"].record(seconds, peak)
        finally:
            controller.stop()

    dispatcher_run, floor_run = runs["dispatcher"], runs["floor"]
    ratio = dispatcher_run.seconds / floor_run.seconds
    results = {
        "benchmark": "dispatch",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "database": "sqlite",
        "messages": n,
        "setup_seconds": round(setup_seconds, 2),
        "smtp": "aiosmtpd sink on 127.0.0.1 in the same process, plain SMTP, one connection per message",
        "email_bytes": len(sink.first or b""),
        "dispatcher": {**_figures(dispatcher_run), "outcomes": dict(outcomes)},
        "floor": _figures(floor_run),
        "ratio_dispatcher_to_floor_time": round(ratio, 2),
    }
    args.output.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    table = Table(title=f"dispatch: {n} emails to a local SMTP sink (SQLite)")
    for column in ("sender", "seconds", "messages/s", "ms/message", "tracemalloc peak MiB"):
        table.add_column(column, justify="right" if column != "sender" else "left")
    for name, label in (("dispatcher", "Dispatcher.drain (SmtpChannel)"), ("floor", "floor: smtplib alone")):
        r = runs[name]
        table.add_row(
            label,
            f"{r.seconds:.2f}",
            f"{r.per_second:.0f}",
            f"{1000 * r.seconds / r.messages:.2f}",
            f"{r.peak_mib:.1f}" if r.peak_mib is not None else "—",
        )
    console.print(table)
    console.print(
        f"dispatcher / floor time: [bold]{ratio:.2f}×[/bold]   "
        f"load average {load_before[0]:.2f} → {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs   "
        f"results: {args.output.relative_to(Path.cwd()) if args.output.is_relative_to(Path.cwd()) else args.output}"
    )
    return 0


def _figures(run: Run) -> dict[str, Any]:
    figures = asdict(run)
    return {
        "seconds": round(figures["seconds"], 3),
        "messages_per_second": round(run.per_second, 1),
        "ms_per_message": round(1000 * run.seconds / run.messages, 3),
        "tracemalloc_peak_mib": round(run.peak_mib, 2) if run.peak_mib is not None else None,
    }


if __name__ == "__main__":
    raise SystemExit(main())
