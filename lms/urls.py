"""The tool's public URLs, as the LMS must be told them."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request, url_for


def tool_url(endpoint: str, *, base: str | None = None, **values: object) -> str:
    """Absolute URL on this tool. ``PUBLIC_BASE_URL`` wins over the request's host, so the
    values given to an LMS do not depend on how an administrator reached the page."""
    base = base or current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def own_host() -> str:
    base = current_app.config.get("PUBLIC_BASE_URL")
    return urlsplit(base).netloc if base else request.host


def tool_urls(base: str | None = None) -> dict[str, str]:
    endpoints = {
        "login": "lms.login",
        "launch": "lms.launch",
        "jwks": "lms.jwks",
        "canvas": "lms.canvas_config",
        "home": "core.home",
    }
    return {name: tool_url(endpoint, base=base) for name, endpoint in endpoints.items()}
