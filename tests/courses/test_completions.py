"""Past training brought in from a file: the catalogue's courses and outside trainings count
as training in the impact analysis; a bad file brings in nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select

from core.db import db
from courses.models import PastTraining
from insights.analysis import first_completions
from lms.devplatform import service as devplatform
from lms.models import Platform
from people.models import User
from tests.courses.flow import rows

ROSTER = "email,team\nana@example.com,Billing North\nbo@example.com,Billing South\n"


def _platform(app) -> int:
    with app.app_context():
        found = db.session.scalar(
            select(Platform.id).where(Platform.client_id == devplatform.CLIENT_ID)
        )
        db.session.remove()
    return found


def _people(app, runner, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    done = runner.invoke(
        args=["people", "roster", "import", str(roster), "--platform-id", str(_platform(app))]
    )
    assert done.exit_code == 0, done.output


def _bring_in(app, runner, tmp_path: Path, text: str, *extra: str, name: str = "done.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return runner.invoke(
        args=[
            "courses",
            "completions",
            "import",
            str(path),
            "--platform-id",
            str(_platform(app)),
            *extra,
        ]
    )


COMPLETIONS = (
    "E-mail;Training;Completed on;Score;Provider\n"
    "ana@example.com;Survey basics;14/09/2026;87,5;\n"
    "bo@example.com;Classroom CX essentials;21/09/2026;;Northwind Training\n"
    "bo@example.com;basics;02/10/2026;90;\n"
)


def test_a_file_of_past_training_counts_in_the_impact_analysis(app, runner, packs, tmp_path):
    _people(app, runner, tmp_path)
    done = _bring_in(app, runner, tmp_path, COMPLETIONS)
    assert done.exit_code == 0, done.output
    assert "3 completions brought in (1 of outside trainings), 0 already there" in done.output
    stored = sorted(
        (r.training_key, r.completed_on, r.score_percent) for r in rows(app, PastTraining)
    )
    assert stored == [
        ("course:basics", date(2026, 9, 14), 87.5),
        ("course:basics", date(2026, 10, 2), 90.0),
        ("outside:classroom cx essentials", date(2026, 9, 21), None),
    ]
    again = _bring_in(app, runner, tmp_path, COMPLETIONS, name="again.csv")
    assert "0 completions brought in (1 of outside trainings), 3 already there" in again.output

    with app.app_context():
        ids = dict(db.session.execute(select(User.email, User.id)).all())
        only_courses = first_completions(db.session, ["basics"])
        with_outside = first_completions(db.session, ["basics", "outside:classroom cx essentials"])
        db.session.remove()
    assert only_courses == {
        ids["ana@example.com"]: date(2026, 9, 14),
        ids["bo@example.com"]: date(2026, 10, 2),
    }
    assert with_outside[ids["bo@example.com"]] == date(2026, 9, 21)  # the earlier one counts


def test_a_bad_file_brings_in_nothing_and_names_each_problem(app, runner, packs, tmp_path):
    _people(app, runner, tmp_path)
    bad = (
        "email,course,date,score\n"
        "ana@example.com,Survey basics,2026-09-14,87\n"
        ",Survey basics,2026-09-14,\n"
        "nobody@example.com,Survey basics,2026-09-14,\n"
        "ana@example.com,Advanced juggling,2026-09-14,\n"
        "bo@example.com,Survey basics,2099-01-01,\n"
        "bo@example.com,Survey basics,2026-09-14,140\n"
    )
    refused = _bring_in(app, runner, tmp_path, bad)
    assert refused.exit_code != 0
    for expected in (
        "line 3, email: no e-mail address",
        "line 4, email: no person with the e-mail nobody@example.com in this LMS",
        "line 5, course: no course 'Advanced juggling' in this LMS's catalogue",
        "line 6, date: 01 January 2099 is in the future",
        "line 7, score: a score is a percentage from 0 to 100, not '140'",
        "Nothing was brought in: 5 rows have problems",
    ):
        assert expected in refused.output
    assert rows(app, PastTraining) == []
    skipped = _bring_in(app, runner, tmp_path, bad, "--skip-bad", name="skip.csv")
    assert skipped.exit_code == 0, skipped.output
    assert "1 completions brought in" in skipped.output


def test_people_are_matched_in_this_lms_only_and_a_row_says_all_its_problems(
    app, runner, packs, tmp_path
):
    from tests.tenants import register_lms_b

    _people(app, runner, tmp_path)
    lms_b = register_lms_b(app)
    with app.app_context():
        db.session.add(User(platform_id=lms_b, sub="b-carla", email="Carla@Example.com"))
        db.session.commit()
        db.session.remove()
    text = (
        "email,course,date\n"
        "ANA@example.com,basics,2026-09-14\n"
        "carla@example.com,basics,2026-09-14\n"
        "nobody@example.com,Juggling,2099-01-01\n"
    )
    refused = _bring_in(app, runner, tmp_path, text)
    assert refused.exit_code != 0
    said = refused.output
    assert "line 3, email: no person with the e-mail carla@example.com in this LMS" in said
    # Every problem of a row, in the order of its columns: the e-mail's first.
    assert (
        said.index("line 4, email: no person with the e-mail nobody@example.com")
        < (said.index("line 4, course: no course 'Juggling'"))
        < said.index("line 4, date: 01 January 2099 is in the future")
    )
    assert "Nothing was brought in: 2 rows have problems" in said
    assert rows(app, PastTraining) == []


def test_a_completion_listed_twice_in_a_file_is_brought_in_once(app, runner, packs, tmp_path):
    _people(app, runner, tmp_path)
    twice = (
        "email,course,date,provider\n"
        "ana@example.com,basics,2026-09-14,\n"
        "ana@example.com,Basics,14/09/2026,\n"
        "bo@example.com,Escalations \\ complaints,01/09/2026,Acme\n"  # a backslash kept
    )
    done = _bring_in(app, runner, tmp_path, twice, "--date-format", "day-first")
    assert done.exit_code == 0, done.output
    assert "2 completions brought in (1 of outside trainings), 1 already there" in done.output
    assert sorted((r.training_key, r.training_name) for r in rows(app, PastTraining)) == [
        ("course:basics", "Survey basics"),
        ("outside:escalations \\ complaints", "Escalations \\ complaints"),
    ]


def test_removing_a_course_keeps_its_past_trainings_without_it(app, runner, packs, tmp_path):
    """``course_id`` has no foreign key (bulk loads would pay for it row by row); a trigger
    empties it when the course goes, as the key's SET NULL did."""
    from sqlalchemy import delete

    from courses.models import Course

    _people(app, runner, tmp_path)
    done = _bring_in(
        app, runner, tmp_path, "email,course,date\nana@example.com,basics,2026-09-14\n"
    )
    assert done.exit_code == 0, done.output
    [kept] = rows(app, PastTraining)
    assert kept.course_id is not None
    with app.app_context():
        db.session.execute(delete(Course).where(Course.id == kept.course_id))
        db.session.commit()
        db.session.remove()
    [kept] = rows(app, PastTraining)
    assert (kept.course_id, kept.training_key) == (None, "course:basics")


def test_a_file_that_stops_being_text_part_way_is_refused_with_its_line(
    app, runner, packs, tmp_path
):
    _people(app, runner, tmp_path)
    good = "ana@example.com,basics,2026-09-14\n" * 3000  # past the part read to sniff
    path = tmp_path / "broken.csv"
    path.write_bytes(
        b"email,course,date\n" + good.encode() + b"bo@example.com,b\xffsics,2026-09-14\n"
    )
    result = runner.invoke(
        args=["courses", "completions", "import", str(path), "--platform-id", str(_platform(app))]
    )
    assert result.exit_code != 0
    assert "Line 3002 is not UTF-8 text" in result.output
    assert rows(app, PastTraining) == []
