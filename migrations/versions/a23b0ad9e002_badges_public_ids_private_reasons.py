"""recognition: unguessable badge class ids, private withdrawal reasons

Revision ID: a23b0ad9e002
Revises: a23c0a5e0001
Create Date: 2026-12-07 15:00:00

"""
import uuid

from alembic import op
import sqlalchemy as sa

import core.db


# revision identifiers, used by Alembic.
revision = 'a23b0ad9e002'
down_revision = 'a23c0a5e0001'
branch_labels = None
depends_on = None


def upgrade():
    # Added nullable, filled, then made NOT NULL: existing badges get a random public id each,
    # and reasons already given stay private (they were typed before anyone could choose).
    with op.batch_alter_table('badges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_id', sa.String(length=36), nullable=True))
    with op.batch_alter_table('badge_awards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revoked_reason_public', sa.Boolean(), nullable=True))

    connection = op.get_bind()
    badges = sa.table(
        'badges', sa.column('id', sa.Integer()), sa.column('public_id', sa.String(36))
    )
    for (badge_id,) in connection.execute(sa.select(badges.c.id)).all():
        connection.execute(
            badges.update().where(badges.c.id == badge_id).values(public_id=str(uuid.uuid4()))
        )
    awards = sa.table('badge_awards', sa.column('revoked_reason_public', sa.Boolean()))
    connection.execute(awards.update().values(revoked_reason_public=False))

    with op.batch_alter_table('badges', schema=None) as batch_op:
        batch_op.alter_column('public_id', existing_type=sa.String(length=36), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_badges_public_id'), ['public_id'])
    with op.batch_alter_table('badge_awards', schema=None) as batch_op:
        batch_op.alter_column('revoked_reason_public', existing_type=sa.Boolean(), nullable=False)


def downgrade():
    with op.batch_alter_table('badge_awards', schema=None) as batch_op:
        batch_op.drop_column('revoked_reason_public')
    with op.batch_alter_table('badges', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_badges_public_id'), type_='unique')
        batch_op.drop_column('public_id')
