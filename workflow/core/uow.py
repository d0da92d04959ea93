"""The unit of work: one connection, one transaction, rolled back unless committed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from workflow.core.calendar import WorkCalendar
from workflow.core.clock import Clock
from workflow.core.db import PLANNED, SNAPSHOT, reader_options, writer_options

T = TypeVar("T")


class UnitOfWork:
    """``with uow: ...; uow.commit()`` — anything not committed is rolled back on exit.

    The hot path runs Core statements on ``connection``; ``session`` is an ORM
    session on the same connection and transaction, made only when asked for.

    A unit already open may be entered again: a service called with the unit
    its caller holds (an HTTP request's, say) works inside it instead of
    opening a connection of its own. Leaving an inner ``with`` keeps the
    connection; leaving it on an exception rolls back what was not committed,
    so the caller can go on reading (a failed step leaves nothing behind).
    After a commit the next statement begins a new transaction.

    The connection is taken from the pool at the first statement, not on entering, so an
    open unit that has not run anything yet costs nothing and is given back without I/O.
    A read-only unit runs on PostgreSQL without a transaction (each statement sees the
    latest commits, as it would in PostgreSQL's default READ COMMITTED transaction, and no
    BEGIN and ROLLBACK round trips are paid); on SQLite in one read transaction, one snapshot
    for all its statements, unless ``snapshot`` was set False before its first statement
    (a web request's reads: each then sees the latest commits, as on PostgreSQL).
    """

    def __init__(
        self, engine: Engine, clock: Clock, calendar: WorkCalendar, *, readonly: bool = False, planned: bool = False
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.calendar = calendar
        self.readonly = readonly
        self.planned = planned  # each statement planned for its own values (``db.PLANNED``): a figure's reads
        self.snapshot = True
        self._session: Session | None = None
        self._connection: sa.Connection | None = None
        self._depth = 0
        self._held = 0
        self._broken = False  # rolled back while held: the held block must not commit a part

    def __enter__(self) -> UnitOfWork:
        self._depth += 1
        return self

    @property
    def connection(self) -> sa.Connection:
        """The unit's connection, taken from the pool at first use; its transaction begins with the first statement
        (on SQLite a writer takes the write lock then)."""
        if self._connection is None:
            if not self._depth:
                raise RuntimeError("a unit of work's connection is used inside ``with uow:`` only")
            self._connection = self._connect()
        return self._connection

    def _connect(self) -> sa.Connection:
        options = reader_options(self.engine, snapshot=self.snapshot) if self.readonly else {}
        return self.engine.connect().execution_options(**options, **{PLANNED: self.planned})

    @property
    def connected(self) -> bool:
        """Whether the unit has taken its connection (run a statement) yet."""
        return self._connection is not None

    def fresh(self) -> UnitOfWork:
        """A new writable unit on this unit's engine: for a bookkeeping write beside a read-only unit."""
        return UnitOfWork(self.engine, self.clock, self.calendar)

    @contextmanager
    def on(self, engine: Engine) -> Iterator[UnitOfWork]:
        """This unit, its statements inside the block run on ``engine`` (the same database through another
        driver: ``db.make_loop_engine``'s), its connection given back there when the block ends. Only before
        its first statement."""
        if self._connection is not None:
            raise RuntimeError("a unit of work moves to another engine only before its first statement")
        before = self.engine
        self.engine = engine
        try:
            yield self
        finally:
            self._drop_connection()
            self.engine = before

    @contextmanager
    def planning(self) -> Iterator[UnitOfWork]:
        """This unit, its statements inside the block planned for their own values (``db.PLANNED``): for a
        figure's reads in a unit opened for something else (a request's). Costs no round trip."""
        before = self.planned
        self._plan(True)
        try:
            yield self
        finally:
            self._plan(before)

    def _plan(self, planned: bool) -> None:
        self.planned = planned
        if self._connection is not None:
            self._connection.execution_options(**{PLANNED: planned})

    def read_first(self, read: Callable[[sa.Connection], T]) -> T:
        """Run ``read``, the unit's first statement, before its transaction, and again once on a new connection
        when the pooled one turns out to have been dropped (a restarted server, a connection killed while idle).

        Nothing has been done in the unit yet, so running the read again repeats nothing; this is what spares
        every checkout a ping. In a writable unit the read takes no write lock (on SQLite) and the unit's
        transaction begins with the next statement. Where the unit has begun already, ``read`` simply runs in it.
        """
        if self._connection is not None and self._connection.in_transaction():
            return read(self._connection)
        try:
            return self._read_outside(read)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
            self._drop_connection()
            return self._read_outside(read)

    def _read_outside(self, read: Callable[[sa.Connection], T]) -> T:
        conn = self.connection
        if self.readonly:
            return read(conn)
        conn.execution_options(**reader_options(self.engine, snapshot=False))
        try:
            found = read(conn)
        except BaseException:
            if not conn.invalidated and conn.in_transaction():
                conn.rollback()
            raise
        else:
            if conn.in_transaction():
                conn.commit()  # ends the read (on SQLite a read transaction; on PostgreSQL nothing was begun)
        finally:
            if not conn.invalidated:
                conn.execution_options(**writer_options(self.engine))
        return found

    def _drop_connection(self) -> None:
        if self._connection is not None:
            self._close_session()
            self._connection.close()
            self._connection = None

    def give_back(self) -> None:
        """Give the connection back to the pool between statements when that loses nothing: a read-only unit
        that reads without a snapshot (on PostgreSQL outside any transaction; on SQLite each statement in its
        own), or any unit with no transaction open. Its next statement takes one again.

        For a unit about to open another on the same engine: holding one connection while waiting for a second
        deadlocks a pool when as many units as it has connections do so at once (each waits for the others
        until the pool's timeout).
        """
        conn = self._connection
        if conn is None or self._held:
            return
        # A read-only unit on PostgreSQL is in autocommit; on SQLite without a snapshot it never sent BEGIN.
        unbegun = self.engine.dialect.name == "postgresql" or not conn.get_execution_options().get(SNAPSHOT, True)
        if not conn.in_transaction() or (self.readonly and unbegun):
            self._drop_connection()

    @property
    def idle(self) -> bool:
        """True when leaving the unit needs no round trip to the server: no connection taken, no transaction
        open, a read-only unit (on PostgreSQL its connection is in autocommit: SQLAlchemy's transaction on it
        has nothing open on the server to roll back), or SQLite (in this process)."""
        conn = self._connection
        return conn is None or not conn.in_transaction() or self.readonly or self.engine.dialect.name == "sqlite"

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._depth -= 1
        if self._depth:
            if exc_type is not None:
                self.rollback()
            return
        # Closing rolls back whatever was not committed; the session's objects
        # are detached without being expired, so callers can still read them.
        self._drop_connection()

    @property
    def session(self) -> Session:
        """An ORM session inside this unit of work's transaction."""
        if self._session is None:
            if not self.connection.in_transaction():
                self.connection.begin()
            # It joins the connection's transaction and never commits it itself.
            self._session = Session(bind=self.connection, join_transaction_mode="rollback_only")
        return self._session

    @contextmanager
    def held(self) -> Iterator[UnitOfWork]:
        """One transaction for everything inside: the services' own commits only flush, and it all
        commits at the end, or none of it does (a create and the idempotency key that remembers it).
        """
        with self:
            self._held += 1
            try:
                yield self
            except BaseException:
                self._held -= 1
                self.rollback()
                raise
            self._held -= 1
            if self._broken:
                self.rollback()
                raise RuntimeError("a part of a held unit of work was rolled back; nothing of it is committed")
            if not self._held:
                self.commit()

    def commit(self) -> None:
        """Make everything done in this unit of work durable, together (at the end of ``held``, when held)."""
        if self._session is not None:
            self._session.flush()
        if self._held:
            return
        if self._connection is not None:
            self._connection.commit()
        # The ORM session belonged to the transaction just ended; a later one gets its own.
        self._close_session()

    def rollback(self) -> None:
        """Undo what was not committed, keeping the connection for what comes next."""
        self._broken = bool(self._held)
        self._close_session()
        if self._connection is not None and self._connection.in_transaction():
            self._connection.rollback()

    def _close_session(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None


def write_now(uow: UnitOfWork, statement: sa.Executable, writer: Callable[[], UnitOfWork] | None) -> None:
    """Run a small bookkeeping write and commit it at once: in ``uow`` when it is writable, else in a unit of
    ``writer``'s (skipped when there is none). For stamps such as a token's last use, never for a step."""
    if not uow.readonly:
        uow.connection.execute(statement)
        uow.commit()
    elif writer is not None:
        uow.give_back()  # so that the stamp's unit never waits for a connection while this one holds another
        with writer() as own:
            own.connection.execute(statement)
            own.commit()
