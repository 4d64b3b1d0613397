"""`hub audit verify` on a log the hub keeps writing: no false alarm, and a bounded check."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.core.db import create_engine
from hub.models import Transaction
from hub.stats.rollup import Folder
from hub.stats.timeutil import utcnow
from hub.txlog import audit, audit_state
from hub.txlog.audit import verify_log
from hub.txlog.signing import Signer
from hub.txlog.sqlite import create_writer_engine
from hub.txlog.writer import LogWriter
from tests.txlog.test_audit import record


class Hub:
    """The log writer of a hub taking exchanges, its rollups folded at every batch."""

    def __init__(self, url: str, signer: Signer) -> None:
        self.engine = create_writer_engine(url)
        self.writer = LogWriter(self.engine, signer=signer, hooks=[Folder(every_s=0)])
        self.n = 0
        self.start = utcnow()

    async def exchanges(self, count: int) -> None:
        """``count`` exchanges answered together: one batch."""
        first, self.n = self.n + 1, self.n + count
        await asyncio.gather(
            *(
                self.writer.submit(record(i) | {"started_at": self.start + timedelta(seconds=i)})
                for i in range(first, self.n + 1)
            )
        )


async def test_verify_while_the_hub_writes_finds_nothing_and_says_where_it_stopped(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = Signer.from_file(tmp_path / "signing-key.pem", create=True)
    hub = Hub(db_url, signer)
    await hub.writer.start()
    await hub.exchanges(40)
    monkeypatch.setattr(audit, "CHUNK", 7)  # many statements per check
    reader = create_engine(db_url)
    execute = AsyncConnection.execute
    chance = random.Random(7)

    async def between_commits(self: AsyncConnection, *args: Any, **kwargs: Any) -> Any:
        # Before about a third of the check's statements, the hub commits a batch: the log
        # moves under the check at every point, the way it does on a busy hub.
        if self.engine is reader and chance.random() < 0.3:
            await hub.exchanges(2)
        return await execute(self, *args, **kwargs)

    monkeypatch.setattr(AsyncConnection, "execute", between_commits)
    try:
        checks = []
        for _ in range(6):
            before = hub.n
            report = await verify_log(reader, public_key=signer.public_key, minute_days=35)
            checks.append((before, report, hub.n))
        assert [r.problems for _, r, _ in checks] == [[]] * len(checks)
        for before, report, after in checks:
            # It checked the log as it began, not what the hub wrote meanwhile.
            assert before <= report.last_seq < after
            assert report.records == report.last_seq
            assert report.rollup_mark is not None and report.rollup_mark <= report.last_seq
        monkeypatch.setattr(AsyncConnection, "execute", execute)
        await hub.writer.stop()
        # Once the writer stopped, the whole log verifies, statistics included.
        final = await verify_log(reader, public_key=signer.public_key, minute_days=35)
        assert final.ok, final.problems
        async with reader.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(Transaction))
        assert final.last_seq == final.records == total == hub.n
        assert final.rollup_mark == total
    finally:
        await hub.writer.stop()
        await hub.engine.dispose()
        await reader.dispose()


async def test_the_check_stops_at_the_chain_head_it_began_with(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = Signer.from_file(tmp_path / "signing-key.pem", create=True)
    hub = Hub(db_url, signer)
    await hub.writer.start()
    reader = create_engine(db_url)
    read_state = audit_state.LogState.read

    async def read_then_write(*args: Any, **kwargs: Any) -> Any:
        state = await read_state(*args, **kwargs)
        await hub.exchanges(30)  # right after verify read where the log ends
        return state

    try:
        await hub.exchanges(20)
        monkeypatch.setattr(audit_state.LogState, "read", read_then_write)
        report = await verify_log(reader, public_key=signer.public_key)
        assert report.ok, report.problems
        assert report.last_seq == report.records == 20  # the 30 after were not read
        monkeypatch.undo()
        assert (await verify_log(reader, public_key=signer.public_key)).records == 50
    finally:
        await hub.writer.stop()
        await hub.engine.dispose()
        await reader.dispose()
