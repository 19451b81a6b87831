"""investigation journey: occurrences from the records feed, Code duties, task escalation, victim needs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 04:59:52.886243

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel
import rxapp.plumbing.columns


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('occurrence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_number', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('crime_reference', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('classification_code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('classification_text', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('reported_at', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.Column('recorded_at', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.Column('incident_urn', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('victim_id', sa.Integer(), nullable=True),
    sa.Column('flags', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('oic_collar', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('oic_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('oic_email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
    sa.Column('oic_team', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('enhanced', sa.Boolean(), nullable=False),
    sa.Column('enhanced_reasons', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('result', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('finalised_at', rxapp.plumbing.columns.UTCDateTime(), nullable=True),
    sa.Column('last_update_at', rxapp.plumbing.columns.UTCDateTime(), nullable=True),
    sa.Column('routine_every_days', sa.Integer(), nullable=True),
    sa.Column('created_at', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.Column('updated_at', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incident.id'], ),
    sa.ForeignKeyConstraint(['victim_id'], ['victim.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_occurrence_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_occurrence_occurrence_number'), ['occurrence_number'], unique=True)
        batch_op.create_index(batch_op.f('ix_occurrence_oic_collar'), ['oic_collar'], unique=False)
        batch_op.create_index(batch_op.f('ix_occurrence_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_occurrence_victim_id'), ['victim_id'], unique=False)

    op.create_table('duty',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('victim_id', sa.Integer(), nullable=True),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('milestone', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('right', sa.Integer(), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('triggered_at', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.Column('due_at', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('done_at', rxapp.plumbing.columns.UTCDateTime(), nullable=True),
    sa.Column('done_how', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('template', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
    sa.Column('personalisation', sa.Text(), nullable=False),
    sa.Column('check_at', rxapp.plumbing.columns.UTCDateTime(), nullable=True),
    sa.Column('created_at', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.Column('updated_at', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], ),
    sa.ForeignKeyConstraint(['victim_id'], ['victim.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('occurrence_id', 'key', name='uq_duty_occurrence_key')
    )
    with op.batch_alter_table('duty', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duty_check_at'), ['check_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_duty_occurrence_id'), ['occurrence_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_duty_state'), ['state'], unique=False)

    op.create_table('occurrenceevent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('occurrence_id', sa.Integer(), nullable=False),
    sa.Column('at', rxapp.plumbing.columns.UTCDateTime(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('staff_text', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('change_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.ForeignKeyConstraint(['occurrence_id'], ['occurrence.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('occurrenceevent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_occurrenceevent_occurrence_id'), ['occurrence_id'], unique=False)

    with op.batch_alter_table('feedcursor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cursor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('occurrence_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('duty_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_message_duty_id'), ['duty_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_message_occurrence_id'), ['occurrence_id'], unique=False)
        batch_op.create_foreign_key('fk_message_duty_id', 'duty', ['duty_id'], ['id'])
        batch_op.create_foreign_key('fk_message_occurrence_id', 'occurrence', ['occurrence_id'], ['id'])

    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('occurrence_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('duty_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('assignee', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('escalate_at', rxapp.plumbing.columns.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('escalated_at', rxapp.plumbing.columns.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('escalated_to', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))
        batch_op.add_column(sa.Column('how_told', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True))
        batch_op.add_column(sa.Column('completed_by', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.create_index(batch_op.f('ix_task_assignee'), ['assignee'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_duty_id'), ['duty_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_escalate_at'), ['escalate_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_occurrence_id'), ['occurrence_id'], unique=False)
        batch_op.create_foreign_key('fk_task_duty_id', 'duty', ['duty_id'], ['id'])
        batch_op.create_foreign_key('fk_task_occurrence_id', 'occurrence', ['occurrence_id'], ['id'])

    with op.batch_alter_table('victim', schema=None) as batch_op:
        batch_op.add_column(sa.Column('person_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.add_column(sa.Column('date_of_birth', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('postal_address', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('preferred_channel', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))
        batch_op.add_column(sa.Column('contact_notes', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True))
        batch_op.add_column(sa.Column('vulnerabilities', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('intimidated', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('persistently_targeted', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('interpreter', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('accessibility', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.add_column(sa.Column('consent_updates', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('consent_referral', sa.Boolean(), nullable=True))
        batch_op.create_index(batch_op.f('ix_victim_person_id'), ['person_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('victim', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_victim_person_id'))
        batch_op.drop_column('consent_referral')
        batch_op.drop_column('consent_updates')
        batch_op.drop_column('accessibility')
        batch_op.drop_column('interpreter')
        batch_op.drop_column('persistently_targeted')
        batch_op.drop_column('intimidated')
        batch_op.drop_column('vulnerabilities')
        batch_op.drop_column('contact_notes')
        batch_op.drop_column('preferred_channel')
        batch_op.drop_column('postal_address')
        batch_op.drop_column('date_of_birth')
        batch_op.drop_column('person_id')

    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_constraint('fk_task_duty_id', type_='foreignkey')
        batch_op.drop_constraint('fk_task_occurrence_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_task_occurrence_id'))
        batch_op.drop_index(batch_op.f('ix_task_escalate_at'))
        batch_op.drop_index(batch_op.f('ix_task_duty_id'))
        batch_op.drop_index(batch_op.f('ix_task_assignee'))
        batch_op.drop_column('completed_by')
        batch_op.drop_column('how_told')
        batch_op.drop_column('escalated_to')
        batch_op.drop_column('escalated_at')
        batch_op.drop_column('escalate_at')
        batch_op.drop_column('assignee')
        batch_op.drop_column('duty_id')
        batch_op.drop_column('occurrence_id')

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_constraint('fk_message_duty_id', type_='foreignkey')
        batch_op.drop_constraint('fk_message_occurrence_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_message_occurrence_id'))
        batch_op.drop_index(batch_op.f('ix_message_duty_id'))
        batch_op.drop_column('duty_id')
        batch_op.drop_column('occurrence_id')

    with op.batch_alter_table('feedcursor', schema=None) as batch_op:
        batch_op.drop_column('cursor')

    with op.batch_alter_table('duty', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duty_state'))
        batch_op.drop_index(batch_op.f('ix_duty_occurrence_id'))
        batch_op.drop_index(batch_op.f('ix_duty_check_at'))

    op.drop_table('duty')
    with op.batch_alter_table('occurrenceevent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_occurrenceevent_occurrence_id'))

    op.drop_table('occurrenceevent')
    with op.batch_alter_table('occurrence', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_occurrence_victim_id'))
        batch_op.drop_index(batch_op.f('ix_occurrence_status'))
        batch_op.drop_index(batch_op.f('ix_occurrence_oic_collar'))
        batch_op.drop_index(batch_op.f('ix_occurrence_occurrence_number'))
        batch_op.drop_index(batch_op.f('ix_occurrence_incident_id'))

    op.drop_table('occurrence')
