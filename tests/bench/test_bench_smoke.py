"""The benchmark suite's parts work: correctness only, nothing here is timed."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench import procs, report, scale, wrk
from bench.bare_forwarder import Forwarder
from bench.light import percentile
from bench.provider import app as provider_app
from hub.txlog.chain import CHAINED_FIELDS, _exchange_text, canonical_text, record_hash
from tests.support import serve


@pytest.mark.parametrize("outbound", ["hub", "aiohttp"])
async def test_bare_forwarder_passes_the_providers_answer_through(outbound: str) -> None:
    async with (
        serve(provider_app) as provider_url,
        serve(Forwarder(provider_url, outbound)) as bare_url,
        httpx.AsyncClient() as client,
    ):
        for cid in ("079203001234", "001099000001"):
            direct = await client.get(f"{provider_url}/citizens/{cid}")
            hop = await client.get(f"{bare_url}/citizens/{cid}?fields=all")
            assert hop.status_code == direct.status_code == 200
            assert hop.json() == direct.json()
            assert hop.json()["id"] == cid
            assert hop.headers["content-type"] == "application/json"


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
async def test_wrk_figures_are_read_from_its_report(tmp_path: Path) -> None:
    async with serve(provider_app) as url:
        result = await asyncio.to_thread(
            wrk.run, url + "/citizens/079203001234", seconds=1, connections=2, workdir=tmp_path
        )
        missing = await asyncio.to_thread(
            wrk.run, url + "/nowhere", seconds=1, connections=2, workdir=tmp_path
        )
    assert result.requests > 0 and result.errors == 0
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms
    assert missing.requests > 0 and missing.errors == missing.requests  # 404s are errors


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
)


def _by_definition(prev: str, record: dict[str, Any]) -> str:
    return hashlib.sha256(f"{prev}\x1e{canonical_text(record)}".encode()).hexdigest()


@given(st.fixed_dictionaries({name: values for name in CHAINED_FIELDS}), st.text(max_size=64))
def test_the_fast_hash_is_the_chains_definition(record: dict[str, Any], prev: str) -> None:
    assert record_hash(prev, record) == _by_definition(prev, record)


def _optional(strategy: Any) -> Any:
    return st.one_of(st.none(), strategy)


texts = st.text(max_size=20)
# The record as the gateway makes it (the fast path), with now and then a value of another
# type (a bool for an int, an aware datetime, an int for a float) that must take the slow one.
exchange_records = st.fixed_dictionaries(
    {
        "seq": st.integers(min_value=0),
        "id": texts,
        "request_id": texts,
        "client": texts,
        "service": texts,
        "provider": texts,
        "method": st.sampled_from(["GET", "POST"]),
        "path": texts,
        "user_id": _optional(texts),
        "issue": _optional(texts),
        "status_code": st.one_of(st.integers(100, 599), st.booleans()),
        "succeeded": st.booleans(),
        "fault_code": _optional(texts),
        "request_bytes": st.integers(min_value=0),
        "response_bytes": st.integers(min_value=0),
        "started_at": st.one_of(st.datetimes(), st.datetimes(timezones=st.just(UTC))),
        "total_ms": st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers()),
        "upstream_ms": _optional(st.floats(allow_nan=False, allow_infinity=False)),
        "hub_ms": st.floats(allow_nan=False, allow_infinity=False),
        "request_hash": _optional(texts),
        "response_hash": _optional(texts),
        "request_body": _optional(texts),
        "response_body": _optional(texts),
        "batch_id": st.integers(min_value=0),
    }
)


@given(exchange_records, st.text(max_size=64))
def test_the_exchange_records_fast_text_is_the_chains_definition(
    record: dict[str, Any], prev: str
) -> None:
    assert record_hash(prev, record) == _by_definition(prev, record)


def test_the_exchange_records_fast_text_is_taken() -> None:
    record = {name: "x" for name in CHAINED_FIELDS} | {
        "seq": 1, "status_code": 200, "succeeded": True, "request_bytes": 0,
        "response_bytes": 2, "started_at": datetime(2026, 12, 1, 19, 0), "total_ms": 1.5,
        "upstream_ms": None, "hub_ms": 0.5, "batch_id": 1, "user_id": None,
    }  # fmt: skip
    assert _exchange_text(record) == canonical_text(record)
    assert _exchange_text(record | {"status_code": True}) is None  # a bool is not an int here


def test_fast_hash_handles_missing_fields_like_the_chain() -> None:
    record = {"seq": 1, "id": "x", "started_at": datetime(2024, 1, 2, 3, 4, 5)}
    assert record_hash("0" * 64, record) == _by_definition("0" * 64, record)


def test_percentile_picks_the_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0


def _results(hub_rps: float, growth_end: int) -> dict[str, Any]:
    row = {"rps": 0.0, "errors": 0, "cpu_server": 0.9, "cpu_provider": 0.3, "cpu_wrk": 0.05}
    return {
        "throughput": {"bare": row | {"rps": 1000.0}, "hub": row | {"rps": hub_rps}},
        "light": {"hub_p50": 0.8, "hub_p99": 6.0, "errors": 0},
        "memory": {"exchanges": 1_000_000, "errors": 0, "growth": growth_end / 100 - 1},
        "writer": [
            {"engine": "sqlite", "concurrency": 1000, "rate": 25_000.0, "bytes_per_record": 900},
            {"engine": "postgresql", "concurrency": 1000, "rate": 9_000.0, "bytes_per_record": 950},
        ],
    }


def test_verdicts_compare_with_the_targets() -> None:
    met = {name: ok for name, ok, _ in report.verdicts(_results(810.0, 105))}
    assert met["hub throughput >= 0.8 x bare forwarder"] is True
    assert met["hub-added latency p50 <= 1 ms (light load)"] is True
    assert met["hub-added latency p99 <= 5 ms (light load)"] is False
    assert met["RSS growth < 10 % over 1,000,000 exchanges"] is True
    assert met["log writer >= 20,000 records/s on SQLite"] is True
    missed = {name: ok for name, ok, _ in report.verdicts(_results(790.0, 111))}
    assert missed["hub throughput >= 0.8 x bare forwarder"] is False
    assert missed["RSS growth < 10 % over 1,000,000 exchanges"] is False


def test_throughput_verdict_counts_the_rounds_at_the_target() -> None:
    res = _results(800.0, 100)
    res["throughput"]["bare"]["rounds"] = [1000, 1000, 2000, 1000]
    res["throughput"]["hub"]["rounds"] = [850, 790, 1500, 800]
    assert report.round_ratios(res["throughput"]) == [0.85, 0.79, 0.75, 0.8]
    figure = {name: fig for name, _, fig in report.verdicts(res)}
    assert figure["hub throughput >= 0.8 x bare forwarder"].endswith(
        "round by round 2 of 4 at 0.8 or above"
    )
    res["throughput"]["hub"]["rounds"] = [850]  # a saved run cut short: no pairs to show
    assert report.round_ratios(res["throughput"]) == []


def test_rollup_estimate_is_bounded_by_the_combinations() -> None:
    assert scale.distinct_expected(100, 0) == 0
    # One exchange (in expectation) shows at most one combination.
    assert 0.9 < scale.distinct_expected(100, 1) <= 1.0
    assert 99.9 < scale.distinct_expected(100, 10**9) <= 100
    f = scale.figures(_results(1000.0, 100))
    assert f["nodes"] >= 2
    assert f["rollup_distinct"]["minute"] <= f["rollup_distinct"]["hour"] <= f["combos"]
    assert f["bytes_per_record"] == {"sqlite": 900, "postgresql": 950}


def test_controls_report_gives_both_the_throughput_and_the_cpu_cost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench import controls

    monkeypatch.setattr(controls, "unit_costs", lambda: {"quota": 0.5})
    names = list(controls.CONFIGS)
    # Throughput swings with the machine (here by half between rounds); the CPU ratio does not.
    rps = {n: [6000.0, 3000.0, 6000.0] for n in names} | {"all": [5000.0, 2500.0, 5000.0]}
    cpu = {n: [1.60, 1.62, 1.58] for n in names} | {"all": [1.76, 1.78, 1.74]}
    text = controls.report(rps, cpu, 3, 3.0, 32, "python -m bench.controls --quick")
    assert "| all four controls | 5,000 | 0.833 | +16.7 % | 1.760 | +10.0 % |" in text
    assert "**missed** (16.7 %)" in text
    assert "By CPU, all four cost +10.0 % per exchange" in text
    assert "| none | 6,000 / 1.60 | 3,000 / 1.62 | 6,000 / 1.58 |" in text


def test_writer_bench_deals_records_so_the_log_takes_them_in_made_order(tmp_path: Path) -> None:
    import sqlite3

    from bench import logwriter

    assert logwriter._dealt(6, 3, make=lambda i: i) == [[0, 3], [1, 4], [2, 5]]
    result = logwriter.sqlite_run(tmp_path, records=17 * 20, concurrency=17)
    assert result.records == 340
    with sqlite3.connect(tmp_path / "writer-17.db") as conn:
        got = [r[0] for r in conn.execute("SELECT total_ms FROM transactions ORDER BY seq")]
    # record(i) takes 1.234 + i % 7 ms: the timed records, by seq, in the order made.
    assert got[-340:] == [1.234 + i % 7 for i in range(340)]


@pytest.mark.parametrize("argv", [["--exchanges", "-5"], ["--rounds", "x"], ["--seconds", "0"]])
def test_bench_refuses_counts_and_lengths_that_are_not_above_zero(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.__main__ import parse_args

    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    assert exit_.value.code == 2
    assert argv[0] in capsys.readouterr().err


def test_bench_report_only_says_what_is_wrong_with_the_saved_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bench.__main__ import main

    not_json = tmp_path / "run.json"
    not_json.write_text("not json")
    assert main(["--report-only", str(tmp_path / "missing.json"), "--no-docs"]) == 2
    assert "cannot read the saved run" in capsys.readouterr().out
    assert main(["--report-only", str(not_json), "--no-docs"]) == 2
    not_json.write_text("[1, 2]")
    assert main(["--report-only", str(not_json), "--no-docs"]) == 2
    assert "is not a saved run" in capsys.readouterr().out


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="pinning needs two usable cores")
def test_pin_moves_every_thread_of_a_process_and_what_it_starts_later() -> None:
    cpu = max(os.sched_getaffinity(0))
    script = (
        "import sys, threading, time\n"
        "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"  # told to go on once pinned: one more thread, then report
        "t = threading.Thread(target=time.sleep, args=(30,), daemon=True); t.start()\n"
        "import os; print(sorted(os.sched_getaffinity(t.native_id)), flush=True)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None and child.stdin is not None
        try:
            assert child.stdout.readline().strip() == "ready"
            tids = [int(t) for t in os.listdir(f"/proc/{child.pid}/task")]
            assert len(tids) >= 2
            procs.pin([child.pid, 2**22 + 12345], {cpu})  # an ended (or never) pid: passed over
            assert all(os.sched_getaffinity(tid) == {cpu} for tid in tids)
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == f"[{cpu}]"
        finally:
            child.kill()


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        ([], "python -m bench"),
        (["--exchanges", "1000000", "--no-docs"], "python -m bench --exchanges 1000000"),
        (["--keep", "--out", "x.md", "--quick"], "python -m bench --quick"),
        (["--out=x.md", "--rounds", "3", "--report-only", "r.json"], "python -m bench --rounds 3"),
    ],
)
def test_the_command_to_reproduce_keeps_what_decides_the_figures(
    argv: list[str], command: str
) -> None:
    assert report.reproduce_command(argv) == command


@pytest.mark.parametrize(
    ("module", "option"),
    [
        ("bench", "--rounds"),
        ("bench.ab", "--rounds"),
        ("bench.controls", "--seconds"),
        ("bench.profile", "--connections"),
        ("bench.replay_vs_wrk", "--duration"),
        ("bench.stats_bench", "--records"),
    ],
)
def test_each_bench_tool_refuses_a_count_that_is_not_above_zero(module: str, option: str) -> None:
    root = Path(__file__).resolve().parents[2]
    hubs = ["hub=."] if module == "bench.ab" else []  # its one required argument
    for value, message in (("0", "0 must be above zero"), ("ten", "'ten' is not a number")):
        proc = subprocess.run(
            [sys.executable, "-m", module, *hubs, option, value],
            cwd=root, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        assert f"argument {option}: {message}" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_the_controls_hub_logs_paths_as_sent_whatever_the_gateway_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its stand-in for log_path took the arguments of the day positionally: the gateway's
    # new keyword (opaque=) made every exchange of the "none" hub a 500, and the run failed.
    from bench import controls
    from hub.gateway import records

    monkeypatch.setattr(records, "log_path", records.log_path)  # put back after the test
    monkeypatch.setenv("BENCH_CONTROLS", "")
    controls.app()
    assert records.log_path("s", "/citizens/8012345678", "", {}, True, opaque=True) == (
        "/citizens/8012345678"
    )
