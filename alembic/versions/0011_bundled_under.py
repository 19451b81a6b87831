"""a message sent in one message with others keeps the reference that message went under (Message.bundled_under),
so the sender can ask the provider about it after an interruption

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 15:05:00.000000

Messages stored before this went alone, or their bundle's reference is in their history's text; they are left
null (the sender then asks by their own reference, as for any message sent alone).
"""
from typing import Sequence, Union

import sqlalchemy as sa

from alembic import op

revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bundled_under', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('bundled_under')
