"""The database itself refuses to change or delete a ledger event."""

import pytest
import sqlalchemy as sa

from tests.factories import World


@pytest.mark.parametrize(
    "statement",
    ["UPDATE event SET actor_code = 'someone-else'", "DELETE FROM event"],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_rewrite_the_ledger(world: World, statement: str) -> None:
    code = world.report()
    before = [(e.seq, e.hash, e.actor_code) for e in world.events(code)]
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), world.app.engine.begin() as conn:
        conn.execute(sa.text(statement))
    assert [(e.seq, e.hash, e.actor_code) for e in world.events(code)] == before


def _unfilled_copy(world: World) -> tuple[int, int]:
    """An event written without its compact, as a version before migration 0021 wrote it (inserting is not
    refused): its id and its issue's compact."""
    code = world.report()
    with world.app.engine.begin() as conn:
        issue_id, compact_id = conn.execute(
            sa.text("SELECT id, compact_id FROM issue WHERE code = :code"), {"code": code}
        ).one()
        conn.execute(
            sa.text(
                "INSERT INTO event (issue_id, seq, trigger, from_state, to_state, actor_id, actor_code, parties,"
                " payload, due_at, occurred_at, prev_hash, hash) SELECT issue_id, seq + 1, trigger, from_state,"
                " to_state, actor_id, actor_code, parties, payload, due_at, occurred_at, prev_hash, hash"
                " FROM event WHERE issue_id = :issue"
            ),
            {"issue": issue_id},
        )
        event_id = conn.execute(
            sa.text("SELECT id FROM event WHERE issue_id = :issue AND compact_id IS NULL"), {"issue": issue_id}
        ).scalar_one()
    return event_id, compact_id


def _compact_of(world: World, event_id: int) -> int | None:
    with world.app.engine.connect() as conn:
        found = conn.execute(sa.text("SELECT compact_id FROM event WHERE id = :id"), {"id": event_id}).scalar()
    return None if found is None else int(found)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE event SET compact_id = compact_id",
        "UPDATE event SET compact_id = compact_id + 1",
        "UPDATE event SET compact_id = NULL",
        "UPDATE event SET trigger = 'archive'",
    ],
    ids=["the same again", "another", "none", "another column"],
)
def test_a_set_compact_cannot_be_changed_again_nor_anything_else(world: World, statement: str) -> None:
    code = world.report()
    before = [(e.seq, e.hash, e.trigger, e.compact_id) for e in world.events(code)]
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), world.app.engine.begin() as conn:
        conn.execute(sa.text(statement))
    assert [(e.seq, e.hash, e.trigger, e.compact_id) for e in world.events(code)] == before


@pytest.mark.parametrize(
    "assignment",
    ["compact_id = :compact + 1", "compact_id = :compact, actor_code = 'someone-else'", "actor_code = 'x'"],
    ids=["another compact", "with another column", "another column alone"],
)
def test_an_unfilled_event_may_be_given_only_its_issues_compact_and_nothing_else(world: World, assignment: str) -> None:
    event_id, compact_id = _unfilled_copy(world)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), world.app.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE event SET {assignment} WHERE id = :id"), {"compact": compact_id, "id": event_id})
    assert _compact_of(world, event_id) is None


def test_an_unfilled_event_is_given_its_issues_compact_once(world: World) -> None:
    event_id, compact_id = _unfilled_copy(world)
    fill = sa.text("UPDATE event SET compact_id = :compact WHERE id = :id")
    with world.app.engine.begin() as conn:
        conn.execute(fill, {"compact": compact_id, "id": event_id})
    assert _compact_of(world, event_id) == compact_id
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), world.app.engine.begin() as conn:
        conn.execute(fill, {"compact": compact_id, "id": event_id})
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), world.app.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM event WHERE id = :id"), {"id": event_id})
    assert _compact_of(world, event_id) == compact_id
