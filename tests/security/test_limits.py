"""Rate limits on login, imports and the survey API, counted in the database so every worker
process and host sees the same count; and uploads that are too big, of the wrong kind, or zip
bombs, refused with a clear message and nothing stored."""

from __future__ import annotations

import io
import zipfile

from insights.models import SurveyImport, SurveyResponse
from tests.builders import launched, sign_in
from tests.courses.flow import rows, text
from tests.insights.test_pages import CSV, upload
from tests.lti import row_counts
from tests.windows import with_time_left_in_the_window


def test_logins_from_one_address_are_limited_per_minute(make_app, lti, live):
    limited = make_app(LOGIN_RATE_PER_MINUTE=3)
    client = limited.test_client()
    login_url = lti.start("learner")
    top_level = {"Sec-Fetch-Dest": "document"}  # a new window: straight on to the LMS
    with_time_left_in_the_window(60)
    # Every login counts: inside a frame (the cookie check page) as in a new window (straight
    # on to the LMS).
    assert [client.get(login_url).status_code for _ in range(2)] == [200, 200]
    assert client.get(login_url, headers=top_level).status_code == 302
    before = row_counts(limited)
    refused = client.get(login_url, headers=top_level)
    assert refused.status_code == 429
    assert row_counts(limited) == before  # a refused login writes nothing
    assert 0 < int(refused.headers["Retry-After"]) <= 61
    assert "Too many logins from your network" in text(refused)
    # Another process of the service (another app on the same database) counts the same hits.
    other_worker = make_app(LOGIN_RATE_PER_MINUTE=3).test_client()
    assert other_worker.get(login_url, headers=top_level).status_code == 429


def test_each_person_has_an_hourly_allowance_of_imports(make_app, lti, live):
    limited = make_app(UPLOADS_PER_HOUR=2)
    trainer = type(lti)(limited, limited.test_client(), lti.tool_base, lti.platform_base)
    sign_in(trainer, "trainer")
    assert upload(limited, trainer, CSV).status_code == 302
    assert upload(limited, trainer, CSV.replace(b"a1", b"c1")).status_code == 302
    before = row_counts(limited)
    refused = upload(limited, trainer, CSV.replace(b"a1", b"d1"))
    assert refused.status_code == 429 and "Too many uploads" in text(refused)
    assert row_counts(limited)["survey_responses"] == before["survey_responses"]
    # A colleague still has their own allowance.
    colleague = launched(trainer, "administrator")
    assert upload(limited, colleague, CSV.replace(b"a1", b"e1")).status_code == 302


def xlsx_bomb() -> bytes:
    """A valid-looking workbook whose sheet unpacks from a few kB to 200 MB."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/workbook.xml", "<workbook/>")
        book.writestr("xl/worksheets/sheet1.xml", b"<sheetData>" + b" " * 200_000_000)
    return out.getvalue()


def test_a_zip_bomb_disguised_as_a_workbook_is_refused(app, lti):
    sign_in(lti, "trainer")
    bomb = xlsx_bomb()
    assert len(bomb) < 1_000_000
    refused = upload(app, lti, bomb, filename="survey.xlsx")
    assert refused.status_code == 400
    assert "unpacks to far more than it holds" in text(refused)
    assert rows(app, SurveyResponse) == [] and rows(app, SurveyImport) == []


def test_a_request_over_the_upload_limit_gets_a_clear_413(make_app, lti):
    small = make_app(MAX_UPLOAD_MB=1)
    trainer = type(lti)(small, small.test_client(), lti.tool_base, lti.platform_base)
    sign_in(trainer, "trainer")
    big = CSV + b"".join(b"x%d,CXQ101,2026-11-02,5\n" % i for i in range(60_000))
    refused = upload(small, trainer, big)
    assert refused.status_code == 413
    assert "Request Entity Too Large" in text(refused)
    assert rows(small, SurveyResponse) == []


def test_a_file_of_the_wrong_kind_is_refused_with_what_to_send(app, lti):
    sign_in(lti, "trainer")
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
    refused = upload(app, lti, png, filename="survey.png")
    assert refused.status_code == 400
    assert "CSV" in text(refused)
    assert rows(app, SurveyResponse) == []
