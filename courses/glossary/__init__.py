"""Words and idioms the courses use, in plain English, for learners whose first language is
not English: the list (``glossary.yaml``, validated when first read) and which of its words a
lesson uses, so each lesson links straight to them."""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

SOURCE = Path(__file__).with_name("glossary.yaml")
_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Term:
    term: str
    means: str
    example: str = ""
    also: tuple[str, ...] = ()

    @property
    def anchor(self) -> str:
        return "g-" + re.sub(r"[^a-z0-9]+", "-", self.term.lower()).strip("-")


@functools.cache
def glossary() -> tuple[Term, ...]:
    """Every term, in alphabetical order (read once per process: the file ships with the code)."""
    entries = yaml.safe_load(SOURCE.read_text(encoding="utf-8"))
    terms = []
    for at, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not entry.get("term") or not entry.get("means"):
            raise ValueError(f"{SOURCE.name}: entry {at} needs a term and what it means")
        terms.append(
            Term(
                term=str(entry["term"]),
                means=str(entry["means"]),
                example=str(entry.get("example", "")),
                also=tuple(str(a) for a in entry.get("also", ())),
            )
        )
    return tuple(sorted(terms, key=lambda t: t.term.lower()))


@functools.cache
def _pattern(term: Term) -> re.Pattern[str]:
    forms = sorted((term.term, *term.also), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(f) for f in forms) + r")(?![\w-])", re.I)


def terms_in(rendered_html: str) -> list[Term]:
    """The glossary's terms a lesson's text uses (its HTML, tags left out)."""
    text = html.unescape(_TAGS.sub(" ", rendered_html))
    return [term for term in glossary() if _pattern(term).search(text)]
