"""the victim's page: each step keeps the facts that say it in the victim's language (IncidentStep.data)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 13:00:00.000000

Steps stored before this have no data; the page then says them from their kind and the incident's own
facts (its disposition, its booked window), as rxapp/attendance/views.py does.
"""
from typing import Sequence, Union

import sqlalchemy as sa

from alembic import op

revision: str = '0009'
down_revision: Union[str, Sequence[str], None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('incidentstep', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data', sa.String(length=500), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('incidentstep', schema=None) as batch_op:
        batch_op.drop_column('data')
