"""Running wrk and reading its figures (a Lua ``done`` hook prints them as JSON)."""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPORT_LUA = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\nBENCH-JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d, "p50": %d, "p90": %d, "p99": %d, '
    .. '"p999": %d, "max": %d, "mean": %f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    errors: int  # socket errors, timeouts and non-2xx/3xx answers
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    cpu_s: float  # wrk's own CPU time, to show the load generator's share

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def check_tools() -> list[str]:
    """What is missing, each with how to install it."""
    missing = []
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            missing.append(f"{tool} is not installed: run `apt-get install -y {tool}`")
    return missing


def nginx_path() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def run(
    url: str,
    *,
    seconds: float,
    connections: int = 32,
    threads: int = 1,
    headers: dict[str, str] | None = None,
    workdir: Path,
) -> WrkResult:
    script = workdir / "report.lua"
    if not script.exists():
        script.write_text(REPORT_LUA)
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
    ]
    cmd += ["-s", str(script)]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    cmd.append(url)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("BENCH-JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr or proc.stdout}")
    data = json.loads(line.removeprefix("BENCH-JSON "))
    errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6 or (time.monotonic() - t0),
        errors=errors,
        p50_ms=data["p50"] / 1000,
        p90_ms=data["p90"] / 1000,
        p99_ms=data["p99"] / 1000,
        p999_ms=data["p999"] / 1000,
        max_ms=data["max"] / 1000,
        cpu_s=cpu,
    )
