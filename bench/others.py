"""Other features' benchmarks, run when their scripts exist and folded into the report.

Each is called as ``python -m bench.NAME`` with ``--quick`` when its source offers that
option (or a smaller size it documents, below); what it prints, and the
``bench/*_results.md`` it writes, go into the report.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.procs import PYTHON, ROOT

BENCH = Path(__file__).resolve().parent
OTHERS = {
    "stats_bench": "Statistics",
    "replay_vs_wrk": "Scenario replay against wrk",
    "controls": "Security controls",
}

# For scripts without --quick: the option that keeps them to a minute or two.
SMALLER = {"stats_bench": ["--records", "1000000"], "replay_vs_wrk": ["--duration", "5"]}


@dataclass
class OtherResult:
    name: str
    title: str
    command: str
    returncode: int | None  # None: not present
    seconds: float = 0.0
    output: str = ""
    results_md: str = ""
    results_file: str = ""


def results_file(name: str) -> Path | None:
    stem = name.split("_")[0]
    for candidate in (f"{name}_results.md", f"{stem}_results.md"):
        if (BENCH / candidate).is_file():
            return BENCH / candidate
    return None


def run_all(timeout_s: float = 600) -> list[OtherResult]:
    out = []
    for name, title in OTHERS.items():
        script = BENCH / f"{name}.py"
        if not script.is_file():
            out.append(OtherResult(name, title, "", None))
            continue
        cmd = [PYTHON, "-m", f"bench.{name}"]
        source = script.read_text(errors="replace")
        if "--quick" in source:
            cmd.append("--quick")
        elif name in SMALLER and SMALLER[name][0] in source:
            cmd += SMALLER[name]
        shown = " ".join(["python", *cmd[1:]])
        print(f"  running {shown} ...", flush=True)
        t0 = time.monotonic()
        try:
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
            code, text = proc.returncode, proc.stdout + proc.stderr
        except subprocess.TimeoutExpired as exc:
            # TimeoutExpired carries bytes even under text=True: decoded, not shown as b'...'.
            raw = exc.stdout or b""
            partial = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
            code, text = -1, f"timed out after {timeout_s:.0f} s\n{partial}"
        result = OtherResult(name, title, shown, code, time.monotonic() - t0, text[-4000:])
        if (md := results_file(name)) is not None:
            result.results_file = str(md.relative_to(ROOT))
            result.results_md = md.read_text(errors="replace")
        out.append(result)
    return out
