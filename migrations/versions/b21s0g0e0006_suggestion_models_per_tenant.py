"""assessments: each LMS's own suggestion model versions, and its low-confidence threshold

Revision ID: b21s0g0e0006
Revises: a20r0s7e0005
Create Date: 2026-12-07 16:10:00

"""
from alembic import op
import sqlalchemy as sa

import core.db


# revision identifiers, used by Alembic.
revision = 'b21s0g0e0006'
down_revision = 'a20r0s7e0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('suggestion_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('conversations', sa.Integer(), nullable=False),
    sa.Column('model', sa.JSON(), nullable=False),
    sa.Column('agreement', sa.JSON(), nullable=False),
    sa.Column('created_at', core.db.UtcDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], name=op.f('fk_suggestion_models_platform_id_lti_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suggestion_models')),
    sa.UniqueConstraint('platform_id', 'version', name=op.f('uq_suggestion_models_platform_id_version'))
    )
    with op.batch_alter_table('suggestion_models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suggestion_models_platform_id'), ['platform_id'], unique=False)
    op.create_table('suggestion_settings',
    sa.Column('platform_id', sa.Integer(), nullable=False),
    sa.Column('low_confidence_qwk', sa.Double(), nullable=False),
    sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id'], name=op.f('fk_suggestion_settings_platform_id_lti_platforms'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('platform_id', name=op.f('pk_suggestion_settings'))
    )


def downgrade():
    op.drop_table('suggestion_settings')
    with op.batch_alter_table('suggestion_models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suggestion_models_platform_id'))
    op.drop_table('suggestion_models')
