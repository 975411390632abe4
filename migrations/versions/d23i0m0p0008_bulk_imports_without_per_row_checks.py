"""bulk imports without per-row checks: survey roll-ups and past trainings lose the foreign keys
PostgreSQL checked row by row (triggers keep their removal), and three indexes go that no query
needs

Revision ID: d23i0m0p0008
Revises: c22l0m0s0007
Create Date: 2026-12-07 21:00:00

Why each goes, and what guarantees the same instead:

- survey_team_daily.team_id and survey_team_weekly.team_id -> teams (ON DELETE CASCADE): an
  import of a year of a thousand teams writes 365,000 daily rows, each checked against teams,
  one by one. The importer writes only team ids it has just looked up
  within the LMS, in the same transaction; the trigger survey_rollups_follow_teams removes a
  team's roll-ups with the team, as the cascade did (a deployment's or platform's removal
  cascades to its teams, and so to the trigger).
- past_trainings.course_id -> courses (ON DELETE SET NULL): the importer writes only courses
  it has just found among those the LMS sees; the trigger past_trainings_forget_courses
  empties the column when a course is removed, as SET NULL did.
- ix_survey_team_daily_platform_id: nothing reads daily roll-ups by LMS (the analysis reads
  the weekly ones, whose index stays; a platform's removal reaches them through its teams),
  and every import wrote an entry per team-day into it.
- ix_memberships_user_id: the unique key (user_id, team_id) starts with user_id and serves
  every look-up by person; a roster import wrote each membership into both.
- ix_past_trainings_user_id: the unique key (user_id, training_key, completed_on) starts with
  user_id and serves every look-up by person, including the users foreign key's cascade.

The tenancy keys stay: platform_id -> lti_platforms on past_trainings, users on both.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd23i0m0p0008'
down_revision = 'c22l0m0s0007'
branch_labels = None
depends_on = None

TRIGGERS = {
    "postgresql": [
        """CREATE OR REPLACE FUNCTION survey_rollups_follow_teams() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM survey_team_daily WHERE team_id IN (SELECT id FROM removed);
            DELETE FROM survey_team_weekly WHERE team_id IN (SELECT id FROM removed);
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER survey_rollups_follow_teams AFTER DELETE ON teams
        REFERENCING OLD TABLE AS removed FOR EACH STATEMENT
        EXECUTE FUNCTION survey_rollups_follow_teams()""",
        """CREATE OR REPLACE FUNCTION past_trainings_forget_courses() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE past_trainings SET course_id = NULL
            WHERE course_id IN (SELECT id FROM removed);
            RETURN NULL;
        END $$""",
        """CREATE TRIGGER past_trainings_forget_courses AFTER DELETE ON courses
        REFERENCING OLD TABLE AS removed FOR EACH STATEMENT
        EXECUTE FUNCTION past_trainings_forget_courses()""",
    ],
    "sqlite": [
        """CREATE TRIGGER survey_rollups_follow_teams AFTER DELETE ON teams FOR EACH ROW
        BEGIN
            DELETE FROM survey_team_daily WHERE team_id = OLD.id;
            DELETE FROM survey_team_weekly WHERE team_id = OLD.id;
        END""",
        """CREATE TRIGGER past_trainings_forget_courses AFTER DELETE ON courses FOR EACH ROW
        BEGIN
            UPDATE past_trainings SET course_id = NULL WHERE course_id = OLD.id;
        END""",
    ],
}
DROP_TRIGGERS = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS past_trainings_forget_courses ON courses",
        "DROP FUNCTION IF EXISTS past_trainings_forget_courses()",
        "DROP TRIGGER IF EXISTS survey_rollups_follow_teams ON teams",
        "DROP FUNCTION IF EXISTS survey_rollups_follow_teams()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS past_trainings_forget_courses",
        "DROP TRIGGER IF EXISTS survey_rollups_follow_teams",
    ],
}


def upgrade():
    for table in ('survey_team_daily', 'survey_team_weekly'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_team_id_teams'), type_='foreignkey')
            if table == 'survey_team_daily':
                batch_op.drop_index(batch_op.f('ix_survey_team_daily_platform_id'))
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_memberships_user_id'))
    with op.batch_alter_table('past_trainings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_past_trainings_user_id'))
        batch_op.drop_constraint(batch_op.f('fk_past_trainings_course_id_courses'), type_='foreignkey')
    for statement in TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade():
    for statement in DROP_TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)
    # Rows whose team or course went while there was no key would refuse the keys back.
    op.execute("DELETE FROM survey_team_daily WHERE team_id NOT IN (SELECT id FROM teams)")
    op.execute("DELETE FROM survey_team_weekly WHERE team_id NOT IN (SELECT id FROM teams)")
    op.execute(
        "UPDATE past_trainings SET course_id = NULL "
        "WHERE course_id IS NOT NULL AND course_id NOT IN (SELECT id FROM courses)"
    )
    with op.batch_alter_table('past_trainings', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_past_trainings_course_id_courses'), 'courses', ['course_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_past_trainings_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('memberships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_memberships_user_id'), ['user_id'], unique=False)
    for table in ('survey_team_weekly', 'survey_team_daily'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(batch_op.f(f'fk_{table}_team_id_teams'), 'teams', ['team_id'], ['id'], ondelete='CASCADE')
            if table == 'survey_team_daily':
                batch_op.create_index(batch_op.f('ix_survey_team_daily_platform_id'), ['platform_id'], unique=False)
