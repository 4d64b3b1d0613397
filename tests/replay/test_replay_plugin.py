"""The pytest plugin collects scenario files given on the command line, and only those."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

GOOD = """
name: good
steps:
  - client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    expect: {status: 200}
"""


def pytest_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_collects_and_runs_scenarios_against_a_hub(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path
) -> None:
    write(GOOD, "scen/good.yaml")
    write(GOOD.replace("status: 200", "status: 418").replace("good", "teapot"), "scen/bad.yml")
    write("steps_are_not_here: 1\n", "scen/config.yaml")  # not a scenario: not collected
    # Nor a CI file with steps of its own (pytest run on a project with the hub installed).
    write("trigger: [main]\nsteps:\n  - script: make test\n", "scen/azure-pipelines.yml")
    flow = '{"name": "flow", "steps": [{"client": "VN/GOV/BTP/civil-status", '
    write(flow + '"service": "VN/GOV/BCA/population/echo"}]}\n', "scen/flow.yaml")
    write(GOOD, "scen/UPPER.YAML")  # as `hub replay` takes it: the suffix in any case
    write(GOOD, "scen/.cache/hidden.yaml")  # as `hub replay` leaves it: a hidden folder
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
    )
    collected = pytest_in(tmp_path, "scen", "--collect-only")
    assert "4 tests collected" in collected.stdout, collected.stdout + collected.stderr

    result = pytest_in(tmp_path, "scen", "--hub", fake_hub.url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 3 passed" in result.stdout
    assert "status: expected 418, got 200" in result.stdout


def test_inert_without_paths_and_malformed_file_is_a_collection_error(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    write(GOOD, "tests/good.yaml")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\ntestpaths = tests\nasyncio_default_fixture_loop_scope = function\n"
    )
    assert "no tests collected" in pytest_in(tmp_path, "--collect-only").stdout

    write(GOOD + "    expekt: {}\n", "tests/good.yaml")
    result = pytest_in(tmp_path, "tests", "--collect-only")
    assert result.returncode == 2
    assert "unknown key 'expekt'" in result.stdout and "Traceback" not in result.stdout


def test_a_file_named_on_the_command_line_is_a_scenario_as_with_hub_replay(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    # In a folder a file without `steps:` is skipped; named, it is read, and a typo in
    # its `steps:` is a collection error, as `hub replay FILE` refuses it.
    write(GOOD.replace("steps:", "stpes:"), "scen/typo.yaml")
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
    )
    assert "no tests collected" in pytest_in(tmp_path, "scen", "--collect-only").stdout
    result = pytest_in(tmp_path, "scen/typo.yaml", "--collect-only")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "unknown key 'stpes'" in result.stdout
