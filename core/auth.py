"""Who is looking, in which tenant, with which product role; and the guards every view uses.

A launch puts the viewer in the session (see ``lms.launch``). Views read it through
``current_viewer()`` and scope every query by its platform, deployment and team.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import wraps
from typing import NotRequired, ParamSpec, TypedDict, TypeVar

from flask import session

from core.errors import UserFacingError

P = ParamSpec("P")
R = TypeVar("R")


class Role(StrEnum):
    """Product roles, from least to most privileged within a course context."""

    GUEST = "guest"
    LEARNER = "learner"
    MANAGER = "manager"
    TRAINER = "trainer"
    ADMINISTRATOR = "administrator"

    @property
    def label(self) -> str:
        return self.value.capitalize()


# The roles that run a course context's training and grading: every staff page, navigation
# link and dashboard panel allows these, and only these. ``Role`` is a ``StrEnum``, so they
# equal the role strings a session or a registry holds ("trainer" in STAFF is True).
STAFF = (Role.TRAINER, Role.ADMINISTRATOR)
# Everyone launched with a product role (a guest has none).
EVERYONE = (Role.LEARNER, Role.MANAGER, Role.TRAINER, Role.ADMINISTRATOR)


VIEWER_KEY = "viewer"


class SessionViewer(TypedDict):
    """A ``Viewer`` as the signed session cookie holds it (JSON). Sessions signed before a
    field existed lack it, and still read."""

    user_id: int | None
    role: str
    platform_id: int
    deployment_id: int
    team_id: int | None
    launch_id: NotRequired[str]
    resource_link_id: NotRequired[int | None]
    led_team_ids: NotRequired[list[int]]


@dataclass(frozen=True)
class Viewer:
    user_id: int | None
    role: Role
    platform_id: int
    deployment_id: int
    team_id: int | None
    launch_id: str
    # The LMS activity this launch came through (None for deep linking): where grades go.
    resource_link_id: int | None = None
    # The organisation's teams (from its roster) this person manages, whatever course they
    # launched from.
    led_team_ids: tuple[int, ...] = ()

    @property
    def team_scope(self) -> int | None:
        """The one team (course context) a trainer's or manager's authority covers: the one
        they launched from. None for an administrator, whose authority is their whole
        deployment; callers always scope by deployment as well."""
        return None if self.role is Role.ADMINISTRATOR else self.team_id

    @property
    def teams_governed(self) -> tuple[int, ...] | None:
        """Every team a trainer's or manager's authority covers: the course context they
        launched from and the organisation teams they lead. None for an administrator (their
        whole deployment)."""
        if self.role is Role.ADMINISTRATOR:
            return None
        own = (self.team_id,) if self.team_id is not None else ()
        return own + tuple(t for t in self.led_team_ids if t != self.team_id)

    def governs(self, team_id: int | None) -> bool:
        """Whether this viewer may act on things of ``team_id`` (an award, a score, a
        submission) of their own deployment: an administrator may; a trainer or manager only
        for the course context they launched from and the organisation teams they lead."""
        governed = self.teams_governed
        return governed is None or (team_id is not None and team_id in governed)

    def to_session(self) -> SessionViewer:
        return {
            "user_id": self.user_id,
            "role": self.role.value,
            "platform_id": self.platform_id,
            "deployment_id": self.deployment_id,
            "team_id": self.team_id,
            "launch_id": self.launch_id,
            "resource_link_id": self.resource_link_id,
            "led_team_ids": list(self.led_team_ids),
        }

    @classmethod
    def from_session(cls, data: SessionViewer) -> Viewer:
        return cls(
            user_id=data.get("user_id"),
            role=Role(data["role"]),
            platform_id=int(data["platform_id"]),
            deployment_id=int(data["deployment_id"]),
            team_id=data.get("team_id"),
            launch_id=str(data.get("launch_id", "")),
            resource_link_id=data.get("resource_link_id"),
            led_team_ids=tuple(int(t) for t in data.get("led_team_ids") or ()),
        )


def sign_in(viewer: Viewer) -> None:
    """Start a fresh session for a launch; the old one is dropped so it cannot be fixed."""
    session.clear()
    session[VIEWER_KEY] = viewer.to_session()
    session.permanent = True


def current_viewer() -> Viewer | None:
    data = session.get(VIEWER_KEY)
    if not data:
        return None
    try:
        return Viewer.from_session(data)
    except (KeyError, ValueError, TypeError):
        return None


class NotLaunched(UserFacingError):
    status = 401

    def __init__(self) -> None:
        super().__init__(
            "Please open this from your learning platform",
            "We could not find an active launch for you. Your session may have expired, or "
            "your browser blocked the cookie we need inside the course page.",
            hint="Go back to your course in Moodle or Canvas and open the activity again. "
            "If it keeps happening, open the activity in a new window.",
        )


class Forbidden(UserFacingError):
    status = 403

    def __init__(
        self, detail: str = "Your role in this course does not include this page."
    ) -> None:
        super().__init__("You do not have access to this page", detail)


def require_viewer() -> Viewer:
    viewer = current_viewer()
    if viewer is None:
        raise NotLaunched()
    return viewer


def roles_required(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Allow the view only to viewers holding one of ``roles`` in the launched context."""
    allowed = frozenset(roles)

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            viewer = require_viewer()
            if viewer.role not in allowed:
                raise Forbidden()
            return view(*args, **kwargs)

        return wrapper

    return decorator
