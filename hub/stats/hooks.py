"""How statistics hook into the hub (placeholder until the statistics feature lands)."""

from __future__ import annotations

from typing import Any


def install(state: Any) -> None:
    """Register rollup updates with the log writer and metrics with the gateway."""
