"""The composition root: builds the engine, clock, calendar and units of work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from riverchief.settings import Settings
from workflow.core.calendar import BUILTIN_OVERRIDES, WorkCalendar
from workflow.core.clock import Clock, SystemClock
from workflow.core.db import make_engine
from workflow.core.uow import UnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from notifications.channels import Channel
    from notifications.dispatcher import Dispatcher
    from workflow.core.filing import Filed

# The notification channels and the dispatcher are imported when a dispatcher is made: a command that reads
# or moves an issue starts without the mail, HTTP and calendar-file libraries (riverchief.cli).


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

    def file_report(self, kind: str, **options: Any) -> Filed:
        """Render a report and file it (the pages and the API ask for minutes and bulletins through this)."""
        from riverchief.reporting import make_and_file  # WeasyPrint only where a report is made

        return make_and_file(self, kind, **options)

    def dispatcher(self, channels: Sequence[Channel] | None = None) -> Dispatcher:
        """An outbox dispatcher with the configured channels (or the given ones, for tests)."""
        from notifications.dispatcher import Dispatcher, DispatchPolicy
        from notifications.render import Renderer

        return Dispatcher(
            self.uow,
            channels if channels is not None else configured_channels(self.settings),
            Renderer(self.calendar, self.settings.base_url),
            self.clock,
            DispatchPolicy(max_attempts=self.settings.dispatch_max_attempts),
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
    )
