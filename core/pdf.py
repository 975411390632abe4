"""PDFs from templates. WeasyPrint may only read the app's own static files and inline
``data:`` URLs: it would otherwise fetch any URL that ends up in a document.

WeasyPrint is imported on first use: it takes most of a second to import, which every web
and worker process would otherwise pay at start."""

from __future__ import annotations

import mimetypes
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from flask import current_app, render_template

STATIC_PREFIX = "static:"


@cache
def _local_only_fetcher() -> type:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

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

    return LocalOnlyFetcher


def local_only_fetcher() -> Any:
    roots = [Path(current_app.static_folder)] if current_app.static_folder else []
    roots += [Path(bp.static_folder) for bp in current_app.blueprints.values() if bp.static_folder]
    return _local_only_fetcher()(roots)


def render_pdf(template: str, **context: Any) -> bytes:
    """Render a Jinja template to PDF. Reference images and styles as ``static:<file>``."""
    from weasyprint import HTML

    html = render_template(template, **context)
    return HTML(string=html, url_fetcher=local_only_fetcher(), base_url="/").write_pdf()
