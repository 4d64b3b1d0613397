"""Alternating wrk rounds over targets, as ``python -m bench`` and ``bench.ab`` run them."""

from __future__ import annotations

import argparse
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import targets, wrk


def throughput(
    ts: list[targets.Target], provider: Any, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    """Alternating wrk rounds; per target the median and each process's CPU share."""
    runs: dict[str, list[dict[str, Any]]] = {t.name: [] for t in ts}
    for r in range(args.rounds):
        order = ts[r % len(ts) :] + ts[: r % len(ts)]  # rotate, so no target always goes first
        for t in order:
            procs = [provider] + ([t.server] if t.server is not provider else [])
            before = [p.cpu_seconds() for p in procs]
            res = wrk.run(
                t.url,
                seconds=args.seconds,
                connections=args.connections,
                headers=t.headers,
                workdir=workdir,
            )
            cpu = [p.cpu_seconds() - b for p, b in zip(procs, before, strict=True)]
            row = asdict(res) | {
                "rps": res.rps,
                "cpu_provider": cpu[0] / res.seconds,
                "cpu_server": (cpu[1] / res.seconds) if len(cpu) > 1 else 0.0,
                "cpu_wrk": res.cpu_s / res.seconds,
                # The target's CPU over the provider's in the same round: the provider's
                # code is the same for every target, so this cancels the machine's drift.
                "cpu_rel": (cpu[1] / cpu[0]) if len(cpu) > 1 and cpu[0] else 0.0,
            }
            runs[t.name].append(row)
            print(
                f"  round {r + 1} {t.name:>12}: {res.rps:8.0f} req/s  p50 {res.p50_ms:6.2f} ms  "
                f"p99 {res.p99_ms:6.2f} ms  errors {res.errors}  cpu: provider "
                f"{row['cpu_provider']:.0%} target {row['cpu_server']:.0%} "
                f"wrk {row['cpu_wrk']:.0%}",
                flush=True,
            )
    out = {}
    for name, rows in runs.items():
        med = {
            k: statistics.median(row[k] for row in rows)
            for k in (
                "rps",
                "p50_ms",
                "p90_ms",
                "p99_ms",
                "p999_ms",
                "cpu_provider",
                "cpu_server",
                "cpu_wrk",
                "cpu_rel",
            )
        }
        out[name] = med | {
            "errors": sum(r["errors"] for r in rows),
            "requests": sum(r["requests"] for r in rows),
            "rounds": [round(r["rps"]) for r in rows],
        }
    return out
