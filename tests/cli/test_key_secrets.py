"""Keys hashed under another HUB_SECRET_KEY than the hub's: every call with them is refused,
and the hub says so to its operators (at start, in its log, in key listings) instead of a
silent 401 per call."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from hub.core import security
from tests.cli.test_keys import KEY, cli, status
from tests.reliability.conftest import running_hub
from tests.reliability.fakes import CLIENT
from tests.support import ADMIN, hub_client, make_settings

OTHER_SECRET = "another-secret-0123456789abcdef"


async def test_a_key_made_under_another_secret_is_named_at_start_in_the_log_and_in_lists(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_hub(sqlite_url, tmp_path, registry_refresh_s=3600) as hub:
        made = await cli(sqlite_url, "issue", CLIENT, HUB_SECRET_KEY=OTHER_SECRET)
        assert made.exit_code == 0, made.output
        key = made.stdout.strip()
        assert KEY.fullmatch(key)
        prefix = security.key_prefix(key)
        assert prefix is not None

        # The running hub (SECRET) cannot match its hash: a 401, and its operators told once.
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="hub.gateway.checks"):
            assert await status(hub, key) == 401
            assert await status(hub, key) == 401
        said = [r.getMessage() for r in caplog.records if prefix in r.getMessage()]
        assert len(said) == 1, said
        assert "another HUB_SECRET_KEY" in said[0] and CLIENT in said[0]

        # A key unknown to the registry is refused with no such warning.
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="hub.gateway.checks"):
            assert await status(hub, security.new_api_key()) == 401
        assert not [r for r in caplog.records if "HUB_SECRET_KEY" in r.getMessage()]

        admin = {"Authorization": f"Bearer {ADMIN}"}
        listed = (await hub.client.get("/admin/keys", headers=admin)).json()
        by_prefix = {k["prefix"]: k for k in listed}
        assert by_prefix[prefix]["current_secret"] is False
        theirs = [k for k in listed if k["prefix"] != prefix]
        assert theirs and all(k["current_secret"] is True for k in theirs)

    # `hub keys list` with the hub's secret marks it; with the secret it was made under, not.
    mine = await cli(sqlite_url, "list", "--json")
    assert {r["prefix"]: r["current_secret"] for r in json.loads(mine.stdout)}[prefix] is False
    table = await cli(sqlite_url, "list")
    assert table.exit_code == 0, table.output
    named = re.search(
        r"keys? ([\d, ]+) (?:was|were) hashed under another HUB_SECRET_KEY", table.stderr
    )
    assert named is not None, table.stderr
    assert named[1].split(", ") == [str(by_prefix[prefix]["id"])]
    # Its row says so too: "active" alone read as a key that works, which no call with it does.
    row = next(line for line in table.stdout.splitlines() if prefix in line)
    assert "active (another secret)" in row, table.stdout
    lines = table.stdout.splitlines()
    mine_rows = [line for line in lines if "active" in line and prefix not in line]
    assert mine_rows and not any("another secret" in line for line in mine_rows)
    theirs_view = await cli(sqlite_url, "list", HUB_SECRET_KEY=OTHER_SECRET)
    assert theirs_view.exit_code == 0, theirs_view.output
    # Seen from the other secret, the hub's own keys are the foreign ones, not this one.
    other = re.search(r"keys? ([\d, ]+) (?:was|were) hashed", theirs_view.stderr)
    assert other is not None, theirs_view.stderr
    assert sorted(other[1].split(", ")) == sorted(str(k["id"]) for k in theirs)

    # A shell without the hub's secret is told so: every key looks foreign from there.
    unset = await cli(sqlite_url, "list", HUB_SECRET_KEY=None)  # type: ignore[arg-type]
    assert unset.exit_code == 0, unset.output
    assert "HUB_SECRET_KEY is not set here" in unset.stderr

    # A hub started again with SECRET names the key at start.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hub.registry.keys"):
        async with hub_client(make_settings(sqlite_url, tmp_path)):
            pass
    started = [r.getMessage() for r in caplog.records if "HUB_SECRET_KEY" in r.getMessage()]
    assert len(started) == 1 and prefix in started[0] and started[0].startswith("1 API key")

    # Revoked, it is no longer anyone's problem: neither the start nor the list speaks of it.
    revoked = await cli(sqlite_url, "revoke", str(by_prefix[prefix]["id"]))
    assert revoked.exit_code == 0, revoked.output
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hub.registry.keys"):
        async with hub_client(make_settings(sqlite_url, tmp_path)):
            pass
    assert not [r for r in caplog.records if "HUB_SECRET_KEY" in r.getMessage()]
    assert "another HUB_SECRET_KEY" not in (await cli(sqlite_url, "list")).stderr


async def test_keys_made_under_the_hubs_secret_raise_no_warning(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="hub.registry.keys"):
        async with running_hub(sqlite_url, tmp_path) as hub:
            made = await cli(sqlite_url, "issue", CLIENT)
            assert await status(hub, made.stdout.strip()) == 200
    assert not [r for r in caplog.records if "HUB_SECRET_KEY" in r.getMessage()]
    listed = json.loads((await cli(sqlite_url, "list", "--json")).stdout)
    assert listed and all(r["current_secret"] is True for r in listed)
    assert "HUB_SECRET_KEY" not in (await cli(sqlite_url, "list")).stderr
