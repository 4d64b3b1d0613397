"""Parts of docs/benchmarks.md beside the exchange's own figures: the machine, the log
writer alone, ``hub serve --workers N``, and the other benchmarks' results
(bench/report.py writes the rest).
"""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from pathlib import Path
from typing import Any


def machine() -> dict[str, str]:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "ram": f"{mem_kb / 2**20:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": _first_line(["wrk", "--version"]),
        "nginx": _first_line(["nginx", "-v"]),
    }


def _first_line(cmd: list[str]) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except OSError:
        return "not installed"
    return ((p.stdout or p.stderr).strip().splitlines() or ["?"])[0]


def ms(x: float) -> str:
    return f"{x:.2f}"


def writer_section(ws: list[dict[str, Any]]) -> list[str]:
    out = [
        "",
        "## The log writer alone",
        "",
        "`bench/logwriter.py` drives `hub.txlog.writer.LogWriter` directly: N coroutines each",
        "submit records one after another and wait for the commit, as exchanges do; the",
        "writer group-commits whatever is queued (chained, with the batch signed). 32 waiting",
        "is what the gateway sees at 32 connections; 1,000 shows the writer's ceiling. The",
        "records are built before the clock starts, in the order they are submitted, so a",
        "batch's request ids and start times follow one another as the gateway's do. Each run",
        "is made without and with the statistics feature's rollup hook (each batch summed in",
        "memory, five upserts and the rollup mark in one batch's transaction every 0.25 s);",
        "the hub always runs with it, so that row is what a hub's log sustains.",
        "",
        "| engine | rollups | waiting | records | records/s | mean batch | bytes/record |",
        "|---|---|---|---|---|---|---|",
    ]
    for w in ws:
        if "skipped" in w:
            out.append(f"| {w['engine']} | - | - | - | not run: {w['skipped']} | | |")
            continue
        out.append(
            f"| {w['engine']} | {'yes' if w.get('rollups') else 'no'} | {w['concurrency']:,} | "
            f"{w['records']:,} | {w['rate']:,.0f} | {w['mean_batch']:.0f} | "
            f"{w['bytes_per_record']:.0f} |"
        )
    out += [
        "",
        "Bytes per record: the SQLite file's growth after a WAL checkpoint; for PostgreSQL",
        "`pg_total_relation_size` of `transactions` and `log_batches` (heap, indexes, TOAST)",
        "after `VACUUM ANALYZE`, divided by the records (rollup tables not counted).",
    ]
    return out


def workers_section(ws: dict[str, Any]) -> list[str]:
    one = ws.get("hub", {}).get("rps")
    out = [
        "",
        "## `hub serve --workers N`",
        "",
        "Two hubs at once (each on its own SQLite database), wrk rounds alternating between",
        "them, against the same provider. With N = 2 the two workers send their records to",
        "one log writer process, which commits them together (the default with more than",
        "one worker); one worker writes its log itself.",
        "",
        "| workers | req/s | vs 1 worker | p50 ms | p99 ms | hub CPU | provider CPU | wrk CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, v in ws.items():
        n = name.split("x")[-1].strip() if "x" in name else "1"
        rel = f"{v['rps'] / one:.2f}" if one else "-"
        out.append(
            f"| {n} | {v['rps']:,.0f} | {rel} | {ms(v['p50_ms'])} | {ms(v['p99_ms'])} | "
            f"{v['cpu_server']:.0%} | {v['cpu_provider']:.0%} | {v['cpu_wrk']:.0%} |"
        )
    out += [
        "",
        "CPU is in cores (100 % = one core). On two cores the provider and wrk take a large",
        "share, so a second worker has little idle CPU to use; the per-core figure used in",
        "the scale estimate below divides throughput by the hub's own CPU instead.",
    ]
    return out


def others_section(others: list[dict[str, Any]]) -> list[str]:
    out: list[str] = []
    for o in others:
        out += ["", f"## {o['title']}", ""]
        if o["returncode"] is None:
            out.append(f"`bench/{o['name']}.py` does not exist yet; nothing measured.")
            continue
        status = "finished" if o["returncode"] == 0 else f"failed (exit {o['returncode']})"
        out.append(f"`{o['command']}` {status} in {o['seconds']:.0f} s.")
        if o["results_md"]:
            body = o["results_md"].strip().splitlines()
            body = ["#" + line if line.startswith("#") else line for line in body]
            out += ["", f"From `{o['results_file']}`:", "", *body]
        else:
            out += ["", "```", o["output"].strip()[-3000:], "```"]
    return out
