"""The composition root: builds the engine, clock, calendar and units of work."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from riverchief.settings import Settings
from workflow.calendar import BUILTIN_OVERRIDES, WorkCalendar, load_overrides, load_regional
from workflow.clock import Clock, SystemClock
from workflow.db import make_engine
from workflow.uow import UnitOfWork


@dataclass(slots=True)
class App:
    """Everything wired: pass ``app.uow()`` to the services."""

    settings: Settings
    engine: Engine
    clock: Clock
    calendar: WorkCalendar

    def uow(self) -> UnitOfWork:
        """A fresh unit of work."""
        return UnitOfWork(self.engine, self.clock, self.calendar)

    def reader(self) -> UnitOfWork:
        """A fresh read-only unit of work."""
        return UnitOfWork(self.engine, self.clock, self.calendar, readonly=True)


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None, engine: Engine | None = None) -> App:
    """Wire the real adapters; tests pass a frozen clock or their own engine."""
    settings = settings or Settings()
    files: list[Path] = [BUILTIN_OVERRIDES]
    if settings.calendar_file:
        files.append(settings.calendar_file)
    return App(
        settings=settings,
        engine=engine or make_engine(settings.resolved_database_url()),
        clock=clock or SystemClock(),
        calendar=WorkCalendar(load_overrides(files), load_regional(files)),
    )


UowFactory = Callable[[], UnitOfWork]
