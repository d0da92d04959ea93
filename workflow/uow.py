"""The unit of work: one session, one transaction, rolled back unless committed."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.engine import Engine
from sqlmodel import Session

from workflow.calendar import WorkCalendar
from workflow.clock import Clock
from workflow.db import READONLY


class UnitOfWork:
    """``with uow: ...; uow.commit()`` — anything not committed is rolled back on exit."""

    session: Session

    def __init__(self, engine: Engine, clock: Clock, calendar: WorkCalendar, *, readonly: bool = False) -> None:
        self.engine = engine
        self.clock = clock
        self.calendar = calendar
        self._bind = engine.execution_options(**{READONLY: True}) if readonly else engine

    def __enter__(self) -> UnitOfWork:
        self.session = Session(self._bind, expire_on_commit=False)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # close() rolls back whatever was not committed and detaches the
        # objects without expiring them, so callers can still read them.
        self.session.close()

    def commit(self) -> None:
        """Make everything done in this unit of work durable, together."""
        self.session.commit()

    def reader(self) -> UnitOfWork:
        """A unit of work for reads only (on SQLite it does not take the write lock)."""
        return UnitOfWork(self.engine, self.clock, self.calendar, readonly=True)
