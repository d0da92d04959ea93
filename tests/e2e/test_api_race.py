"""Two clients race on one issue over real HTTP: one 200, one 409, and no event lost.

A TestClient calls the app in-process, one request at a time, so here a real
uvicorn server listens on a free loopback port and two threads, each with its
own HTTP connection, meet at a barrier after reading the same version and then
post at once. The server runs sync routes in its thread pool, so both requests
are in the service together and the database's version check has to decide.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from tests.factories import RECEIVER, REPORTER, World, walk_to
from web.api import create_api
from workflow.accounts.tokens import create_token
from workflow.core.ledger import verify

pytestmark = pytest.mark.slow

ROUNDS = 20
WAIT = 30.0  # seconds: the bound on every barrier wait and request
OTHER_RECEIVER = "sn-office"  # 安居区河长办: above 白马镇, so the receiving side too


@dataclass
class Server:
    """A uvicorn server on a loopback port, run in a thread."""

    base_url: str
    server: uvicorn.Server
    thread: threading.Thread


@pytest.fixture
def served(world: World) -> Iterator[Server]:
    """The API for ``world`` served over HTTP on 127.0.0.1 until the test ends."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        create_api(world.app), host="127.0.0.1", port=port, log_level="warning", ws="none", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, f"the server did not start within {WAIT} s"
        time.sleep(0.02)
    try:
        yield Server(f"http://127.0.0.1:{port}", server, thread)
    finally:
        server.should_exit = True
        thread.join(WAIT)


def bearer(world: World, person: str) -> dict[str, str]:
    """A fresh personal access token's header for a person."""
    return {"Authorization": f"Bearer {create_token(world.app.uow(), person, 'race')[1]}"}


def race(
    served: Server, code: str, entrants: dict[str, tuple[dict[str, str], dict[str, Any]]]
) -> dict[str, httpx.Response]:
    """Each entrant reads the issue's version, meets the others, then posts its transition with that version.

    ``entrants`` maps a name to (auth header, transition body without the version); returns the answers by name.
    """
    barrier = threading.Barrier(len(entrants), timeout=WAIT)
    answers: dict[str, httpx.Response] = {}
    seen: dict[str, int] = {}
    failures: list[BaseException] = []

    def run(name: str, headers: dict[str, str], body: dict[str, Any]) -> None:
        try:
            with httpx.Client(base_url=served.base_url, headers=headers, timeout=WAIT) as client:
                got = client.get(f"/api/v1/issues/{code}")
                assert got.status_code == 200, got.text
                seen[name] = got.json()["version"]
                barrier.wait()  # everyone has read the same version: go
                answers[name] = client.post(
                    f"/api/v1/issues/{code}/transitions", json={**body, "expected_version": seen[name]}
                )
        except BaseException as exc:  # the test must hear of it, not hang on the barrier
            barrier.abort()
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(name, *entry), name=name) for name, entry in entrants.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 2)
    assert not failures, failures
    assert len(set(seen.values())) == 1, f"the entrants read different versions: {seen}"
    return answers


def one_winner(answers: dict[str, httpx.Response]) -> tuple[str, httpx.Response, httpx.Response]:
    """The winner's name and answer, and the loser's answer; fails unless it is exactly one 200 and one 409."""
    statuses = sorted(a.status_code for a in answers.values())
    assert statuses == [200, 409], {name: (a.status_code, a.text) for name, a in answers.items()}
    (winner,) = (name for name, a in answers.items() if a.status_code == 200)
    (loser,) = (a for a in answers.values() if a.status_code == 409)
    return winner, answers[winner], loser


def ledger_verifies(world: World, code: str) -> None:
    """The issue's hash chain and its replay agree with the issue row."""
    issue_id = world.issue(code).id
    assert issue_id is not None
    with world.app.reader() as uow:
        report = verify(uow.session, issue_ids=[issue_id])
    assert report.ok, [str(f) for f in report.findings]
    assert report.events == len(world.events(code))


def test_two_clients_reporting_progress_at_the_same_version_one_wins_and_no_event_is_lost(
    world: World, served: Server
) -> None:
    code = world.report()
    walk_to(world, code, "start_rectify")
    start = world.issue(code).version
    entrants = {"baima": bearer(world, RECEIVER), "office": bearer(world, OTHER_RECEIVER)}

    winners: list[tuple[int, str]] = []
    for round_no in range(ROUNDS):
        answers = race(
            served,
            code,
            {
                name: (headers, {"trigger": "progress", "payload": {"note": f"{name} round {round_no}"}})
                for name, headers in entrants.items()
            },
        )
        winner, won, lost = one_winner(answers)
        assert won.json()["version"] == start + round_no + 1
        assert lost.json()["error"] == "Conflict"
        winners.append((round_no, winner))

    events = world.events(code)
    assert world.issue(code).version == len(events) == start + ROUNDS
    rounds = [(e.seq, e.payload["note"]) for e in events[start:]]
    assert rounds == [(start + n + 1, f"{name} round {n}") for n, name in winners]
    ledger_verifies(world, code)


def test_accept_and_dispute_racing_on_a_hand_off_leave_one_outcome_in_state_and_ledger(
    world: World, served: Server
) -> None:
    outcomes = {"accept": "ban.accepted", "dispute": "ban.negotiating"}
    entrants = {
        "accept": (bearer(world, RECEIVER), {"trigger": "accept", "payload": {}}),
        "dispute": (bearer(world, OTHER_RECEIVER), {"trigger": "dispute", "payload": {"reason": "非我方排口"}}),
    }
    for _ in range(ROUNDS // 4):
        code = world.report(REPORTER)
        walk_to(world, code, "hand_off")
        winner, won, lost = one_winner(race(served, code, entrants))
        assert lost.json()["error"] == "Conflict"
        assert (won.json()["state"], world.issue(code).state) == (outcomes[winner], outcomes[winner])
        assert [e.trigger for e in world.events(code)] == ["report", "hand_off", winner]
        ledger_verifies(world, code)
