"""What the security controls cost: hub throughput with each one on, against all off.

``python -m bench.controls [--quick]`` starts one hub per configuration (every control
off; each one alone on; all on), each on its own SQLite database in front of the same
provider, and loads them in turn with wrk at 32 connections, round after round, so that
drift on the machine falls on every configuration alike. The controls:

- quota: a per-second quota on the client (set high, so it counts but never refuses);
- breaker: the per-provider circuit breaker's allow/record around each forward;
- pseudonymisation: keyed hashes of the personal identifier in each logged path;
- signing: the Ed25519 signature of each committed log batch.

Prints the ratios and writes bench/controls_results.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import wrk
from bench.cli import COUNT, LENGTH
from bench.procs import ROOT, Server, free_port, running, uvicorn_cmd

CONTROLS = ("quota", "breaker", "pseudonymisation", "signing")
CONFIGS = {"none": (), **{c: (c,) for c in CONTROLS}, "all": CONTROLS}
CLIENT = "VN/GOV/BTP/civil-status"
PROVIDER = "VN/GOV/BCA/population"
SECRET = "bench-secret-0123456789abcdef"
CITIZEN = "079203001234"
RESULTS = Path(__file__).resolve().parent / "controls_results.md"


def app() -> Any:
    """The hub with only the controls named in BENCH_CONTROLS (comma-separated) on."""
    from hub.app import create_app
    from hub.core.settings import Settings
    from hub.gateway import privacy, records

    on = set(filter(None, os.environ.get("BENCH_CONTROLS", "").split(",")))
    overrides: dict[str, Any] = {"default_quota_rps": 10**6} if "quota" in on else {}
    hub = create_app(Settings(**overrides))
    gateway, state = hub.gateway, hub.state  # type: ignore[attr-defined]
    if "quota" not in on:
        gateway.quota = None
    if "breaker" not in on:
        gateway.breaker = None
    if "signing" not in on:
        state.writer.signer = None
    if "pseudonymisation" not in on:
        # The path is logged as sent, as for a service without personal data.
        def as_sent(
            secret: str, path: str, query: str, params: Any, personal: bool, **_: Any
        ) -> str:
            return privacy.log_path(secret, path, query, params, False)

        records.log_path = as_sent  # type: ignore[assignment]
    return hub


async def prepare(db_url: str, provider_url: str, key: str) -> None:
    """Migrate, register one personal-data service on the provider, and give CLIENT ``key``."""
    from hub.core.db import create_engine, session_factory
    from hub.core.migrate import upgrade_async
    from hub.registry import keys as api_keys
    from hub.registry import service as registry
    from hub.registry.schemas import RegistryDoc

    await upgrade_async(db_url)
    doc = {
        "members": [{"id": "VN/GOV/BCA"}, {"id": "VN/GOV/BTP"}],
        "subsystems": [{"id": PROVIDER, "base_url": provider_url}, {"id": CLIENT}],
        "services": [
            {
                "id": f"{PROVIDER}/citizen-lookup",
                "endpoints": [{"method": "GET", "path": "/citizens/{id}"}],
                "personal_data": True,
            }
        ],
        "grants": [{"client": CLIENT, "service": f"{PROVIDER}/citizen-lookup"}],
    }
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            await registry.apply(session, RegistryDoc.model_validate(doc))
            await api_keys.issue_key(session, secret=SECRET, client=CLIENT, key=key)
            await session.commit()
    finally:
        await engine.dispose()


def measure(
    rounds: int, seconds: float, connections: int, work: Path
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per configuration, each round's req/s and the hub's CPU over the provider's."""
    from hub.core.security import new_api_key

    key = new_api_key()
    provider_port = free_port()
    provider = Server(
        "provider",
        uvicorn_cmd("bench.provider:app", provider_port),
        f"http://127.0.0.1:{provider_port}",
        work / "provider.log",
    )
    hubs: dict[str, Server] = {}
    for name, on in CONFIGS.items():
        db = f"sqlite+aiosqlite:///{work}/{name}.db"
        asyncio.run(prepare(db, provider.url, key))
        port = free_port()
        hubs[name] = Server(
            f"hub ({name})",
            uvicorn_cmd("bench.controls:app", port, "--factory"),
            f"http://127.0.0.1:{port}",
            work / f"hub-{name}.log",
            HUB_ENV="test",
            HUB_DATABASE_URL=db,
            HUB_SECRET_KEY=SECRET,
            HUB_ADMIN_TOKEN="bench-admin-token-0123456789",
            HUB_OPERATOR_TOKEN="bench-operator-token-0123456789",
            HUB_SIGNING_KEY_FILE=str(work / f"{name}-signing.pem"),
            HUB_HEALTH_INTERVAL_S="3600",
            BENCH_CONTROLS=",".join(on),
        )
    headers = {
        "X-Road-Client": CLIENT,
        "Authorization": f"Bearer {key}",
        "X-Road-UserId": "officer-01",
        "X-Road-Issue": "HS-0001",
    }
    path = f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}"
    rps: dict[str, list[float]] = {name: [] for name in CONFIGS}
    cpu: dict[str, list[float]] = {name: [] for name in CONFIGS}
    with running(provider, *hubs.values()):
        provider.wait_ready("/__health")
        for hub in hubs.values():
            hub.wait_ready("/healthz")
            wrk.run(hub.url + path, seconds=1, connections=connections, headers=headers,
                    workdir=work)  # fmt: skip  # warm-up
        for r in range(rounds):
            # Rotated, as in python -m bench: each configuration takes each place in turn.
            # (Reversing the order every other round put "none" and "all" next to the
            # round boundary every time, so one slow spell there fell on both of "all"'s
            # rounds: 23.7 % in a --quick run, where each control measured alone costs
            # 1-6 us an exchange and the signature 82 us a batch.)
            names = list(CONFIGS)
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                before = (provider.cpu_seconds(), hubs[name].cpu_seconds())
                result = wrk.run(
                    hubs[name].url + path, seconds=seconds, connections=connections,
                    headers=headers, workdir=work,
                )  # fmt: skip
                if result.errors:
                    raise RuntimeError(f"{name}: {result.errors} errors; see {hubs[name].log}")
                spent_provider = provider.cpu_seconds() - before[0]
                spent_hub = hubs[name].cpu_seconds() - before[1]
                rps[name].append(result.rps)
                # Both serve the same requests, and the provider's code is the same in
                # every configuration: the ratio cancels the machine's speed of the moment.
                cpu[name].append(spent_hub / spent_provider if spent_provider else 0.0)
                print(
                    f"  round {r + 1} {name:>16}: {result.rps:8.0f} req/s, "
                    f"hub CPU {cpu[name][-1]:.2f} x the provider's",
                    flush=True,
                )
    return rps, cpu


def unit_costs() -> dict[str, float]:
    """Microseconds of CPU per call of each control, measured alone: figures that the
    machine's other load disturbs far less than throughput."""
    import timeit

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from hub.gateway.privacy import log_path
    from hub.registry.cache import RegistryCache, Snapshot
    from hub.reliability.breaker import Breaker
    from hub.reliability.quota import LocalQuotas, QuotaPolicy
    from hub.txlog.signing import Signer

    registry = RegistryCache(None)  # type: ignore[arg-type]
    registry.snapshot = Snapshot()
    quota = LocalQuotas(QuotaPolicy(registry, (10**6, None), "Asia/Ho_Chi_Minh"))
    breaker = Breaker(window_s=30, min_requests=20, failure_ratio=0.5, open_s=10)
    signer = Signer(Ed25519PrivateKey.generate())
    params = {"id": CITIZEN}
    path = f"/citizens/{CITIZEN}"

    def per_call(fn: Any, number: int) -> float:
        return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6

    def allow_and_record() -> None:
        breaker.allow(PROVIDER)
        breaker.record(PROVIDER, True)

    return {
        "quota": per_call(lambda: quota.take(CLIENT), 100_000),
        "breaker": per_call(allow_and_record, 100_000),
        "pseudonymisation": per_call(lambda: log_path(SECRET, path, "", params, True), 100_000)
        - per_call(lambda: log_path(SECRET, path, "", params, False), 100_000),
        "signing": per_call(lambda: signer.sign(b"hub-log-batch|1|1|1|" + b"0" * 64), 5_000),
    }  # fmt: skip


def report(
    rps: dict[str, list[float]],
    cpu: dict[str, list[float]],
    rounds: int,
    seconds: float,
    connections: int,
    command: str,
) -> str:
    base = statistics.median(rps["none"])
    cpu_base = statistics.median(cpu["none"])
    rows = []
    for name in CONFIGS:
        median = statistics.median(rps[name])
        cost = (1 - median / base) * 100
        cpu_rel = statistics.median(cpu[name])
        cpu_cost = (cpu_rel / cpu_base - 1) * 100
        label = "all four controls" if name == "all" else name
        rows.append(
            f"| {label} | {median:,.0f} | {median / base:.3f} | {cost:+.1f} % "
            f"| {cpu_rel:.3f} | {cpu_cost:+.1f} % |"
        )
    all_cost = (1 - statistics.median(rps["all"]) / base) * 100
    all_cpu_cost = (statistics.median(cpu["all"]) / cpu_base - 1) * 100
    verdict = "met" if all_cost < 10 else "missed"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "## Security controls: cost against throughput",
            "",
            f"Measured {when} on {os.cpu_count()} CPUs with `{command}`: one hub per "
            "configuration (SQLite, one "
            f"worker), a citizen lookup (personal data) through each, wrk at {connections} "
            f"connections, {rounds} rounds of {seconds:g} s, the order rotated each round; "
            "medians.",
            "",
            "| controls on | requests/s | ratio to none | cost | hub CPU / provider CPU "
            "| CPU cost |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"Target: all four together cost under 10 % of throughput: **{verdict}** "
            f"({all_cost:.1f} %). The hub, its provider and wrk share the machine's cores, "
            "so differences of a few per cent between single controls are within the noise "
            "of one round; the ratio of all four is the figure to watch.",
            "",
            f"By CPU, all four cost {all_cpu_cost:+.1f} % per exchange. That figure is the "
            "median of each round's hub CPU over the provider's CPU for the same requests, "
            "against the same for no controls. The provider's code is the same in every "
            "configuration, so the ratio holds when the whole machine speeds up or slows "
            "down between rounds, which moves throughput by more than the controls cost "
            "on a shared machine (see the spread below).",
            "",
            "Per round, requests/s and (after the slash) hub CPU over provider CPU:",
            "",
            "| controls on | " + " | ".join(f"round {i + 1}" for i in range(rounds)) + " |",
            "|---|" + "---:|" * rounds,
            *[
                f"| {n} | "
                + " | ".join(f"{v:,.0f} / {c:.2f}" for v, c in zip(rps[n], cpu[n], strict=True))
                + " |"
                for n in CONFIGS
            ],
            "",
            "CPU per call of each control, measured alone (best of three), against the hub's "
            f"CPU per exchange at the rate above (1 / {base:,.0f} s = {1e6 / base:,.0f} us):",
            "",
            "| control | us per call | share of an exchange |",
            "|---|---:|---:|",
            *[
                f"| {n} | {us:.2f} | {us * base / 1e6 * 100:.2f} %{per} |"
                for n, us in unit_costs().items()
                for per in [
                    " (per batch: less per record when batches hold more)" if n == "signing" else ""
                ]
            ],  # fmt: skip
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.controls", description=__doc__.split("\n")[0])
    p.add_argument(
        "--quick", action="store_true", help="6 rounds of 3 s (about two and a half minutes)"
    )
    p.add_argument("--rounds", type=COUNT)
    p.add_argument("--seconds", type=LENGTH)
    p.add_argument("--connections", type=COUNT, default=32)
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    # Six rounds either way: with the order rotated, each configuration takes each place once.
    rounds = args.rounds or 6
    seconds = args.seconds or (3.0 if args.quick else 5.0)
    missing = [m for m in wrk.check_tools() if m.startswith("wrk")]
    if missing:
        print("\n".join(missing), file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-controls-") as tmp:
        rps, cpu = measure(rounds, seconds, args.connections, Path(tmp))
    command = " ".join(["python -m bench.controls", *(sys.argv[1:] if argv is None else argv)])
    text = report(rps, cpu, rounds, seconds, args.connections, command)
    print(text)
    args.out.write_text(text)
    print(f"written to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
