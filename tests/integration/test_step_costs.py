"""Each step of an issue's whole life sends at most today's statements, on SQLite and PostgreSQL.

The life is bench.apply's (report to archive, with the real audience and outbox rows, both sign-offs and a
revisit), stepped through ``apply`` as the bench steps it; a change that adds a round trip to a step fails
here. Lower a bound when a step gets cheaper (bench/README.md, "The whole path of a step").
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from bench.apply import Lane, counting, make_bench
from tests.factories import World


class Bound(NamedTuple):
    """The most one step may send: statements on each dialect (on SQLite each transaction's BEGIN is one)."""

    sqlite: int
    postgres: int


# The floor (the same rows written in plain Core) sends 5/4 for a report, 3/2 for investigate (no outbox
# rows), 6/5 for a sign-off, 5/4 for close and no_rebound, 4/3 otherwise: apply reads the issue first,
# a report looks up its compact and segment, a hand-off its target; on PostgreSQL a step's UPDATE, event
# and outbox rows travel as one statement.
BOUNDS = {
    "report": Bound(sqlite=7, postgres=4),
    "investigate": Bound(sqlite=4, postgres=2),
    "confirm": Bound(sqlite=5, postgres=2),
    "hand_off": Bound(sqlite=6, postgres=3),
    "accept": Bound(sqlite=5, postgres=2),
    "start_rectify": Bound(sqlite=5, postgres=2),
    "report_done": Bound(sqlite=5, postgres=2),
    "request_verify": Bound(sqlite=5, postgres=2),
    "pass_check (receiving)": Bound(sqlite=7, postgres=4),
    "pass_check (reporting)": Bound(sqlite=7, postgres=4),
    "close": Bound(sqlite=6, postgres=3),
    "start_revisit": Bound(sqlite=5, postgres=2),
    "no_rebound": Bound(sqlite=6, postgres=3),
    "archive": Bound(sqlite=6, postgres=3),
}
ISSUES = 2


@pytest.fixture
def counted(world: World) -> tuple[str, Lane]:
    """Two issues taken through the whole life twice by ``apply``, the second time counting each step."""
    bench = make_bench(world)
    lane = Lane(bench, "apply", bench.cycles["whole life"], list(range(ISSUES)))
    turn = len(lane.cycle.moves) * ISSUES
    lane.run(turn)  # the year's first report also makes its code counter: not a step's usual cost
    lane.reset()
    with counting(bench.engine) as counts:
        lane.meter = counts
        lane.run(turn)
    return bench.dialect, lane


def test_every_step_of_the_life_has_a_bound(counted: tuple[str, Lane]) -> None:
    _, lane = counted
    assert [move.name for move in lane.cycle.moves] == list(BOUNDS)


def test_each_step_of_the_life_sends_at_most_its_bound_of_statements(
    counted: tuple[str, Lane], subtests: pytest.Subtests
) -> None:
    dialect, lane = counted
    for name, bound in BOUNDS.items():
        with subtests.test(step=name):
            assert lane.tally.steps[name] == ISSUES
            sent = lane.statements[name] / ISSUES
            assert sent <= (bound.sqlite if dialect == "sqlite" else bound.postgres), f"{name}: {sent} statements"


def test_the_life_writes_the_audience_its_steps_name(counted: tuple[str, Lane]) -> None:
    # The counts above are of steps that did their work: every step but investigate and archive tells someone.
    _, lane = counted
    silent = {name for name, rows in lane.tally.rows_per_step().items() if rows == 0}
    assert silent == {"investigate", "archive"}
