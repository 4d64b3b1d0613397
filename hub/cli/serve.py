"""`hub up` and `hub serve` (placeholder)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add `up` and `serve`."""
