"""A ``next`` value can only send people to a page of this site, as the browser reads it.

The attacker's link was ``/programme?next=/%09/evil.example``: the browser drops the tab, so
the redirect after "Join" went to ``//evil.example``. A newline in ``next`` was a 500.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import quote, urljoin, urlsplit

import pytest

from core.urls import path_of_same_origin, safe_next
from tests.builders import launched
from tests.courses.flow import csrf, get

HOSTILE = [
    "//evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "\t//evil.example",
    " //evil.example",
    "\x00//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "/%2F/evil.example",
    "/%2f%2fevil.example",
    "/%5Cevil.example",
    "/%5c%5cevil.example",
    "/%252F/evil.example",
    "/%09/evil.example",
    "/%0a/evil.example",
    "https://evil.example/",
    "http:/evil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "evil.example",
    "courses",
    "",
    "/courses/\x0b/x",
    "/" + "a" * 3000,
]
FINE = {
    "/courses/basics/": "/courses/basics/",
    "/courses/basics/?tab=2#top": "/courses/basics/?tab=2#top",
    "/assessments/": "/assessments/",
    "/courses/basics/\n": "/courses/basics/",  # the browser drops the newline, so do we
    "/courses/a%20b": "/courses/a%20b",
}


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_next_is_ignored(value):
    assert safe_next(value) is None


@pytest.mark.parametrize(("value", "kept"), FINE.items())
def test_a_path_of_ours_is_kept_as_the_browser_reads_it(value, kept):
    assert safe_next(value) == kept


def test_a_referrer_counts_only_on_our_own_host():
    base = "http://tool.example/"
    assert path_of_same_origin("http://tool.example/recognition/", base) == "/recognition/"
    assert path_of_same_origin("http://tool.example.evil.example/x", base) is None
    assert path_of_same_origin("https://evil.example/", base) is None
    assert path_of_same_origin(None, base) is None


def _join_with(app, lti, learner, value: str):
    """Open the programme page with ``next`` as a link would carry it, then press Join."""
    page = get(learner, "/programme?next=" + quote(value, safe=""))
    assert page.status_code == 200, page.status_code
    carried = re.search(r'name="next" type="hidden" value="([^"]*)"', page.text)
    return learner.client.post(
        learner.tool_base + "/programme/join",
        data={"csrf_token": csrf(page), "next": unescape(carried[1]) if carried else ""},
    )


def _where(response, base: str) -> str:
    """Where the browser goes: the Location as the browser resolves and repairs it."""
    location = re.sub(r"[\t\n\r]", "", response.headers["Location"]).replace("\\", "/")
    return urljoin(base + "/programme", location)


@pytest.mark.parametrize(
    "value",
    [
        "/\t/evil.example",
        "/\\evil.example",
        "//evil.example",
        "/%2F/evil.example",
        "javascript:alert(1)",
    ],
)
def test_join_never_sends_the_browser_to_another_site(app, lti, value):
    learner = launched(lti, "learner")
    joined = _join_with(app, lti, learner, value)
    assert joined.status_code == 302
    target = urlsplit(_where(joined, learner.tool_base))
    assert f"{target.scheme}://{target.netloc}" == learner.tool_base
    assert target.path == "/dashboard"


def test_a_newline_in_next_is_no_server_error(app, lti):
    learner = launched(lti, "learner")
    page = get(learner, "/programme?next=/courses/%0d%0aSet-Cookie:%20x=1")
    assert page.status_code == 200
    sent = learner.client.post(
        learner.tool_base + "/programme/join",
        data={"csrf_token": csrf(page), "next": "/courses/\r\nSet-Cookie: x=1"},
    )
    assert sent.status_code == 302
    assert "\n" not in sent.headers["Location"] and "Set-Cookie" not in str(sent.headers.keys())


def test_a_path_of_ours_is_where_join_goes(app, lti):
    learner = launched(lti, "learner")
    joined = _join_with(app, lti, learner, "/courses/")
    assert urlsplit(_where(joined, learner.tool_base)).path == "/courses/"
