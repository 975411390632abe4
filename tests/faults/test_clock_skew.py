"""Clock skew between the LMS and the tool: accepted within the stated leeway, refused beyond.

The fault is produced as a platform with a wrong clock produces it: a genuine login at the
development platform, whose id_token is then dated by a clock ``skew`` seconds ahead (+) or
behind (-) ours: ``iat``, ``nbf`` and ``exp`` all move together, and the token is signed with
the platform's real key, so only the clock differs. The launch goes through the real launch
URL.

The stated leeway is ``LTI_CLOCK_LEEWAY_SECONDS`` (default 60 s, documented in
docs/deployment.md), and an id_token lives 60 s (``ID_TOKEN_LIFETIME``, as Moodle's). So with
the default, a platform may be up to 60 s ahead (``iat`` in our future by at most the leeway)
and up to 120 s behind (``exp`` + leeway not yet past). ±5 minutes is beyond that and
refused with a page saying why; an operator whose LMS drifts that far sets
``LTI_CLOCK_LEEWAY_SECONDS=300``, and then ±5 minutes is accepted while 5 minutes and 10
seconds is refused. Each edge is tested 10 s inside and 10 s outside.

A refused launch answers 401 with the reason and writes nothing; its nonce is not spent.
"""

from __future__ import annotations

import pytest

from lms.devplatform.service import ID_TOKEN_LIFETIME
from tests.lti import LtiBrowser, page_text, row_counts

DEFAULT_LEEWAY = 60
MARGIN = 10  # seconds inside or outside an edge: far more than a launch takes
AHEAD = "dated in the future"
BEHIND = "expired before it reached us"


def skewed(skew: int):  # type: ignore[no-untyped-def]
    """The claims as a platform whose clock is ``skew`` seconds off would have dated them."""

    def change(claims: dict) -> dict:
        claims = {**claims, "nbf": claims["iat"]}  # as platforms that send nbf do
        return {**claims, **{k: claims[k] + skew for k in ("iat", "nbf", "exp")}}

    return change


def cases(leeway: int) -> list[tuple[int, str | None]]:
    """(skew, None when accepted or the words of the refusal) around both edges."""
    behind_edge = ID_TOKEN_LIFETIME + leeway
    return [
        (leeway - MARGIN, None),
        (leeway + MARGIN, AHEAD),
        (-(behind_edge - MARGIN), None),
        (-(behind_edge + MARGIN), BEHIND),
        (+300, None if leeway >= 300 else AHEAD),
        (-300, None if behind_edge >= 300 else BEHIND),
    ]


def launch_with_skew(browser: LtiBrowser, app, skew: int, refusal: str | None) -> None:  # type: ignore[no-untyped-def]
    pending = browser.resign(browser.pending("learner"), skewed(skew))
    before = row_counts(app)
    response = browser.post_launch(pending)
    if refusal is None:
        assert response.status_code == 303, (skew, page_text(response))
        return
    assert response.status_code == 401, (skew, page_text(response))
    assert refusal in page_text(response)
    assert row_counts(app) == before, "a refused launch writes nothing"


def test_the_stated_default_leeway_is_documented():
    from core.config import Settings

    assert Settings().LTI_CLOCK_LEEWAY_SECONDS == DEFAULT_LEEWAY
    assert ID_TOKEN_LIFETIME == 60


@pytest.mark.parametrize(
    ("skew", "refusal"),
    cases(DEFAULT_LEEWAY),
    ids=lambda value: f"{value:+d}s" if isinstance(value, int) else ("refused" if value else "ok"),
)
def test_default_leeway(app, lti, skew, refusal):
    launch_with_skew(lti, app, skew, refusal)


@pytest.mark.parametrize(
    ("skew", "refusal"),
    [*cases(300), (300 + MARGIN, AHEAD)],
    ids=lambda value: f"{value:+d}s" if isinstance(value, int) else ("refused" if value else "ok"),
)
def test_a_five_minute_leeway_accepts_five_minutes_either_way(app, make_app, live, skew, refusal):
    tolerant = make_app(LTI_CLOCK_LEEWAY_SECONDS=300)
    browser = LtiBrowser(tolerant, tolerant.test_client(), live.tool_base, live.platform_base)
    launch_with_skew(browser, app, skew, refusal)


def test_the_refusals_point_at_the_clocks(app, lti):
    ahead = page_text(lti.post_launch(lti.resign(lti.pending("learner"), skewed(+300))))
    assert f"the LMS's clock and ours disagree by more than {DEFAULT_LEEWAY} seconds" in ahead
    behind = page_text(lti.post_launch(lti.resign(lti.pending("learner"), skewed(-300))))
    assert "its clock is probably behind ours (synchronise both with NTP)" in behind
    # The genuine launch, from a platform with the right time, still works afterwards.
    assert lti.launch("learner").status_code == 303
