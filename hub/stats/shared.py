"""/metrics of every worker of ``hub serve --workers N``, merged on each scrape.

Each worker keeps its metrics in its own memory (hub/stats/metrics.py), and a scrape reaches
whichever worker the kernel picks: one target's counters jumped between the workers' values
(10, 0, 10 over three scrapes after ten exchanges on one worker), and Prometheus read each
fall as a counter reset. Now ``hub serve`` makes a private directory (``HUB_METRICS_DIR``),
every worker listens there on a Unix socket of its own, and the worker that answers a scrape
asks the others for their figures and adds them to its own.

- Counters and histograms are summed. A worker that stopped leaves its last figures in a
  file there, which the sums keep (a worker that crashed takes its figures with it).
- Gauges (the log's queue depth) are summed over the workers running.
- Nothing runs per exchange, and nothing while nobody scrapes: the figures were first
  written to a file by each worker every second, but the exposition's samples of 100
  (service, client) series took 36 ms of CPU a dump, 1,000 series 445 ms (a throwaway
  script, the metrics of records of 100 and 1,000 clients), so they are asked for instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

log = logging.getLogger(__name__)

PREFIX = "hub-metrics-"
ASK_TIMEOUT_S = 5.0
# A Unix socket's path has at most 107 bytes on Linux (sun_path).
SOCKET_PATH_MAX = 100

# One sample: (sample name, its labels as pairs, in the order every worker's code gives them).
_Key = tuple[str, tuple[tuple[str, str], ...]]
_Families = list[Any]  # [[name, type, help, [[sample, labels, value], ...]], ...]


def make_dir() -> str:
    """A private directory for the workers of this ``hub serve``; the directories of
    earlier ones whose process is gone (ended by SIGKILL) are removed first."""
    tmp = Path(tempfile.gettempdir())
    for old in tmp.glob(f"{PREFIX}*-*"):
        pid = old.name[len(PREFIX) :].partition("-")[0]
        if pid.isdigit() and not alive(int(pid)) and old.stat().st_uid == os.getuid():
            shutil.rmtree(old, ignore_errors=True)
    made = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
    if len(made) + len("/4194304.sock") > SOCKET_PATH_MAX:  # a long TMPDIR
        os.rmdir(made)
        made = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir="/tmp")
    return made


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def families(registry: CollectorRegistry) -> _Families:
    return [
        [m.name, m.type, m.documentation, [[s.name, s.labels, s.value] for s in m.samples]]
        for m in registry.collect()
    ]


class SharedMetrics:
    """One worker's part: its socket, its last figures when it stops, the merged scrape."""

    def __init__(self, directory: str, registry: CollectorRegistry) -> None:
        self.directory = Path(directory)
        self.registry = registry
        self.pid = os.getpid()
        self.socket = self.directory / f"{self.pid}.sock"
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._tell, path=str(self.socket))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(OSError):
                self.socket.unlink()
        self.write(self.directory / f"{self.pid}.json")  # its figures stay in the sums

    def write(self, path: Path) -> None:
        part = path.with_suffix(".part")
        try:
            part.write_text(json.dumps(families(self.registry)))
            os.replace(part, path)  # a reader sees no file or the whole one
        except OSError as exc:  # the directory removed under it: hub serve is ending
            log.warning("could not leave this worker's metrics in %s: %s", self.directory, exc)

    async def _tell(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(json.dumps(families(self.registry)).encode())
            await writer.drain()
        except OSError:  # the asking worker gave up
            pass
        finally:
            writer.close()

    async def render(self) -> bytes:
        sockets, stopped = self._others()
        asked = await asyncio.gather(*map(self._ask, sockets), return_exceptions=True)
        parts: list[tuple[bool, _Families]] = [(True, families(self.registry))]
        parts += [(True, got) for got in asked if isinstance(got, list)]
        parts += [(False, got) for got in stopped]
        return generate_latest(_Merged(list(merge(parts))))  # type: ignore[arg-type]

    def _others(self) -> tuple[list[Path], list[_Families]]:
        """The other workers' sockets, and the figures the stopped ones left."""
        sockets, stopped = [], []
        for path in self.directory.iterdir():
            if not path.stem.isdigit() or int(path.stem) == self.pid:
                continue
            if path.suffix == ".sock":
                sockets.append(path)
            elif path.suffix == ".json":
                with contextlib.suppress(OSError, ValueError):  # removed since: nothing
                    stopped.append(json.loads(path.read_text()))
        return sockets, stopped

    async def _ask(self, path: Path) -> _Families:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(path)), ASK_TIMEOUT_S
            )
            try:
                got: _Families = json.loads(await asyncio.wait_for(reader.read(), ASK_TIMEOUT_S))
            finally:
                writer.close()
            return got
        except (OSError, TimeoutError, ValueError) as exc:
            # A worker that crashed leaves its socket: uvicorn starts another in its place.
            pid = int(path.stem)
            if not alive(pid):
                with contextlib.suppress(OSError):
                    os.unlink(path)
            else:
                log.warning("worker %s gave no metrics for this scrape: %s", pid, exc)
            raise


def merge(parts: Iterable[tuple[bool, list[Any]]]) -> Iterator[Metric]:
    """Sum the samples of the same name and labels (a ``_created`` time: the earliest); a
    gauge only from parts still alive."""
    order: list[str] = []
    heads: dict[str, tuple[str, str]] = {}
    sums: dict[str, dict[_Key, float]] = {}
    for live, families in parts:
        for name, kind, doc, samples in families:
            if name not in heads:
                order.append(name)
                heads[name] = (kind, doc)
                sums[name] = {}
            if kind == "gauge" and not live:
                continue
            into = sums[name]
            for sample, labels, value in samples:
                key = (sample, tuple(labels.items()))
                if key not in into:
                    into[key] = value
                elif sample.endswith("_created"):  # when the series began: the earliest
                    into[key] = min(into[key], value)
                else:
                    into[key] += value
    for name in order:
        kind, doc = heads[name]
        metric = Metric(name, doc, kind)
        for (sample, labels), value in sums[name].items():
            metric.add_sample(sample, dict(labels), value)
        yield metric


class _Merged:
    """What ``generate_latest`` reads: an object whose ``collect`` gives the families."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)
