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
