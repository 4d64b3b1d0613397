"""The log writer process: records from hub workers committed once, in one chain, acked."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from hub.core.db import create_engine
from hub.core.errors import LoggingFailed
from hub.models import LogBatch, StatsMinute, Transaction
from hub.stats import repository as repo
from hub.stats import timeutil as tu
from hub.txlog import service
from hub.txlog.audit import verify_log
from hub.txlog.remote import RemoteLogWriter
from hub.txlog.signing import Signer
from hub.txlog.writer import LogWriter
from tests.support import make_settings
from tests.txlog.test_writer import record


def _exists(path: str) -> bool:
    return os.path.exists(path)


async def until(condition: Callable[[], bool], seconds: float = 30) -> None:
    """Wait for ``condition`` (another task's or process's doing), failing after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still not so after {seconds} s"
        await asyncio.sleep(0.01)


def writer_processes(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [
        int(pid)
        for pid in children
        if b"hub.txlog.service" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


@contextlib.asynccontextmanager
async def writer_service(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[str, asyncio.Event]]:
    """The writer's server in this event loop (as its process runs it); yields its socket."""
    path = str(tmp_path / "writer.sock")
    stop = asyncio.Event()
    task = asyncio.create_task(service.serve(make_settings(db_url, tmp_path), path, stop=stop))
    # Until it listens: after 2 s it went on regardless, and on a busy machine a test could
    # then find no socket there yet.
    deadline = time.monotonic() + 30
    while not (_exists(path) or task.done()):
        assert time.monotonic() < deadline, "the log writer did not listen within 30 s"
        await asyncio.sleep(0.01)
    if task.done():
        task.result()  # raises why it could not start
    try:
        yield path, stop
    finally:
        stop.set()
        await task


async def committed(db_url: str) -> tuple[set[str], int, int]:
    """The logged request ids, the count operators see, and what the rollup tables hold."""
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            ids = set((await conn.scalars(select(Transaction.request_id))).all())
            seen = await repo.count_sums(
                conn, tu.cover(tu.EPOCH, tu.utcnow() + timedelta(days=1)), group=(), filters={}
            )
            folded = await conn.scalar(select(func.sum(StatsMinute.count)))
        return ids, sum(int(row.count or 0) for row in seen), int(folded or 0)
    finally:
        await engine.dispose()


async def test_two_workers_share_one_chain_and_every_ack_means_committed(
    db_url: str, tmp_path: Path
) -> None:
    async with writer_service(db_url, tmp_path) as (path, _stop):
        a, b = RemoteLogWriter(path), RemoteLogWriter(path)
        commits: list[tuple[int, float]] = []
        a.on_commit.append(lambda n, s: commits.append((n, s)))
        await a.start()
        await b.start()
        assert a.healthy and b.healthy
        recs = [record(i, "a") for i in range(300)] + [record(i, "b") for i in range(300)]
        await asyncio.gather(*(a.submit(r) for r in recs[:300]), *(b.submit(r) for r in recs[300:]))
        # Acknowledged means committed: read before the writer stops.
        ids, counted, folded = await committed(db_url)
        assert ids == {r["request_id"] for r in recs}
        assert counted == 600  # the rollups and the records after their mark
        assert folded <= 600
        assert a.committed == 300 and b.committed == 300
        assert sum(n for n, _ in commits) == 300 and all(s > 0 for _, s in commits)
        assert a.depth == 0
        await a.stop()
        await b.stop()
    engine = create_engine(db_url)
    try:
        key = Signer.from_file(tmp_path / "signing-key.pem", create=False).public_key
        report = await verify_log(engine, public_key=key)
    finally:
        await engine.dispose()
    assert report.ok, report.problems
    assert report.records == 600 and report.signatures_checked == report.batches
    # The writer's last fold, as it stopped: the tables alone count the whole log.
    assert (await committed(db_url))[1:] == (600, 600)


async def test_each_batch_is_timed_once_however_many_workers_it_held_records_of(
    db_url: str, tmp_path: Path
) -> None:
    # hub_log_commit_seconds of the workers add up on a scrape (hub/stats/shared.py): a batch
    # of two workers' records timed by both counted as two commits.
    async with writer_service(db_url, tmp_path) as (path, _stop):
        a, b = RemoteLogWriter(path), RemoteLogWriter(path)
        commits: list[tuple[int, float | None]] = []
        a.on_commit.append(lambda n, s: commits.append((n, s)))
        b.on_commit.append(lambda n, s: commits.append((n, s)))
        await a.start()
        await b.start()
        for round_ in range(20):
            await asyncio.gather(
                a.submit(record(2 * round_, "a")), b.submit(record(2 * round_ + 1, "b"))
            )
        await a.stop()
        await b.stop()
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            batches = await conn.scalar(select(func.count()).select_from(LogBatch))
    finally:
        await engine.dispose()
    assert sum(n for n, _ in commits) == 40
    assert len([s for _, s in commits if s is not None]) == batches
    assert all(s > 0 for _, s in commits if s is not None)


async def test_a_record_the_writer_cannot_read_is_refused_alone(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with writer_service(sqlite_url, tmp_path) as (path, _stop):
        remote = RemoteLogWriter(path)
        await remote.start()
        bad: dict[str, Any] = record(1)
        bad["started_at"] = "yesterday"
        results = await asyncio.gather(
            remote.submit(record(0)), remote.submit(bad), return_exceptions=True
        )
        assert results[0] is None
        assert isinstance(results[1], LoggingFailed) and "malformed" in str(results[1])
        await remote.stop()
    ids, _, _ = await committed(sqlite_url)
    assert ids == {record(0)["request_id"]}


async def test_a_failed_batch_stops_every_worker_not_only_the_one_whose_records_it_held(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker learnt of a failed write only from a batch of its own, so each other worker
    # still forwarded an exchange to its provider before the 503 "could not be recorded".
    async with writer_service(sqlite_url, tmp_path) as (path, _stop):
        a, b = RemoteLogWriter(path), RemoteLogWriter(path)
        told = asyncio.Event()
        b.on_failure.append(told.set)  # what starts the worker's probe (hub/core/readiness.py)
        await a.start()
        await b.start()
        await asyncio.gather(a.submit(record(0, "a")), b.submit(record(0, "b")))

        async def refused(self: object, records: list[dict[str, Any]]) -> None:
            raise OSError("the database refuses connections")

        monkeypatch.setattr(LogWriter, "_commit", refused)
        with pytest.raises(LoggingFailed):
            await a.submit(record(1, "a"))
        await asyncio.wait_for(told.wait(), 10)
        assert not b.healthy and b.refusal(0.0) == "the transaction log's last write failed"
        assert b.failed_batches == 0  # none of its records were lost
        late = RemoteLogWriter(path)  # a worker that (re)connects during the outage
        await late.start()
        await until(lambda: not late.healthy)
        assert late.refusal(0.0) is not None
        monkeypatch.undo()
        for remote in (a, b, late):  # each one's probe finds the database taking writes
            remote.recovered()
        await asyncio.gather(a.submit(record(2, "a")), b.submit(record(2, "b")))
        assert a.healthy and b.healthy
        for remote in (a, b, late):
            await remote.stop()


async def test_without_the_writer_exchanges_fail_then_recover_when_it_returns(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with writer_service(sqlite_url, tmp_path) as (path, stop):
        remote = RemoteLogWriter(path)
        await remote.start()
        await remote.submit(record(0))
        stop.set()  # the writer goes away
        await until(lambda: not remote.healthy)
        with pytest.raises(LoggingFailed, match="not reachable"):
            await remote.submit(record(1))
    async with writer_service(sqlite_url, tmp_path):
        await asyncio.sleep(0.25)  # past the reconnect back-off
        await remote.submit(record(2))
        assert remote.healthy
        await remote.stop()
    ids, _, _ = await committed(sqlite_url)
    assert ids == {record(0)["request_id"], record(2)["request_id"]}


async def test_a_writer_out_of_reach_is_logged_once_until_it_is_reached_again(
    sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # While `hub serve` restarted a killed writer process, each worker logged every attempt
    # to reach it (one each 0.2 s): two dozen identical lines for a restart of a few seconds,
    # and no line saying when the log could take exchanges again.
    path = str(tmp_path / "writer.sock")
    remote = RemoteLogWriter(path)
    for n in range(3):
        remote._last_attempt = 0.0  # past the reconnect back-off, without waiting for it
        with pytest.raises(LoggingFailed, match="not reachable"):
            await remote.submit(record(n))
    said = [r.getMessage() for r in caplog.records if "log writer" in r.getMessage()]
    assert len(said) == 1, said
    assert said[0].startswith(f"cannot reach the log writer at {path}: ")
    assert said[0].endswith("(said once until it is reached again)")
    async with writer_service(sqlite_url, tmp_path):
        remote._last_attempt = 0.0
        await remote.submit(record(3))
        await remote.stop()
    said = [r.getMessage() for r in caplog.records if "log writer" in r.getMessage()]
    assert said[1:] == [f"reached the log writer at {path} again"], said


def test_frames_split_anywhere_are_read_whole() -> None:
    docs = [[[1, {"a": "é" * 50}]], {"ok": [1, 2], "err": [], "commits": [[2, 0.001]]}]
    stream = b"".join(service.frame(d) for d in docs)
    for cut in range(1, len(stream)):
        reader = service.FrameReader()
        assert reader.feed(stream[:cut]) + reader.feed(stream[cut:]) == docs
    with pytest.raises(ValueError, match="over the limit"):
        service.FrameReader().feed((service.MAX_FRAME + 1).to_bytes(4, "big"))


@pytest.mark.slow
async def test_hub_serve_restarts_a_killed_writer_process(tmp_path: Path) -> None:
    from tests.reliability.fakes import CLIENT, LOOKUP, PURPOSE, FaultyProvider, registry_doc
    from tests.reliability.procs import apply_registry, hub_env, hub_process, issue_key
    from tests.support import serve

    db_url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    env = hub_env(tmp_path, db_url)
    async with serve(FaultyProvider()) as base_url:
        await apply_registry(env, registry_doc(base_url), tmp_path)
        async with hub_process(env, tmp_path, "--workers", "2") as hub:
            key = await issue_key(hub.url, CLIENT)
            headers = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {key}", **PURPOSE}
            assert hub.proc is not None
            writers = writer_processes(hub.proc.pid)
            assert len(writers) == 1  # one writer for both workers
            async with httpx.AsyncClient(timeout=10) as http:
                for _ in range(50):  # until both workers have seen the new key
                    before = await http.get(hub.url + LOOKUP, headers=headers)
                    if before.status_code == 200:
                        break
                    await asyncio.sleep(0.1)
                assert before.status_code == 200
                os.kill(writers[0], signal.SIGKILL)
                statuses = []
                # 503 LoggingFailed while it is away, then 200 again: the new writer process
                # imports the hub first, which on a busy machine may take longer than the
                # 10 s once allowed.
                deadline = time.monotonic() + 60
                while statuses[-3:] != [200, 200, 200] and time.monotonic() < deadline:
                    resp = await http.get(hub.url + LOOKUP, headers=headers)
                    statuses.append(resp.status_code)
                    if resp.status_code == 503:
                        assert resp.headers["X-Road-Error"] == "Server.LoggingFailed"
                    await asyncio.sleep(0.1)
            assert set(statuses) <= {200, 503} and statuses[-3:] == [200, 200, 200], statuses
            answered = {before.headers["X-Road-Request-Id"]}
            # Named as the operator reads a signal ("exited with code -9" before).
            said = hub.output()
            assert "the log writer process ended (killed by SIGKILL); starting it again" in said
    ids, _, _ = await committed(db_url)
    assert answered <= ids
