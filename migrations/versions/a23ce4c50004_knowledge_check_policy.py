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
    pass


def downgrade():
    pass
