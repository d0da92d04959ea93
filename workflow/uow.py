"""The unit of work: one connection, one transaction, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from workflow.calendar import WorkCalendar
from workflow.clock import Clock
from workflow.db import READONLY


class UnitOfWork:
    """``with uow: ...; uow.commit()`` — anything not committed is rolled back on exit.

    The hot path runs Core statements on ``connection``; ``session`` is an ORM
    session on the same connection and transaction, made only when asked for.
    """

    connection: sa.Connection

    def __init__(self, engine: Engine, clock: Clock, calendar: WorkCalendar, *, readonly: bool = False) -> None:
        self.engine = engine
        self.clock = clock
        self.calendar = calendar
        self.readonly = readonly
        self._session: Session | None = None

    def __enter__(self) -> UnitOfWork:
        options = {READONLY: True} if self.readonly else {}
        self.connection = self.engine.connect().execution_options(**options)
        self.connection.begin()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Closing rolls back whatever was not committed; the session's objects
        # are detached without being expired, so callers can still read them.
        if self._session is not None:
            self._session.close()
            self._session = None
        self.connection.close()

    @property
    def session(self) -> Session:
        """An ORM session inside this unit of work's transaction."""
        if self._session is None:
            # It joins the connection's transaction and never commits it itself.
            self._session = Session(bind=self.connection, join_transaction_mode="rollback_only")
        return self._session

    def commit(self) -> None:
        """Make everything done in this unit of work durable, together."""
        if self._session is not None:
            self._session.flush()
        self.connection.commit()
