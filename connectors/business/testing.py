"""Moved to ``connectors.kit.testing``; these names stay importable from here."""

from __future__ import annotations

from connectors.kit.testing import FakeHub, Recorded, open_client, serve

__all__ = ["FakeHub", "Recorded", "open_client", "serve"]
