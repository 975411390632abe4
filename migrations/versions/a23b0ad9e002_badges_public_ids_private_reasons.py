"""recognition: unguessable badge class ids, private withdrawal reasons

Revision ID: a23b0ad9e002
Revises: a23c0a5e0001
Create Date: 2026-12-07 15:00:00

"""
from alembic import op
import sqlalchemy as sa

import core.db


# revision identifiers, used by Alembic.
revision = 'a23b0ad9e002'
down_revision = 'a23c0a5e0001'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
