"""Course text in Markdown, rendered to safe HTML once, at import.

Raw HTML in the source is not rendered (it shows as text), so a content pack cannot inject
script into a page. Callouts are fenced containers (``::: tip`` … ``:::``); tables are wrapped
so they scroll sideways on a phone instead of widening the page; images must name a file in
the pack and carry alt text.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin

CALLOUTS = {
    "note": "Note",
    "tip": "Tip",
    "warning": "Watch out",
    "example": "Example",
    "key": "Key idea",
}
# Replaced by the URL of the pack's assets when a page is shown: the pack does not know
# where the app is mounted.
ASSET_PREFIX = "__COURSE_ASSETS__/"


@dataclass
class Rendered:
    html: str
    images: list[tuple[str, int]] = field(default_factory=list)  # (path, line)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def _callout_renderer(kind: str) -> Callable[..., str]:
    label = CALLOUTS[kind]

    def render(self: Any, tokens: list[Token], idx: int, _options: Any, env: Any) -> str:
        if tokens[idx].nesting == 1:
            return (
                f'<aside class="callout callout-{kind}" role="note">'
                f'<p class="callout-label">{label}</p>\n'
            )
        return "</aside>\n"

    return render


def _build() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "typographer": True}).enable(
        ["table", "strikethrough"]
    )
    for kind in CALLOUTS:
        md.use(container_plugin, name=kind, render=_callout_renderer(kind))
    return md


_MD = _build()


def _line(token: Token, offset: int) -> int:
    return (token.map[0] if token.map else 0) + 1 + offset


def _walk(
    tokens: list[Token], out: Rendered, line_offset: int, base: str, block_line: int = 0
) -> None:
    for token in tokens:
        line = _line(token, line_offset) if token.map else block_line
        if token.type == "image":
            src = str(token.attrGet("src") or "")
            alt = token.content.strip()
            if not alt:
                out.problems.append((line, f"image {src!r} needs alt text for screen readers"))
            if "://" in src or src.startswith(("/", "data:")) or ".." in src.split("/"):
                out.problems.append(
                    (line, f"image {src!r} must be a file inside the pack (e.g. images/x.svg)")
                )
            else:
                path = posixpath.normpath(posixpath.join(base, src))
                out.images.append((path, line))
                token.attrSet("src", ASSET_PREFIX + path)
            token.attrSet("loading", "lazy")
        elif token.type == "link_open":
            href = str(token.attrGet("href") or "")
            if href.startswith(("http://", "https://")):
                token.attrSet("target", "_blank")
                token.attrSet("rel", "noopener noreferrer")
            elif href.startswith(("javascript:", "data:", "vbscript:")):
                out.problems.append((line, f"link {href[:30]!r} is not allowed"))
                token.attrSet("href", "#")
        if token.children:
            _walk(token.children, out, line_offset, base, line)


def render_markdown(source: str, line_offset: int = 0, base: str = "") -> Rendered:
    """Render ``source``. Image paths are relative to the folder ``base`` of the pack;
    ``line_offset`` is added to reported line numbers (for Markdown inside a YAML file)."""
    env: dict[str, Any] = {}
    tokens = _MD.parse(source, env)
    out = Rendered(html="")
    _walk(tokens, out, line_offset, base)
    html = _MD.renderer.render(tokens, _MD.options, env)
    html = html.replace("<table>", '<div class="table-scroll" tabindex="0"><table>').replace(
        "</table>", "</table></div>"
    )
    out.html = html
    return out


def with_assets(html: str, assets_url: str) -> str:
    """Point the pack's image references at ``assets_url`` (ending in a slash)."""
    return html.replace(ASSET_PREFIX, assets_url)
