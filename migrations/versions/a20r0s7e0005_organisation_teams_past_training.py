"""people and courses: the organisation's own teams with dated memberships; past training

Revision ID: a20r0s7e0005
Revises: a23ce4c50004
Create Date: 2026-12-07 15:30:00

"""
from alembic import op
import sqlalchemy as sa

import core.db


# revision identifiers, used by Alembic.
revision = 'a20r0s7e0005'
down_revision = 'a23ce4c50004'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMNs: no table is copied, so nothing cascades on SQLite.
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archived_at', core.db.UtcDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('joined_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('left_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('leads', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table('past_trainings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('training_key', sa.String(length=200), nullable=False),
    sa.Column('training_name', sa.String(length=200), nullable=False),
    sa.Column('completed_on', sa.Date(), nullable=False),
    sa.Column('score_percent', sa.Double(), nullable=True),
    sa.Column('source', sa.String(length=255), nullable=False),
    sa.Column('imported_at', core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_past_trainings_course_id_courses'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], name=op.f('fk_past_trainings_platform_id_lti_platforms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_past_trainings_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_past_trainings')),
    sa.UniqueConstraint('user_id', 'training_key', 'completed_on', name=op.f('uq_past_trainings_user_id_training_key_completed_on'))
    )
    with op.batch_alter_table('past_trainings', schema=None) as batch_op:
        batch_op.create_index('ix_past_trainings_platform_key', ['platform_id', 'training_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_past_trainings_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('past_trainings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_past_trainings_user_id'))
        batch_op.drop_index('ix_past_trainings_platform_key')
    op.drop_table('past_trainings')
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_column('leads')
        batch_op.drop_column('left_on')
        batch_op.drop_column('joined_on')
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.drop_column('archived_at')
