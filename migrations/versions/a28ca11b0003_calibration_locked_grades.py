"""assessments: calibration grades locked when saved, reopened by a trainer

Revision ID: a28ca11b0003
Revises: a23b0ad9e002
Create Date: 2026-12-07 15:00:00

"""
from alembic import op
import sqlalchemy as sa

import core.db


# revision identifiers, used by Alembic.
revision = 'a28ca11b0003'
down_revision = 'a23b0ad9e002'
branch_labels = None
depends_on = None


def upgrade():
    # A grade saved before this change was already final for its grader: it counts as locked
    # from when it was saved (there is no earlier "first" version of it to recover).
    with op.batch_alter_table('calibration_grades', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_at', core.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('revised_levels', sa.JSON(), nullable=True))
    op.execute('UPDATE calibration_grades SET locked_at = graded_at')

    op.create_table('assessment_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assessment_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('calibration_id', sa.Integer(), nullable=True),
    sa.Column('dispute_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('recorded_at', core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_assessment_events_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], name=op.f('fk_assessment_events_assessment_id_assessments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['calibration_id'], ['calibration_sessions.id'], name=op.f('fk_assessment_events_calibration_id_calibration_sessions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dispute_id'], ['assessment_disputes.id'], name=op.f('fk_assessment_events_dispute_id_assessment_disputes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subject_id'], ['users.id'], name=op.f('fk_assessment_events_subject_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment_events'))
    )
    with op.batch_alter_table('assessment_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_events_assessment_id'), ['assessment_id'], unique=False)


def downgrade():
    with op.batch_alter_table('assessment_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessment_events_assessment_id'))

    op.drop_table('assessment_events')
    with op.batch_alter_table('calibration_grades', schema=None) as batch_op:
        batch_op.drop_column('revised_levels')
        batch_op.drop_column('locked_at')
