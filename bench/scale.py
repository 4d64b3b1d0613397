"""Scale on paper: what the national exchange volume needs, from a run's figures.

The volume (Jan-Jul 2024): about 2.5 million exchanges a day, peaks ten times the
average. Everything else comes from the run, or is an assumption stated in the text.
"""

from __future__ import annotations

import math
from typing import Any

PER_DAY = 2_500_000
PEAK_FACTOR = 10
GROWTH = 0.67  # H1 2024 over H1 2023
HEADROOM = 0.5  # plan nodes to run at half their measured capacity at peak
CORES_PER_NODE = 2  # a node like the bench machine

# Rollup model (assumptions, see the text): who calls what, how skewed.
CLIENTS = 300  # client subsystems across ~90 parties (85 LGSPs, ministries, enterprises)
SERVICES_PER_CLIENT = 5
OUTCOMES = 3  # e.g. 200, 404, one fault code, within one bucket
ZIPF_S = 1.1  # identity verification dominates; the long tail is long
ROLLUP_ROW_BYTES = {"sqlite": 110, "postgresql": 160}  # a row of counts + sums + histogram
HISTOGRAM_BUCKETS = 0  # raise if rollups carry per-bucket latency counts in the row


def distinct_expected(n_combos: int, exchanges: float, s: float = ZIPF_S) -> float:
    """Expected number of combinations seen at least once among ``exchanges`` Zipf draws."""
    weights = [1 / (i**s) for i in range(1, n_combos + 1)]
    total = sum(weights)
    return sum(1 - math.exp(-exchanges * w / total) for w in weights)


def figures(res: dict[str, Any]) -> dict[str, Any]:
    hub = res["throughput"]["hub"]
    per_core = hub["rps"] / max(hub["cpu_server"], 0.05)
    avg = PER_DAY / 86_400
    peak = avg * PEAK_FACTOR
    per_year = PER_DAY * 365
    ran = [w for w in res["writer"] if "skipped" not in w]
    # Bytes per record of the log alone (the rollups are estimated below); the rate with the
    # rollup hook when it was measured, since the hub always runs with it.
    writer = {w["engine"]: w for w in ran if not w.get("rollups")}
    bpr = {k: v["bytes_per_record"] for k, v in writer.items()}
    hooked = [w for w in ran if w.get("rollups")] or ran
    rate = {k: max(w["rate"] for w in hooked if w["engine"] == k) for k in writer}
    cores = peak / (per_core * HEADROOM)
    combos = CLIENTS * SERVICES_PER_CLIENT * OUTCOMES
    per_minute = distinct_expected(combos, PER_DAY / 1440)
    per_hour = distinct_expected(combos, PER_DAY / 24)
    per_day = distinct_expected(combos, PER_DAY)
    rollup_rows = {"minute": per_minute * 1440, "hour": per_hour * 24, "day": per_day}
    return {
        "avg": avg,
        "peak": peak,
        "per_year": per_year,
        "per_core": per_core,
        "cores": cores,
        "nodes": max(2, math.ceil(cores / CORES_PER_NODE) + 1),
        "bytes_per_record": bpr,
        "writer_rate": rate,
        "combos": combos,
        "rollup_rows_per_day": rollup_rows,
        "rollup_distinct": {"minute": per_minute, "hour": per_hour, "day": per_day},
    }


def _gb(x: float) -> str:
    return f"{x / 1e9:,.0f} GB" if x >= 1e10 else f"{x / 1e9:,.1f} GB"


def markdown(res: dict[str, Any]) -> str:
    f = figures(res)
    lines = [
        "## Scale on paper",
        "",
        "The national platform (NDXP) carried about 2.5 million exchanges a day in 2024, "
        f"i.e. {f['avg']:.0f} a second on average and, with peaks ten times the average, "
        f"about **{f['peak']:.0f} a second at peak**; {f['per_year'] / 1e6:,.0f} million a "
        f"year, growing about {GROWTH:.0%} a year.",
        "",
        "**Gateway nodes.** The hub served "
        f"{res['throughput']['hub']['rps']:,.0f} exchanges/s in the run above while using "
        f"{res['throughput']['hub']['cpu_server']:.0%} of a core: about "
        f"**{f['per_core']:,.0f} exchanges per second per core**. At half that (headroom for "
        f"bursts, TLS and slower providers) the national peak needs {f['cores']:.2f} cores. "
        f"A single {CORES_PER_NODE}-core node carries it; plan **{f['nodes']} nodes** behind "
        "a load balancer so that one can fail or be upgraded. The CPU is not what limits "
        "the hub at national scale; the database and the providers are.",
        "",
        "**The log writer.** Every node appends to the same chain, so one database's commit "
        "rate bounds the whole hub. Measured alone, with the rollups folded in: "
        + "; ".join(f"{k} {v:,.0f} records/s" for k, v in f["writer_rate"].items())
        + f", against a national peak of {f['peak']:.0f} records/s: "
        f"{min(f['writer_rate'].values()) / f['peak']:,.0f} times the need or more. Several "
        "nodes need PostgreSQL (SQLite is one file on one machine); the chain head is a row "
        "each batch locks, so nodes take turns per batch, not per record.",
        "",
        "**Database size for a year** (transaction records only, bodies not kept, as by default):",
        "",
        "| engine | bytes/record (measured) | one year | with 67 % growth in year two |",
        "|---|---|---|---|",
    ]
    for engine, b in f["bytes_per_record"].items():
        year = b * f["per_year"]
        lines.append(f"| {engine} | {b:,.0f} | {_gb(year)} | {_gb(year * (1 + GROWTH))} |")
    rr = f["rollup_rows_per_day"]
    rd = f["rollup_distinct"]
    log_year = max(f["bytes_per_record"].values()) * f["per_year"]
    minute_year = rr["minute"] * 365 * ROLLUP_ROW_BYTES["postgresql"]
    hour_year = rr["hour"] * 365 * ROLLUP_ROW_BYTES["postgresql"]
    lines += [
        "",
        "That is a PostgreSQL job: a partitioned table (one partition a month) keeps the "
        "daily working set small and lets old months move to cheaper storage or be "
        "archived and dropped after the retention period, with the batch signatures "
        "exported so the archived chain stays verifiable.",
        "",
        "**Rollups.** Statistics are kept as rows per time bucket and client × service × "
        "outcome. Assumptions: "
        f"{CLIENTS} client subsystems (about 90 parties with several systems each), "
        f"{SERVICES_PER_CLIENT} services each, {OUTCOMES} outcomes seen per pair (success, "
        f"no data, one fault), so {f['combos']:,} possible combinations, with calls "
        f"Zipf-distributed over them (s = {ZIPF_S}: identity verification dominates). The "
        "expected number of distinct combinations per bucket at the average rate:",
        "",
        "| bucket | exchanges per bucket | distinct rows per bucket | rows a day | "
        "a year (PostgreSQL) |",
        "|---|---|---|---|---|",
    ]
    for bucket, per in (("minute", 1440), ("hour", 24), ("day", 1)):
        rows_year = rr[bucket] * 365
        lines.append(
            f"| {bucket} | {PER_DAY / per:,.0f} | {rd[bucket]:,.0f} | {rr[bucket]:,.0f} | "
            f"{rows_year / 1e6:,.1f} M rows, {_gb(rows_year * ROLLUP_ROW_BYTES['postgresql'])} |"
        )
    lines += [
        "",
        f"(at about {ROLLUP_ROW_BYTES['postgresql']} bytes a row with its index, an assumption; "
        "the stats feature's own tables set the real figure.) Minute rollups are the bulk, "
        f"about 1/{log_year / minute_year:,.0f} of the log's size; hour rollups about "
        f"1/{log_year / hour_year:,.0f}. Keep minute rollups for weeks and hour and day "
        "rollups for years: a dashboard's query then reads thousands of rows, not the "
        "hundreds of millions of records they summarise.",
    ]
    return "\n".join(lines)
