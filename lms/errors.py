"""Why a login or launch was refused, in words a person (and a platform admin) can act on."""

from __future__ import annotations

from core.errors import UserFacingError

ASK_ADMIN = "If this keeps happening, give this message to your LMS administrator."


class LaunchRefused(UserFacingError):
    """The LMS message was not accepted. Nothing was written."""

    def __init__(self, detail: str, *, status: int = 400, title: str = "", hint: str = "") -> None:
        super().__init__(
            title or "We could not open this activity",
            detail,
            status=status,
            hint=hint or ASK_ADMIN,
        )


class LaunchUnauthenticated(LaunchRefused):
    def __init__(self, detail: str, *, hint: str = "") -> None:
        super().__init__(detail, status=401, hint=hint)


STATE_HINT = (
    "Your browser did not send back the cookie we set a moment ago. This happens when the "
    "activity is shown inside the course page and the browser blocks cookies from other sites, "
    "or when the page was reloaded or opened twice. Open the activity again from your course; "
    "if it fails again, choose to open it in a new window."
)
