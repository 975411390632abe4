"""The organisation's roster: its teams are not LMS courses, its people may not have launched
yet, and a file brought in twice, or a person moving team, is handled as a person expects."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select

from core.db import db
from lms.devplatform import service as devplatform
from lms.models import Platform
from people.models import ORGANISATION, Membership, Team, User
from tests.courses.conftest import packs  # noqa: F401 - shared fixture
from tests.lti import LtiBrowser
from tests.recognition.conftest import badges  # noqa: F401 - shared fixture
from tests.tenants import launch_from_lms_b, register_lms_b

LENA = devplatform.PERSONAS["learner"]


def _dev_platform(app) -> int:
    with app.app_context():
        found = db.session.scalar(
            select(Platform.id).where(Platform.client_id == devplatform.CLIENT_ID)
        )
        db.session.remove()
    return found


def _file(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "roster.csv") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def _import(runner, app, path: str, *extra: str):
    return runner.invoke(
        args=["people", "roster", "import", path, "--platform-id", str(_dev_platform(app)), *extra]
    )


def _org(app) -> dict[str, list[tuple[str, bool, bool]]]:
    """Each organisation team: its members' e-mails, whether active, whether leading."""
    with app.app_context():
        rows = db.session.execute(
            select(Team.title, User.email, Membership.active, Membership.leads)
            .join(Membership, Membership.team_id == Team.id)
            .join(User, User.id == Membership.user_id)
            .where(Team.source == ORGANISATION)
            .order_by(Team.title, User.email)
        ).all()
        db.session.remove()
    teams: dict[str, list[tuple[str, bool, bool]]] = {}
    for title, email, active, leads in rows:
        teams.setdefault(title, []).append((email, active, leads))
    return teams


# A European Excel export: semicolons, Windows-1252 (the é), its own header names.
ROSTER = (
    "E-mail;Team name;Full name;Supervisor\r\n"
    f"{LENA.email};Billing North;Lena Learner;sam@example.com\r\n"
    "omar@example.com;Billing North;Omar Ténor;sam@example.com\r\n"
    "sam@example.com;Team Leads;Sam Leader;\r\n"
    "ines@example.com;Billing South;Inès Quality;sam@example.com\r\n"
)


def test_a_roster_makes_teams_people_and_managers_and_a_second_import_changes_nothing(
    app, runner, tmp_path
):
    path = _file(tmp_path, ROSTER, "cp1252")
    first = _import(runner, app, path)
    assert first.exit_code == 0, first.output
    assert "4 people: 4 new, 4 joined a team (0 moved), 0 unchanged; 3 teams created; " in (
        first.output
    )
    assert _org(app) == {
        "Billing North": [
            (LENA.email, True, False),
            ("omar@example.com", True, False),
            ("sam@example.com", False, True),
        ],
        "Billing South": [("ines@example.com", True, False), ("sam@example.com", False, True)],
        "Team Leads": [("sam@example.com", True, False)],
    }
    with app.app_context():
        omar = db.session.scalar(select(User).where(User.email == "omar@example.com"))
        assert omar.name == "Omar Ténor" and omar.sub == "roster:omar@example.com"
        db.session.remove()
    again = _import(runner, app, path)
    assert again.exit_code == 0, again.output
    assert "0 new, 0 joined a team (0 moved), 4 unchanged; 0 teams created; 0 managers" in (
        again.output
    )


def test_a_move_ends_one_membership_and_starts_another_on_the_date(app, runner, tmp_path):
    assert _import(runner, app, _file(tmp_path, ROSTER, "cp1252")).exit_code == 0
    moved = ROSTER.replace("omar@example.com;Billing North", "omar@example.com;Billing South")
    result = _import(
        runner, app, _file(tmp_path, moved, name="moved.csv"), "--effective", "2026-11-16"
    )
    assert result.exit_code == 0, result.output
    assert "1 joined a team (1 moved)" in result.output
    with app.app_context():
        periods = {
            title: (active, joined, left)
            for title, active, joined, left in db.session.execute(
                select(Team.title, Membership.active, Membership.joined_on, Membership.left_on)
                .join(Membership, Membership.team_id == Team.id)
                .join(User, User.id == Membership.user_id)
                .where(User.email == "omar@example.com")
            )
        }
        db.session.remove()
    assert periods["Billing North"][0] is False and periods["Billing North"][2] == date(
        2026, 11, 16
    )
    assert periods["Billing South"] == (True, date(2026, 11, 16), None)


def test_a_file_with_bad_rows_imports_nothing_and_names_every_problem(app, runner, tmp_path):
    bad = (
        "email,team,manager,role\n"
        "ana@example.com,Billing North,,\n"
        ",Billing North,,\n"
        "ana@example.com,Billing South,,\n"
        "bo@example.com,Billing South,nobody@example.com,\n"
        "cy@example.com,,,chief\n"
    )
    result = _import(runner, app, _file(tmp_path, bad))
    assert result.exit_code != 0
    for expected in (
        "line 3, email: no e-mail address",
        "line 4, team: ana@example.com is in two teams at once: 'Billing North' on line 2 and "
        "'Billing South' here",
        "line 5, manager: nobody@example.com is neither in this file nor a person of this LMS",
        "line 6, team: no team",
        "line 6, role: 'chief' is not one of",
        "Nothing was imported: 4 rows have problems",
    ):
        assert expected in result.output
    assert _org(app) == {}
    skipped = _import(runner, app, _file(tmp_path, bad, name="again.csv"), "--skip-bad")
    assert skipped.exit_code == 0, skipped.output
    assert "1 people: 1 new" in skipped.output and "4 bad rows skipped" in skipped.output


def test_a_file_without_the_columns_says_how_it_was_read(app, runner, tmp_path):
    result = _import(runner, app, _file(tmp_path, "who|group name\nana@example.com|A\n"))
    assert result.exit_code != 0
    assert "no column 'email'" in result.output
    assert "read as separated by '|', UTF-8, and its columns are: who, group name" in (
        result.output
    )
    again = _file(tmp_path, "who|group name\nana@example.com|A\n", name="b.csv")
    chosen = _import(runner, app, again, "--email-column", "who", "--team-column", "group name")
    assert chosen.exit_code == 0, chosen.output


def test_a_person_listed_before_their_first_launch_becomes_their_lms_user(
    app, runner, tmp_path, lti: LtiBrowser
):
    assert _import(runner, app, _file(tmp_path, ROSTER, "cp1252")).exit_code == 0
    lti.launch_and_follow("learner")
    with app.app_context():
        lenas = db.session.scalars(select(User).where(User.email == LENA.email)).all()
        assert [u.sub for u in lenas] == [LENA.sub]
        memberships = db.session.scalars(
            select(Membership).where(Membership.user_id == lenas[0].id)
        ).all()
        assert "Billing North" in {m.team.title for m in memberships}  # came with the record
        # and the launch made her a member of the course she launched from
        assert [m.lms_role for m in memberships if m.team.source == "lms_context"] == ["learner"]
        db.session.remove()


def test_nothing_from_another_lms_is_matched(app, runner, tmp_path, lti: LtiBrowser):
    launch_from_lms_b(app, lti, "learner", sub="b-lena")  # LMS B's Lena, same e-mail
    lms_b = register_lms_b(app)
    assert _import(runner, app, _file(tmp_path, ROSTER, "cp1252")).exit_code == 0
    with app.app_context():
        b_lena = db.session.scalar(
            select(User).where(User.platform_id == lms_b, User.sub == "b-lena")
        )
        assert b_lena is not None
        assert db.session.scalars(
            select(Membership).where(Membership.user_id == b_lena.id)
        ).all() == [m for m in b_lena.memberships if m.team.source != ORGANISATION]
        roster_lena = db.session.scalar(
            select(User).where(User.platform_id != lms_b, User.email == LENA.email)
        )
        assert roster_lena.sub == f"roster:{LENA.email}"
        db.session.remove()


def test_a_manager_named_in_the_roster_recognises_their_team_whatever_course_they_launch_from(
    app,
    runner,
    tmp_path,
    lti: LtiBrowser,
    badges,  # noqa: F811 - the fixture above
):
    from recognition.models import Award, Badge
    from tests.builders import joined, launched
    from tests.courses.flow import get, post
    from tests.security.conftest import launch_as

    # Omar takes another course of the LMS; Marco manages the demo course, not Omar's.
    joined(launched(lti, "learner", sub="omar", name="Omar Agent", context="course-b"))
    with app.app_context():
        db.session.execute(
            User.__table__.update().where(User.sub == "omar").values(email="omar@example.com")
        )
        db.session.commit()
        kudos = db.session.scalar(select(Badge.id).where(Badge.slug == "kudos-customer-hero"))
        db.session.remove()
    marco = launched(lti, "manager")
    assert "Omar Agent" not in get(marco, "/recognition/award").text

    marco_email = devplatform.PERSONAS["manager"].email
    roster = f"email,team,manager\nomar@example.com,Billing North,{marco_email}\n"
    done = _import(runner, app, _file(tmp_path, roster))
    assert done.exit_code == 0, done.output
    marco = launch_as(app, lti, "manager")  # the roster counts from the next launch
    page = get(marco, "/recognition/award")
    assert "Omar Agent" in page.text
    request_id = page.text.split('name="request_id" type="hidden" value="')[1].split('"')[0]
    given = post(
        marco,
        "/recognition/award",
        {
            "recipient": str(_user_id(app, "omar")),
            "badge": str(kudos),
            "request_id": request_id,
            "message": "You untangled the billing mix-up for the Hansens. Thank you!",
        },
    )
    assert given.status_code == 302, given.status_code
    with app.app_context():
        award = db.session.scalar(select(Award))
        assert db.session.get(Team, award.team_id).title == "Billing North"
        db.session.remove()


def test_a_learner_the_roster_names_as_a_manager_launches_as_one(app, runner, tmp_path, lti):
    from tests.courses.flow import get

    lti.launch_and_follow("learner")
    assert get(lti, "/recognition/award").status_code == 403
    roster = f"email,team,manager\nana@example.com,Billing North,{LENA.email}\n"
    assert _import(runner, app, _file(tmp_path, roster)).exit_code == 0
    lti.launch_and_follow("learner")
    assert get(lti, "/recognition/award").status_code == 200  # a manager's page


def _user_id(app, sub: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(User.id).where(User.sub == sub))
        db.session.remove()
    return found


def _upload(trainer: LtiBrowser, path: str, field: str, data: bytes, **extra: str):
    import io

    from tests.lti import csrf_token_for

    return trainer.client.post(
        trainer.tool_base + path,
        data={
            "csrf_token": csrf_token_for(trainer.app, trainer.client),
            field: (io.BytesIO(data), "file.csv"),
            **extra,
        },
        content_type="multipart/form-data",
    )


def test_a_trainer_looks_after_the_organisation_from_its_page(app, lti: LtiBrowser):
    from tests.builders import sign_in
    from tests.courses.flow import get, post, text

    sign_in(lti, "trainer")
    assert "Teams and roster" in text(get(lti, "/dashboard"))
    refused = _upload(
        lti,
        "/organisation/roster",
        "roster",
        b"email,team\nana@example.com,North\nana@example.com,South\n",
    )
    assert refused.status_code == 400
    assert "ana@example.com is in two teams at once" in text(refused)
    assert "No teams yet" in text(refused)  # nothing was imported
    done = _upload(lti, "/organisation/roster", "roster", ROSTER.encode("cp1252"))
    assert done.status_code == 302
    page = text(get(lti, "/organisation"))
    assert "Roster imported: 4 people" in page and "Billing South" in page
    teams = {title: team_id for team_id, title in _teams(app)}
    merged = post(
        lti,
        f"/organisation/teams/{teams['Billing South']}",
        {"action": "merge", "into": str(teams["Billing North"])},
    )
    assert merged.status_code == 302
    page = text(get(lti, "/organisation"))
    assert "Merged Billing South into Billing North: 1 people moved" in page
    members = {email for email, active, _ in _org(app)["Billing North"] if active}
    assert members == {LENA.email, "ines@example.com", "omar@example.com"}
    renamed = post(
        lti,
        f"/organisation/teams/{teams['Billing North']}",
        {"action": "rename", "name": "Team Leads"},
    )
    assert renamed.status_code == 302
    assert "There is already a team called Team Leads" in text(get(lti, "/organisation"))
    named = post(
        lti,
        f"/organisation/teams/{teams['Team Leads']}",
        {"action": "name_manager", "email": "nobody@example.com"},
    )
    assert named.status_code == 302
    assert "No person with the e-mail nobody@example.com" in text(get(lti, "/organisation"))


def test_past_training_from_the_page(app, lti: LtiBrowser, packs):  # noqa: F811 - fixture
    from tests.builders import sign_in
    from tests.courses.flow import get, text

    sign_in(lti, "trainer")
    assert (
        _upload(lti, "/organisation/roster", "roster", ROSTER.encode("cp1252")).status_code == 302
    )
    bad = _upload(
        lti,
        "/courses/completions",
        "completions",
        b"email,course,date\nomar@example.com,Juggling,2026-09-01\n",
    )
    assert bad.status_code == 400
    assert "no course 'Juggling' in this LMS's catalogue" in text(bad)
    outside = b"email,course,date,provider\nomar@example.com,Juggling,2026-09-01,Circus Ltd\n"
    good = _upload(lti, "/courses/completions", "completions", outside)
    assert good.status_code == 302
    assert "1 completions brought in (1 of outside trainings)" in text(
        get(lti, "/courses/completions")
    )


def _teams(app) -> list[tuple[int, str]]:
    with app.app_context():
        found = db.session.execute(
            select(Team.id, Team.title).where(Team.source == ORGANISATION)
        ).all()
        db.session.remove()
    return [tuple(row) for row in found]


def test_the_analysis_counts_a_person_in_the_team_they_were_in_at_the_time(
    app,
    runner,
    tmp_path,
    packs,  # noqa: F811 - fixture
):
    from insights.analysis import training_dates

    first = "email,team\nana@x.org,North\nbo@x.org,North\ncy@x.org,South\ndi@x.org,South\n"
    assert _import(runner, app, _file(tmp_path, first), "--effective", "2026-01-01").exit_code == 0
    done = tmp_path / "done.csv"
    done.write_text("email,course,date\nana@x.org,basics,2026-02-01\ncy@x.org,basics,2026-03-01\n")
    brought = runner.invoke(
        args=[
            "courses",
            "completions",
            "import",
            str(done),
            "--platform-id",
            str(_dev_platform(app)),
        ]
    )
    assert brought.exit_code == 0, brought.output
    moved = first.replace("ana@x.org,North", "ana@x.org,South")
    result = _import(
        runner, app, _file(tmp_path, moved, name="moved.csv"), "--effective", "2026-02-15"
    )
    assert result.exit_code == 0, result.output
    teams = {title: team_id for team_id, title in _teams(app)}
    with app.app_context():
        dates, exposure = training_dates(
            db.session, [teams["North"], teams["South"]], ["basics"], share=0.5
        )
        db.session.remove()
    # Ana trained while in North (half of North that day); she brought it to South on the
    # 15th, where it took Cy's completion to reach half.
    assert dates == {teams["North"]: date(2026, 2, 1), teams["South"]: date(2026, 3, 1)}
    assert exposure == {teams["North"]: 0.0, teams["South"]: 2 / 3}


def test_a_second_file_changes_roles_and_managers_and_a_person_twice_in_one_team_is_one(
    app, runner, tmp_path
):
    first = (
        "email,team,manager,role\n"
        "ana@example.com,Billing North,sam@example.com,\n"
        "sam@example.com,Team Leads,,manager\n"
    )
    assert _import(runner, app, _file(tmp_path, first)).exit_code == 0
    second = (
        "email,team,manager,role\n"
        "ana@example.com,Billing North,tom@example.com,trainer\n"
        "ANA@example.com,billing  north,tom@example.com,trainer\n"  # the same team
        "tom@example.com,Team Leads,,manager\n"
    )
    result = _import(runner, app, _file(tmp_path, second, name="second.csv"))
    assert result.exit_code == 0, result.output
    assert "2 people: 1 new, 1 joined a team (0 moved), 1 unchanged; 0 teams created; " in (
        result.output
    )
    assert "1 managers named" in result.output
    assert _org(app)["Billing North"] == [
        ("ana@example.com", True, False),
        ("sam@example.com", False, False),  # no longer named: stops leading
        ("tom@example.com", False, True),
    ]
    with app.app_context():
        roles = dict(
            db.session.execute(
                select(User.email, Membership.assigned_role)
                .join(Membership, Membership.user_id == User.id)
                .join(Team, Team.id == Membership.team_id)
                .where(Membership.active, Team.source == ORGANISATION)
            ).all()
        )
        db.session.remove()
    assert roles == {
        "ana@example.com": "trainer",
        "sam@example.com": "manager",  # not in the second file: left as they were
        "tom@example.com": "manager",
    }


def test_an_archived_team_takes_no_one_and_the_file_says_so(app, runner, tmp_path):
    from core.db import utcnow

    assert _import(runner, app, _file(tmp_path, ROSTER, "cp1252")).exit_code == 0
    with app.app_context():
        db.session.execute(
            Team.__table__.update()
            .where(Team.title == "Billing South")
            .values(archived_at=utcnow())
        )
        db.session.commit()
        db.session.remove()
    moved = ROSTER.replace("omar@example.com;Billing North", "omar@example.com;billing SOUTH")
    result = _import(runner, app, _file(tmp_path, moved, name="moved.csv"))
    assert result.exit_code != 0
    for line in (3, 5):
        assert (
            f"line {line}, team: the team 'Billing South' is archived; restore it or use "
            "another team" in result.output
        )
    assert "Nothing was imported: 2 rows have problems" in result.output


def test_a_roster_that_stops_being_text_part_way_imports_nothing(app, runner, tmp_path):
    rows = "".join(f"agent{n}@example.com,Billing North\n" for n in range(4000))  # past 64 KB
    path = tmp_path / "broken.csv"
    path.write_bytes(b"email,team\n" + rows.encode() + b"bo@example.com,Billing S\xffuth\n")
    result = _import(runner, app, str(path))
    assert result.exit_code != 0
    assert "Line 4002 is not UTF-8 text" in result.output
    assert _org(app) == {}
