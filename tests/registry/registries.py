"""The small registry the admin API's tests load: one member, a provider, a client and a
service of the provider."""

from __future__ import annotations

from typing import Any

from tests.support import ADMIN

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
CLIENT = "VN/GOV/BCA/client"
SERVICE = "VN/GOV/BCA/population/citizen-lookup"


def small_registry(**parts: Any) -> dict[str, Any]:
    """The registry document, with ``parts`` (services, grants...) in place of its own."""
    return {
        "members": [{"id": "VN/GOV/BCA", "name": "Bộ Công an"}],
        "subsystems": [
            {"id": "VN/GOV/BCA/population", "base_url": "http://127.0.0.1:9"},
            {"id": CLIENT},
        ],
        "services": [{"id": SERVICE}],
        **parts,
    }
