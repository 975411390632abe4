"""courses: knowledge check answer policy and attempt limits

Revision ID: a23ce4c50004
Revises: a28ca11b0003
Create Date: 2026-12-07 15:00:00

"""
from alembic import op
import sqlalchemy as sa

import core.db


# revision identifiers, used by Alembic.
revision = 'a23ce4c50004'
down_revision = 'a28ca11b0003'
branch_labels = None
depends_on = None


def upgrade():
    # No rows: every LMS starts with the default policy (answers held back until a pass).
    op.create_table('course_check_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('reveal', sa.String(length=20), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=True),
    sa.Column('wait_minutes', sa.Integer(), nullable=True),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['courses.id'], name=op.f('fk_course_check_policies_course_id_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], name=op.f('fk_course_check_policies_platform_id_lti_platforms'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_course_check_policies_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_course_check_policies')),
    sa.UniqueConstraint('platform_id', 'course_id', name=op.f('uq_course_check_policies_platform_id_course_id'))
    )
    with op.batch_alter_table('course_check_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_course_check_policies_course_id'), ['course_id'], unique=False)


def downgrade():
    with op.batch_alter_table('course_check_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_course_check_policies_course_id'))

    op.drop_table('course_check_policies')
