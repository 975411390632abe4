"""PDFs from templates. WeasyPrint may only read the app's own static files and inline
``data:`` URLs: it would otherwise fetch any URL that ends up in a document."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from flask import current_app, render_template
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

STATIC_PREFIX = "static:"


class LocalOnlyFetcher(URLFetcher):
    """``data:`` URLs, and ``static:<path>`` from the given static folders; nothing else
    (no network, no other files)."""

    def __init__(self, static_roots: list[Path]) -> None:
        super().__init__(allowed_protocols={"data"})
        self.static_roots = [root.resolve() for root in static_roots]

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url.startswith(STATIC_PREFIX):
            relative = unquote(url.removeprefix(STATIC_PREFIX)).lstrip("/")
            for root in self.static_roots:
                candidate = (root / relative).resolve()
                if candidate.is_relative_to(root) and candidate.is_file():
                    media, _ = mimetypes.guess_type(candidate.name)
                    return URLFetcherResponse(
                        url, candidate.read_bytes(), {"Content-Type": media or "text/plain"}
                    )
            raise ValueError(f"no static file {relative!r}")
        return super().fetch(url, headers)  # refuses every protocol but data:


def _static_roots() -> list[Path]:
    roots = [Path(current_app.static_folder)] if current_app.static_folder else []
    roots += [Path(bp.static_folder) for bp in current_app.blueprints.values() if bp.static_folder]
    return roots


def render_pdf(template: str, **context: Any) -> bytes:
    """Render a Jinja template to PDF. Reference images and styles as ``static:<file>``."""
    html = render_template(template, **context)
    document = HTML(string=html, url_fetcher=LocalOnlyFetcher(_static_roots()), base_url="/")
    return document.write_pdf()
