"""SQLite and PostgreSQL give the same figures in the same order: a mean does not depend on
the order the database added the latencies in, nor a tie on the order it grouped rows in."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.stats.common import mean_of
from hub.stats.timeutil import utcnow
from tests.stats.conftest import log_records, record

FAULTS = [(502, "Server.ServiceFailed"), (401, "Client.Unauthorized"),
          (403, "Client.AccessDenied"), (429, "Client.RateLimited")]  # fmt: skip


def test_a_mean_on_a_half_microsecond_rounds_the_same_whatever_the_sum_s_last_bits() -> None:
    # 26 exchanges of 656.487 ms in all, as SQLite adds them and as PostgreSQL does.
    assert mean_of(656.487, 26) == mean_of(656.4870000000001, 26) == 25.25
    assert mean_of(656.4869999999999, 26) == 25.25


def test_a_mean_is_to_the_microsecond_and_none_without_exchanges() -> None:
    assert mean_of(10.0, 3) == 3.333
    assert mean_of(0.0, 0) is None


def _json(db_url: str, *args: str) -> dict:
    result = CliRunner().invoke(app, [*args, "--json", "--db", db_url])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
async def ties(db_url: str) -> str:
    """Each fault as often as the others."""
    at = utcnow() - timedelta(days=2)
    records = [
        record(at, status_code=status, succeeded=False, fault_code=fault)
        for status, fault in FAULTS
    ]
    await log_records(db_url, records)
    return db_url


def test_faults_of_equal_counts_come_in_the_order_of_their_codes(ties: str) -> None:
    db_url = ties
    summary = _json(db_url, "stats", "summary")
    assert list(summary["by_fault"]) == sorted(f for _, f in FAULTS)
