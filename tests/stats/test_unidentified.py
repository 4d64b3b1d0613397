"""``client=none`` (and ``service=none``, ``provider=none``) keeps the exchanges refused
before the hub knew who sent them or what they asked for, in the log and in the figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from tests.gateway.conftest import CLIENT, PROVIDER, Hub
from tests.stats.test_exactness import get, traffic


def _blank(records: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    return [r for r in records if r[field] == ""]


@pytest.mark.parametrize("field", ["client", "service", "provider"])
async def test_none_lists_and_counts_the_unidentified(hub: Hub, field: str) -> None:
    records = await traffic(hub)
    blank = _blank(records, field)
    assert 0 < len(blank) < len(records)
    page = await get(hub, "/api/transactions", **{field: "none"})
    assert [i["request_id"] for i in page["items"]] == [r["request_id"] for r in reversed(blank)]
    summary = await get(hub, "/api/stats/summary", **{field: "none"})
    assert summary["total"] == len(blank)
    assert summary["failed"] == sum(not r["succeeded"] for r in blank)
    series = await get(hub, "/api/stats/timeseries", **{field: "None"}, group_by=field)
    assert series["keys"] == [""]
    assert sum(p["total"] for p in series["points"]) == len(blank)
    top = await get(hub, "/api/stats/top", by=field, **{field: "NONE"})
    assert [(r["key"], r["count"]) for r in top["rows"]] == [("", len(blank))]


async def test_none_combines_with_the_other_filters(hub: Hub) -> None:
    records = await traffic(hub)
    # The caller without a key asked for a registered service of this provider.
    kept = [
        r
        for r in records
        if r["client"] == "" and r["provider"] == PROVIDER and r["status_code"] == 401
    ]
    assert kept
    params = {"client": "none", "provider": PROVIDER, "status": 401,
              "fault": "Client.Unauthorized", "since": "1h"}  # fmt: skip
    page = await get(hub, "/api/transactions", **params)
    assert len(page["items"]) == len(kept)
    params.pop("status"), params.pop("fault")
    assert (await get(hub, "/api/stats/summary", **params))["total"] == len(kept)
    # A client's own exchanges are none of them.
    mine = await get(hub, "/api/stats/summary", client=CLIENT, service="none")
    assert mine["total"] == sum(r["client"] == CLIENT and r["service"] == "" for r in records)


async def test_the_cli_takes_none_as_the_api_does(
    hub: Hub, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    records = await traffic(hub)
    blank = _blank(records, "client")
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.setenv("HUB_SIGNING_KEY_FILE", str(tmp_path / "key.pem"))

    def run(*args: str) -> str:
        result = CliRunner().invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    listed = await asyncio.to_thread(run, "tx", "list", "--client", "none", "--json")
    assert len(json.loads(listed)["items"]) == len(blank)
    # The table said nothing where `hub stats` tables say "(not identified)".
    table = await asyncio.to_thread(run, "tx", "list", "--client", "none", "--status", "401")
    assert table.count("(not identified)") == sum(r["status_code"] == 401 for r in blank)
    summary = await asyncio.to_thread(run, "stats", "summary", "--client", "none", "--json")
    assert json.loads(summary)["total"] == len(blank)
    api = await get(hub, "/api/stats/summary", client="none")
    assert json.loads(summary)["by_fault"] == api["by_fault"]
