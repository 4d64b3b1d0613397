"""Profile the hub's hot path: ``python -m bench.profile [--seconds 15]``.

Starts the bench provider and ``hub serve``, drives the hub with wrk at 32 connections
while py-spy samples it, and prints where the time goes (own time and cumulative time
per function). ``--svg FILE`` also writes a flame graph. py-spy: ``pip install py-spy``.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from bench import targets, wrk
from bench.cli import COUNT
from bench.procs import running


def summarise(raw: Path, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    cum: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            cum[frame] += n
    out = [f"{total} samples", "", "own time:"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in own.most_common(top)]
    out += ["", "cumulative:"]
    out += [f"  {n / total:6.1%}  {f}" for f, n in cum.most_common(top)]
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument("--seconds", type=COUNT, default=15)
    p.add_argument("--connections", type=COUNT, default=32)
    p.add_argument("--top", type=COUNT, default=40)
    p.add_argument("--svg", type=Path, help="also write a flame graph here")
    p.add_argument("--rate", type=COUNT, default=250, help="py-spy samples per second")
    args = p.parse_args()
    if shutil.which("py-spy") is None:
        raise SystemExit("py-spy is not installed: pip install py-spy")
    workdir = Path(tempfile.mkdtemp(prefix="hub-profile-"))
    provider = targets.start_provider(workdir)
    with running(provider):
        hub = targets.start_hub(workdir, targets.prepare_hub_db(workdir, provider.url))
        assert hub.server is not None
        with running(hub.server):
            wrk.run(hub.url, seconds=2, headers=hub.headers, workdir=workdir)  # warm-up
            raw = workdir / "profile.txt"
            spy = [
                "py-spy",
                "record",
                "--pid",
                str(hub.server.proc.pid),
                "--rate",
                str(args.rate),
                "--duration",
                str(args.seconds),
                "--format",
                "raw",
                "--output",
                str(raw),
                "--nonblocking",
            ]
            result: list[wrk.WrkResult] = []
            load = threading.Thread(
                target=lambda: result.append(
                    wrk.run(
                        hub.url,
                        seconds=args.seconds + 1,
                        connections=args.connections,
                        headers=hub.headers,
                        workdir=workdir,
                    )
                )
            )
            load.start()
            subprocess.run(spy, check=True, capture_output=True)
            load.join()
            if args.svg:
                svg = [*spy[:-4], "--format", "flamegraph", "--output", str(args.svg)]
                svg[svg.index("--duration") + 1] = str(min(args.seconds, 10))
                load = threading.Thread(
                    target=lambda: wrk.run(
                        hub.url,
                        seconds=min(args.seconds, 10) + 1,
                        headers=hub.headers,
                        workdir=workdir,
                    )
                )
                load.start()
                subprocess.run(svg, check=True, capture_output=True)
                load.join()
    print(f"hub under wrk: {result[0].rps:,.0f} req/s, p50 {result[0].p50_ms:.2f} ms\n")
    print(summarise(raw, args.top))
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
