"""courses: belong to a tenant (built-ins shared)

Revision ID: a23c0a5e0001
Revises: f8acafcd18d9
Create Date: 2026-12-07 15:00:00

"""
from alembic import op
import sqlalchemy as sa

import core.db


# revision identifiers, used by Alembic.
revision = 'a23c0a5e0001'
down_revision = 'f8acafcd18d9'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
