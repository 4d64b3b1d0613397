"""How fast `hub replay` drives a hub, against wrk on the same exchange, in the same run.

    .venv/bin/python bench/replay_vs_wrk.py [--hub URL] [--duration 10] [--connections 32]

Without ``--hub`` it starts ``hub up`` on free ports with a throw-away database. Both tools
send the same single-step exchange (a bank's ``citizen-verify``, the most frequent exchange
of all) with the same headers and body: wrk, then ``hub replay`` in the closed model with as
many workers as wrk has connections, then wrk again (the better wrk rate counts). It prints
both rates and their ratio; the target is replay/wrk >= 0.5 (the runner must not be the
bottleneck of a load test). Exit code 0 when the target is met, 1 when not, 2 when
something could not be run.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cli import COUNT  # noqa: E402 (after the path, so it runs as a script too)

CLIENT = "VN/COM/0101234565/ekyc"
SERVICE = "VN/GOV/BCA/population/citizen-verify"
BODY = {"id": "079090001234", "full_name": "Nguyễn Văn An"}
HEADERS = {"X-Road-UserId": "teller-7", "X-Road-Issue": "KYC-bench"}

SCENARIO = f"""
name: bench-verify
steps:
  - id: verify
    client: {CLIENT}
    service: {SERVICE}
    method: POST
    path: /citizens/verify
    headers: {json.dumps(HEADERS)}
    json: {json.dumps(BODY, ensure_ascii=False)}
    expect: {{status: 200}}
"""

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Road-Client"] = {client}
wrk.headers["Authorization"] = {auth}
{extra}
"""


def lua(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid Lua string here


def wrk_rate(hub: str, key: str, duration: int, connections: int, work: Path) -> float:
    script = work / "verify.lua"
    extra = "\n".join(f"wrk.headers[{lua(k)}] = {lua(v)}" for k, v in HEADERS.items())
    script.write_text(
        WRK_SCRIPT.format(
            body=lua(json.dumps(BODY, ensure_ascii=False)),
            client=lua(CLIENT),
            auth=lua(f"Bearer {key}"),
            extra=extra,
        )
    )
    url = f"{hub}/r1/{SERVICE}/citizens/verify"
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk got error answers; is the key right?\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    return float(match.group(1))


def replay_rate(hub: str, creds: Path, duration: int, connections: int, work: Path) -> float:
    scenario = work / "bench.yaml"
    scenario.write_text(SCENARIO)
    report = work / "replay.json"
    hub_cli = Path(sys.executable).with_name("hub")
    subprocess.run(
        [str(hub_cli), "replay", str(scenario), "--hub", hub, "--credentials", str(creds),
         "--duration", f"{duration}s", "--concurrency", str(connections), "--json", str(report)],
        check=False,
        capture_output=True,
    )  # fmt: skip
    result = json.loads(report.read_text())["scenarios"][0]
    step = result["steps"][0]
    if step["failed"]:
        raise SystemExit(f"hub replay saw failures: {step['first_failure']}")
    return float(result["requests_per_s"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hub", help="a running hub; default: start `hub up` on free ports")
    parser.add_argument("--duration", type=COUNT, default=10, help="seconds per tool")
    parser.add_argument("--connections", type=COUNT, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 2

    from hub.replay.pytest_plugin import HubProcess

    started = None
    if args.hub is None:
        started = HubProcess()
        started.start()
    hub = (args.hub or started.url).rstrip("/")  # type: ignore[union-attr]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            with urllib.request.urlopen(f"{hub}/demo/credentials", timeout=10) as response:
                creds_json = response.read()
            creds = work / "credentials.json"
            creds.write_bytes(creds_json)
            key = next(c["api_key"] for c in json.loads(creds_json) if c["client"] == CLIENT)
            # wrk before and after, and the better of the two: a hub that warms up (or a log
            # that grows) must not flatter the ratio.
            wrk = wrk_rate(hub, key, args.duration, args.connections, work)
            replay = replay_rate(hub, creds, args.duration, args.connections, work)
            wrk = max(wrk, wrk_rate(hub, key, args.duration, args.connections, work))
    finally:
        if started is not None:
            started.stop()
    ratio = replay / wrk if wrk else 0.0
    print(f"wrk:        {wrk:10.1f} req/s  ({args.connections} connections, {args.duration}s)")
    print(f"hub replay: {replay:10.1f} req/s  ({args.connections} workers, {args.duration}s)")
    print(f"ratio replay/wrk: {ratio:.2f} (target >= 0.50): {'ok' if ratio >= 0.5 else 'LOW'}")
    return 0 if ratio >= 0.5 else 1


if __name__ == "__main__":
    sys.exit(main())
