"""``riverchief serve`` killed with SIGKILL in the middle of a burst of steps loses no acknowledged step and
leaves no half step, on both databases.

Clients post ``progress`` steps without an expected version, two clients to an issue, over loopback
HTTP; once enough have been acknowledged the server process is killed outright. Afterwards
``riverchief ledger verify`` must pass, every step a client got a 200 for must be in the ledger with
the version it was told, and every step in the ledger must be whole: the issue row's state, version
and chain head agree with its last event, and each step's outbox rows are there.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from riverchief.bootstrap import bootstrap
from riverchief.demo.play import DATA
from riverchief.settings import Settings
from tests.conftest import drop_postgres_database, fresh_postgres_database
from tests.factories import RECEIVER, RECEIVING_CODE, REPORTER, Cli
from workflow.accounts.tokens import create_token
from workflow.core.db import make_engine
from workflow.core.models import Event, Issue, Outbox, table_of
from workflow.core.reference import load, parse

pytestmark = pytest.mark.slow

ISSUES = 4
CLIENTS = 8  # two to an issue, so steps without a version also collide
KILL_AFTER = 60  # acknowledged steps before the kill
WAIT = 20.0  # seconds: the most the burst may take to reach KILL_AFTER

_issue, _event, _outbox = table_of(Issue), table_of(Event), table_of(Outbox)


@dataclass
class Burst:
    """What the clients saw: each acknowledged step, each other answer, and the notes sent without an answer."""

    acknowledged: list[tuple[str, str, int]] = field(default_factory=list)  # (issue, note, version)
    refused: list[tuple[int, str]] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Cli, str]]:
    """A served home: the CLI against a migrated database with the 琼江 compact; (cli, database URL)."""
    cli = Cli(tmp_path)
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), cli.database)
        url = f"sqlite:///{cli.database}"
    else:
        server = request.getfixturevalue("postgres_server")
        url = fresh_postgres_database(server, request.getfixturevalue("postgres_template"))
        cli.env = {"RIVERCHIEF_DATABASE_URL": url}
    try:
        yield cli, url
    finally:
        if request.param == "postgres":
            drop_postgres_database(url)


def tokens(url: str, home: Path) -> dict[str, str]:
    """Load the compact and make the reporter's and receiver's tokens, in this process before serving."""
    wired = bootstrap(Settings(database_url=url, data_dir=home))
    try:
        load(wired.uow(), parse(DATA))
        return {p: f"Bearer {create_token(wired.uow(), p, 'crash')[1]}" for p in (REPORTER, RECEIVER)}
    finally:
        wired.engine.dispose()


def rectifying_issues(base: str, auth: dict[str, str]) -> list[str]:
    """ISSUES issues walked over HTTP to ban.rectifying, where ``progress`` keeps the state."""
    deadline = (date.today() + timedelta(days=60)).isoformat()
    codes = []
    with httpx.Client(base_url=f"{base}/api/v1", timeout=30) as http:
        for n in range(ISSUES):
            made = http.post(
                "/issues",
                json={"title": f"排污口{n}", "category": "domestic_sewage", "segment": "qj-baima"},
                headers={"Authorization": auth[REPORTER]},
            )
            assert made.status_code == 201, made.text
            code = made.json()["code"]
            for trigger, who, payload in (
                ("hand_off", REPORTER, {"receiving": RECEIVING_CODE}),
                ("accept", RECEIVER, {}),
                ("start_rectify", RECEIVER, {"plan": "封堵排口", "deadline": deadline}),
            ):
                moved = http.post(
                    f"/issues/{code}/transitions",
                    json={"trigger": trigger, "payload": payload},
                    headers={"Authorization": auth[who]},
                )
                assert moved.status_code == 200, moved.text
            codes.append(code)
    return codes


def burst(base: str, auth: str, codes: list[str], stop: threading.Event, seen: Burst) -> list[threading.Thread]:
    """Start CLIENTS threads posting progress steps until the server is gone."""

    def client(n: int) -> None:
        code = codes[n % len(codes)]
        with httpx.Client(base_url=f"{base}/api/v1", timeout=30, headers={"Authorization": auth}) as http:
            for sent in range(10_000):
                if stop.is_set():
                    return
                note = f"c{n}-{sent}"
                try:
                    answer = http.post(
                        f"/issues/{code}/transitions", json={"trigger": "progress", "payload": {"note": note}}
                    )
                except httpx.TransportError:
                    with seen.lock:
                        seen.unanswered.append(note)
                    return
                with seen.lock:
                    if answer.status_code == 200:
                        seen.acknowledged.append((code, note, answer.json()["version"]))
                    else:
                        seen.refused.append((answer.status_code, answer.text))

    threads = [threading.Thread(target=client, args=(n,), name=f"client-{n}") for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    return threads


def test_a_server_killed_mid_burst_loses_no_acknowledged_step_and_leaves_no_half_step(
    home: tuple[Cli, str],
) -> None:
    cli, url = home
    auth = tokens(url, cli.home)
    server, base = cli.serve("--no-scheduler")
    stop, seen = threading.Event(), Burst()
    threads: list[threading.Thread] = []
    try:
        codes = rectifying_issues(base, auth)
        threads = burst(base, auth[RECEIVER], codes, stop, seen)
        deadline = time.monotonic() + WAIT
        while len(seen.acknowledged) < KILL_AFTER:
            assert time.monotonic() < deadline, f"only {len(seen.acknowledged)} steps in {WAIT} s: {seen.refused[:3]}"
            assert not seen.refused, seen.refused[:3]
            time.sleep(0.01)
        os.kill(server.pid, signal.SIGKILL)
        assert server.wait(timeout=10) == -signal.SIGKILL
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=40)
        if server.poll() is None:
            server.kill()
        server.communicate(timeout=10)

    # Steps without a version wait their turn: nothing but 200s until the server went away.
    assert not seen.refused, seen.refused[:3]
    assert 0 < len(seen.unanswered) <= CLIENTS  # killed with steps in flight
    verified = cli("ledger", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            for code in codes:
                issue = conn.execute(sa.select(_issue).where(_issue.c.code == code)).one()
                events = conn.execute(
                    sa.select(_event).where(_event.c.issue_id == issue.id).order_by(_event.c.seq)
                ).all()
                # Whole: the row agrees with its last event, and the chain has no gap.
                assert [e.seq for e in events] == list(range(1, issue.version + 1)), code
                last = events[-1]
                assert (issue.state, issue.ledger_head) == (last.to_state, last.hash), code
                assert all(e.prev_hash == p.hash for p, e in pairwise(events)), code
                progress = [e for e in events if e.trigger == "progress"]
                told = dict(
                    conn.execute(
                        sa.select(_outbox.c.event_id, sa.func.count())
                        .where(_outbox.c.event_id.in_([e.id for e in progress]))
                        .group_by(_outbox.c.event_id)
                    ).all()
                )
                assert len({told.get(e.id, 0) for e in progress}) == 1, f"{code}: outbox rows per step {told}"
                assert told.get(progress[0].id, 0) > 0, code
                # Nothing lost: each acknowledged step is the event of the version the client was told.
                by_seq = {e.seq: e.payload["note"] for e in progress}
                acked = [(note, version) for c, note, version in seen.acknowledged if c == code]
                assert all(by_seq.get(version) == note for note, version in acked), code
                # And nothing more than the steps in flight at the kill.
                extra = set(by_seq.values()) - {note for note, _ in acked}
                assert extra <= set(seen.unanswered), code
                assert len(by_seq) == len(set(by_seq.values())), f"{code}: a step recorded twice"
    finally:
        engine.dispose()
    assert len(seen.acknowledged) >= KILL_AFTER
