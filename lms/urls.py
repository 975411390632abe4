"""The tool's public URLs, as the LMS must be told them."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request, url_for


def tool_url(endpoint: str, **values: object) -> str:
    """Absolute URL on this tool. ``PUBLIC_BASE_URL`` wins over the request's host, so the
    values given to an LMS do not depend on how an administrator reached the page."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def own_host() -> str:
    base = current_app.config.get("PUBLIC_BASE_URL")
    return urlsplit(base).netloc if base else request.host


def tool_urls() -> dict[str, str]:
    return {
        "login": tool_url("lms.login"),
        "launch": tool_url("lms.launch"),
        "jwks": tool_url("lms.jwks"),
        "canvas": tool_url("lms.canvas_config"),
        "home": tool_url("core.home"),
    }
