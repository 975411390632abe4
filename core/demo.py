"""Packages contribute demo data through loaders registered here; ``flask demo load`` runs them."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

DemoLoader = Callable[[Flask], str]


def register_demo_loader(app: Flask, loader: DemoLoader) -> None:
    app.extensions.setdefault("demo_loaders", []).append(loader)


def run_demo_loaders(app: Flask) -> list[str]:
    """Run every loader; each is idempotent and returns one line saying what it did."""
    return [loader(app) for loader in app.extensions.get("demo_loaders", [])]
