"""What the development platform can honestly say about third-party cookies.

A page cannot switch the browser's cookie policy (that is chrome://settings/cookies, and
Debian's Chromium blocks third-party cookies by default). What the platform can do is show
which path *this* browser takes with the tool in its frame, measured by a probe page on the
tool's site inside a frame of the course page, exactly where the tool runs; and offer the
same course page under another site name, so that the frame is cross-site (as with a real
LMS) or same-site (where no third-party rule applies).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from flask import Response, request

PROBE_COOKIE = "cx_cookie_probe"
PROBE_COOKIE_SECONDS = 60
PROBE_MESSAGE = "cx.devplatform.cookies"
ORIGIN = re.compile(r"\Ahttps?://[A-Za-z0-9.\-\[\]:]+\Z")
# The loopback names a browser treats as different sites for the same server.
LOOPBACK_NAMES = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}

# What each path means, shown on the course page once the probe has answered. Keyed by what
# the course page's script decides (``index.html``), so the words live in one place.
COOKIE_PATHS = {
    "same-site": (
        "The tool and this course page are on the same site, so the browser's third-party "
        "cookie setting does not apply here: the tool uses its ordinary cookies."
    ),
    "allowed": (
        "This browser allows third-party cookies: the tool in the frame uses its ordinary "
        "cookies (SameSite=None; Secure)."
    ),
    "partitioned": (
        "This browser blocks third-party cookies: the tool is using partitioned cookies "
        "(CHIPS), which the browser keeps for this course page's site only."
    ),
    "no-cookie": (
        "This browser keeps no cookie of the tool in this frame, partitioned or not (Safari "
        "does so, and every browser across sites over plain HTTP): the tool offers to open "
        "the activity in a new window."
    ),
}


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def other_site_name(url: str) -> str | None:
    """The same URL under the other loopback name (127.0.0.1 <-> localhost), which the
    browser treats as another site; None for any other host (no second name is known)."""
    parts = urlsplit(url)
    other = LOOPBACK_NAMES.get(parts.hostname or "")
    if other is None:
        return None
    netloc = other if parts.port is None else f"{other}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def is_origin(value: str) -> bool:
    return bool(ORIGIN.match(value))


def set_probe_cookie(response: Response) -> None:
    """A cookie with the attributes the tool's own cookies carry (``core.security``,
    ``lms.launch``): Partitioned and ``SameSite=None; Secure`` over HTTPS, ``Lax`` over
    HTTP. Whether it comes back says what the tool's cookies do in this frame."""
    secure = request.is_secure
    response.set_cookie(
        PROBE_COOKIE,
        "1",
        max_age=PROBE_COOKIE_SECONDS,
        path="/dev-platform/",
        httponly=True,
        secure=secure,
        samesite="None" if secure else "Lax",
        partitioned=secure,
    )


def probe_cookie_kept() -> bool:
    return request.cookies.get(PROBE_COOKIE) == "1"
