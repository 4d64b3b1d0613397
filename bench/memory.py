"""Resident memory of the hub over a long run: is it flat once warm?

wrk drives the hub in slices until the wanted number of exchanges is reached; the hub's
RSS is read after each slice. Growth is measured from the end of the first tenth (the
warm-up: pools, caches, allocator arenas) to the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench import wrk
from bench.targets import Target


@dataclass
class MemoryResult:
    exchanges: int
    errors: int
    seconds: float
    samples: list[tuple[int, int]] = field(default_factory=list)  # (exchanges so far, RSS)
    wal_bytes: list[int] = field(default_factory=list)  # SQLite WAL size after each slice

    @property
    def baseline(self) -> int:
        warm = self.exchanges // 10
        return next((rss for n, rss in self.samples if n >= warm), self.samples[0][1])

    @property
    def growth(self) -> float:
        return self.samples[-1][1] / self.baseline - 1


def run(
    target: Target,
    *,
    exchanges: int,
    rps_guess: float,
    workdir: Path,
    wal: Path | None = None,
) -> MemoryResult:
    """``wal``: the hub's SQLite WAL file, whose size is read after each slice too (the
    writer checkpoints it from a thread; this shows that it stays bounded)."""
    assert target.server is not None
    result = MemoryResult(0, 0, 0.0, [(0, target.server.rss_bytes())])
    rps = max(rps_guess, 100.0)
    while result.exchanges < exchanges:
        left = exchanges - result.exchanges
        seconds = max(1.0, min(20.0, left / rps))
        r = wrk.run(target.url, seconds=seconds, headers=target.headers, workdir=workdir)
        result.exchanges += r.requests
        result.errors += r.errors
        result.seconds += r.seconds
        rps = r.rps or rps
        result.samples.append((result.exchanges, target.server.rss_bytes()))
        if wal is not None:
            result.wal_bytes.append(wal.stat().st_size if wal.exists() else 0)
    return result
