"""courses: belong to a tenant (built-ins shared)

Revision ID: a23c0a5e0001
Revises: f8acafcd18d9
Create Date: 2026-12-07 15:00:00

Until now every course was global, so an upload in one LMS changed the catalogue of all.
Courses whose versions all came from the operator's imports stay built in (shared). Versions
uploaded by an LMS's trainer go to a course of that LMS: a course made by an upload becomes
its uploader's LMS's own, and versions an LMS published over a built-in (or over another
LMS's course) move to a course of their own, the original going back to its last version
from its owner. The completion badge of a course that moves follows it.
"""
import re
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

import core.db

# revision identifiers, used by Alembic.
revision = 'a23c0a5e0001'
down_revision = 'f8acafcd18d9'
branch_labels = None
depends_on = None

UPLOAD = re.compile(r"upload by user (\d+)")

courses = sa.table(
    "courses",
    sa.column("id", sa.Integer),
    sa.column("platform_id", sa.Integer),
    sa.column("slug", sa.String),
    sa.column("title", sa.String),
    sa.column("summary", sa.String),
    sa.column("sort_order", sa.Integer),
    sa.column("version", sa.String),
    sa.column("created_at", core.db.UtcDateTime(timezone=True)),
    sa.column("updated_at", core.db.UtcDateTime(timezone=True)),
)
versions = sa.table(
    "course_versions",
    sa.column("id", sa.Integer),
    sa.column("course_id", sa.Integer),
    sa.column("version", sa.String),
    sa.column("source", sa.String),
    sa.column("document", sa.JSON),
    sa.column("imported_at", core.db.UtcDateTime(timezone=True)),
)
users = sa.table("users", sa.column("id", sa.Integer), sa.column("platform_id", sa.Integer))
badges = sa.table(
    "badges",
    sa.column("slug", sa.String),
    sa.column("platform_id", sa.Integer),
)


def _describe(latest: sa.Row) -> dict[str, object]:
    document = latest.document or {}
    return {
        "version": latest.version,
        "title": str(document.get("title", ""))[:120] or None,
        "summary": str(document.get("summary", ""))[:240],
        "sort_order": int(document.get("order", 100)),
    }


def _assign_owners(connection: sa.Connection) -> None:
    uploader = dict(connection.execute(sa.select(users.c.id, users.c.platform_id)).all())
    for course in connection.execute(sa.select(courses)).all():
        by_owner: dict[int | None, list[sa.Row]] = defaultdict(list)
        rows = connection.execute(
            sa.select(versions).where(versions.c.course_id == course.id).order_by(versions.c.id)
        ).all()
        for row in rows:
            found = UPLOAD.fullmatch(row.source or "")
            # An upload whose uploader is gone stays with the course's owner.
            owner = uploader.get(int(found.group(1))) if found else None
            by_owner[owner].append(row)
        if not rows:
            continue
        owner = None if None in by_owner else next(iter(by_owner))
        for platform_id, moved in by_owner.items():
            if platform_id == owner:
                continue
            described = _describe(moved[-1])
            new_id = connection.execute(
                sa.insert(courses)
                .values(
                    platform_id=platform_id, slug=course.slug,
                    title=described["title"] or course.title, summary=described["summary"],
                    sort_order=described["sort_order"], version=described["version"],
                    created_at=moved[0].imported_at, updated_at=moved[-1].imported_at,
                )
                .returning(courses.c.id)
            ).scalar_one()
            connection.execute(
                sa.update(versions)
                .where(versions.c.id.in_([row.id for row in moved]))
                .values(course_id=new_id)
            )
            _badge_follows(connection, course.slug, platform_id, copy=True)
        kept = _describe(by_owner[owner][-1])
        connection.execute(
            sa.update(courses)
            .where(courses.c.id == course.id)
            .values(
                platform_id=owner, version=kept["version"], title=kept["title"] or course.title,
                summary=kept["summary"], sort_order=kept["sort_order"],
            )
        )
        if owner is not None:
            _badge_follows(connection, course.slug, owner, copy=False)


def _badge_follows(connection: sa.Connection, slug: str, platform_id: int, copy: bool) -> None:
    """The built-in completion badge made for an LMS's course becomes that LMS's badge (a
    course that was only ever that LMS's). For versions split off a shared course, the LMS's
    badge is made by the app on its next import; nothing to move here."""
    if copy:
        return
    connection.execute(
        sa.update(badges)
        .where(badges.c.slug == f"course-{slug}", badges.c.platform_id.is_(None))
        .values(slug=f"p{platform_id}-course-{slug}", platform_id=platform_id)
    )


def upgrade():
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('platform_id', sa.Integer(), nullable=True))
        batch_op.drop_constraint('uq_courses_slug', type_='unique')
        batch_op.create_unique_constraint(
            batch_op.f('uq_courses_platform_id_slug'), ['platform_id', 'slug']
        )
        batch_op.create_index(batch_op.f('ix_courses_platform_id'), ['platform_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_courses_platform_id_lti_platforms'), 'lti_platforms',
            ['platform_id'], ['id'], ondelete='CASCADE',
        )

    _assign_owners(op.get_bind())

    op.create_index(
        'uq_courses_builtin_slug', 'courses', ['slug'], unique=True,
        sqlite_where=sa.text('platform_id IS NULL'),
        postgresql_where=sa.text('platform_id IS NULL'),
    )


def downgrade():
    op.drop_index('uq_courses_builtin_slug', table_name='courses')
    # Courses of an LMS go: a global catalogue cannot hold two courses with one slug.
    op.execute(sa.delete(courses).where(courses.c.platform_id.is_not(None)))
    with op.batch_alter_table('courses', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_courses_platform_id_lti_platforms'), type_='foreignkey'
        )
        batch_op.drop_index(batch_op.f('ix_courses_platform_id'))
        batch_op.drop_constraint(batch_op.f('uq_courses_platform_id_slug'), type_='unique')
        batch_op.create_unique_constraint('uq_courses_slug', ['slug'])
        batch_op.drop_column('platform_id')
