"""the board's hold-texts action (issue 10, the board): the control room's holds on an incident's texts

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 13:00:00.000000

"""
from typing import Sequence, Union

import sqlalchemy as sa

import rxapp.plumbing.columns
from alembic import op

revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('texthold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('held_by', sa.String(length=80), nullable=False),
    sa.Column('held_by_name', sa.String(length=80), nullable=False),
    sa.Column('held_at', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.Column('released_by', sa.String(length=80), nullable=True),
    sa.Column('released_by_name', sa.String(length=80), nullable=True),
    sa.Column('released_at', rxapp.plumbing.columns.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('texthold', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_texthold_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_texthold_released_at'), ['released_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('texthold', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_texthold_released_at'))
        batch_op.drop_index(batch_op.f('ix_texthold_incident_id'))
    op.drop_table('texthold')
