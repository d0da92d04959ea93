"""The composition root: builds the engine, clock, calendar and units of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riverchief.settings import Settings
from workflow.core.calendar import BUILTIN_OVERRIDES, WorkCalendar
from workflow.core.clock import Clock, SystemClock
from workflow.core.db import make_engine, make_loop_engine
from workflow.core.uow import UnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

    from notifications.channels import Channel
    from notifications.dispatcher import Dispatcher
    from workflow.core.filing import Document, Filed

# The notification channels and the dispatcher are imported when a dispatcher is made: a command that reads
# or moves an issue starts without the mail, HTTP and calendar-file libraries (riverchief.cli).


@dataclass(slots=True)
class App:
    """Everything wired: pass ``app.uow()`` to the services."""

    settings: Settings
    engine: Engine
    clock: Clock
    calendar: WorkCalendar
    read_engine: Engine | None = None  # the read replica (settings.read_database_url); None: the primary
    # The engines ``on_loop`` made, while their loops serve (what a statement count listens to beside ``engine``).
    loop_engines: list[AsyncEngine] = field(default_factory=list)

    def uow(self) -> UnitOfWork:
        """A fresh unit of work."""
        return UnitOfWork(self.engine, self.clock, self.calendar)

    def reader(self) -> UnitOfWork:
        """A fresh read-only unit of work on the primary: it sees every step committed so far."""
        return UnitOfWork(self.engine, self.clock, self.calendar, readonly=True)

    def replica_reader(self) -> UnitOfWork:
        """A fresh read-only unit of work on the read replica, or on the primary when none is set.

        A replica may lag the primary by a moment, so this is for reads shown as they stand (the dashboard,
        the stats, the map) and for the scheduled reports once the replica has caught up with their run
        (riverchief.reporting). Never for a step, an idempotency key, a sign-in or any read that decides a
        write: those take ``uow()`` or ``reader()``. Its statements are planned for their own values
        (``db.PLANNED``): a figure's reads, repeated with other values, are not held to one generic plan.
        """
        return UnitOfWork(self.read_engine or self.engine, self.clock, self.calendar, readonly=True, planned=True)

    @asynccontextmanager
    async def on_loop(self) -> AsyncIterator[AsyncEngine | None]:
        """While the running event loop serves: an engine for the units of work run on it (``db.make_loop_engine``;
        None on SQLite), disposed on that loop when it stops."""
        engine = make_loop_engine(self.engine)
        if engine is None:
            yield None
            return
        self.loop_engines.append(engine)
        try:
            yield engine
        finally:
            self.loop_engines.remove(engine)
            await engine.dispose()

    def file_report(self, kind: str, **options: Any) -> Filed:
        """Render a report and file it (the pages and the API ask for minutes and bulletins through this)."""
        from riverchief.reporting import make_and_file  # WeasyPrint only where a report is made

        return make_and_file(self, kind, **options)

    def make_report(self, kind: str, **options: Any) -> Document:
        """Render a report without filing it (a page files it together with the form that asked for it)."""
        from riverchief.reporting import make

        return make(self, kind, **options)

    def dispatcher(self, channels: Sequence[Channel] | None = None) -> Dispatcher:
        """An outbox dispatcher with the configured channels (or the given ones, for tests)."""
        from notifications.dispatcher import Dispatcher, DispatchPolicy
        from notifications.render import Renderer

        return Dispatcher(
            self.uow,
            channels if channels is not None else configured_channels(self.settings),
            Renderer(self.calendar, self.settings.base_url),
            self.clock,
            DispatchPolicy(
                max_attempts=self.settings.dispatch_max_attempts,
                lease=timedelta(seconds=self.settings.dispatch_lease_seconds),
            ),
        )


def configured_channels(settings: Settings) -> list[Channel]:
    """Email (SMTP, or .eml files when no server is set), the generic webhook and the group robots."""
    from notifications.channels import (
        DingTalkChannel,
        EmlChannel,
        SmtpChannel,
        SmtpSettings,
        WebhookChannel,
        WeComChannel,
    )

    email: Channel
    if settings.smtp_host:
        email = SmtpChannel(
            SmtpSettings(
                host=settings.smtp_host,
                port=settings.smtp_port,
                security=settings.smtp_security,
                username=settings.smtp_username,
                password=settings.smtp_password,
                sender=settings.mail_from,
            )
        )
    else:
        email = EmlChannel(settings.data_dir / "mail", settings.mail_from)
    channels: list[Channel] = [email, WeComChannel(), DingTalkChannel()]
    if settings.webhook_secret:
        channels.append(WebhookChannel(settings.webhook_secret))
    return channels


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None, engine: Engine | None = None) -> App:
    """Wire the real adapters; tests pass a frozen clock or their own engine."""
    settings = settings or Settings()
    files: list[Path] = [BUILTIN_OVERRIDES]
    if settings.calendar_file:
        files.append(settings.calendar_file)
    return App(
        settings=settings,
        engine=engine or make_engine(settings.resolved_database_url(), sqlite_synchronous=settings.sqlite_synchronous),
        clock=clock or SystemClock(),
        calendar=WorkCalendar.from_files(files),
        read_engine=make_engine(settings.read_database_url) if settings.read_database_url else None,
    )
