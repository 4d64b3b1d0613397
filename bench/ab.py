"""A/B of hub versions in one run: ``python -m bench.ab before=../old-checkout after=.``

Each NAME=PATH starts ``hub serve`` from that checkout (its own code, this venv, the
same database migrations) on a fresh database, beside both bare forwarders and one
provider; wrk rounds alternate over all of them. Per target it prints the median req/s,
the ratios to the bare forwarders, and the target's CPU per exchange divided by the
provider's in the same round. That last figure is the one to compare on a noisy machine:
the provider's code is the same for every target, so its cost per request shows how
fast the machine was during the round.

``NAME=PATH::OPTIONS`` passes options to that ``hub serve``, e.g.
``process=.::--log-process inline=.::--log-inline``.

``--pin`` puts the targets on one core (the first this process may use; wrk loads one
at a time, so each has the core to itself in its turn) and leaves the others to the
provider and wrk, as a deployment gives a gateway its own machine. On
two cores the figures then answer another question than the suite's: how much of what
the provider can serve through a hop still gets through the target, not what each target
costs (with all on shared cores, every CPU-second a target spends is one the provider
lacks). The suite's own rounds do not pin.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import bench.procs
from bench import targets, wrk
from bench.cli import COUNT, LENGTH
from bench.procs import running
from bench.rounds import throughput


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.splitlines()[0])
    p.add_argument(
        "hubs", nargs="+", metavar="NAME=PATH[::OPTIONS]", help="a name, a checkout, options"
    )
    p.add_argument("--rounds", type=COUNT, default=6)
    p.add_argument("--seconds", type=LENGTH, default=5.0)
    p.add_argument("--connections", type=COUNT, default=32)
    p.add_argument(
        "--pin", action="store_true", help="the targets on one core, the provider and wrk on others"
    )
    args = p.parse_args(argv)
    versions = []
    for spec in args.hubs:
        name, sep, rest = spec.partition("=")
        path, _, options = rest.partition("::")
        root = Path(path).resolve()
        if not sep or not name or not (root / "hub" / "__main__.py").is_file():
            p.error(f"{spec!r}: give NAME=PATH[::OPTIONS], PATH a checkout of this project")
        versions.append((name, root, options.split()))
    if missing := wrk.check_tools():
        p.error("; ".join(missing))
    target_cpus: set[int] = set()
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            p.error("--pin needs at least two cores to choose from")
        target_cpus = {cpus[0]}
        os.sched_setaffinity(0, set(cpus[1:]))  # the provider, wrk and the setup inherit it
        print(f"targets on core {cpus[0]}; provider and wrk on {', '.join(map(str, cpus[1:]))}")
    work = Path(tempfile.mkdtemp(prefix="hub-ab-"))
    provider = targets.start_provider(work)
    ts: list[targets.Target] = []
    own_root = bench.procs.ROOT
    with running(provider):
        try:
            ts.append(targets.start_bare(work, provider.url))
            ts.append(targets.start_bare(work, provider.url, client="aiohttp"))
            for name, root, options in versions:
                # Server runs each process from bench.procs.ROOT: that checkout's code is
                # found first (``python -m hub`` puts the working directory first on
                # sys.path).
                bench.procs.ROOT = root
                db = targets.prepare_hub_db(work, provider.url, name=name)
                t = targets.start_hub(work, db, extra=options)
                t.name = name
                ts.append(t)
            bench.procs.ROOT = own_root
            for t in ts:
                if target_cpus and t.server is not None:
                    bench.procs.pin(t.server.pids(), target_cpus)
            res = throughput(ts, provider, args, work)
        except RuntimeError as exc:  # a server that would not start: its log is named
            print(f"python -m bench.ab: {exc}", file=sys.stderr)
            return 1
        finally:
            bench.procs.ROOT = own_root
            for t in ts:
                if t.server is not None:
                    t.server.stop()
    bare, bare_aiohttp = (res[t.name]["rps"] for t in ts[:2])
    print()
    for name, v in res.items():
        print(
            f"{name:>12}: {v['rps']:6.0f} req/s, {v['rps'] / bare:.3f} x bare, "
            f"{v['rps'] / bare_aiohttp:.3f} x bare-aiohttp, CPU {v['cpu_rel']:.2f} x the "
            "provider's"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
