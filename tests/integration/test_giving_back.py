"""A request's unit of work is given back on the event loop when that needs no round trip to the server."""

from __future__ import annotations

import sqlalchemy as sa

from tests.factories import World


def test_a_read_only_unit_that_has_read_is_given_back_without_a_round_trip(world: World) -> None:
    reader = world.app.reader()
    with reader:
        assert reader.connection.execute(sa.select(sa.literal(1))).scalar() == 1
        # On PostgreSQL it reads in autocommit: SQLAlchemy holds a transaction, the server none to roll back.
        assert reader.idle
        if world.app.engine.dialect.name == "postgresql":
            assert reader.connection.connection.dbapi_connection.info.transaction_status.name == "IDLE"


def test_a_writable_unit_with_its_transaction_open_is_given_back_from_the_thread_pool_on_postgres(
    world: World,
) -> None:
    uow = world.app.uow()
    with uow:
        uow.connection.execute(sa.select(sa.literal(1)))
        # Its ROLLBACK is a round trip on PostgreSQL: the event loop must not wait for it. SQLite's is in-process.
        assert uow.idle is (world.app.engine.dialect.name == "sqlite")
        uow.commit()
        assert uow.idle
