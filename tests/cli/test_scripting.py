"""What scripts read from `hub`: stdout holds the answer alone, notes and progress go to stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from hub.cli.main import app


def test_synth_progress_stays_off_stdout(tmp_path: Path) -> None:
    # The progress bar was drawn on stdout: piped or redirected, it left a blank line
    # before the sentence a script reads (`hub tx synth ... > load.log`).
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    env = {"HUB_ENV": "development"}
    made = CliRunner().invoke(app, ["tx", "synth", "--records", "50", "--db", url], env=env)
    assert made.exit_code == 0, made.output
    lines = made.stdout.splitlines()
    assert len(lines) == 1, made.stdout
    assert lines[0].startswith("added 50 records over 30 days in "), made.stdout


# What `hub tx list --limit 1000 --json` and the other --json commands do with a long answer.
WRITES = """
import sys
from rich.console import Console
from hub.stats.output import emit
items = [{"seq": n, "path": "/citizens/" + "x" * 60} for n in range(10000)]
try:
    emit({"items": items}, [], ["seq"], title="", as_json=True, as_csv=False, console=Console())
    sys.stdout.flush()
except BrokenPipeError:
    print("reader gone", file=sys.stderr)
else:
    print("written whole", file=sys.stderr)
"""


def test_a_json_answer_cut_short_by_its_reader_is_no_success() -> None:
    # `hub tx list --limit 1000 --json | head -c 10` exited 0, as if its 700 kB were written:
    # Python's buffered stdout answers a write the pipe took only 64 kB of with that count and
    # drops the rest, raising nothing. A reader gone is exit 1 (README), as with `--csv`; a
    # full disk, an error, and not a file cut short with exit 0.
    with subprocess.Popen(
        [sys.executable, "-c", WRITES], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as writer:
        assert writer.stdout is not None and writer.stderr is not None
        assert writer.stdout.read(10) == b'{\n  "items'
        writer.stdout.close()
        said = writer.stderr.read().decode()
        assert writer.wait() == 0, said
    assert said == "reader gone\n", said


def test_tx_show_of_an_empty_id_is_a_usage_error(tmp_path: Path) -> None:
    # `hub tx show "$ID"` with $ID unset said "no transaction has ... ''", exit 1: as if
    # looked for and missing, where a script checks for 1 to mean "not there".
    db = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    assert CliRunner().invoke(app, ["db", "upgrade", "--db", db]).exit_code == 0
    assert CliRunner().invoke(app, ["tx", "show", "nothing-such", "--db", db]).exit_code == 1
    result = CliRunner().invoke(app, ["tx", "show", " ", "--db", db])
    assert result.exit_code == 2, result.output
    assert "got an empty one" in result.output
