"""the officer inbox finds an officer's cases by their collar number as the records system spells it, spaces and
case aside: an index on that normalised form (bench/inbox.py: the DISTINCT over every open case it replaces took
25 ms of a 100 ms inbox on Cleveland-sized data)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 17:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0014'
down_revision: Union[str, Sequence[str], None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_occurrence_oic_collar_normalised', 'occurrence',
                    [sa.text("upper(replace(oic_collar, ' ', ''))")])


def downgrade() -> None:
    op.drop_index('ix_occurrence_oic_collar_normalised', table_name='occurrence')
