"""Engines for the embedded default (SQLite, WAL) and PostgreSQL, chosen by one URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

READONLY = "riverchief_readonly"


# As many pooled connections as the web server runs request threads (anyio's 40): with SQLAlchemy's
# default of 5 (+10 overflow), a busy server opened and closed a connection for most requests.
POOL: dict[str, Any] = {"pool_size": 40, "max_overflow": 10}


def sqlite_url(data_dir: Path) -> str:
    """The default database URL: a file in the data folder."""
    return f"sqlite:///{data_dir / 'riverchief.db'}"


# SQLite's PRAGMA synchronous levels. FULL syncs the WAL at every commit, so a step the client was
# told of survives a power cut; NORMAL syncs only at checkpoints and may lose the last commits.
SYNCHRONOUS = ("EXTRA", "FULL", "NORMAL", "OFF")


def make_engine(url: str, *, sqlite_synchronous: str = "FULL", **kwargs: Any) -> Engine:
    """An engine configured for this workload; never created at import time."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if sqlite_synchronous.upper() not in SYNCHRONOUS:
            raise ValueError(f"sqlite_synchronous must be one of {', '.join(SYNCHRONOUS)}, not {sqlite_synchronous!r}")
        return _sqlite_engine(url, parsed.database, sqlite_synchronous.upper(), **kwargs)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return sa.create_engine(url, **{"pool_pre_ping": True, **POOL, **kwargs})


def _sqlite_engine(url: str, database: str | None, synchronous: str, **kwargs: Any) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    options = {"connect_args": {"check_same_thread": False, "timeout": 30}, **POOL, **kwargs}
    engine = sa.create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" below open transactions, not the driver.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # A writer takes the write lock at BEGIN, so a read-then-write unit of
        # work waits its turn instead of failing on upgrade (SQLITE_BUSY).
        readonly = conn.get_execution_options().get(READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def is_postgres(engine: Engine) -> bool:
    """True when the engine talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"
