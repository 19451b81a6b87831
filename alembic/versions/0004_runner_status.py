"""runner status: the elected runner's heartbeat, its feed links and its jobs' last runs, for every worker

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel
import rxapp.plumbing.columns


# revision identifiers, used by Alembic.
revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('runner_status',
    sa.Column('component', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('host', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('every_seconds', sa.Float(), nullable=True),
    sa.Column('started_at', rxapp.plumbing.columns.UTCDateTime(), nullable=True),
    sa.Column('finished_at', rxapp.plumbing.columns.UTCDateTime(), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('updated_at', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('component')
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('runner_status')
