"""The kernel's own pages: the landing page and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, url_for

from core.auth import current_viewer

bp = Blueprint(
    "core",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/core",
)


@bp.get("/")
def home() -> str:
    links = current_app.extensions.get("home_links", [])
    return render_template(
        "home.html",
        viewer=current_viewer(),
        links=[(label, url_for(endpoint)) for label, endpoint in links],
    )


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    return {"status": "ok"}, 200


def register_home_link(app: object, label: str, endpoint: str) -> None:
    """Show a link on the landing page (e.g. the development platform, the setup values)."""
    app.extensions.setdefault("home_links", []).append((label, endpoint))  # type: ignore[attr-defined]
