"""The kernel's own pages: the landing page, the health check and background jobs' progress."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    has_request_context,
    render_template,
    request,
    url_for,
)

from core.auth import STAFF, Role, Viewer, current_viewer, require_viewer
from core.db import db
from core.jobs import Job, job_for
from core.observability import readiness

bp = Blueprint(
    "core",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/core",
)
# Templates compare roles with their one definition (``viewer.role == Role.LEARNER``,
# ``viewer.role in STAFF``), never with role names of their own.
bp.record_once(lambda state: state.app.jinja_env.globals.update(Role=Role, STAFF=STAFF))


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
    """The process is up (for a liveness probe: no database involved)."""
    return {"status": "ok"}, 200


@bp.get("/readyz")
def readyz() -> tuple[dict[str, str], int]:
    """The process can serve: the database answers and has this code's schema (for a
    load balancer's or orchestrator's readiness probe)."""
    ready, detail = readiness()
    return {"status": "ready" if ready else "not ready", "detail": detail}, 200 if ready else 503


def register_home_link(app: Flask, label: str, endpoint: str) -> None:
    """Show a link on the landing page (e.g. the development platform, the setup values)."""
    app.extensions.setdefault("home_links", []).append((label, endpoint))


def register_nav_link(app: Flask, label: str, endpoint: str, roles: tuple[Role, ...]) -> None:
    """Add a link to the top navigation for viewers holding one of ``roles``."""
    app.extensions.setdefault("nav_links", []).append((label, endpoint, roles))


def register_footer_link(app: Flask, label: str, endpoint: str) -> None:
    """A link in every page's footer for launched viewers (e.g. their own data)."""
    app.extensions.setdefault("footer_links", []).append((label, endpoint))


def register_dashboard_panel(app: Flask, template: str, roles: tuple[Role, ...]) -> None:
    """Add a panel (a template included with the dashboard's context) to role dashboards."""
    app.extensions.setdefault("dashboard_panels", []).append((template, roles))


@bp.app_context_processor
def navigation() -> dict[str, object]:
    nothing: dict[str, object] = {"nav_links": [], "dashboard_panels": [], "footer_links": []}
    if not has_request_context():  # a report drawn by the worker has no viewer
        return nothing
    viewer = current_viewer()
    if viewer is None:
        return nothing
    # The same for every page of a role: worked out once per process (and mount point),
    # not with a dozen url_for calls on every page.
    built = current_app.extensions.setdefault("navigation_by_role", {})
    key = (viewer.role.value, request.script_root)
    if key not in built:
        role = viewer.role.value
        links = current_app.extensions.get("nav_links", [])
        panels = current_app.extensions.get("dashboard_panels", [])
        footer = current_app.extensions.get("footer_links", [])
        built[key] = {
            "nav_links": [(label, url_for(ep)) for label, ep, roles in links if role in roles],
            "dashboard_panels": [template for template, roles in panels if role in roles],
            "footer_links": [(label, url_for(ep)) for label, ep in footer],
        }
    return built[key]


@bp.get("/jobs/<int:job_id>")
def job_status(job_id: int) -> str:
    """A background job's progress; the page reloads itself until the job has finished."""
    viewer = require_viewer()
    job = _own_job(viewer, job_id)
    return render_template("job.html", viewer=viewer, job=job)


@bp.get("/jobs/<int:job_id>/result")
def job_result(job_id: int) -> Response:
    viewer = require_viewer()
    job = _own_job(viewer, job_id)
    if job.status != "done" or job.result is None:
        abort(404)
    return Response(
        job.result,
        mimetype=job.result_type or "application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{job.result_name or "result"}"'},
    )


def _own_job(viewer: Viewer, job_id: int) -> Job:
    """Only the person who started a job sees it (and only from the same LMS)."""
    if viewer.user_id is None:
        abort(404)
    job = job_for(db.session, job_id, user_id=viewer.user_id, platform_id=viewer.platform_id)
    if job is None:
        abort(404)
    return job
