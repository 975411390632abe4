"""Survey import: bad rows reported with line and column, all or nothing unless asked,
duplicates counted once, time zones explicit, roll-ups that add up."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from core.db import db
from insights.importer import ImportRefused, Mapping, import_survey, rollup_totals
from insights.models import SurveyResponse, TeamDailyRollup
from people.models import Team
from tests.courses.flow import rows
from tests.lti import row_counts

MAPPING = Mapping(team="team", date="answered", score="score", source_id="id")

GOOD = b"""id,team,answered,score
r1,CXQ101,2026-11-02 09:15,5
r2,CXQ101,2026-11-02 17:40,4
r3,Customer Experience Quality (demo course),2026-11-03,2
r4,demo-course-1,2026-11-03T23:30:00+00:00,5
"""


@pytest.fixture
def team(app, lti):
    lti.launch_and_follow("learner")  # creates the demo course's team
    with app.app_context():
        found = db.session.scalar(select(Team))
        db.session.remove()
    return found


def run(app, data: bytes, **kw):
    with app.app_context():
        platform_id = db.session.scalar(select(Team.platform_id))
        try:
            report = import_survey(
                db.session,
                platform_id=platform_id,
                creator_id=None,
                filename="s.csv",
                data=data,
                mapping=kw.pop("mapping", MAPPING),
                metric=kw.pop("metric", "csat"),
                **kw,
            )
            if report.ok:
                db.session.commit()
            else:
                db.session.rollback()
            return report
        finally:
            db.session.remove()


def test_a_good_file_is_imported_and_rolled_up(app, team):
    report = run(app, GOOD, timezone="Europe/London")
    assert (report.imported, report.duplicates, report.bad_rows) == (4, 0, 0)
    with app.app_context():
        totals = rollup_totals(db.session, team.id, "csat")
        db.session.remove()
    assert totals == {
        "responses": 4,
        "score_sum": 16,
        "top_two_box": 3,
        "promoters": 0,
        "detractors": 0,
    }
    days = sorted((r.day.isoformat(), r.responses) for r in rows(app, TeamDailyRollup))
    assert days == [("2026-11-02", 2), ("2026-11-03", 2)]


def test_time_zones_are_explicit(app, team):
    data = (
        b"id,team,answered,score\n"
        b"z1,CXQ101,2026-06-30 23:30,5\n"
        b"z2,CXQ101,2026-06-30T23:30:00-05:00,5\n"
    )
    run(app, data, timezone="Europe/London")
    stored = {r.source_id: r for r in rows(app, SurveyResponse)}
    assert stored["z1"].answered_at.isoformat().startswith("2026-06-30T22:30")  # BST is UTC+1
    assert stored["z1"].day.isoformat() == "2026-06-30"
    assert stored["z2"].day.isoformat() == "2026-07-01"  # its own offset wins


def test_a_file_with_bad_rows_imports_nothing_and_lists_every_problem(app, team):
    data = GOOD + b"r5,Nowhere,2026-11-04,5\nr6,CXQ101,yesterday,9\nr7,CXQ101,2026-11-04,4.5\n"
    before = row_counts(app)
    report = run(app, data)
    assert not report.ok and report.bad_rows == 3
    assert [str(p) for p in report.bad] == [
        "line 6, team: no team called 'Nowhere' in this LMS",
        "line 7, answered: 'yesterday' is not a date in the format YYYY-MM-DD",
        "line 7, score: CSAT scores are whole numbers 1-5, not '9'",
        "line 8, score: CSAT scores are whole numbers 1-5, not '4.5'",
    ]
    assert row_counts(app) == before
    skipped = run(app, data, skip_bad=True)
    assert (skipped.imported, skipped.bad_rows) == (4, 3)


def test_duplicates_are_not_counted_twice(app, team):
    run(app, GOOD)
    with pytest.raises(ImportRefused, match="This file was already imported"):
        run(app, GOOD)
    overlapping = GOOD.replace(b"r4,", b"r9,") + b"r10,CXQ101,2026-11-05,1\n"
    report = run(app, overlapping)
    assert (report.imported, report.duplicates) == (2, 3)
    assert len(rows(app, SurveyResponse)) == 6


def test_ids_and_channels_are_stored_as_written_whatever_their_characters(app, team):
    # Tabs, backslashes and line breaks inside quoted cells: the bulk load must not read them
    # as its own separators (a stored id that differs would let a re-sent row in twice).
    odd = ["a\\b", "tab\there", "two\nlines", "back\\n"]
    lines = [b"id,team,answered,score,channel"]
    for n, value in enumerate(odd):
        quoted = '"' + value + '"'
        lines.append(f"{quoted},CXQ101,2026-11-0{n + 1} 10:00,5,{quoted}".encode())
    data = b"\n".join(lines) + b"\n"
    mapping = Mapping("team", "answered", "score", source_id="id", channel="channel")
    assert run(app, data, mapping=mapping).imported == 4
    stored = {r.source_id: (r.channel, r.answered_at, r.day) for r in rows(app, SurveyResponse)}
    assert {s: channel for s, (channel, _, _) in stored.items()} == {v: v for v in odd}
    _, answered, day = stored["a\\b"]
    assert (answered.replace(tzinfo=None).isoformat(), day.isoformat()) == (
        "2026-11-01T10:00:00",
        "2026-11-01",
    )
    again = run(app, data + b"new,CXQ101,2026-11-09,4,web\n", mapping=mapping)
    assert (again.imported, again.duplicates) == (1, 4)


def test_missing_columns_encoding_and_scales(app, team):
    with pytest.raises(ImportRefused, match="no column 'answered'"):
        run(app, b"id,team,score\nr1,CXQ101,5\n")
    with pytest.raises(ImportRefused, match="It was read as separated by ';', UTF-8"):
        run(app, b"id;team;score\nr1;CXQ101;5\n")
    nps = run(
        app,
        b"id,team,answered,score\nn1,CXQ101,2026-11-02,10\nn2,CXQ101,2026-11-02,0\n",
        metric="nps",
    )
    assert nps.imported == 2
    rollup = next(r for r in rows(app, TeamDailyRollup) if r.metric == "nps")
    assert (rollup.promoters, rollup.passives, rollup.detractors) == (1, 0, 1)


def test_the_command_imports_and_refuses_with_the_bad_rows(app, team, runner, tmp_path):
    good = tmp_path / "good.csv"
    good.write_bytes(GOOD)
    args = [
        "insights",
        "import",
        str(good),
        "--platform-id",
        str(team.platform_id),
        "--metric",
        "csat",
        "--team-column",
        "team",
        "--date-column",
        "answered",
        "--id-column",
        "id",
    ]
    done = runner.invoke(args=args)
    assert done.exit_code == 0, done.output
    assert "Imported 4 responses; 0 already imported; 0 bad rows skipped." in done.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"id,team,answered,score\nb1,CXQ101,2026-11-09,7\n")
    refused = runner.invoke(args=[*args[:2], str(bad), *args[3:]])
    assert refused.exit_code == 1
    assert "line 2, score: CSAT scores are whole numbers 1-5, not '7'" in refused.output
    assert "nothing was imported" in refused.output
    assert len(rows(app, SurveyResponse)) == 4


def test_a_row_repeated_within_a_file_counts_once_and_the_roll_ups_agree(app, team):
    data = GOOD + b"r2,CXQ101,2026-11-02 17:40,4\nr5,CXQ101,2026-11-04,1\n"
    report = run(app, data)
    assert (report.imported, report.duplicates) == (5, 1)
    with app.app_context():
        totals = rollup_totals(db.session, team.id, "csat")
        db.session.remove()
    assert totals["responses"] == 5 and totals["score_sum"] == 17


def test_removing_a_platform_removes_its_survey_rows(app, team):
    from lms.models import Platform
    from lms.registry import remove_platform

    run(app, GOOD)
    with app.app_context():
        remove_platform(db.session, db.session.get(Platform, team.platform_id))
        db.session.commit()
        db.session.remove()
    assert rows(app, SurveyResponse) == [] and rows(app, TeamDailyRollup) == []


def test_removing_a_team_removes_its_roll_ups(app, team):
    """The roll-ups have no foreign key to their team (bulk loads would pay for it row by
    row); a trigger removes them with the team, as the cascade did."""
    from sqlalchemy import delete

    from insights.models import TeamWeeklyRollup

    run(app, GOOD)
    assert rows(app, TeamDailyRollup) and rows(app, TeamWeeklyRollup)
    with app.app_context():
        db.session.execute(delete(Team).where(Team.id == team.id))
        db.session.commit()
        db.session.remove()
    assert rows(app, TeamDailyRollup) == [] and rows(app, TeamWeeklyRollup) == []


def test_weekly_roll_ups_add_up_to_the_daily_ones(app, team):
    from insights.models import TeamWeeklyRollup

    run(app, GOOD)  # Monday 2 and Tuesday 3 November
    run(app, b"id,team,answered,score\nw1,CXQ101,2026-11-08 23:00,3\nw2,CXQ101,2026-11-09,5\n")
    weeks = sorted(
        (r.week.isoformat(), r.responses, r.top_two_box) for r in rows(app, TeamWeeklyRollup)
    )
    assert weeks == [("2026-11-02", 5, 3), ("2026-11-09", 1, 1)]  # Sunday 8th is week 2 Nov
    daily = sum(r.responses for r in rows(app, TeamDailyRollup))
    assert daily == sum(w[1] for w in weeks) == 6
    # A later file with a day counted before (a new day too) adds to that day's counts.
    run(app, b"id,team,answered,score\nw3,CXQ101,2026-11-03 12:00,4\nw4,CXQ101,2026-11-04,1\n")
    days = {r.day.isoformat(): r.responses for r in rows(app, TeamDailyRollup)}
    assert (days["2026-11-03"], days["2026-11-04"]) == (3, 1)
    weeks = {r.week.isoformat(): r.responses for r in rows(app, TeamWeeklyRollup)}
    assert weeks == {"2026-11-02": 7, "2026-11-09": 1} and sum(days.values()) == 8


def xlsx(rows) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_excel_workbook_is_read_like_a_csv(app, team):
    from datetime import datetime

    data = xlsx(
        [
            ["id", "team", "answered", "score"],
            ["x1", "CXQ101", datetime(2026, 11, 2, 9, 15), 5],
            ["x2", "CXQ101", "2026-11-03", 4.0],  # Excel keeps whole numbers as floats
        ]
    )
    report = run(app, data)
    assert (report.imported, report.bad_rows) == (2, 0)
    stored = sorted((r.source_id, r.score, r.day.isoformat()) for r in rows(app, SurveyResponse))
    assert stored == [("x1", 5, "2026-11-02"), ("x2", 4, "2026-11-03")]
    bad = run(app, xlsx([["id", "team", "answered", "score"], ["x3", "CXQ101", "soon", 6]]))
    assert [str(p) for p in bad.bad] == [
        "line 2, answered: 'soon' is not a date in the format YYYY-MM-DD",
        "line 2, score: CSAT scores are whole numbers 1-5, not '6'",
    ]
    with pytest.raises(ImportRefused, match="not an Excel workbook"):
        run(app, b"PK\x03\x04 but not a workbook")


def test_survey_exports_as_they_come(app, team):
    """A European Excel export (semicolons, Windows-1252, decimal commas, day-first dates),
    a UTF-16 export with tabs, and a UTF-8 one with a BOM all import."""
    european = "id;team;answered;score\nE1;CXQ101;25/12/2026;4,0\nE2;CXQ101;03/12/2026;5\n"
    report = run(app, european.encode("cp1252"))
    assert (report.imported, report.bad_rows) == (2, 0), [str(p) for p in report.bad]
    days = sorted(r.day.isoformat() for r in rows(app, SurveyResponse))
    assert days == ["2026-12-03", "2026-12-25"]  # 03/12 read day-first, as 25/12 shows
    tabs = "id\tteam\tanswered\tscore\nU1\tCXQ101\t2026-11-02\t3\n"
    assert run(app, tabs.encode("utf-16")).imported == 1
    bom = "\ufeffid,team,answered,score\nB1,CXQ101,2026-11-02,3\n"
    assert run(app, bom.encode("utf-8")).imported == 1


def test_dates_are_read_in_the_format_chosen_or_refused_when_the_file_cannot_say(app, team):
    american = b"id,team,answered,score\nA1,CXQ101,12/25/2026,4\nA2,CXQ101,03/04/2026,4\n"
    assert run(app, american).imported == 2  # 12/25 settles it: month-first
    assert "2026-03-04" in {r.day.isoformat() for r in rows(app, SurveyResponse)}
    unclear = b"id,team,answered,score\nC1,CXQ101,03/04/2026,4\nC2,CXQ101,05/06/2026,4\n"
    with pytest.raises(
        ImportRefused,
        match=(r"could be day-first or month-first \(line 2: 03/04/2026; line 3: 05/06/2026\)"),
    ):
        run(app, unclear)
    chosen = Mapping(
        team="team", date="answered", score="score", source_id="id", date_format="day-first"
    )
    assert run(app, unclear, mapping=chosen).imported == 2
    assert "2026-04-03" in {r.day.isoformat() for r in rows(app, SurveyResponse)}
    wrong = b"id,team,answered,score\nW1,CXQ101,12/25/2026,4\n"
    report = run(app, wrong, mapping=chosen)
    assert [str(p) for p in report.bad] == [
        "line 2, answered: '12/25/2026' is not a DD/MM/YYYY date; it reads as a month-first "
        "date, so choose the date format month-first"
    ]


def test_the_command_takes_the_date_format(app, team, runner, tmp_path):
    unclear = tmp_path / "unclear.csv"
    unclear.write_bytes(b"id;team;answered;score\nM1;CXQ101;03/04/2026;5\n")
    args = [
        "insights",
        "import",
        str(unclear),
        "--platform-id",
        str(team.platform_id),
        "--metric",
        "csat",
        "--team-column",
        "team",
        "--date-column",
        "answered",
        "--id-column",
        "id",
    ]
    refused = runner.invoke(args=args)
    assert refused.exit_code == 1 and "choose the date format" in refused.output
    done = runner.invoke(args=[*args, "--date-format", "month-first"])
    assert done.exit_code == 0, done.output
    assert [r.day.isoformat() for r in rows(app, SurveyResponse)] == ["2026-03-04"]
