"""field day: offline drafts (idempotency keys, the moment seen), duplicates, patrols under way, quota scopes

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 14:11:13
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import workflow.core.models


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('idempotency_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('path', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('request_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.Column('created_at', workflow.core.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('person_id', 'key', name='uq_idempotency_person_key')
    )
    with op.batch_alter_table('idempotency_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_key_created_at'), ['created_at'], unique=False)

    with op.batch_alter_table('issue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('observed_at', workflow.core.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('duplicate_of_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_issue_duplicate_of_id'), ['duplicate_of_id'], unique=False)
        batch_op.create_foreign_key('fk_issue_duplicate_of_id_issue', 'issue', ['duplicate_of_id'], ['id'])

    with op.batch_alter_table('patrol', schema=None) as batch_op:
        batch_op.alter_column('ended_at', existing_type=workflow.core.models.UTCDateTime(timezone=True), nullable=True)
        batch_op.alter_column('duration_s', existing_type=sa.Integer(), nullable=True)

    # The key changes from the level to an id with scopes: build the new table and carry the rows over
    # (each an every-chief-of-the-level row, as they meant before).
    op.create_table('patrol_quota_new',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('per', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=True),
    sa.Column('compact_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('jurisdiction_id IS NULL OR compact_id IS NULL', name='ck_patrol_quota_one_scope'),
    sa.ForeignKeyConstraint(['compact_id'], ['compact.id'], name='fk_patrol_quota_compact_id_compact'),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdiction.id'], name='fk_patrol_quota_jurisdiction_id_jurisdiction'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('level', 'compact_id', name='uq_patrol_quota_compact'),
    sa.UniqueConstraint('level', 'jurisdiction_id', name='uq_patrol_quota_jurisdiction')
    )
    op.execute('INSERT INTO patrol_quota_new (level, count, per) SELECT level, count, per FROM patrol_quota ORDER BY level')
    op.drop_table('patrol_quota')
    op.rename_table('patrol_quota_new', 'patrol_quota')
    op.create_index('uq_patrol_quota_default', 'patrol_quota', ['level'], unique=True, sqlite_where=sa.text('jurisdiction_id IS NULL AND compact_id IS NULL'), postgresql_where=sa.text('jurisdiction_id IS NULL AND compact_id IS NULL'))


def downgrade() -> None:
    op.drop_index('uq_patrol_quota_default', table_name='patrol_quota')
    op.create_table('patrol_quota_old',
    sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('per', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.PrimaryKeyConstraint('level')
    )
    op.execute(
        'INSERT INTO patrol_quota_old (level, count, per) SELECT level, count, per FROM patrol_quota '
        'WHERE jurisdiction_id IS NULL AND compact_id IS NULL'
    )
    op.drop_table('patrol_quota')
    op.rename_table('patrol_quota_old', 'patrol_quota')

    op.execute('UPDATE patrol SET ended_at = started_at, duration_s = 0 WHERE ended_at IS NULL')
    with op.batch_alter_table('patrol', schema=None) as batch_op:
        batch_op.alter_column('duration_s', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('ended_at', existing_type=workflow.core.models.UTCDateTime(timezone=True), nullable=False)

    with op.batch_alter_table('issue', schema=None) as batch_op:
        batch_op.drop_constraint('fk_issue_duplicate_of_id_issue', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_issue_duplicate_of_id'))
        batch_op.drop_column('duplicate_of_id')
        batch_op.drop_column('observed_at')

    with op.batch_alter_table('idempotency_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_key_created_at'))

    op.drop_table('idempotency_key')
