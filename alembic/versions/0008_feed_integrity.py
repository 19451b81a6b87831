"""feed integrity (issue 10, the feed): the dispatch feed's health on its resume point, and sequence alerts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 13:00:00.000000

"""
from typing import Sequence, Union

import sqlalchemy as sa

import rxapp.plumbing.columns
from alembic import op

revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('feedcursor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gateway_seq_high', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('gateway_seq_at', rxapp.plumbing.columns.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_frame_at', rxapp.plumbing.columns.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('last_accepted_at', rxapp.plumbing.columns.UTCDateTime(), nullable=True))
    op.create_table('feedalert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feed', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('expected_seq', sa.BigInteger(), nullable=False),
    sa.Column('raised_at', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.Column('resolved_at', rxapp.plumbing.columns.UTCDateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=300), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('feedalert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedalert_feed'), ['feed'], unique=False)
        batch_op.create_index(batch_op.f('ix_feedalert_resolved_at'), ['resolved_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('feedalert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feedalert_resolved_at'))
        batch_op.drop_index(batch_op.f('ix_feedalert_feed'))
    op.drop_table('feedalert')
    with op.batch_alter_table('feedcursor', schema=None) as batch_op:
        batch_op.drop_column('last_accepted_at')
        batch_op.drop_column('last_frame_at')
        batch_op.drop_column('gateway_seq_at')
        batch_op.drop_column('gateway_seq_high')
