"""``python -m bench`` (``make bench``): the hub against the least a hop can cost.

One run, one provider, one exchange (a citizen lookup, a small JSON GET): the provider
called directly, a bare Python forwarder (on the hub's HTTP client and on aiohttp), nginx
and the hub, at 32 connections in
alternating rounds; then the hub-added latency at light load, memory over a long run,
``hub serve --workers N``, and the log writer alone. Prints the targets met or missed and
writes docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench import light, logwriter, memory, others, report, sections, targets, wrk
from bench.cli import COUNT, LENGTH
from bench.procs import ROOT, running
from bench.rounds import throughput


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short rounds, for a first look (~3 min)")
    p.add_argument("--rounds", type=COUNT, help="alternating wrk rounds per target (default 5)")
    p.add_argument("--seconds", type=LENGTH, help="length of each wrk round (default 5)")
    p.add_argument("--connections", type=COUNT, default=32)
    p.add_argument(
        "--exchanges",
        type=COUNT,
        help="exchanges in the memory run (default 1,000,000, the target's; 30,000 with --quick)",
    )
    p.add_argument(
        "--writer-records", type=COUNT, help="records per log-writer run (default 100,000)"
    )
    p.add_argument("--light-seconds", type=LENGTH, help="length of the light-load run (default 10)")
    p.add_argument("--light-rate", type=LENGTH, default=200.0, help="requests/s at light load")
    p.add_argument("--no-others", action="store_true", help="skip other features' benchmarks")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    p.add_argument("--no-docs", action="store_true", help="print only; leave docs/ alone")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument(
        "--report-only",
        type=Path,
        metavar="JSON",
        help="measure nothing: rewrite docs/benchmarks.md from a saved run (var/bench/*.json), "
        "running the other features' benchmarks again unless --no-others",
    )
    args = p.parse_args(argv)
    q = args.quick
    args.rounds = args.rounds or (2 if q else 5)
    args.seconds = args.seconds or (3.0 if q else 5.0)
    args.exchanges = args.exchanges or (30_000 if q else 1_000_000)
    args.writer_records = args.writer_records or (20_000 if q else 100_000)
    args.light_seconds = args.light_seconds or (5.0 if q else 10.0)
    return args


def load_average() -> str:
    """The 1, 5 and 15-minute load averages: other work on the machine skews figures."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def say(text: str) -> None:
    print(text, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:
        return report_only(args)
    missing = wrk.check_tools()
    if missing:
        for m in missing:
            say(f"error: {m}")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    started = datetime.now(UTC)
    t_start = time.monotonic()
    results: dict[str, Any] = {
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "started": started.isoformat(timespec="seconds"),
        "loadavg_before": load_average(),
        "argv": list(argv if argv is not None else sys.argv[1:]),
        "machine": sections.machine(),  # a report rewritten later may run elsewhere
    }
    say(f"bench: working in {workdir}")
    try:
        provider = targets.start_provider(workdir)
        with running(provider):
            direct = targets.Target(
                "direct", provider.url + targets.PROVIDER_PATH, dict(targets.PURPOSE), provider
            )
            bare = targets.start_bare(workdir, provider.url)
            bare_aiohttp = targets.start_bare(workdir, provider.url, client="aiohttp")
            with running(bare.server, bare_aiohttp.server):  # type: ignore[arg-type]
                nginx = targets.start_nginx(workdir, provider.url)
                with running(nginx.server):  # type: ignore[arg-type]
                    db_url = targets.prepare_hub_db(workdir, provider.url)
                    hub = targets.start_hub(workdir, db_url)
                    with running(hub.server):  # type: ignore[arg-type]
                        say(
                            f"throughput at {args.connections} connections, {args.rounds} "
                            f"rounds of {args.seconds:g} s"
                        )
                        results["throughput"] = throughput(
                            [direct, bare, bare_aiohttp, nginx, hub], provider, args, workdir
                        )
                        say(
                            f"hub-added latency at {args.light_rate:g} req/s for "
                            f"{args.light_seconds:g} s"
                        )
                        lr = light.run(
                            hub.url, hub.headers, rate=args.light_rate, seconds=args.light_seconds
                        )
                        results["light"] = report.light_summary(lr)
                        say(
                            f"  hub p50 {results['light']['hub_p50']:.3f} ms, "
                            f"p99 {results['light']['hub_p99']:.3f} ms"
                        )
                        say(f"memory over {args.exchanges:,} exchanges")
                        mem = memory.run(
                            hub,
                            exchanges=args.exchanges,
                            rps_guess=results["throughput"]["hub"]["rps"],
                            workdir=workdir,
                            wal=Path(f"{make_url(db_url).database}-wal"),
                        )
                        results["memory"] = asdict(mem) | {
                            "baseline": mem.baseline,
                            "growth": mem.growth,
                        }
                        say(
                            f"  {mem.exchanges:,} exchanges, {mem.errors} errors, RSS "
                            f"{mem.baseline / 2**20:.1f} -> {mem.samples[-1][1] / 2**20:.1f} MiB "
                            f"({mem.growth:+.1%})"
                        )
                        results["hub_db_bytes_per_record"] = report.sqlite_bytes_per_record(db_url)
            say("hub serve --workers N")
            results["workers"] = workers_run(workdir, provider, args)
        say("log writer alone")
        results["writer"] = writer_run(workdir, args)
        if not args.no_others:
            say("other features' benchmarks")
            results["others"] = [asdict(o) for o in others.run_all()]
    finally:
        results["seconds"] = time.monotonic() - t_start
        results["loadavg_after"] = load_average()
        (workdir / "results.json").write_text(json.dumps(results, indent=2, default=str))
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    verdicts = report.verdicts(results)
    say("")
    for line in report.verdict_lines(verdicts, results):
        say(line)
    out_json = ROOT / "var" / "bench" / f"{started:%Y%m%dT%H%M%S}.json"
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(results, indent=2, default=str))
    say(f"\nraw figures: {out_json.relative_to(ROOT)}")
    if not args.no_docs:
        args.out.write_text(report.markdown(results, verdicts, argv or sys.argv[1:]))
        say(f"report: {args.out}")
    return 0


def report_only(args: argparse.Namespace) -> int:
    try:
        results = json.loads(args.report_only.read_text())
    except (OSError, ValueError) as exc:
        say(f"error: cannot read the saved run {args.report_only}: {exc}")
        return 2
    if not isinstance(results, dict) or "throughput" not in results:
        say(f"error: {args.report_only} is not a saved run of python -m bench (var/bench/*.json)")
        return 2
    if not args.no_others:
        say("other features' benchmarks")
        results["others"] = [asdict(o) for o in others.run_all()]
        args.report_only.write_text(json.dumps(results, indent=2, default=str))
    verdicts = report.verdicts(results)
    for line in report.verdict_lines(verdicts, results):
        say(line)
    if not args.no_docs:
        argv = [str(a) for a in results.get("argv", [])]
        args.out.write_text(report.markdown(results, verdicts, argv))
        say(f"report: {args.out}")
    return 0


def workers_run(workdir: Path, provider: Any, args: argparse.Namespace) -> dict[str, Any]:
    """``hub serve --workers N`` for N = 1, 2, each on its own database, rounds alternating."""
    hubs = []
    try:
        for n in (1, 2):
            db_url = targets.prepare_hub_db(workdir, provider.url, name=f"hub-w{n}")
            hubs.append(targets.start_hub(workdir, db_url, workers=n))
        return throughput(hubs, provider, args, workdir)
    finally:
        for h in hubs:
            assert h.server is not None
            h.server.stop()


def writer_run(workdir: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each engine at 32 and 1,000 waiting, without and with the rollup hook."""
    out: list[dict[str, Any]] = []
    for rollups in (False, True):
        for concurrency in (32, 1000):
            r = logwriter.sqlite_run(
                workdir, records=args.writer_records, concurrency=concurrency, rollups=rollups
            )
            out.append(asdict(r) | {"rate": r.rate, "mean_batch": r.mean_batch})
            say(
                f"  sqlite, {concurrency} waiting{', rollups' if rollups else ''}: "
                f"{r.rate:,.0f} records/s (mean batch {r.mean_batch:.0f}, "
                f"{r.bytes_per_record:.0f} bytes/record)"
            )
    for rollups in (False, True):
        for concurrency in (32, 1000):
            pg = logwriter.postgres_run(
                workdir, records=args.writer_records, concurrency=concurrency, rollups=rollups
            )
            if isinstance(pg, str):
                say(f"  postgresql: {pg}")
                out.append({"engine": "postgresql", "concurrency": concurrency, "skipped": pg})
                return out
            out.append(asdict(pg) | {"rate": pg.rate, "mean_batch": pg.mean_batch})
            say(
                f"  postgresql, {concurrency} waiting{', rollups' if rollups else ''}: "
                f"{pg.rate:,.0f} records/s (mean batch {pg.mean_batch:.0f}, "
                f"{pg.bytes_per_record:.0f} bytes/record)"
            )
    return out


if __name__ == "__main__":
    sys.exit(main())
