"""What each command says when stopped, or given a flag it cannot use: a line naming the
flag, a non-zero exit, and nothing started."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

import connectors
from hub.cli import audit
from hub.cli import main as cli_main
from hub.cli.main import app


def test_ctrl_c_says_the_command_stopped_before_it_finished(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A Ctrl-C in `hub audit verify` or `hub tx synth` ended with status 130 and not a word:
    # nothing told a log or a colleague reading the terminal that the check never finished.
    def interrupted(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(audit, "settings", interrupted)
    monkeypatch.setattr(sys, "argv", ["hub", "audit", "verify"])
    with pytest.raises(SystemExit) as stopped:
        cli_main.main()
    assert stopped.value.code == 130
    err = capsys.readouterr().err
    assert "interrupted (Ctrl-C)" in err and "hub audit verify" in err, err
    assert "Traceback" not in err


def test_connectors_list_has_json() -> None:
    result = CliRunner().invoke(app, ["connectors", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [c["name"] for c in listed] == connectors.names()
    population = next(c for c in listed if c["name"] == "population")
    assert population["subsystem"] == "VN/GOV/BCA/population"
    assert "citizen-lookup" in population["services"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["audit", "public-key", "--file", "MISSING"], "error: --file: cannot read the key (["),
        (["audit", "public-key", "--file", "DIR"], "error: --file: cannot read the key (["),
        (
            ["audit", "check-proof", "DIR/proof.json", "--public-key", "MISSING"],
            "error: --public-key: cannot read the key ([Errno 2]",
        ),
    ],
    ids=["public-key missing", "public-key a folder", "check-proof missing key"],
)
def test_a_key_file_that_cannot_be_read_is_named_with_its_flag(
    args: list[str], said: str, tmp_path: Path
) -> None:
    # `hub audit public-key --file typo.pem` said only "[Errno 2] No such file or directory".
    paths = {"MISSING": str(tmp_path / "typo.pem"), "DIR": str(tmp_path)}
    args = [next((v + a[len(k) :] for k, v in paths.items() if a.startswith(k)), a) for a in args]
    said = said.replace("MISSING", paths["MISSING"]).replace("DIR", paths["DIR"])
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert said in " ".join(result.output.split()), result.output


def test_mock_refuses_a_hub_url_that_is_no_url(monkeypatch: pytest.MonkeyPatch) -> None:
    # The mock started, and each call it made to another agency failed later, at run time.
    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the mock started with a bad --hub-url")

    monkeypatch.setattr(uvicorn, "run", started)
    result = CliRunner().invoke(app, ["mock", "population", "--hub-url", "notaurl"])
    assert result.exit_code == 2, result.output
    assert "--hub-url 'notaurl' must start with http:// or https://" in result.output


def test_up_refuses_a_state_dir_that_is_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each of the four mocks failed on its own ("File exists"), then `hub up` said which
    # stopped first: six lines, exit 1, for one flag given a file.
    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a process started with a bad --state-dir")

    monkeypatch.setattr(subprocess, "Popen", started)
    monkeypatch.setattr(uvicorn, "run", started)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    db = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    result = CliRunner().invoke(app, ["up", "--state-dir", str(a_file), "--db", db])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert f"--state-dir {a_file}: is a file; give a folder" in " ".join(result.output.split())


@pytest.mark.parametrize("args", [["registry", "export"], ["stats", "summary"], ["db", "upgrade"]])
def test_an_empty_db_flag_is_refused_not_taken_for_the_default(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `--db "$URL"` with $URL unset read (or migrated) HUB_DATABASE_URL's database instead.
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    result = CliRunner().invoke(app, [*args, "--db", ""])
    assert result.exit_code == 2, result.output
    assert "--db: empty" in result.output
    assert not (tmp_path / "other.db").exists()


@pytest.mark.parametrize("given", ["yesterday", "-5d"])
def test_keys_issue_says_expires_takes_a_span_too(given: str) -> None:
    # The admin API's advice was all it said ("give e.g. 2030-01-01T00:00:00Z ... or leave
    # it out"), of a flag whose help offers 90d, 12h, 30m and 2w as well.
    result = CliRunner().invoke(
        app, ["keys", "issue", "VN/GOV/BTP/civil-status", "--expires", given]
    )
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert f"--expires: {given!r} is no time: " in said, said
    assert "a span from now such as 90d" in said, said


EXAMPLES = [
    ("tx", "list"),
    ("tx", "show"),
    ("stats", "summary"),
    ("stats", "timeseries"),
    ("stats", "matrix"),
    ("stats", "top"),
    ("stats", "growth"),
    ("registry", "apply"),
    ("keys", "issue"),
    ("audit", "events"),
    ("audit", "proof"),
    ("replay",),
    ("mock",),
]


@pytest.mark.parametrize("path", EXAMPLES, ids=[" ".join(p) for p in EXAMPLES])
def test_the_help_of_a_command_with_many_forms_shows_one_in_use(path: tuple[str, ...]) -> None:
    # Their help listed a dozen options and no command line that combines them.
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = [x.strip(" │") for x in result.output.splitlines()]
    at = next((i for i, x in enumerate(lines) if x.startswith("Example")), None)
    assert at is not None, result.output
    example = " ".join(lines[at : at + 2])  # "Example, what it does:" and the command
    assert f"hub {' '.join(path)} " in example, example


def test_up_on_an_ipv6_host_gives_the_mocks_urls_with_brackets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `hub up --host ::1` built http://::1:8001 for each mock, which the registry refused:
    # "could not prepare the database ...: 4 validation errors for RegistryDoc".
    class Started(Exception):
        pass

    commands: list[list[str]] = []

    def started(cmd: list[str], *_args: object, **_kwargs: object) -> None:
        commands.append(cmd)
        raise Started

    monkeypatch.setattr(subprocess, "Popen", started)
    monkeypatch.setattr("hub.cli.serve.listenable", lambda *_a, **_k: None)
    db = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    env = {"HUB_SIGNING_KEY_FILE": str(tmp_path / "key.pem")}
    args = ["up", "--host", "::1", "--port", "20390", "--db", db]
    handlers = [signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)]
    result = CliRunner().invoke(app, args, env=env)
    # The signals as they were: ignored, SIGTERM was ignored by each process started after.
    assert [signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)] == handlers
    assert "validation error" not in result.output, result.output
    assert isinstance(result.exception, Started), result.output
    hub_url = commands[0][commands[0].index("--hub-url") + 1]
    assert hub_url == "http://[::1]:20390"


def test_mock_on_an_ipv6_host_says_a_url_that_can_be_opened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # It said "on http://::1:8101", which no browser or curl takes.
    monkeypatch.setattr(uvicorn, "run", lambda *_a, **_k: None)
    monkeypatch.setattr("hub.cli.connectors.listenable", lambda *_a, **_k: None)
    result = CliRunner().invoke(app, ["mock", "population", "--host", "::1", "--port", "20391"])
    assert result.exit_code == 0, result.output
    assert "on http://[::1]:20391" in result.output, result.output


def test_hub_up_names_the_hub_command_the_user_can_type(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `make run` starts .venv/bin/hub; its banner said "hub demo credentials", which a shell
    # without the virtualenv answers with "command not found".
    from hub.cli.serve import _hub_command

    venv_bin = tmp_path / "project" / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    hub = venv_bin / "hub"
    hub.write_text("#!/bin/sh\n")
    hub.chmod(0o755)
    monkeypatch.chdir(tmp_path / "project")
    monkeypatch.setattr(sys, "argv", [str(hub), "up"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert _hub_command() == ".venv/bin/hub"
    monkeypatch.setenv("PATH", f"{venv_bin}:/usr/bin:/bin")  # the virtualenv activated
    assert _hub_command() == "hub"
