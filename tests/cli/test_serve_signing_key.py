"""`hub serve` on a log another key signed last: a node given the wrong HUB_SIGNING_KEY_FILE
(or one left behind in a rotation) is named at start, before its batches mix into the chain
under a key the auditors' public key does not verify."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.txlog.signing import Signer
from tests.support import SECRET, free_port


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ports `hub serve` would have listened on; nothing is served."""
    ports: list[int] = []
    monkeypatch.setattr("hub.cli.listen.run_server", lambda _host, port, *_a: ports.append(port))
    return ports


def hub(url: str, key_file: Path, *args: str) -> Any:
    env = {
        "HUB_ENV": "test",
        "HUB_SECRET_KEY": SECRET,
        "HUB_SIGNING_KEY_FILE": str(key_file),
        "COLUMNS": "200",
    }
    return CliRunner().invoke(app, [*args, "--db", url], env=env)


async def run(url: str, key_file: Path, *args: str) -> Any:
    return await asyncio.to_thread(hub, url, key_file, *args)


def said(result: Any) -> str:
    return " ".join(result.output.split())


async def test_a_node_signing_with_another_key_than_the_logs_last_batch_is_warned(
    sqlite_url: str, tmp_path: Path, started: list[int]
) -> None:
    ours, other = tmp_path / "ours.pem", tmp_path / "other.pem"
    synth = ["tx", "synth", "--records", "100", "--days", "1", "--batch", "100"]
    made = await run(sqlite_url, ours, *synth)
    assert made.exit_code == 0, made.output
    ours_id = Signer.from_file(ours, create=False).key_id

    wrong = await run(sqlite_url, other, "serve", "--port", str(free_port()))
    assert wrong.exit_code == 0, wrong.output
    other_id = Signer.from_file(other, create=False).key_id
    text = said(wrong)
    assert f"the log's last batch was signed by key {ours_id}" in text, text
    assert f"this hub signs with key {other_id}" in text
    assert "every node on one database signs with the same key" in text
    assert "Traceback" not in wrong.output

    right = await run(sqlite_url, ours, "serve", "--port", str(free_port()))
    assert right.exit_code == 0, right.output
    assert "last batch was signed by key" not in said(right)
    assert len(started) == 2  # a warning, not a refusal: a rotation starts this way too


async def test_a_log_with_no_batch_yet_raises_no_warning(
    sqlite_url: str, tmp_path: Path, started: list[int]
) -> None:
    result = await run(sqlite_url, tmp_path / "k.pem", "serve", "--port", str(free_port()))
    assert result.exit_code == 0, result.output
    assert "last batch was signed" not in said(result) and started
