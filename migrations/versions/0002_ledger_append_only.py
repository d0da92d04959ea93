"""The ledger is append-only in the database too: events cannot be updated or deleted.

``ledger verify`` finds any edit made behind the database's back; these
triggers stop the ordinary ones (a stray UPDATE, a careless clean-up) before
they happen, with a message that says why.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE = [
    """CREATE TRIGGER event_no_update BEFORE UPDATE ON event
       BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: an event cannot be changed'); END""",
    """CREATE TRIGGER event_no_delete BEFORE DELETE ON event
       BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: an event cannot be deleted'); END""",
]
_POSTGRES = [
    """CREATE FUNCTION event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'the ledger is append-only: % on event is refused', TG_OP; END $$""",
    """CREATE TRIGGER event_no_update BEFORE UPDATE OR DELETE ON event
       FOR EACH ROW EXECUTE FUNCTION event_append_only()""",
    """CREATE TRIGGER event_no_truncate BEFORE TRUNCATE ON event
       FOR EACH STATEMENT EXECUTE FUNCTION event_append_only()""",
]


def upgrade() -> None:
    for statement in _POSTGRES if op.get_bind().dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS event_no_truncate ON event")
        op.execute("DROP TRIGGER IF EXISTS event_no_update ON event")
        op.execute("DROP FUNCTION IF EXISTS event_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS event_no_update")
        op.execute("DROP TRIGGER IF EXISTS event_no_delete")
