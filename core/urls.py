"""Where a page may send the browser next: one decision for every ``next`` and referrer.

An open redirect lets a link on our domain send people to a look-alike site, so a ``next``
value is kept only when it stays on this site. The check is made on the value the browser
would actually follow, because browsers repair URLs before using them: they drop tabs and
newlines anywhere (WHATWG URL parsing), trim leading control characters and spaces, and read
``\\`` as ``/`` in http(s) URLs, so ``/\\t/evil.example`` and ``/\\evil.example`` both mean
``//evil.example``, another host.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

MAX_NEXT_LENGTH = 2048
# What the WHATWG URL parser removes from anywhere in the input.
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
# C0 controls and space: trimmed from both ends by the parser; anywhere else they are refused
# (a header cannot carry them, which is how a newline used to become a 500).
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Percent-decoding is repeated this often when looking for an encoded slash or backslash: a
# proxy or a framework may decode once more than we expect.
_DECODE_ROUNDS = 3


def _as_browser_reads(value: str) -> str:
    return _TAB_OR_NEWLINE.sub("", value.strip(_C0_OR_SPACE)).replace("\\", "/")


def _is_local_path(value: str) -> bool:
    if not value.startswith("/") or value.startswith("//"):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def safe_next(value: str | None) -> str | None:
    """The path to go to, when ``value`` is a path on this site; ``None`` for anything else
    (another host, a scheme such as ``javascript:``, or a value that becomes one once the
    browser or a decoder has normalised it). The answer is the normalised path."""
    if not value or not isinstance(value, str) or len(value) > MAX_NEXT_LENGTH:
        return None
    cleaned = _as_browser_reads(value)
    if _CONTROL.search(cleaned) or not _is_local_path(cleaned):
        return None
    decoded = cleaned
    for _ in range(_DECODE_ROUNDS):
        decoded = _as_browser_reads(unquote(decoded))
        if not _is_local_path(decoded):
            return None
    return cleaned


def path_of_same_origin(url: str | None, host_url: str) -> str | None:
    """The safe path of ``url`` when it is an absolute URL on ``host_url`` (a referrer)."""
    if not url or not host_url or not url.startswith(host_url):
        return None
    return safe_next("/" + url[len(host_url) :].lstrip("/"))
