"""the supervisor view (rxapp/supervision/models.py): notices to a team's supervisors when a task escalates, and
the reassignments made on the team page

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 19:10:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel

from alembic import op
from rxapp.plumbing.columns import UTCDateTime


# revision identifiers, used by Alembic.
revision: str = '0015'
down_revision: Union[str, Sequence[str], None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('staffnotice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_user_id', sa.Integer(), nullable=True),
    sa.Column('team', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('occurrence_id', sa.Integer(), nullable=True),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('read_at', UTCDateTime(), nullable=True),
    sa.Column('read_by', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], ),
    sa.ForeignKeyConstraint(['staff_user_id'], ['staffuser.id'], ),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('staffnotice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staffnotice_occurrence_id'), ['occurrence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staffnotice_read_at'), ['read_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_staffnotice_staff_user_id'), ['staff_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staffnotice_task_id'), ['task_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staffnotice_team'), ['team'], unique=False)

    op.create_table('reassignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', UTCDateTime(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('from_collar', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('to_collar', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('team', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('by_username', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], ),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('reassignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reassignment_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_reassignment_occurrence_id'), ['occurrence_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reassignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reassignment_occurrence_id'))
        batch_op.drop_index(batch_op.f('ix_reassignment_at'))
    op.drop_table('reassignment')
    with op.batch_alter_table('staffnotice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staffnotice_team'))
        batch_op.drop_index(batch_op.f('ix_staffnotice_task_id'))
        batch_op.drop_index(batch_op.f('ix_staffnotice_staff_user_id'))
        batch_op.drop_index(batch_op.f('ix_staffnotice_read_at'))
        batch_op.drop_index(batch_op.f('ix_staffnotice_occurrence_id'))
    op.drop_table('staffnotice')
