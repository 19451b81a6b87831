"""the journey's facts at their own time: a duty for an event dated in the future is held until that date
(Duty.held_until), shown to the officer and told by the deadline sweep when the date comes

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 14:40:00.000000

Duties stored before this were never held (null).
"""
from typing import Sequence, Union

import sqlalchemy as sa

import rxapp.plumbing.columns
from alembic import op

revision: str = '0010'
down_revision: Union[str, Sequence[str], None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('duty', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_until', rxapp.plumbing.columns.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('duty', schema=None) as batch_op:
        batch_op.drop_column('held_until')
