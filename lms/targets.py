"""Where a launch lands. Domain packages register their placeable pages here; ``lms`` never
imports them. A resource link's ``target`` custom parameter picks one; the default is the
viewer's dashboard."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from flask import Flask, current_app, url_for

DEFAULT_ENDPOINT = "people.dashboard"
DEEP_LINKING_TARGET = "lms:deep-linking"


@dataclass(frozen=True)
class LaunchTarget:
    """A page an LMS activity can open. ``score_maximum`` makes it gradable: placing it
    through deep linking asks the LMS for a gradebook column."""

    name: str
    endpoint: str
    title: str
    description: str = ""
    kind: str = "Page"
    score_maximum: float | None = None
    view_args: tuple[tuple[str, str], ...] = ()

    def url(self) -> str:
        return url_for(self.endpoint, **dict(self.view_args))


class TargetSource(Protocol):
    """Targets that come and go with data (e.g. one per imported course)."""

    def targets(self, platform_id: int) -> Iterable[LaunchTarget]:
        """What one LMS may place: its catalogue, not another LMS's."""
        ...

    def find(self, name: str) -> LaunchTarget | None:
        """The target called ``name``, if this source owns it; should not need the database,
        as it runs on every launch."""


def register_target(app: Flask, target: LaunchTarget) -> None:
    app.extensions.setdefault("lti_targets", {})[target.name] = target


def register_target_source(app: Flask, source: TargetSource) -> None:
    app.extensions.setdefault("lti_target_sources", []).append(source)


def _sources() -> list[TargetSource]:
    return current_app.extensions.get("lti_target_sources", [])


def placeable_targets(platform_id: int, query: str = "") -> list[LaunchTarget]:
    """What a trainer of an LMS can place in a course, filtered by words in the title or
    description."""
    targets = [
        t
        for name, t in current_app.extensions.get("lti_targets", {}).items()
        if name != DEEP_LINKING_TARGET
    ]
    for source in _sources():
        targets.extend(source.targets(platform_id))
    words = query.lower().split()
    return sorted(
        (
            t
            for t in targets
            if all(w in f"{t.title} {t.description} {t.kind}".lower() for w in words)
        ),
        key=lambda t: (t.kind, t.title),
    )


def target_named(name: str) -> LaunchTarget | None:
    target = current_app.extensions.get("lti_targets", {}).get(name)
    if target is None:
        target = next((t for s in _sources() if (t := s.find(name)) is not None), None)
    return target


def url_for_target(target_name: str) -> str:
    """Where a launch of an activity with this target lands; the dashboard by default."""
    target = target_named(target_name) if target_name else None
    return target.url() if target else url_for(DEFAULT_ENDPOINT)
