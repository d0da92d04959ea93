"""step indexes: drop the issue and outbox indexes no query uses, and leave room in issue's pages for HOT updates

Every step UPDATEs an issue and INSERTs outbox rows, keeping each of their indexes up. EXPLAIN of every
statement riverchief sends (bench/README.md, "Which indexes the queries use") found none that needs the
indexes on issue's two sides or on the outbox's issue; the compact's index stays, which several
compacts' worth of issues make the planner use. On PostgreSQL, issue's pages are filled to 90%, so a
step that leaves the state and the deadlines as they were (progress, a sign-off) can be written as a
heap-only tuple on the same page, without a new entry in any index. Pages already full take it as
they are rewritten (VACUUM FULL issue, when convenient).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 18:00:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('issue', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_issue_reporting_jurisdiction_id'))
        batch_op.drop_index(batch_op.f('ix_issue_receiving_jurisdiction_id'))

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_issue_id'))

    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE issue SET (fillfactor = 90)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE issue RESET (fillfactor)')

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_issue_id'), ['issue_id'], unique=False)

    with op.batch_alter_table('issue', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_issue_receiving_jurisdiction_id'), ['receiving_jurisdiction_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_issue_reporting_jurisdiction_id'), ['reporting_jurisdiction_id'], unique=False)
