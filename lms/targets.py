"""Where a launch lands. Domain packages register their placeable pages here; ``lms`` never
imports them. A resource link's ``target`` custom parameter picks one; the default is the
viewer's dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

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


def register_target(app: Flask, target: LaunchTarget) -> None:
    app.extensions.setdefault("lti_targets", {})[target.name] = target


def placeable_targets(query: str = "") -> list[LaunchTarget]:
    """What a trainer can place in a course, filtered by words in the title or description."""
    targets = [
        t
        for name, t in current_app.extensions.get("lti_targets", {}).items()
        if name != DEEP_LINKING_TARGET
    ]
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
    return current_app.extensions.get("lti_targets", {}).get(name)


def endpoint_for(target_name: str) -> str:
    target = current_app.extensions.get("lti_targets", {}).get(target_name)
    return target.endpoint if target else DEFAULT_ENDPOINT
