"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support import POSTGRES_URL, database

# Started as a background job of a script (`make test &`, a CI runner's shell), this process
# ignores SIGINT, and so did every `hub` it started: the tests that stop one as Ctrl-C does
# saw it run on and exit 0, not 130. Its children get the default action back this way.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ENGINES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=ENGINES)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh migrated database: SQLite always, PostgreSQL when HUB_TEST_POSTGRES_URL is set."""
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need HUB_TEST_POSTGRES_URL (e.g. postgresql+asyncpg://...)")
    async with database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> AsyncIterator[str]:
    async with database("sqlite", tmp_path) as url:
        yield url


@pytest.fixture(autouse=True)
def _hub_variables_put_back() -> Iterator[None]:
    """HUB_* variables as they were before each test: `hub serve` and --db write theirs into
    os.environ (its workers read them there), and one test's (an empty HUB_HOST) must not
    reach the settings of every test after it."""
    before = {k: v for k, v in os.environ.items() if k.startswith("HUB_")}
    yield
    for name in [k for k in os.environ if k.startswith("HUB_") and k not in before]:
        del os.environ[name]
    os.environ.update(before)
