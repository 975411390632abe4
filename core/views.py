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


def register_nav_link(app: object, label: str, endpoint: str, roles: tuple[str, ...]) -> None:
    """Add a link to the top navigation for viewers holding one of ``roles``."""
    app.extensions.setdefault("nav_links", []).append((label, endpoint, roles))  # type: ignore[attr-defined]


def register_dashboard_panel(app: object, template: str, roles: tuple[str, ...]) -> None:
    """Add a panel (a template included with the dashboard's context) to role dashboards."""
    app.extensions.setdefault("dashboard_panels", []).append((template, roles))  # type: ignore[attr-defined]


@bp.app_context_processor
def navigation() -> dict[str, object]:
    viewer = current_viewer()
    if viewer is None:
        return {"nav_links": [], "dashboard_panels": []}
    role = viewer.role.value
    links = current_app.extensions.get("nav_links", [])
    panels = current_app.extensions.get("dashboard_panels", [])
    return {
        "nav_links": [(label, url_for(ep)) for label, ep, roles in links if role in roles],
        "dashboard_panels": [template for template, roles in panels if role in roles],
    }
