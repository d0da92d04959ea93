"""SQLite's writers in one process take turns at the write lock, however they end; its readers' snapshots."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from workflow.core.db import BUSY_SECONDS, Contended, make_engine, without_waiting

THREADS = 6
WRITES = 25


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    """An engine whose connections give up at once on a locked database: only the turns keep writers apart."""
    made = make_engine(f"sqlite:///{tmp_path / 'writers.db'}")

    @event.listens_for(made, "connect")
    def _no_busy_wait(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=0")

    with made.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    yield made
    made.dispose()


def _count(source: sa.Engine | sa.Connection) -> int:
    if isinstance(source, sa.Connection):
        return int(source.exec_driver_sql("SELECT count(*) FROM t").scalar_one())
    with source.connect() as conn:
        return _count(conn)


def test_threads_writing_at_once_all_get_their_turn(engine: sa.Engine) -> None:
    failures: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(WRITES):
                with engine.begin() as conn:
                    conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        except BaseException as exc:  # collected for the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=write) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert _count(engine) == THREADS * WRITES


@pytest.mark.parametrize("end", ["rollback", "close", "error"])
def test_a_writer_that_does_not_commit_still_ends_its_turn(engine: sa.Engine, end: str) -> None:
    conn = engine.connect()
    conn.begin()
    conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    if end == "rollback":
        conn.rollback()
    elif end == "error":
        with pytest.raises(sa.exc.DBAPIError):
            conn.exec_driver_sql("INSERT INTO no_such_table VALUES (1)")
        conn.rollback()
    conn.close()

    done = threading.Event()

    def write() -> None:
        with engine.begin() as other:
            other.exec_driver_sql("INSERT INTO t VALUES (2)")
        done.set()

    threading.Thread(target=write, daemon=True).start()
    assert done.wait(timeout=10), "the next writer was kept waiting"
    assert _count(engine) == 1


@pytest.mark.parametrize(("snapshot", "seen"), [(True, 0), (False, 1)], ids=["one snapshot", "each commit"])
def test_a_reader_keeps_one_snapshot_unless_told_not_to(sqlite_app: Any, snapshot: bool, seen: int) -> None:
    """The CLI's readers read in one snapshot; a web request's (``snapshot = False``) see each commit, as on
    PostgreSQL, and spare SQLite a BEGIN."""
    with sqlite_app.uow() as writer:
        writer.connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        writer.commit()
    reader = sqlite_app.reader()
    reader.snapshot = snapshot
    with reader:
        before = _count(reader.connection)
        with sqlite_app.uow() as writer:
            writer.connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            writer.commit()
        after = _count(reader.connection)
    assert after - before == seen


@pytest.fixture
def waiting_engine(tmp_path: Path) -> Any:
    """An engine as the application makes it: its writers wait for the lock (up to BUSY_SECONDS)."""
    made = make_engine(f"sqlite:///{tmp_path / 'waiting.db'}")
    with made.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    yield made
    made.dispose()


def _insert_without_waiting(engine: sa.Engine) -> None:
    with without_waiting(), engine.connect() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        conn.commit()


def test_a_writer_that_may_not_wait_is_refused_at_once_while_this_process_writes(waiting_engine: sa.Engine) -> None:
    """The event loop must never wait: with another writer of this process in its turn, Contended comes at once."""
    holder = waiting_engine.connect()
    holder.begin()
    holder.exec_driver_sql("INSERT INTO t VALUES (0)")

    started = time.monotonic()
    with pytest.raises(Contended):
        _insert_without_waiting(waiting_engine)
    assert time.monotonic() - started < 1

    holder.rollback()
    holder.close()
    _insert_without_waiting(waiting_engine)  # the turn is free again: the same writer goes through
    assert _count(waiting_engine) == 1


def test_a_writer_that_may_not_wait_is_refused_at_once_while_another_process_writes(
    waiting_engine: sa.Engine,
) -> None:
    """Another process (the CLI, say) holds SQLite's own lock: no wait in the busy handler either, and the
    connection waits as before for its next writer, and the turn refused is free for the next one."""
    other = sqlite3.connect(str(waiting_engine.url.database), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    started = time.monotonic()
    with pytest.raises(Contended):
        _insert_without_waiting(waiting_engine)
    assert time.monotonic() - started < 1
    raw = waiting_engine.raw_connection()  # the pool's one connection, given back (raw: no BEGIN, no wait)
    assert raw.cursor().execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_SECONDS * 1000
    raw.close()

    wrote = threading.Event()

    def write() -> None:  # waits in SQLite's busy handler until the other process commits
        with waiting_engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (2)")
        wrote.set()

    threading.Thread(target=write, daemon=True).start()
    assert not wrote.wait(timeout=0.3), "a writer that may wait went through another process's lock"
    other.execute("COMMIT")
    other.close()
    assert wrote.wait(timeout=10), "the waiting writer never got its turn"
    assert _count(waiting_engine) == 1
