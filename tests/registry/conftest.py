"""The registry tests that need a running hub in front of a provider take the gateway's."""

import pytest

from tests.gateway.conftest import hub  # noqa: F401  (the running hub fixture)


def change_can_come_between(db_url: str) -> None:
    """Skip on SQLite a test that has another admin change the registry between a change's
    read and its write: there the change holds the database's write lock from before its
    read (``hub.registry.repository.hold``), so none can, and the injected change only waits
    for the lock (``test_admin_etag.py`` shows it on SQLite)."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite: no change comes between a change's read and its write")
