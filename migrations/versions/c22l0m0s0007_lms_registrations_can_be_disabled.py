"""lms: platforms and deployments can be disabled (kept, but refused at login)

Revision ID: c22l0m0s0007
Revises: b21s0g0e0006
Create Date: 2026-12-07 17:00:00

"""
from alembic import op
import sqlalchemy as sa

import core.db


# revision identifiers, used by Alembic.
revision = 'c22l0m0s0007'
down_revision = 'b21s0g0e0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('lti_platforms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', core.db.UtcDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('lti_deployments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled_at', core.db.UtcDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('lti_deployments', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')
    with op.batch_alter_table('lti_platforms', schema=None) as batch_op:
        batch_op.drop_column('disabled_at')
