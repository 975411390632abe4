"""Where a launch lands. Domain packages register their placeable pages here; ``lms`` never
imports them. A resource link's ``target`` custom parameter picks one; the default is the
viewer's dashboard."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app

DEFAULT_ENDPOINT = "people.dashboard"


@dataclass(frozen=True)
class LaunchTarget:
    name: str
    endpoint: str
    title: str


def register_target(app: Flask, target: LaunchTarget) -> None:
    app.extensions.setdefault("lti_targets", {})[target.name] = target


def endpoint_for(target_name: str) -> str:
    target = current_app.extensions.get("lti_targets", {}).get(target_name)
    return target.endpoint if target else DEFAULT_ENDPOINT
