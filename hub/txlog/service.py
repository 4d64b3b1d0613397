"""The log writer as a process of its own, beside ``hub serve``'s workers.

``hub serve`` starts one (``python -m hub.txlog.service``) before its workers and hands them
its Unix socket in ``HUB_LOG_WRITER_SOCKET``; each worker's ``RemoteLogWriter``
(hub/txlog/remote.py) sends it records and waits for their commit. Everything the log costs
per record (the chain hash, the rows and indexes, the rollups, the batch signature, the
commit) then runs here, on another core, instead of in the worker's event loop, and one
writer batches the records of every worker (no more contention for SQLite's write lock).

Measured on the bench exchange (bench/, wrk at 32 connections, 2 cores): with the writer
inside the worker, the log was about 95 of the worker's 280 us of CPU per exchange; the
worker alone, without it, did 5,450 exchanges/s against 3,577 (docs/benchmarks.md has the
figures with the writer here).

The wire is a stream of frames, each a 4-byte big-endian length and a JSON document:
the worker sends ``[[tag, record], ...]``; the writer answers ``{"ok": [tag, ...],
"err": [[tag, message], ...], "commits": [[records, seconds], ...]}`` once the records are
committed (``commits``: this worker's share of each batch and the batch's commit time,
for its /metrics; the time is null for all but the first worker that had records in the
batch, so the workers' ``hub_log_commit_seconds`` add up to the batches committed). A tag
is the worker's own number for a record. ``"down": true`` in a document says that a batch
failed, whoever's records it held (see Peer.down).

The process stops when its standard input closes, which happens when ``hub serve`` exits
for whatever reason, SIGKILL included; SIGINT and SIGTERM, which reach the whole process
group, are ignored so that the workers can still log while they drain.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from hub.core.children import how_ended
from hub.core.errors import LoggingFailed
from hub.core.settings import Settings
from hub.txlog.writer import LogWriter

log = logging.getLogger(__name__)

LENGTH = 4  # bytes of a frame's length prefix
MAX_FRAME = 64 * 1024 * 1024  # a frame claiming more is a broken peer, not a big batch
READY = b"ready\n"  # the one line the process writes to its stdout, once it listens


def frame(doc: Any) -> bytes:
    payload = orjson.dumps(doc)
    return len(payload).to_bytes(LENGTH, "big") + payload


class FrameReader:
    """Splits a byte stream into the JSON documents of its frames."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        buf = self.buffer
        buf += data
        docs = []
        start = 0
        while len(buf) - start >= LENGTH:
            size = int.from_bytes(buf[start : start + LENGTH], "big")
            if size > MAX_FRAME:
                raise ValueError(f"a frame of {size} bytes is over the limit of {MAX_FRAME}")
            end = start + LENGTH + size
            if len(buf) < end:
                break
            docs.append(orjson.loads(memoryview(buf)[start + LENGTH : end]))
            start = end
        del buf[:start]
        return docs


class _Ack:
    """Stands in for a future in the writer's queue: reports one record back to its peer."""

    __slots__ = ("peer", "tag")

    def __init__(self, peer: Peer, tag: int) -> None:
        self.peer = peer
        self.tag = tag

    def done(self) -> bool:
        return False

    def set_result(self, _result: None) -> None:
        self.peer.committed(self.tag)

    def set_exception(self, exception: BaseException) -> None:
        self.peer.failed(self.tag, str(exception))


class Timed:
    """The last batch whose commit time a worker was given: each batch's time goes to one
    worker only, as /metrics adds up the workers' figures (a batch of two workers' records
    counted as two commits in ``hub_log_commit_seconds``)."""

    def __init__(self) -> None:
        self.batch = 0


class Peer(asyncio.Protocol):
    """One hub worker's connection: records in, acknowledgements out once committed."""

    def __init__(self, writer: LogWriter, peers: set[Peer], timed: Timed) -> None:
        self.writer = writer
        self.peers = peers
        self.timed = timed
        self.reader = FrameReader()
        self.transport: asyncio.Transport | None = None
        self.ok: list[int] = []
        self.err: list[list[Any]] = []
        self.commits: dict[int, list[Any]] = {}  # batch number -> [records, seconds]
        self.announce_down = False  # the next document says a batch failed (see down)
        self._scheduled = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.peers.add(self)
        if not self.writer.healthy:  # a worker that (re)connects during an outage
            self.down()

    def down(self) -> None:
        """Tell the worker that a batch failed, though none of its records were in it.

        A worker refuses exchanges before their provider only once it knows the log's last
        write failed (RemoteLogWriter.refusal), and it learnt that only from a batch of its
        own: with the database refusing connections, each other worker still forwarded one
        more exchange and then answered 503 "could not be recorded ... the provider may
        have carried out the request". Told at once (and a worker that connects meanwhile
        as well), every worker stops forwarding until its own probe finds the database
        taking writes, so only the exchanges already forwarded when the batch failed reach
        a provider unrecorded.
        """
        self.announce_down = True
        self._schedule()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None  # records already queued are still committed
        self.peers.discard(self)

    def data_received(self, data: bytes) -> None:
        try:
            docs = self.reader.feed(data)
        except ValueError as exc:
            log.error("dropping a hub worker's connection: %s", exc)
            if self.transport is not None:
                self.transport.close()
            return
        for doc in docs:
            for tag, record in doc:
                try:
                    record["started_at"] = datetime.fromisoformat(record["started_at"])
                    self.writer.offer(record, _Ack(self, tag))
                except LoggingFailed as exc:
                    self.failed(tag, str(exc))
                except (KeyError, TypeError, ValueError) as exc:
                    self.failed(tag, f"the record is malformed ({type(exc).__name__}: {exc})")

    # The writer settles a batch's records one after the other, right after its commit and
    # before it can start the next one, so its counters still describe that batch here.
    def committed(self, tag: int) -> None:
        self.ok.append(tag)
        number = self.writer.batches
        batch = self.commits.get(number)
        if batch is None:
            seconds = None
            if self.timed.batch != number:  # the first worker with records in it
                self.timed.batch, seconds = number, self.writer.last_commit_s
            self.commits[number] = [1, seconds]
        else:
            batch[0] += 1
        self._schedule()

    def failed(self, tag: int, message: str) -> None:
        self.err.append([tag, message])
        self._schedule()

    def _schedule(self) -> None:
        # One frame per loop iteration, however many records a batch settled.
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        doc: dict[str, Any] = {
            "ok": self.ok,
            "err": self.err,
            "commits": list(self.commits.values()),
        }
        if self.announce_down:
            doc["down"] = True
        self.ok, self.err, self.commits, self.announce_down = [], [], {}, False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame(doc))


async def serve(settings: Settings, path: str, *, stop: asyncio.Event | None = None) -> None:
    """Listen on ``path`` until ``stop`` is set (or stdin closes), then drain and close."""
    from hub.stats import rollup
    from hub.txlog.signing import Signer
    from hub.txlog.sqlite import create_writer_engine

    engine = create_writer_engine(settings.database_url)
    signer = Signer.from_file(settings.signing_key_file, create=True)
    writer = LogWriter(
        engine,
        signer=signer,
        batch_max=settings.log_batch_max,
        queue_max=settings.log_queue_max,
        linger_rounds=settings.log_linger_rounds,
        hooks=[rollup.Folder()],  # the hub always counts its exchanges with the log
    )
    await writer.start()
    loop = asyncio.get_running_loop()
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # left by a writer that was killed
    peers: set[Peer] = set()
    timed = Timed()

    def failed() -> None:  # every worker, not only the one whose records failed: Peer.down
        for peer in list(peers):
            peer.down()

    writer.on_failure.append(failed)
    server = await loop.create_unix_server(lambda: Peer(writer, peers, timed), path)
    os.chmod(path, 0o600)
    try:
        if stop is None:
            stop = asyncio.Event()
            await loop.connect_read_pipe(lambda: _UntilClosed(stop), sys.stdin)
            sys.stdout.buffer.write(READY)
            sys.stdout.flush()
        await stop.wait()
    finally:
        server.close()
        await writer.stop()  # commits what is queued and settles it
        await asyncio.sleep(0)  # ... so the peers' last acknowledgements go out
        for peer in list(peers):
            if peer.transport is not None:
                peer.transport.close()
        await engine.dispose()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


class _UntilClosed(asyncio.Protocol):
    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop

    def connection_lost(self, exc: Exception | None) -> None:
        self.stop.set()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m hub.txlog.service", description=__doc__)
    p.add_argument("--socket", required=True, help="Unix socket to listen on")
    args = p.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="log writer: %(levelname)s %(message)s")
    gc.freeze()  # see hub/app.py: the loaded modules need no collecting
    import uvloop

    uvloop.run(serve(Settings(), args.socket))
    # The folder hub serve made for the socket: after a SIGTERM, uvicorn ends hub serve
    # before its own cleanup runs, so the last one out (this process) removes it.
    folder = Path(args.socket).parent
    if folder.name.startswith(SOCKET_DIR_PREFIX):
        with contextlib.suppress(OSError):
            folder.rmdir()


SOCKET_DIR_PREFIX = "hub-log-writer-"


class WriterProcess:
    """``hub serve``'s handle on its log writer process: start, restart if it dies, stop."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix=SOCKET_DIR_PREFIX)
        self.path = str(Path(self.dir) / "writer.sock")
        self.proc: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self._watch: threading.Thread | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        self._spawn(timeout_s)
        self._watch = threading.Thread(target=self._watch_loop, name="log-writer", daemon=True)
        self._watch.start()

    def _spawn(self, timeout_s: float) -> None:
        # -P: the hub running here, not a `hub` folder in the current directory.
        cmd = [sys.executable, "-P", "-m", "hub.txlog.service", "--socket", self.path]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdout is not None
        ready: list[bytes] = []
        reader = threading.Thread(target=lambda: ready.append(proc.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout_s)
        if not ready or ready[0] != READY:
            proc.kill()
            proc.wait()
            raise RuntimeError(
                f"the log writer process did not start (exit code {proc.returncode}); "
                "its messages are above"
            )
        self.proc = proc

    def _watch_loop(self) -> None:
        while not self._stopping:
            proc = self.proc
            if proc is None:
                return
            code = proc.wait()
            if self._stopping:
                return
            log.error("the log writer process ended (%s); starting it again", how_ended(code))
            time.sleep(0.5)
            try:
                self._spawn(60.0)
            except RuntimeError as exc:
                log.error("%s", exc)

    def stop(self, timeout_s: float = 60.0) -> None:
        """Close its stdin (it drains and exits) and wait for it."""
        self._stopping = True
        proc = self.proc
        if proc is not None and proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.close()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with contextlib.suppress(OSError):
            os.rmdir(self.dir)


if __name__ == "__main__":
    main()
