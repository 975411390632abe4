"""LTI platform storage (1EdTech's "LTI OIDC Login with LTI Client Side postMessages" and
"LTI postMessage Storage"): where the browser does not send the state cookie back with the
launch, the login's state and nonce kept in the platform's own frame instead.

A platform that offers it names its storage frame at login (``lti_storage_target``: ``_parent``
or the name of a frame beside the tool's). The login page puts ``state_<state>`` and
``nonce_<nonce>`` there (``lti.put_data``); the launch page reads them back (``lti.get_data``)
and posts what it read to the tool, which checks it here. Only the browser that ran the login
in this course page can read them: the platform answers the tool's origin only, and the tool
talks to the platform's origin only (that of its OIDC auth URL, from the registration).

What is kept under ``state_<state>`` is not the state but a secret the state is the hash of
(``state-<sha256(secret)>.<target>``): the secret is only ever in the login page and in the
course page's storage, never in a URL nor at the platform's server, so someone who got hold
of a launch (its id_token and state) cannot post what the launch page would have read; the
tool checks the hash, not only that two values the browser sent are equal.

The storage target travels in the state too: not every platform sends ``lti_storage_target``
back with the launch, and the login writes nothing. Tampering with it gains nothing: the
target only says where the launch page asks, always at the platform's origin.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from lms.errors import LaunchUnauthenticated

PARAMETER = "lti_storage_target"
# Frame names platforms use (``_parent``, Canvas's ``post_message_forwarding``, Learn's
# ``lti_storage_frame``); anything else is not offered storage, and the login goes on as before.
TARGET = re.compile(r"\A[A-Za-z0-9_\-]{1,64}\Z")
STATE_PREFIX = "state-"  # pylti1p3's
STATE_TARGET_SEPARATOR = "."
# How long a page waits for the platform's answer before it goes on without it.
ANSWER_TIMEOUT_MS = 2000

LOST_HINT = (
    "Open the activity again from your course. If this keeps happening, your browser may be "
    "blocking what the course page keeps for the tool; opening the activity in a new window "
    "works in every browser."
)


def offered_target(value: str | None) -> str | None:
    """The storage frame the login request names, when it is one we can address."""
    return value if value and TARGET.match(value) else None


def login_secret() -> str:
    return secrets.token_urlsafe(32)


def proof_of(secret: str) -> str:
    digest = hashlib.sha256(secret.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def storage_state(secret: str, target: str) -> str:
    """The random part of the state of a login that keeps ``secret`` in ``target``."""
    return f"{proof_of(secret)}{STATE_TARGET_SEPARATOR}{target}"


def target_in_state(state: str) -> str | None:
    """The storage target a login marked its state with; None when it used none."""
    _, separator, target = state.rpartition(STATE_TARGET_SEPARATOR)
    return offered_target(target) if separator else None


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def state_key(state: str) -> str:
    return "state_" + state


def nonce_key(nonce: str) -> str:
    return "nonce_" + nonce


@dataclass(frozen=True)
class StoredLogin:
    """What the launch page read back from the platform's storage for this launch."""

    secret: str
    nonce: str

    def check_state(self, state: str) -> None:
        """The launch's state must be the one whose secret the login kept in this browser's
        course page."""
        proof, _, _ = state.removeprefix(STATE_PREFIX).rpartition(STATE_TARGET_SEPARATOR)
        if not (self.secret and proof and _same(proof_of(self.secret), proof)):
            raise LaunchUnauthenticated(
                "The launch's state does not match what this browser's login kept in the "
                "course page.",
                hint=LOST_HINT,
            )

    def check_nonce(self, nonce: str) -> None:
        """So must the id_token's nonce (which is then spent once, as for every launch)."""
        if not (self.nonce and _same(self.nonce, nonce)):
            raise LaunchUnauthenticated(
                "The launch's nonce does not match what this browser's login kept in the "
                "course page.",
                hint=LOST_HINT,
            )


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def posted_from(own_origin: str, origin: str | None, fetch_site: str | None) -> bool:
    """The check that the storage answer was posted by our own launch page, not by a form on
    another site: there is no session (nor CSRF cookie) to tie it to yet, but browsers say
    where a post comes from, and no page can make them lie."""
    if fetch_site is not None and fetch_site != "same-origin":
        return False
    return origin == own_origin
