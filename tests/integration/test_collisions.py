"""Steps that collide on one issue: without an expected version each waits its turn; with one, a stale one is a 409."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import RECEIVER, World, walk_to
from web.routes import issues as issue_routes
from workflow.core.errors import Conflict, WorkflowError
from workflow.core.ledger import verify
from workflow.core.services import StepResult, apply

STORM = 32  # parallel steps on one issue; each holds a pooled connection (the pool has 40 + 10)
OTHER_RECEIVER = "sn-office"  # 安居区河长办: above 白马镇, so the receiving side too


def _storm(world: World, code: str, expected_version: int | None) -> list[StepResult | WorkflowError]:
    """STORM threads meet at a barrier, then each fires ``progress`` on ``code``; returns each outcome."""
    barrier = threading.Barrier(STORM, timeout=30)

    def one(n: int) -> StepResult | WorkflowError:
        actor = world.actor(RECEIVER if n % 2 else OTHER_RECEIVER)
        barrier.wait()
        try:
            return apply(world.app.uow(), code, "progress", actor, {"note": f"第{n}次"}, expected_version)
        except WorkflowError as refused:
            return refused

    with ThreadPoolExecutor(STORM) as pool:
        return list(pool.map(one, range(STORM)))


def _ledger_ok(world: World) -> None:
    with world.app.reader() as uow:
        report = verify(uow.session)
    assert report.ok, [str(f) for f in report.findings]


def test_a_storm_of_steps_without_a_version_all_apply_one_after_another(world: World) -> None:
    code = world.report()
    walk_to(world, code, "start_rectify")
    start = world.issue(code).version

    outcomes = _storm(world, code, None)

    refused = [o for o in outcomes if isinstance(o, WorkflowError)]
    assert refused == [], [str(r) for r in refused]
    versions = sorted(o.version for o in outcomes if isinstance(o, StepResult))
    assert versions == list(range(start + 1, start + STORM + 1))
    events = world.events(code)
    assert world.issue(code).version == len(events) == start + STORM
    assert sorted(e.payload["note"] for e in events[start:]) == sorted(f"第{n}次" for n in range(STORM))
    assert [e.seq for e in events] == list(range(1, start + STORM + 1))
    _ledger_ok(world)


def test_a_storm_of_steps_at_one_expected_version_lets_one_through_and_refuses_the_rest(world: World) -> None:
    code = world.report()
    walk_to(world, code, "start_rectify")
    start = world.issue(code).version

    outcomes = _storm(world, code, start)

    won = [o for o in outcomes if isinstance(o, StepResult)]
    assert [w.version for w in won] == [start + 1]
    refused = [o for o in outcomes if not isinstance(o, StepResult)]
    assert len(refused) == STORM - 1
    assert all(isinstance(r, Conflict) and r.expected == start for r in refused), [str(r) for r in refused]
    assert world.issue(code).version == len(world.events(code)) == start + 1
    _ledger_ok(world)


@pytest.mark.parametrize("expected", [None, 4])
def test_a_step_without_a_version_applies_on_the_current_one_and_a_stale_version_is_refused(
    world: World, expected: int | None
) -> None:
    code = world.report()
    walk_to(world, code, "progress")  # version 5
    if expected is None:
        assert world.fire(code, "progress", RECEIVER, note="再报").version == 6
    else:
        with pytest.raises(Conflict, match="expected version 4, it is now 5"):
            world.fire(code, "progress", RECEIVER, expected, note="再报")


def _stale_after_its_read(world: World, monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    """An issue in rectification, and its version; another chief's step will land on it after the next API
    request read it with its caller (``step_beside``) and before the request's own step is written."""
    code = world.report()
    walk_to(world, code, "start_rectify")
    real = issue_routes.apply

    def after_another(*args: Any, **kwargs: Any) -> StepResult:
        assert kwargs.get("first") is not None, "the API's step no longer starts from the read with its caller"
        world.fire(code, "progress", OTHER_RECEIVER, note="区河长办先到")
        return real(*args, **kwargs)

    monkeypatch.setattr(issue_routes, "apply", after_another)
    return code, world.issue(code).version


def test_an_api_step_whose_first_read_went_stale_applies_on_what_the_other_step_left(
    world: World, receiver_api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, start = _stale_after_its_read(world, monkeypatch)

    answer = receiver_api.post(
        f"/api/v1/issues/{code}/transitions", json={"trigger": "progress", "payload": {"note": "白马镇清淤过半"}}
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["version"] == start + 2
    events = world.events(code)
    assert [(e.seq, e.payload["note"]) for e in events[start:]] == [
        (start + 1, "区河长办先到"),
        (start + 2, "白马镇清淤过半"),
    ]
    assert {row.event_id for row in world.outbox(code)} >= {events[-2].id, events[-1].id}
    _ledger_ok(world)


def test_an_api_step_at_a_version_that_went_stale_after_its_read_is_a_409_and_writes_nothing(
    world: World, receiver_api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, start = _stale_after_its_read(world, monkeypatch)

    answer = receiver_api.post(
        f"/api/v1/issues/{code}/transitions",
        json={"trigger": "progress", "payload": {"note": "白马镇清淤过半"}, "expected_version": start},
    )

    assert answer.status_code == 409, answer.text
    assert str(start + 1) in answer.text  # the version that stands now
    events = world.events(code)
    assert world.issue(code).version == len(events) == start + 1
    assert events[-1].payload["note"] == "区河长办先到"
    assert {row.event_id for row in world.outbox(code)} <= {e.id for e in events}
    _ledger_ok(world)
