"""What the web layer needs from the composition root, declared here so that ``web`` never imports it."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from workflow.core.calendar import WorkCalendar
from workflow.core.clock import Clock
from workflow.core.filing import Document
from workflow.core.uow import UnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


class WebSettings(Protocol):
    """The settings the pages and the API read."""

    @property
    def cookie_secure(self) -> bool: ...

    @property
    def data_dir(self) -> Path: ...

    @property
    def trusted_proxies(self) -> tuple[str, ...]: ...

    @property
    def upload_max_bytes(self) -> int: ...

    @property
    def body_max_bytes(self) -> int: ...

    @property
    def form_max_bytes(self) -> int: ...

    @property
    def tianditu_key(self) -> str | None: ...


class FiledReport(Protocol):
    """A report just filed: its record's id and its SHA-256."""

    @property
    def id(self) -> int: ...

    @property
    def sha256(self) -> str: ...

    @property
    def new(self) -> bool: ...


class Wired(Protocol):
    """The wired application ``riverchief.bootstrap`` hands to ``web.api.create_api``."""

    @property
    def settings(self) -> WebSettings: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def calendar(self) -> WorkCalendar: ...

    def uow(self) -> UnitOfWork:
        """A fresh unit of work."""
        ...

    def reader(self) -> UnitOfWork:
        """A fresh read-only unit of work on the primary."""
        ...

    def replica_reader(self) -> UnitOfWork:
        """A fresh read-only unit of work on the read replica (the primary when none is set): it may lag a moment."""
        ...

    def on_loop(self) -> AbstractAsyncContextManager[AsyncEngine | None]:
        """While the running event loop serves: an engine for units of work run on it (None on SQLite)."""
        ...

    def make_report(self, kind: str, **options: Any) -> Document:
        """Render a report without filing it: an auditor's revisit report, filed with the form that chose it."""
        ...

    def file_report(self, kind: str, **options: Any) -> FiledReport:
        """Render a report and file it: minutes of a meeting, a progress bulletin."""
        ...
