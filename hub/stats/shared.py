"""/metrics of every worker of ``hub serve --workers N``, merged on each scrape.

Each worker keeps its metrics in its own memory (hub/stats/metrics.py), and a scrape reaches
whichever worker the kernel picks: one target's counters jumped between the workers' values
(10, 0, 10 over three scrapes after ten exchanges on one worker), and Prometheus read each
fall as a counter reset. Now the worker that answers a scrape asks the others for their
figures over the workers' link (hub/core/workers.py) and adds them to its own.

- Counters and histograms are summed. A worker that stops leaves its last figures in a
  file in the link's directory, which the sums keep (a worker that crashed takes its
  figures with it; uvicorn starts another in its place).
- Gauges (the log's queue depth) are summed over the workers running.
- Nothing runs per exchange, and nothing while nobody scrapes: the figures were first
  written to a file by each worker every second, but the exposition's samples of 100
  (service, client) series took 36 ms of CPU a dump, 1,000 series 445 ms (a throwaway
  script, the metrics of records of 100 and 1,000 clients), so they are asked for instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric

from hub.core.workers import WorkerLink

log = logging.getLogger(__name__)

# One sample: (sample name, its labels as pairs, in the order every worker's code gives them).
_Key = tuple[str, tuple[tuple[str, str], ...]]
_Families = list[Any]  # [[name, type, help, [[sample, labels, value], ...]], ...]


def families(registry: CollectorRegistry) -> _Families:
    return [
        [m.name, m.type, m.documentation, [[s.name, s.labels, s.value] for s in m.samples]]
        for m in registry.collect()
    ]


class SharedMetrics:
    """One worker's part: its answer to the others, its last figures when it stops, and
    the merged scrape."""

    def __init__(self, link: WorkerLink, registry: CollectorRegistry) -> None:
        self.link = link
        self.registry = registry
        link.handlers["metrics"] = self._tell

    async def _tell(self) -> bytes:
        return json.dumps(families(self.registry)).encode()

    async def stop(self) -> None:
        self.write(self.link.directory / f"{self.link.pid}.json")  # stays in the sums

    def write(self, path: Path) -> None:
        part = path.with_suffix(".part")
        try:
            part.write_text(json.dumps(families(self.registry)))
            os.replace(part, path)  # a reader sees no file or the whole one
        except OSError as exc:  # the directory removed under it: hub serve is ending
            log.warning("could not leave this worker's metrics in %s: %s", part.parent, exc)

    async def render(self) -> bytes:
        parts: list[tuple[bool, _Families]] = [(True, families(self.registry))]
        for answer in await self.link.ask("metrics"):
            with contextlib.suppress(ValueError):  # cut short as it stopped: left out
                parts.append((True, json.loads(answer)))
        parts += [(False, got) for got in self._stopped()]
        return generate_latest(_Merged(list(merge(parts))))  # type: ignore[arg-type]

    def _stopped(self) -> list[_Families]:
        """The figures the workers that stopped left."""
        out = []
        for path in self.link.directory.glob("*.json"):
            if path.stem.isdigit() and int(path.stem) != self.link.pid:
                with contextlib.suppress(OSError, ValueError):  # removed since: nothing
                    out.append(json.loads(path.read_text()))
        return out


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
