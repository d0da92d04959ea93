"""Who may start, record, end, read and report from a patrol, over HTTP, for every seat of the permission matrix.

The expectations are written out by hand from the rules in words (DESIGN.md; workflow/patrols/views.py): a
chief patrols their own jurisdiction's segments (routine) and, under a live swap pairing, the neighbour's
(swap); a covert inspection (暗访) is by a chief or office above the segment's jurisdiction, never its own
chief; a patrol is read by its patroller, the chiefs and offices of the segment's jurisdiction or above,
its compact's coordinators and admins, and does not exist for anyone else (404); only the patroller ends
it or reports from it (a reader who is not gets 403).

The patrols are 太安镇's chief's (tn-taian): a swap patrol of 白马镇's segment qj-baima under a pairing, and a
routine one of his own qj-taian. Each case runs in an hour of its own (the clock moves forward), so the
cases do not overlap each other whatever order they run in.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest

from tests.e2e.test_permission_matrix import SEATS, Seat, Stage, stage  # noqa: F401 (a fixture)
from tests.factories import START
from workflow.patrols.pairings import add_pairing
from workflow.patrols.records import AlreadyEnded, end_patrol, record_patrol, start_patrol

PATROLLER = "tn-taian"
SWAP_SEGMENT = "qj-baima"  # 白马镇's, given to tn-taian by the pairing
OWN_SEGMENT = "qj-taian"  # tn-taian's own

CREATED, ENDED, REFUSED, FORBIDDEN, HIDDEN = 201, 200, 422, 403, 404

# Starting (or recording) a patrol of qj-baima, kind told from the segment.
PATROL_BAIMA: dict[str, int] = {
    "tn-taian": CREATED,  # swap, under the pairing
    "sn-baima": CREATED,  # routine: their own
    "tl-anju": REFUSED,  # a chief, but neither theirs nor paired
    "wh-chief": REFUSED,
    "tn-office": FORBIDDEN,  # an office inspects (covert), it does not patrol
    "sn-office": FORBIDDEN,
    "tl-office": FORBIDDEN,
    "wh-office": FORBIDDEN,
    "tn-chief": REFUSED,  # above 太安镇, not 白马镇
    "sn-chief": CREATED,  # 遂宁市's chief: 白马镇 is in their jurisdiction
    "qj-coord": FORBIDDEN,
    "hj-coord": FORBIDDEN,
    "ngo-auditor": FORBIDDEN,
    "hj-auditor": FORBIDDEN,
    "qj-admin": FORBIDDEN,
    "hj-admin": FORBIDDEN,
}

# A covert inspection (暗访) of qj-baima.
COVERT_BAIMA: dict[str, int] = PATROL_BAIMA | {
    "tn-taian": REFUSED,  # not in their jurisdiction
    "sn-baima": REFUSED,  # their own segment: not covert
    "sn-office": CREATED,  # 安居区's office, above 白马镇
    "tn-office": REFUSED,
    "tl-office": REFUSED,
    "wh-office": REFUSED,
    "sn-chief": CREATED,
}

READS_SWAP = {"tn-taian", "sn-baima", "sn-office", "sn-chief", "qj-coord", "qj-admin", "hj-admin"}
READS_OWN = {"tn-taian", "tn-office", "tn-chief", "qj-coord", "qj-admin", "hj-admin"}

_slots = itertools.count(1)


def test_the_tables_name_every_seat() -> None:
    people = {seat.person for seat in SEATS}
    assert set(PATROL_BAIMA) == people
    assert set(COVERT_BAIMA) == people
    assert people >= READS_SWAP | READS_OWN


@pytest.fixture(scope="module", autouse=True)
def paired(stage: Stage) -> None:  # noqa: F811 (the imported fixture)
    add_pairing(
        stage.world.app.uow(),
        "QJ",
        PATROLLER,
        OWN_SEGMENT,
        "sn-baima",
        SWAP_SEGMENT,
        date(2026, 2, 1),
        date(2026, 4, 30),
    )


def hour(stage: Stage) -> datetime:  # noqa: F811
    """The start of an hour no other case uses, the clock 40 minutes into it."""
    start = START + timedelta(hours=next(_slots))
    stage.world.clock.set(start + timedelta(minutes=40))
    return start


@pytest.fixture
def under_way(stage: Stage) -> Iterator[int]:  # noqa: F811
    """A swap patrol of qj-baima by tn-taian, under way; ended after the case if it still is."""
    start = hour(stage)
    actor = stage.world.actor(PATROLLER)
    patrol = start_patrol(stage.world.app.uow(), actor, SWAP_SEGMENT, start).id
    yield patrol
    with contextlib.suppress(AlreadyEnded):  # the case ended it
        end_patrol(stage.world.app.uow(), actor, patrol, start + timedelta(minutes=30))


def seats() -> list[object]:
    return [pytest.param(seat, id=seat.label) for seat in SEATS]


def end_if_under_way(stage: Stage, person: str, answer: dict[str, object], start: datetime) -> None:  # noqa: F811
    if answer.get("under_way"):
        end_patrol(
            stage.world.app.uow(), stage.world.actor(person), int(str(answer["id"])), start + timedelta(minutes=30)
        )


@pytest.mark.parametrize("seat", seats())
def test_starting_a_patrol(stage: Stage, seat: Seat) -> None:  # noqa: F811
    start = hour(stage)
    answer = stage.client.post(
        "/api/v1/patrols",
        json={"segment": SWAP_SEGMENT, "started_at": start.isoformat()},
        headers=stage.tokens[seat.person],
    )
    assert answer.status_code == PATROL_BAIMA[seat.person], answer.text
    if answer.status_code == CREATED:
        assert answer.json()["kind"] == ("swap" if seat.person == PATROLLER else "routine")
        end_if_under_way(stage, seat.person, answer.json(), start)


@pytest.mark.parametrize("seat", seats())
def test_recording_an_ended_patrol(stage: Stage, seat: Seat) -> None:  # noqa: F811
    start = hour(stage)
    body = {
        "segment": SWAP_SEGMENT,
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=30)).isoformat(),
    }
    answer = stage.client.post("/api/v1/patrols", json=body, headers=stage.tokens[seat.person])
    assert answer.status_code == PATROL_BAIMA[seat.person], answer.text
    batch = stage.client.post(
        "/api/v1/patrols",
        json=[
            body
            | {
                "started_at": (start + timedelta(minutes=31)).isoformat(),
                "ended_at": (start + timedelta(minutes=35)).isoformat(),
            }
        ],
        headers=stage.tokens[seat.person],
    )
    assert batch.status_code == PATROL_BAIMA[seat.person], batch.text


@pytest.mark.parametrize("seat", seats())
def test_recording_a_covert_inspection(stage: Stage, seat: Seat) -> None:  # noqa: F811
    start = hour(stage)
    body = {
        "segment": SWAP_SEGMENT,
        "kind": "covert",
        "started_at": start.isoformat(),
        "ended_at": (start + timedelta(minutes=30)).isoformat(),
    }
    answer = stage.client.post("/api/v1/patrols", json=body, headers=stage.tokens[seat.person])
    assert answer.status_code == COVERT_BAIMA[seat.person], answer.text


@pytest.mark.parametrize("seat", seats())
def test_reading_a_patrol(stage: Stage, seat: Seat) -> None:  # noqa: F811
    start = hour(stage)
    actor = stage.world.actor(PATROLLER)
    own = record_patrol(
        stage.world.app.uow(), actor, OWN_SEGMENT, started_at=start, ended_at=start + timedelta(minutes=10)
    ).id
    swap = record_patrol(
        stage.world.app.uow(),
        actor,
        SWAP_SEGMENT,
        started_at=start + timedelta(minutes=15),
        ended_at=start + timedelta(minutes=25),
    ).id
    headers = stage.tokens[seat.person]
    for patrol, readers in ((own, READS_OWN), (swap, READS_SWAP)):
        answer = stage.client.get(f"/api/v1/patrols/{patrol}", headers=headers)
        assert answer.status_code == (200 if seat.person in readers else HIDDEN), (patrol, answer.text)
    listed = stage.client.get("/api/v1/patrols", params={"person": PATROLLER, "limit": 500}, headers=headers)
    ids = {p["id"] for p in listed.json()["items"]}
    assert (own in ids, swap in ids) == (seat.person in READS_OWN, seat.person in READS_SWAP)


@pytest.mark.parametrize("seat", seats())
def test_ending_a_patrol(stage: Stage, seat: Seat, under_way: int) -> None:  # noqa: F811
    ended_at = stage.world.clock.now() - timedelta(minutes=5)
    answer = stage.client.post(
        f"/api/v1/patrols/{under_way}/end", json={"ended_at": ended_at.isoformat()}, headers=stage.tokens[seat.person]
    )
    expected = ENDED if seat.person == PATROLLER else FORBIDDEN if seat.person in READS_SWAP else HIDDEN
    assert answer.status_code == expected, answer.text
    still = stage.client.get(f"/api/v1/patrols/{under_way}", headers=stage.tokens[PATROLLER]).json()
    assert still["under_way"] is (expected != ENDED)


@pytest.mark.parametrize("seat", seats())
def test_reporting_from_a_patrol(stage: Stage, seat: Seat, under_way: int) -> None:  # noqa: F811
    body = {"compact": seat.compact, "title": "巡河发现排污口", "category": "domestic_sewage", "patrol": under_way}
    answer = stage.client.post("/api/v1/issues", json=body, headers=stage.tokens[seat.person])
    expected = CREATED if seat.person == PATROLLER else FORBIDDEN if seat.person in READS_SWAP else HIDDEN
    assert answer.status_code == expected, answer.text
    issues = stage.client.get(f"/api/v1/patrols/{under_way}", headers=stage.tokens[PATROLLER]).json()["issues"]
    assert len(issues) == (1 if expected == CREATED else 0)
