"""Certificate verification links and their QR codes."""

from __future__ import annotations

import segno
from flask import current_app, url_for


def verification_url(code: str) -> str:
    """The public page that confirms a certificate. Uses PUBLIC_BASE_URL when set, because
    inside an LMS iframe behind a proxy the request's host may not be the public one."""
    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    path = url_for("courses.verify", code=code)
    return f"{base}{path}" if base else url_for("courses.verify", code=code, _external=True)


def certificate_qr_svg(url: str) -> str:
    """An SVG data URL of a QR code for ``url`` (no network, no files)."""
    return segno.make(url, error="m").svg_data_uri(scale=4, border=2, dark="#1c2430")
