"""several victims per case: each victim of a recorded crime is a case victim with their own entitlement,
routine updates and duties; processed events keep a digest so a repeated id with other content is seen

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:30:00.000000

"""
from typing import Sequence, Union

import sqlalchemy as sa

import rxapp.plumbing.columns
from alembic import op

revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('casevictim',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('victim_id', sa.Integer(), nullable=False),
    sa.Column('enhanced', sa.Boolean(), nullable=False),
    sa.Column('enhanced_reasons', sa.String(length=1000), nullable=False),
    sa.Column('last_update_at', rxapp.plumbing.columns.UTCDateTime(), nullable=True),
    sa.Column('routine_every_days', sa.Integer(), nullable=True),
    sa.Column('linked_at', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.Column('updated_at', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], ),
    sa.ForeignKeyConstraint(['victim_id'], ['victim.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('occurrence_id', 'victim_id', name='uq_casevictim_occurrence_victim')
    )
    with op.batch_alter_table('casevictim', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_casevictim_occurrence_id'), ['occurrence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_casevictim_victim_id'), ['victim_id'], unique=False)
    # Today's cases keep their one victim, with everything the case knew about them.
    op.execute("INSERT INTO casevictim (occurrence_id, victim_id, enhanced, enhanced_reasons, last_update_at, "
               "routine_every_days, linked_at, updated_at) "
               "SELECT id, victim_id, enhanced, enhanced_reasons, last_update_at, routine_every_days, created_at, "
               "updated_at FROM occurrence WHERE victim_id IS NOT NULL")
    # A duty always had its case's victim; old rows without one take it from the case.
    op.execute("UPDATE duty SET victim_id = (SELECT o.victim_id FROM occurrence o WHERE o.id = duty.occurrence_id) "
               "WHERE victim_id IS NULL")
    op.execute("DELETE FROM duty WHERE victim_id IS NULL")
    with op.batch_alter_table('duty', schema=None) as batch_op:
        batch_op.drop_constraint('uq_duty_occurrence_key', type_='unique')
        batch_op.alter_column('victim_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint('uq_duty_victim_key', ['occurrence_id', 'victim_id', 'key'])
        batch_op.create_index(batch_op.f('ix_duty_victim_id'), ['victim_id'], unique=False)
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_occurrence_victim_id'))
        batch_op.drop_column('victim_id')
        batch_op.drop_column('enhanced')
        batch_op.drop_column('enhanced_reasons')
        batch_op.drop_column('last_update_at')
        batch_op.drop_column('routine_every_days')
    with op.batch_alter_table('processedevent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('processedevent', schema=None) as batch_op:
        batch_op.drop_column('digest')
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('routine_every_days', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('last_update_at', rxapp.plumbing.columns.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('enhanced_reasons', sa.String(length=1000), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('enhanced', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('victim_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_occurrence_victim_id', 'victim', ['victim_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_occurrence_victim_id'), ['victim_id'], unique=False)
    # Each case keeps its first victim; later victims' duties cannot be kept under the old key.
    op.execute("UPDATE occurrence SET victim_id = (SELECT c.victim_id FROM casevictim c WHERE c.occurrence_id = "
               "occurrence.id ORDER BY c.id LIMIT 1), enhanced = COALESCE((SELECT c.enhanced FROM casevictim c "
               "WHERE c.occurrence_id = occurrence.id ORDER BY c.id LIMIT 1), false)")
    op.execute("DELETE FROM duty WHERE victim_id <> (SELECT o.victim_id FROM occurrence o "
               "WHERE o.id = duty.occurrence_id)")
    with op.batch_alter_table('duty', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duty_victim_id'))
        batch_op.drop_constraint('uq_duty_victim_key', type_='unique')
        batch_op.create_unique_constraint('uq_duty_occurrence_key', ['occurrence_id', 'key'])
    with op.batch_alter_table('casevictim', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_casevictim_victim_id'))
        batch_op.drop_index(batch_op.f('ix_casevictim_occurrence_id'))
    op.drop_table('casevictim')
