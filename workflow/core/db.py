"""Engines for the embedded default (SQLite, WAL) and PostgreSQL, chosen by one URL."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

READONLY = "riverchief_readonly"
SNAPSHOT = "riverchief_snapshot"  # on SQLite, whether a read-only connection reads in one transaction
# On PostgreSQL, whether the connection's statements are planned for their own values every time. The driver
# prepares a statement run five times on a connection, and the server may then settle on one generic plan
# for every value: fine for a step's statements, which find a row by its key, but a figure's (a compact's
# year, a month of patrols, the chiefs of a compact) can then read the province instead of its slice, seconds
# instead of milliseconds. Reads that may lag set it (``UnitOfWork(..., planned=True)``).
PLANNED = "riverchief_planned"
BUSY_SECONDS = 30  # how long a writer waits for SQLite's write lock before it gives up
_SQLITE_BUSY = 5  # SQLite's primary result code for a lock another connection holds

# Whether a SQLite writer in this context waits its turn for the write lock; ``without_waiting`` says no.
_WAITS: contextvars.ContextVar[bool] = contextvars.ContextVar("riverchief_sqlite_writer_waits", default=True)


class Contended(Exception):
    """A SQLite writer that may not wait (``without_waiting``) found the write lock taken; nothing was written."""


@contextmanager
def without_waiting() -> Iterator[None]:
    """Inside, a SQLite unit of work about to wait for the write lock raises Contended instead, having begun
    nothing: for work run on the event loop, which must never wait for a lock (``web.access``)."""
    token = _WAITS.set(False)
    try:
        yield
    finally:
        _WAITS.reset(token)


# A pooled PostgreSQL connection is not pinged at every checkout (a round trip per request): it is
# replaced after this many seconds, and a unit of work's first read is run again on a new connection
# when the pooled one turns out dropped (``UnitOfWork.read_first``).
RECYCLE_SECONDS = 1800


# As many pooled connections as the web server runs request threads (anyio's 40): with SQLAlchemy's
# default of 5 (+10 overflow), a busy server opened and closed a connection for most requests.
POOL: dict[str, Any] = {"pool_size": 40, "max_overflow": 10}
# An event loop's engine (``make_loop_engine``): its quick routes hold a connection only while their statements
# run, and one waiting for a free one waits without holding the loop; 30 keep a 2-CPU server busy, and a web
# process then needs at most 80 of PostgreSQL's connections (its default max_connections is 100).
LOOP_POOL: dict[str, Any] = {"pool_size": 20, "max_overflow": 10}


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
    engine = sa.create_engine(url, **{"pool_recycle": RECYCLE_SECONDS, **POOL, **kwargs})
    event.listen(engine, "before_cursor_execute", _refuse_writes_when_reading)
    if engine.dialect.name == "postgresql":
        _plan_when_asked(engine)
    return engine


def make_loop_engine(engine: Engine) -> AsyncEngine | None:
    """For PostgreSQL, an engine on ``engine``'s database for units of work run on an event loop (psycopg's
    asyncio driver): their statements wait for the server without holding a thread, and their code runs
    between the loop's other tasks rather than taking turns with it at the GIL (``web.access``). None for
    SQLite, which is a file this process reads. Its connections belong to the loop that opens them: one per
    loop, disposed on that loop before it closes.

    It refuses what it cannot do as ``engine`` does: a statement planned for its own values (``PLANNED``),
    which a figure's reads ask for and which run in a thread; and, like ``engine``, a write in a read-only unit.
    """
    if engine.dialect.name != "postgresql":
        return None
    from sqlalchemy.ext.asyncio import create_async_engine  # the web server's, not every command's

    loop = create_async_engine(engine.url, **{"pool_recycle": RECYCLE_SECONDS, **LOOP_POOL})
    event.listen(loop.sync_engine, "before_cursor_execute", _refuse_writes_when_reading)
    event.listen(loop.sync_engine, "before_cursor_execute", _refuse_planned)
    return loop


def _refuse_planned(
    conn: sa.Connection, _cursor: Any, _statement: str, _parameters: Any, _context: Any, _executemany: bool
) -> None:
    if conn._execution_options.get(PLANNED):
        raise RuntimeError(
            "a statement planned for its values runs in a thread (wired.replica_reader()), not on a loop"
        )


def _plan_when_asked(engine: Engine) -> None:
    """A statement on a ``PLANNED`` connection is sent unprepared, so the server plans it for its values."""
    dialect = engine.dialect
    execute = dialect.do_execute

    def do_execute(cursor: Any, statement: str, parameters: Any, context: Any = None) -> None:
        if context is not None and context.execution_options.get(PLANNED):
            cursor.execute(statement, parameters, prepare=False)
        else:
            execute(cursor, statement, parameters, context)

    dialect.do_execute = do_execute  # type: ignore[method-assign]


def reader_options(engine: Engine, *, snapshot: bool = True) -> dict[str, Any]:
    """A read-only connection's execution options: on PostgreSQL without a transaction (no BEGIN, no ROLLBACK);
    on SQLite in one read transaction (one snapshot for all its statements) unless ``snapshot`` is False."""
    if engine.dialect.name == "postgresql":
        return {READONLY: True, "isolation_level": "AUTOCOMMIT"}
    return {READONLY: True, SNAPSHOT: snapshot}


def writer_options(engine: Engine) -> dict[str, Any]:
    """A writing connection's execution options, to turn a read-only one back into one that writes."""
    if engine.dialect.name == "postgresql":
        return {READONLY: False, "isolation_level": engine.dialect.default_isolation_level}
    return {READONLY: False}


def _refuse_writes_when_reading(
    conn: sa.Connection, _cursor: Any, _statement: str, _parameters: Any, context: Any, _executemany: bool
) -> None:
    # A read-only unit on PostgreSQL has no transaction: a write there would be committed at once, alone.
    if conn._execution_options.get(READONLY) and context is not None and context.is_crud:
        raise RuntimeError("a read-only unit of work may not write; open a writable one (wired.uow())")


def _sqlite_engine(url: str, database: str | None, synchronous: str, **kwargs: Any) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    options = {"connect_args": {"check_same_thread": False, "timeout": BUSY_SECONDS}, **POOL, **kwargs}
    engine = sa.create_engine(url, **options)
    event.listen(engine, "before_cursor_execute", _refuse_writes_when_reading)
    writers = _Writers()
    dialect = engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    # The writer's turn ends once its COMMIT or ROLLBACK has returned (the engine's events fire before them).
    def do_commit(dbapi_conn: Any) -> None:
        try:
            commit(dbapi_conn)
        finally:
            writers.release(dbapi_conn)

    def do_rollback(dbapi_conn: Any) -> None:
        try:
            rollback(dbapi_conn)
        finally:
            writers.release(dbapi_conn)

    dialect.do_commit = do_commit  # type: ignore[method-assign,assignment]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign,assignment]

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" below open transactions, not the driver.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # A writer takes the write lock at BEGIN, so a read-then-write unit of
        # work waits its turn instead of failing on upgrade (SQLITE_BUSY).
        options = conn._execution_options
        if options.get(READONLY, False):
            if options.get(SNAPSHOT, True):
                conn.exec_driver_sql("BEGIN")
            return  # else each statement is its own read, as on PostgreSQL
        waits = _WAITS.get()
        if not writers.acquire(conn.connection, wait=waits) and not waits:
            raise Contended("another writer in this process holds SQLite's write lock")
        try:
            if waits:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                _begin_now(conn)
        except BaseException:
            writers.release(conn.connection)
            raise

    @event.listens_for(engine.pool, "checkin")
    @event.listens_for(engine.pool, "invalidate")
    def _on_gone(dbapi_conn: Any, *_args: Any) -> None:
        writers.release(dbapi_conn)  # a connection given back or dropped however its transaction ended

    return engine


def _begin_now(conn: sa.Connection) -> None:
    """BEGIN IMMEDIATE if no other process holds SQLite's write lock now; else Contended."""
    # The busy timeout is a setting of the connection, not a statement on the database (no read, no write, no
    # lock): set on the driver's connection itself, around the one statement that must not wait.
    driver = conn.connection.dbapi_connection
    assert driver is not None
    driver.execute("PRAGMA busy_timeout=0")
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except sa.exc.OperationalError as exc:
        if getattr(exc.orig, "sqlite_errorcode", 0) & 0xFF == _SQLITE_BUSY:  # SQLITE_BUSY and its kinds
            raise Contended("another process holds SQLite's write lock") from exc
        raise
    finally:
        driver.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")


class _Writers:
    """SQLite has one writer at a time: the writing connections of this process queue here for it.

    A waiting writer is woken as soon as the last one has committed or rolled back, instead of polling in
    SQLite's busy handler, whose sleeps grow to 100 ms (the long tail of a busy server's POSTs). Writers in
    other processes (the CLI) still meet in the busy handler. A writer not let in within BUSY_SECONDS (a thread
    that already writes opening a second writer, say) goes on to BEGIN IMMEDIATE, where SQLite's wait decides.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: Any = None  # the DB-API connection whose turn it is

    def acquire(self, conn: Any, *, wait: bool = True) -> bool:
        """Take the turn of ``conn`` (a DB-API connection, or the pool's proxy of one), waiting for it up to
        BUSY_SECONDS, or not at all when not ``wait``; False when it was not had."""
        taken = self._lock.acquire(timeout=BUSY_SECONDS) if wait else self._lock.acquire(blocking=False)
        if taken:
            self._holder = _raw(conn)
        return taken

    def release(self, conn: Any) -> None:
        """End the turn of ``conn``, if it is its turn."""
        if conn is not None and self._holder is _raw(conn):
            self._holder = None
            self._lock.release()


def _raw(conn: Any) -> Any:
    """The DB-API connection itself: SQLAlchemy hands the dialect the pool's proxy of it."""
    return getattr(conn, "dbapi_connection", conn)


def is_postgres(engine: Engine) -> bool:
    """True when the engine talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"
