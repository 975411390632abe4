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
    pass


def downgrade():
    pass
