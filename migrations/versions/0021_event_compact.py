"""event compact: the compact on the ledger, so that a compact's steps of a period are read without the province's

The year's stats, the dashboard and the practice's figures found a compact's steps of a period through
ix_event_trigger_occurred (trigger, occurred_at), which holds every compact's steps of that period, and
joined them to the issues to keep the compact's: their cost grew with the province, not with the compact
(bench/README.md, Province scale, "The compact on the ledger"). The event now carries its issue's compact
(which never changes), and ix_event_compact_trigger_occurred (compact_id, trigger, occurred_at) INCLUDE
(issue_id) holds each compact's steps by kind and time.

On a live database: the column is added without a default (no rewrite of the table); the ledger's
append-only triggers (0002) let an UPDATE set a NULL compact_id to its issue's compact and refuse every other
UPDATE, a second change of compact_id and every DELETE as before, with the same message; the events written
before are filled from their issues in batches of ids, on PostgreSQL each batch committed on its own so that
no writer waits for more than one batch's row locks, with the ledger vacuumed after each tenth (so that the
old row versions' space takes the next tenth's new ones, not new pages) and after the last (so that the new
index is read without the rows); then, on PostgreSQL, the index is built CONCURRENTLY.

The column stays nullable. A version before this one still running beside it (while it is replaced) writes
events without their compact, and on PostgreSQL a NOT NULL (even one proved by a validated CHECK ... NOT
VALID, which spares the scan under an exclusive lock) would turn each of its steps into an error until it
is gone; on SQLite it would mean copying the ledger into a new table. Events written during the fill are
filled by its last pass; ``ledger verify`` names any event whose compact is not its issue's, NULL included.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 50_000  # events a statement fills, each batch its own transaction on PostgreSQL
INDEX = 'ix_event_compact_trigger_occurred'
CHANGED = 'the ledger is append-only: an event cannot be changed'
DELETED = 'the ledger is append-only: an event cannot be deleted'
# Every column of event but compact_id: an UPDATE naming any of them is refused (SQLite's UPDATE OF).
_OTHERS = (
    'id, issue_id, seq, trigger, from_state, to_state, actor_id, actor_code, parties, payload, due_at, '
    'occurred_at, prev_hash, hash'
)

_SQLITE_UP = [
    'DROP TRIGGER IF EXISTS event_no_update',
    f"""CREATE TRIGGER event_no_update BEFORE UPDATE OF {_OTHERS} ON event
       BEGIN SELECT RAISE(ABORT, '{CHANGED}'); END""",
    # compact_id only from NULL to its issue's compact, once.
    f"""CREATE TRIGGER event_compact_once BEFORE UPDATE OF compact_id ON event
       WHEN OLD.compact_id IS NOT NULL OR NEW.compact_id IS NULL
            OR NEW.compact_id IS NOT (SELECT compact_id FROM issue WHERE issue.id = NEW.issue_id)
       BEGIN SELECT RAISE(ABORT, '{CHANGED}'); END""",
]
_SQLITE_DOWN = [
    'DROP TRIGGER IF EXISTS event_compact_once',
    'DROP TRIGGER IF EXISTS event_no_update',
    f"""CREATE TRIGGER event_no_update BEFORE UPDATE ON event
       BEGIN SELECT RAISE(ABORT, '{CHANGED}'); END""",
]
# The same function for UPDATE, DELETE and TRUNCATE as 0002's, with one way through: an UPDATE that changes
# nothing but a NULL compact_id, to its issue's compact. (json has no equality, jsonb has: the rows are
# compared as jsonb without compact_id.)
_POSTGRES_UP = """CREATE OR REPLACE FUNCTION event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND OLD.compact_id IS NULL AND NEW.compact_id IS NOT NULL
           AND to_jsonb(NEW) - 'compact_id' = to_jsonb(OLD) - 'compact_id'
           AND NEW.compact_id = (SELECT compact_id FROM issue WHERE id = NEW.issue_id) THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'the ledger is append-only: % on event is refused', TG_OP;
    END $$"""
_POSTGRES_DOWN = """CREATE OR REPLACE FUNCTION event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'the ledger is append-only: % on event is refused', TG_OP; END $$"""

_FILL = {
    'postgresql': """
        UPDATE event SET compact_id = issue.compact_id FROM issue
        WHERE issue.id = event.issue_id AND event.id >= :low AND event.id < :high AND event.compact_id IS NULL
    """,
    'sqlite': """
        UPDATE event SET compact_id = (SELECT compact_id FROM issue WHERE issue.id = event.issue_id)
        WHERE id >= :low AND id < :high AND compact_id IS NULL
    """,
}


def _fill(conn: sa.Connection, vacuum: bool = False) -> None:
    """Each event's compact from its issue, a batch of ids at a time; then again for the events written while
    it ran, until a pass finds none.

    ``vacuum`` (PostgreSQL, outside a transaction): each filled row is a new version of it, on another page
    (the ledger's pages are full), so the table would double. Vacuumed after each tenth of the rows, the space
    of the old versions is free for the next tenth's new ones, and the table grows by about a tenth: ten
    vacuums, each reading the indexes once, instead of a ledger twice its size for good.
    """
    low, last = 1, conn.execute(sa.text('SELECT max(id) FROM event')).scalar() or 0
    every, since = max(BATCH, last // 10), 0
    while low <= last:
        for start in range(low, last + 1, BATCH):
            conn.execute(sa.text(_FILL[conn.dialect.name]), {'low': start, 'high': start + BATCH})
            since += BATCH
            if vacuum and since >= every:
                conn.execute(sa.text('VACUUM event'))
                since = 0
        low, last = last + 1, conn.execute(sa.text('SELECT max(id) FROM event')).scalar() or 0


def upgrade() -> None:
    op.add_column('event', sa.Column('compact_id', sa.Integer(), nullable=True))
    if op.get_bind().dialect.name != 'postgresql':
        for statement in _SQLITE_UP:
            op.execute(statement)
        _fill(op.get_bind())
        op.create_index(INDEX, 'event', ['compact_id', 'trigger', 'occurred_at'], unique=False)
        return
    op.execute(_POSTGRES_UP)
    with op.get_context().autocommit_block():
        _fill(op.get_bind(), vacuum=True)
        # The last rows filled: vacuumed too, so that the index is read without visiting them (index-only).
        op.execute('VACUUM (ANALYZE) event')
        # A build interrupted before leaves an invalid index of this name behind: drop it first.
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {INDEX}')
        op.execute(f'CREATE INDEX CONCURRENTLY {INDEX} ON event (compact_id, trigger, occurred_at) INCLUDE (issue_id)')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        op.drop_index(INDEX, table_name='event')
        for statement in _SQLITE_DOWN:
            op.execute(statement)
        # In place (SQLite 3.35 and later): a batch would copy the ledger, which the outbox's key refuses.
        op.drop_column('event', 'compact_id')
        return
    with op.get_context().autocommit_block():
        op.execute(f'DROP INDEX CONCURRENTLY IF EXISTS {INDEX}')
    op.execute(_POSTGRES_DOWN)
    op.drop_column('event', 'compact_id')
