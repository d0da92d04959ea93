"""Steps that collide on one issue: without an expected version each waits its turn; with one, a stale one is a 409."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.factories import RECEIVER, World, walk_to
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
