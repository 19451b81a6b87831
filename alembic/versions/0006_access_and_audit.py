"""access and audit: staff carry collar number and team; failed sign-ins are counted per account, address
and overall; the audit log of every look at a victim and every change

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:45:00.000000

"""
from typing import Sequence, Union

import sqlalchemy as sa

import rxapp.plumbing.columns
from alembic import op

revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('staffuser', schema=None) as batch_op:
        batch_op.add_column(sa.Column('collar_number', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('team', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_staffuser_collar_number'), ['collar_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_staffuser_team'), ['team'], unique=False)
    op.create_table('signinthrottle',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('window_start', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('blocked_until', rxapp.plumbing.columns.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('auditevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('team', sa.String(length=200), nullable=True),
    sa.Column('detail', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        for column in ('at', 'actor', 'action', 'occurrence_id', 'incident_id', 'team'):
            batch_op.create_index(batch_op.f(f'ix_auditevent_{column}'), [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('auditevent', schema=None) as batch_op:
        for column in ('at', 'actor', 'action', 'occurrence_id', 'incident_id', 'team'):
            batch_op.drop_index(batch_op.f(f'ix_auditevent_{column}'))
    op.drop_table('auditevent')
    op.drop_table('signinthrottle')
    with op.batch_alter_table('staffuser', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staffuser_team'))
        batch_op.drop_index(batch_op.f('ix_staffuser_collar_number'))
        batch_op.drop_column('team')
        batch_op.drop_column('collar_number')
