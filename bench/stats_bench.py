"""Operator queries on rollups against a raw scan of the log, over N synthetic exchanges.

Loads N records (10 million by default) over 30 days into a fresh SQLite database with
``hub tx synth``'s code, then times a 30-day summary and a 30-day hourly timeseries, each
from the rollups (what the API does) and as the equivalent raw-scan SQL over
``transactions``. Both must give the same totals. Run alone:

    .venv/bin/python -m bench.stats_bench --records 1000000

or call ``run(report)`` / ``main()`` from ``make bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from bench.cli import COUNT
from hub.core.db import create_engine
from hub.core.migrate import upgrade_async
from hub.stats import service, synth
from hub.txlog.sqlite import create_writer_engine

TZ = "Asia/Ho_Chi_Minh"
END = datetime(2026, 1, 1)
RAW_SUMMARY = """
SELECT count(*), sum(succeeded), sum(request_bytes), sum(response_bytes)
FROM transactions WHERE started_at >= :since AND started_at < :until
"""
RAW_SERIES = """
SELECT strftime('%Y-%m-%d %H', started_at) AS hour, count(*)
FROM transactions WHERE started_at >= :since AND started_at < :until GROUP BY hour
"""


async def _best(fn: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = await fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


async def measure(records: int, workdir: Path, repeat: int = 5) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{workdir}/bench.db"
    await upgrade_async(url)
    writer = create_writer_engine(url)

    @event.listens_for(writer.sync_engine, "connect")
    def _big_cache(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA cache_size=-262144")  # 256 MiB for the bulk load

    load = await synth.load(
        writer, records=records, days=30, secret="bench-secret-0123456789", seed=1, tz=TZ,
        end=END, batch_size=50_000,
    )  # fmt: skip
    await writer.dispose()

    engine = create_engine(url)
    since, until = "2025-12-02T00:00:00Z", "2026-01-01T00:00:00Z"
    bounds = {"since": "2025-12-02 00:00:00.000000", "until": "2026-01-01 00:00:00.000000"}
    out: dict[str, Any] = {"records": records, "load_s": load.seconds, "load_rate": load.rate}
    async with engine.connect() as conn:

        async def rollup_summary() -> int:
            s = await service.summary(conn, tz=TZ, since=since, until=until, now=END)
            return s.total

        async def rollup_series() -> int:
            ts = await service.timeseries(
                conn, tz=TZ, bucket="hour", since=since, until=until, now=END
            )
            return sum(p.total for p in ts.points)

        async def raw_summary() -> int:
            return int((await conn.execute(text(RAW_SUMMARY), bounds)).one()[0])

        async def raw_series() -> int:
            return sum(n for _h, n in (await conn.execute(text(RAW_SERIES), bounds)).all())

        for name, rollup_fn, raw_fn in (
            ("summary_30d", rollup_summary, raw_summary),
            ("hourly_series_30d", rollup_series, raw_series),
        ):
            t_roll, n_roll = await _best(rollup_fn, repeat)
            t_raw, n_raw = await _best(raw_fn, max(1, repeat // 2))
            if n_roll != n_raw:
                raise AssertionError(f"{name}: rollups count {n_roll}, the raw scan {n_raw}")
            out[name] = {"rollup_ms": t_roll * 1000, "raw_ms": t_raw * 1000,
                         "speedup": t_raw / t_roll, "exchanges": n_roll}  # fmt: skip
    await engine.dispose()
    return out


def format_report(r: dict[str, Any]) -> str:
    lines = [
        f"stats bench: {r['records']:,} records over 30 days on SQLite",
        f"  synthetic load: {r['load_s']:.1f} s ({r['load_rate']:,.0f} records/s)",
    ]
    for name in ("summary_30d", "hourly_series_30d"):
        m = r[name]
        lines.append(
            f"  {name}: rollups {m['rollup_ms']:.1f} ms, raw scan {m['raw_ms']:.1f} ms, "
            f"{m['speedup']:.0f}x faster ({m['exchanges']:,} exchanges)"
        )
    return "\n".join(lines)


def run(report: Callable[[str], Any] = print, records: int = 10_000_000) -> dict[str, Any]:
    """Entry point for ``make bench``: measures and hands the text to ``report``."""
    with tempfile.TemporaryDirectory(prefix="stats-bench-") as tmp:
        result = asyncio.run(measure(records, Path(tmp)))
    report(format_report(result))
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=COUNT, default=10_000_000)
    args = parser.parse_args(argv)
    run(print, args.records)


if __name__ == "__main__":
    main(sys.argv[1:])
