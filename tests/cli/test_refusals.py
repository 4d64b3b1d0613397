"""Commands given what they cannot use (a database they cannot open, a port out of range)
say so and stop, without a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
import uvicorn
from typer.testing import CliRunner

import connectors
from hub.cli.main import app
from hub.txlog.signing import Signer
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE = "postgresql+asyncpg://nobody@127.0.0.1:1/hub"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["registry", "export", "--db", "nodriver://x"], 2),  # no driver of the hub's: input
        (["registry", "export", "--db", UNREACHABLE], 1),
        (["demo", "credentials", "--db", UNREACHABLE], 1),
        (["db", "upgrade", "--db", "nodriver://x"], 2),
        (["stats", "summary", "--db", UNREACHABLE], 1),
    ],
    ids=["registry bad url", "registry unreachable", "demo", "db upgrade", "stats"],
)
def test_unopenable_database_is_a_message_not_a_traceback(args: list[str], code: int) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught error
    assert "error:" in result.output and (
        "database" in result.output or "migrate" in result.output or "statistics" in result.output
    )
    assert "Background on this error" not in result.output  # one line, no SQLAlchemy link


def test_a_database_password_is_never_printed() -> None:
    url = "postgresql+asyncpg://someone:s3cret-pw@127.0.0.1:1/hub"
    for args in (["db", "upgrade", "--db", url], ["stats", "summary", "--db", url]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1 and "s3cret-pw" not in result.output, result.output
        assert "someone:***@" in result.output


GOOD_ENV = {"HUB_DATABASE_URL": "sqlite+aiosqlite:///:memory:"}
PRODUCTION = {
    "HUB_ENV": "production",
    "HUB_ADMIN_TOKEN": "a" * 20,
    "HUB_OPERATOR_TOKEN": "o" * 20,
    "HUB_SECRET_KEY": "s" * 20,
}


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"HUB_TIMEZONE": "Mars/Olympus"}, "HUB_TIMEZONE: unknown time zone 'Mars/Olympus'"),
        ({"HUB_REDIS_URL": "notaurl"}, "HUB_REDIS_URL: 'notaurl' is no Redis URL"),
        ({"HUB_MAX_HEADER_BYTES": "-1"}, "HUB_MAX_HEADER_BYTES: Input should be greater"),
        ({"HUB_DEFAULT_QUOTA_RPS": "0"}, "HUB_DEFAULT_QUOTA_RPS: Input should be greater"),
        ({"HUB_BREAKER_FAILURE_RATIO": "2"}, "HUB_BREAKER_FAILURE_RATIO: Input should be less"),
        ({"HUB_LOG_BATCH_MAX": "0"}, "HUB_LOG_BATCH_MAX: Input should be greater"),
        ({"HUB_DATABASE_URL": "postgresql://x/y"}, "use sqlite+aiosqlite:///PATH or postgresql"),
        ({"HUB_SIGNING_KEY_FILE": "GARBAGE"}, "cannot load the signing key"),
        ({**PRODUCTION, "HUB_SIGNING_KEY_FILE": "MISSING"}, "the hub makes no new key"),
        ({"HUB_REDIS_URL": "redis://127.0.0.1:notaport/11"}, "port must be a number from 1"),
        ({"HUB_REDIS_URL": "redis://127.0.0.1:99999/11"}, "port must be a number from 1"),
        ({"HUB_REDIS_URL": "redis://127.0.0.1:6379/abc"}, "database must be a number"),
        ({**PRODUCTION, "HUB_OPERATOR_TOKEN": "a" * 20}, "must differ in production"),
        ({**PRODUCTION, "HUB_SECRET_KEY": " " * 20}, "HUB_SECRET_KEY must be set to a secret"),
        ({"HUB_LOG_BATCH_MAX": "many"}, "HUB_LOG_BATCH_MAX: Input should be a valid integer"),
        ({"HUB_LOG_BATCH_MAX": "many"}, "unable to parse string as an integer (it is 'many')"),
        ({"HUB_SECRET_KEY": ""}, "HUB_SECRET_KEY: set but empty; give a value, or unset it"),
    ],
    ids=[
        "zone",
        "redis",
        "header limit",
        "quota",
        "ratio",
        "batch",
        "driver",
        "key",
        "no key",
        "redis port",
        "redis port range",
        "redis db",
        "same tokens",
        "blank secret",
        "not a number",
        "what it is",
        "empty secret",
    ],  # fmt: skip
)
def test_hub_serve_refuses_a_bad_setting_in_one_line(
    env: dict[str, str], said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each of these was a traceback from every worker (uvicorn restarting them for ever), or
    # a hub that started and then refused every exchange.
    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the hub started with a bad setting")

    monkeypatch.setattr(uvicorn, "run", started)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("garbage")
    paths = {"GARBAGE": str(garbage), "MISSING": str(tmp_path / "typo-key.pem")}
    env = {**GOOD_ENV, **{k: paths.get(v, v) for k, v in env.items()}}
    result = CliRunner().invoke(app, ["serve", "--no-migrate"], env=env)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert said in " ".join(result.output.split()), result.output
    assert not (tmp_path / "typo-key.pem").exists()  # no key made in its place


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["serve", "--port", "70000"], "less than or equal to 65535"),
        (["mock", "population", "--port", "99999"], "less than or equal to 65535"),
        (["up", "--port", "0"], "greater than or equal to 1"),
        # (The mocks are the connectors found: one scaffolded into the project is one more.)
        (["up", "--port", "65534"], f"pick {65535 - len(connectors.names())} or lower"),
        # Each mock said "size must be between 1 and 1000000, got 0", and `hub up` then
        # printed the command line of the first to exit.
        (["up", "--size", "0"], "'--size': Input should be greater than or equal to 1"),
    ],
    ids=["serve", "mock", "up zero", "up no room for the mocks", "up size"],
)
def test_a_port_out_of_range_is_refused_before_anything_starts(
    args: list[str], said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel keeps a port's low 16 bits: --port 99999 listened on 34463 and said 99999,
    # and `up --port 65534` ended in an OverflowError from its port check.
    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a server started on a port out of range")

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.setattr(uvicorn.Server, "run", started)
    monkeypatch.setattr(subprocess, "Popen", started)
    result = CliRunner().invoke(
        app, [*args], env={"HUB_DATABASE_URL": "sqlite+aiosqlite:///:memory:"}
    )
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert said in " ".join(result.output.split()), result.output


READ_ONLY = [
    ["stats", "summary"],
    ["stats", "timeseries"],
    ["tx", "list"],
    ["tx", "show", "abc"],
    ["audit", "verify", "--no-signatures"],
    ["registry", "export"],
    ["demo", "credentials"],
]
READ_ONLY_IDS = [" ".join(a[:2]) for a in READ_ONLY]


@pytest.mark.parametrize("args", READ_ONLY, ids=READ_ONLY_IDS)
def test_a_missing_sqlite_file_is_named_and_not_created(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Connecting made the file (and the engine its folder): a typo in --db left an empty
    # database behind, and the error blamed its schema or showed the SQL.
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    typo = tmp_path / "nowhere" / "typo.db"
    result = CliRunner().invoke(app, [*args, "--db", f"sqlite+aiosqlite:///{typo}"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    said = " ".join(result.output.split())
    assert f"no database at {typo}" in said and "--db or HUB_DATABASE_URL" in said
    assert not typo.parent.exists()


@pytest.mark.parametrize("args", READ_ONLY[:3], ids=READ_ONLY_IDS[:3])
def test_the_default_database_is_not_created_by_a_read(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "no database at" in result.output
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        # The wrong database given, exit 2 everywhere (`hub tx` and `hub stats` said 1).
        (["stats", "summary"], 2),
        (["tx", "list"], 2),
        (["tx", "show", "abc"], 2),
        (["audit", "verify", "--no-signatures"], 2),  # its exit 1 means a tampered log
        (["audit", "proof", "abc"], 2),
    ],
    ids=["stats", "tx list", "tx show", "audit verify", "audit proof"],
)
def test_an_empty_database_says_to_upgrade_without_sql(
    args: list[str], code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    empty = tmp_path / "empty.db"
    empty.touch()
    result = CliRunner().invoke(app, [*args, "--db", f"sqlite+aiosqlite:///{empty}"])
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    said = " ".join(result.output.split())
    assert "has no hub tables: run `hub db upgrade` first" in said
    assert "SELECT" not in said and "[SQL" not in said


def test_hub_serve_on_a_taken_port_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # uvicorn's own refusal was "ERROR: [Errno 98] ... address already in use", and exit 3.
    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the hub started on a port that is taken")

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.chdir(tmp_path)  # a key or database made by mistake lands here
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        # (None: unset during the run, and what `hub serve` sets there is undone after it.)
        env = {**GOOD_ENV, "HUB_PORT": None, "HUB_HOST": None, "HUB_GC_FREEZE": None}
        result = CliRunner().invoke(app, ["serve", "--port", str(port)], env=env)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    said = " ".join(result.output.split())
    assert f"error: port {port} on 127.0.0.1 is in use" in said and "with --port" in said
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert not list(tmp_path.iterdir())  # checked before a key was made


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["stats", "summary", "--db", "notaurl"], {}, "error: --db: the database URL"),
        (["stats", "summary"], {"HUB_DATABASE_URL": "notaurl"}, "error: HUB_DATABASE_URL: the"),
        (["registry", "export", "--db", "notaurl"], {}, "error: --db: the database URL"),
        (["audit", "verify", "--db", "notaurl"], {}, "error: --db: the database URL"),
        (["db", "upgrade", "--db", "notaurl"], {"HUB_DATABASE_URL": "x"}, "error: --db: the"),
    ],
    ids=["flag", "variable", "registry", "audit", "flag over variable"],
)
def test_a_bad_database_url_is_blamed_on_where_it_came_from(
    args: list[str], env: dict[str, str], said: str
) -> None:
    # A --db value was reported as "HUB_DATABASE_URL: ...", a variable the user never set.
    result = CliRunner().invoke(app, args, env={"HUB_DATABASE_URL": None, **env})
    assert result.exit_code == 2, result.output
    assert result.output.startswith(said), result.output
    assert "starts with 'notaurl'" in result.output
    assert ("HUB_DATABASE_URL" in result.output) == ("--db" not in args), result.output


@pytest.mark.parametrize("command", ["up", "serve"])
@pytest.mark.parametrize(
    ("value", "said"),
    [("", "error: HUB_PORT: set but empty"), ("abc", "error: HUB_PORT: must be a port number")],
)
def test_a_bad_hub_port_is_blamed_on_the_variable_when_no_flag_was_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, value: str, said: str
) -> None:
    # `HUB_PORT= hub up` said "error: --port: set but empty", naming a flag never given.
    monkeypatch.chdir(tmp_path)
    env = {"HUB_DATABASE_URL": None, "HUB_PORT": value, "HUB_HOST": None, "HUB_GC_FREEZE": None}
    result = CliRunner().invoke(app, [command], env=env)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(said), result.output
    assert "--port" not in result.output, result.output
    assert not list(tmp_path.iterdir())  # refused before a database or key was made


def test_hub_serve_refuses_a_database_it_cannot_run_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.core.migrate import upgrade

    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the hub started on a database it cannot run on")

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.chdir(tmp_path)
    old = tmp_path / "old.db"
    upgrade(f"sqlite+aiosqlite:///{old}", "0006")
    key = tmp_path / "key.pem"
    Signer.from_file(str(key), create=True)
    cases = [
        # --no-migrate on an older schema: each worker's startup failed with a traceback.
        ({"HUB_DATABASE_URL": f"sqlite+aiosqlite:///{old}"}, ["--no-migrate"],
         "is at revision 0006 and this hub needs"),
        ({"HUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/none.db"}, ["--no-migrate"],
         "there is no database at"),
        # In production a typo in the path made a new, empty database and a new chain.
        ({**PRODUCTION, "HUB_SIGNING_KEY_FILE": str(key),
          "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/typo/hub.db"}, [],
         "there is no database at"),
    ]  # fmt: skip
    for env, args, said in cases:
        result = CliRunner().invoke(app, ["serve", "--port", str(free_port()), *args], env=env)
        assert result.exit_code == 2, result.output
        assert said in " ".join(result.output.split()), result.output
    assert not (tmp_path / "none.db").exists() and not (tmp_path / "typo").exists()


@pytest.mark.parametrize(
    "command", [["registry", "export"], ["demo", "credentials"], ["keys", "list"]]
)
def test_commands_that_only_read_never_migrate(tmp_path: Path, command: list[str]) -> None:
    import sqlite3

    from hub.core.migrate import upgrade

    old = tmp_path / "old.db"
    upgrade(f"sqlite+aiosqlite:///{old}", "0006")
    env = {"HUB_DATABASE_URL": f"sqlite+aiosqlite:///{old}", "HUB_ENV": "development"}
    result = CliRunner().invoke(app, command, env=env)
    assert result.exit_code == 2, result.output
    assert "is at revision 0006 and this hub needs" in " ".join(result.output.split())
    with sqlite3.connect(old) as db:  # the backup before an upgrade is left as it was
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("0006",)


def test_a_mistyped_variable_is_named_before_what_it_causes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # HUB_ADMN_TOKEN was ignored without a word: the refusal named a variable that was "set".
    monkeypatch.setattr("hub.core.settings._warned", set())
    env = {**PRODUCTION, "HUB_ADMIN_TOKEN": None, "HUB_ADMN_TOKEN": "a" * 20,
           "HUB_TEST_ANYTHING": "1", "HUB_PARENT_PID": "1"}  # fmt: skip
    result = CliRunner().invoke(app, ["stats", "summary"], env=env)
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines()[0] == (
        "warning: HUB_ADMN_TOKEN is not a hub setting (did you mean HUB_ADMIN_TOKEN?); "
        "it is ignored."
    )
    said = " ".join(result.stderr.split())
    assert said.count("warning:") == 1 and "error: HUB_ADMIN_TOKEN must be set" in said


def test_a_kubernetes_hub_port_leaves_commands_that_only_read_working(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every pod beside a Service named "hub" has HUB_PORT=tcp://IP:PORT: `hub stats`,
    # `hub tx list` and `hub registry export` all stopped at "Input should be a valid integer".
    from hub.core.migrate import upgrade

    monkeypatch.setattr("hub.core.settings._warned", set())
    db = tmp_path / "hub.db"
    upgrade(f"sqlite+aiosqlite:///{db}")
    env = {"HUB_DATABASE_URL": f"sqlite+aiosqlite:///{db}", "HUB_PORT": "tcp://10.0.0.7:8000"}
    said = ""
    for command in (["stats", "summary"], ["tx", "list"], ["registry", "export"]):
        result = CliRunner().invoke(app, command, env=env)
        assert result.exit_code == 0, result.output
        said += " ".join(result.stderr.split())
    assert said == (  # once a process
        "warning: HUB_PORT is 'tcp://10.0.0.7:8000', the address Kubernetes gives a pod beside "
        'a Service named "hub", not a port; it is ignored (the hub listens on `hub serve '
        "--port`, 8000 by default)."
    )
    result = CliRunner().invoke(app, ["stats", "summary"], env={**env, "HUB_PORT": "abc"})
    assert result.exit_code == 2
    assert "HUB_PORT: must be a port number from 1 to 65535, not 'abc'" in result.stderr


@pytest.fixture(scope="module")
def unfit_databases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A database of each kind a command that only reads cannot use, made once."""
    import sqlite3

    from hub.core.migrate import upgrade

    where = tmp_path_factory.mktemp("unfit")
    made = {kind: where / f"{kind}.db" for kind in ("never", "older", "newer")}
    with sqlite3.connect(made["never"]) as db:  # never migrated: no table at all
        db.execute("PRAGMA journal_mode = WAL")  # as the hub opens it, so reads change nothing
    upgrade(f"sqlite+aiosqlite:///{made['older']}", "0006")
    upgrade(f"sqlite+aiosqlite:///{made['newer']}")
    with sqlite3.connect(made["newer"]) as db:
        db.execute("UPDATE alembic_version SET version_num = '0099'")  # a newer hub's
    return made


READERS = [
    ["stats", "summary"], ["stats", "timeseries"], ["stats", "matrix"], ["stats", "top"],
    ["stats", "growth"], ["tx", "list"], ["tx", "show", "x"],
    ["audit", "verify", "--no-signatures"], ["audit", "proof", "x"], ["registry", "export"],
    ["keys", "list"],
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("never", "has no hub tables: run `hub db upgrade` first"),
        ("older", "is at revision 0006 and this hub needs"),
        ("newer", "is at revision 0099, which this hub does not know"),
    ],
)
@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_commands_that_only_read_refuse_a_database_not_at_this_hubs_revision(
    command: list[str], kind: str, said: str, unfit_databases: dict[str, Path]
) -> None:
    # An older or a newer hub's database was read as if it were this hub's (exit 0, figures
    # from tables another schema fills), and an empty one failed on whichever table came first.
    import sqlite3

    path = unfit_databases[kind]
    before = path.read_bytes()
    result = CliRunner().invoke(app, [*command, "--db", f"sqlite+aiosqlite:///{path}"])
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.output.split()), result.output
    assert result.output.count("error:") == 1 and "Traceback" not in result.output
    assert path.read_bytes() == before  # read, never migrated
    if kind != "never":
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT version_num FROM alembic_version").fetchone()[0] in said


def test_a_command_run_with_its_output_closed_stops_with_its_message(tmp_path: Path) -> None:
    # `hub replay ... >&-`: the first socket took descriptor 1, and uvloop's libuv aborted
    # the process when it closed it (SIGABRT, "uv__close: Assertion `fd > STDERR_FILENO'").
    port = free_port()
    cmd = [
        str(Path(sys.executable).parent / "hub"),
        "replay",
        str(ROOT / "scenarios" / "bank-ekyc.yaml"),
    ]
    proc = subprocess.run(
        [*cmd, "--hub", f"http://127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
        pass_fds=(),
        preexec_fn=lambda: os.close(1),  # noqa: PLW1509 (no threads in the child yet)
    )
    assert proc.returncode == 2, proc.stderr
    assert f"cannot reach the hub at http://127.0.0.1:{port}" in proc.stderr
    assert "Assertion" not in proc.stderr


def test_a_signing_key_of_another_kind_is_named_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "HUB_SIGNING_KEY_FILE X: cannot load the signing key (X is not an Ed25519 private key)"
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the hub started with a bad setting")

    monkeypatch.setattr(uvicorn, "run", started)
    key = tmp_path / "rsa.pem"
    key.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    env = {**GOOD_ENV, "HUB_SIGNING_KEY_FILE": str(key)}
    result = CliRunner().invoke(app, ["serve", "--no-migrate"], env=env)
    assert result.exit_code == 2, result.output
    said = "".join(result.output.split())  # the path may be wrapped at any character
    assert said == (
        f"error:HUB_SIGNING_KEY_FILE:cannotloadthesigningkey:{key}isnotanEd25519privatekey"
    ), result.output


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--error-rate", "2"], "error: --error-rate must be less than or equal to 1 (got 2.0)\n"),
        (["--error-status", "200"], "error: --error-status must be greater than or equal to 400"),
        (["--latency-ms", "nan"], "error: --latency-ms must be a finite number (got nan)\n"),
        (
            ["--error-rate", "0.6", "--timeout-rate", "0.5"],
            "error: --reset-rate + --timeout-rate + --error-rate + --malformed-rate must be <= 1\n",
        ),
    ],
    ids=["rate", "status", "nan", "sum"],
)
def test_a_mock_fault_out_of_range_is_one_sentence_naming_the_option(
    args: list[str], said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It was pydantic's report: "1 validation error for FaultConfig", the field's name (not
    # the option's), the input's Python type and a link to pydantic's docs.
    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a mock started with a fault out of range")

    monkeypatch.setattr(uvicorn, "run", started)
    result = CliRunner().invoke(app, ["mock", "population", "--size", "10", *args])
    assert result.exit_code == 2, result.output
    assert said in result.output
    assert "pydantic" not in result.output and "FaultConfig" not in result.output


def test_hub_up_names_the_mock_agency_that_did_not_start(tmp_path: Path) -> None:
    # It printed the Popen's argument list: "a mock agency exited early (code 2): ['/…/python3',
    # '-m', 'hub', 'mock', 'land', '--port', …]".
    from hub.cli.serve import _wait_healthy

    procs = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]),
        subprocess.Popen([sys.executable, "-c", "raise SystemExit(2)"]),
    ]
    procs[1].wait()
    urls = {"population": f"http://127.0.0.1:{free_port()}", "land": "http://127.0.0.1:1"}
    try:
        result = CliRunner().invoke(typer_app(lambda: _wait_healthy(urls, procs)), [])
    finally:
        procs[0].kill()
        procs[0].wait()
    said = " ".join(result.output.split())
    assert result.exit_code == 1, said
    assert "the land mock agency stopped (exit status 2) before it was ready" in said, said
    assert "python" not in said


def typer_app(body: Callable[[], None]) -> typer.Typer:
    one = typer.Typer()
    one.command()(body)
    return one


@pytest.mark.parametrize(
    ("tls", "said"),
    [
        (["--ssl-keyfile", "KEY"], "--ssl-keyfile and --ssl-ca-certs need --ssl-certfile"),
        (["--ssl-ca-certs", "CA"], "--ssl-keyfile and --ssl-ca-certs need --ssl-certfile"),
        (["--ssl-certfile", "MISSING"], "--ssl-certfile MISSING: No such file or directory"),
        (["--ssl-certfile", "CERT"], "--ssl-certfile CERT: no private key in it"),
        (["--ssl-certfile", "CERT", "--ssl-keyfile", "GARBAGE"], "--ssl-keyfile GARBAGE: not a"),
        (
            ["--ssl-certfile", "CERT", "--ssl-keyfile", "KEY", "--ssl-ca-certs", "MISSING"],
            "--ssl-ca-certs MISSING: No such file or directory",
        ),
    ],
    ids=["key alone", "ca alone", "no cert file", "no key", "bad key", "no ca file"],
)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_hub_serve_refuses_tls_files_it_cannot_use(
    tls: list[str], said: str, workers: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A key or CA bundle without a certificate was ignored: plain HTTP, no mutual TLS. A file
    # it could not load said "cannot write the output: [SSL] PEM lib (_ssl.c:3905)", and with
    # --workers 2 each worker failed and was started again, for ever, silently.
    from tests.security.certs import CA

    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the hub started with TLS files it cannot use")

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.setattr("hub.cli.listen.Supervisor.run", started)
    ca = CA(tmp_path)
    cert, key, _ = ca.issue("hub", "127.0.0.1", server=True)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("garbage")
    paths = {
        "KEY": str(key),
        "CA": str(ca.path),
        "CERT": str(cert),
        "GARBAGE": str(garbage),
        "MISSING": str(tmp_path / "missing.pem"),
    }
    args = [paths.get(a, a) for a in tls]
    result = CliRunner().invoke(
        app,
        ["serve", "--no-migrate", "--port", str(free_port()), "--workers", workers, *args],
        env=GOOD_ENV,
    )
    for placeholder, path in paths.items():
        said = said.replace(placeholder, path)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert said in " ".join(result.output.split()), result.output


@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve", "--port", "1"], ["up"]])
def test_a_sqlite_path_that_cannot_be_opened_says_what_to_check(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite's own "unable to open database file" named neither the folder nor the -wal file.
    monkeypatch.setattr("hub.cli.serve.listenable", lambda *_args: None)
    result = CliRunner().invoke(app, [*command, "--db", f"sqlite+aiosqlite:///{tmp_path}"])
    said = " ".join(result.output.split())
    assert result.exit_code == 1, said
    assert "unable to open database file (it must be a SQLite file, or none yet" in said, said


@pytest.mark.parametrize("command", ["serve", "up"])
def test_an_empty_host_is_refused_naming_the_flag(command: str) -> None:
    # `hub serve --host ""` listened on every interface; refused, it named HUB_HOST.
    result = CliRunner().invoke(app, [command, "--host", ""], env=GOOD_ENV)
    said = " ".join(result.output.split())
    assert result.exit_code == 2, said
    assert "error: --host: set but empty" in said, said


@pytest.mark.parametrize("url", ["sqlite+aiosqlite:///:memory:", "sqlite+aiosqlite://"])
@pytest.mark.parametrize("command", ["serve", "up"])
def test_an_in_memory_database_is_refused_by_the_servers(
    command: str, url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each connection has its own in-memory database: the migrated one was not the one the
    # app read ("no such table: registry_version", two tracebacks, exit 3).
    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the hub started on an in-memory database")

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.setattr(subprocess, "Popen", started)
    monkeypatch.chdir(tmp_path)
    env = {"HUB_PORT": None, "HUB_HOST": None, "HUB_GC_FREEZE": None}
    result = CliRunner().invoke(app, [command, "--port", "18990", "--db", url], env=env)
    said = " ".join(result.output.split())
    assert result.exit_code == 2, said
    assert "in-memory SQLite database" in said and "give a file" in said, said


@pytest.mark.parametrize(
    "command",
    [["db", "upgrade"], ["registry", "export"], ["stats", "summary"], ["keys", "list"],
     ["tx", "synth", "--records", "10"], ["audit", "verify"]],
    ids=" ".join,
)  # fmt: skip
def test_an_in_memory_database_is_refused_by_every_command(command: list[str]) -> None:
    # `hub db upgrade` migrated a database gone with its connection, then said "is at
    # revision None, past 0011"; the others said to run `hub db upgrade`, which said so.
    url = "sqlite+aiosqlite:///:memory:"
    result = CliRunner().invoke(app, [*command, "--db", url], env={"HUB_ENV": "development"})
    said = " ".join(result.output.split())
    assert result.exit_code == 2, said
    assert "in-memory SQLite database" in said and "give a file" in said, said
    assert "revision None" not in said and "hub db upgrade" not in said, said


def test_audit_verify_names_the_key_that_cannot_be_read(tmp_path: Path) -> None:
    # A --public-key that could not be read said "cannot load the signing key (...); pass
    # --public-key or --no-signatures" to the operator who had passed one.
    from hub.core.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    upgrade(url)
    absent = tmp_path / "auditor.pub.pem"
    result = CliRunner().invoke(app, ["audit", "verify", "--public-key", str(absent), "--db", url])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, said
    assert said.startswith("error: --public-key: cannot read the key ("), said
    assert str(absent) in said and "pass --public-key" not in said, said
    env = {"HUB_SIGNING_KEY_FILE": str(absent)}
    result = CliRunner().invoke(app, ["audit", "verify", "--db", url], env=env)
    said = " ".join(result.output.split())
    assert result.exit_code == 2, said
    assert said.startswith("error: HUB_SIGNING_KEY_FILE: cannot load the signing key"), said
    assert "pass --public-key or --no-signatures" in said, said


def test_hub_mock_on_a_taken_port_says_so_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # uvicorn's own refusal came after the "permits ... on http://..." line, as
    # "ERROR: [Errno 98] ... address already in use", and exit 3.
    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a mock started on a port that is taken")

    monkeypatch.setattr(uvicorn, "run", started)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = CliRunner().invoke(app, ["mock", "insurance", "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    said = " ".join(result.output.split())
    assert f"error: port {port} on 127.0.0.1 is in use" in said and "with --port" in said
    assert len(result.output.strip().splitlines()) == 1, result.output


@pytest.mark.parametrize("command", ["serve", "up"])
def test_hub_port_and_hub_host_are_where_the_servers_listen_without_flags(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # HUB_PORT and HUB_HOST are settings, but the flags' own defaults (8000, 127.0.0.1)
    # always won: `HUB_PORT=9000 hub serve` listened on 8000. Here the port HUB_PORT names is
    # taken, so a server that reads it stops there, before anything starts.
    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the hub started elsewhere than HUB_PORT")

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.setattr(subprocess, "Popen", started)
    monkeypatch.chdir(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {
            "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}",
            "HUB_PORT": str(port),
            "HUB_HOST": "127.0.0.1",
            "HUB_GC_FREEZE": None,
        }
        result = CliRunner().invoke(app, [command], env=env)
    said = " ".join(result.output.split())
    assert result.exit_code == 2, said
    assert f"error: port {port} on 127.0.0.1 is in use" in said, said
    # `make run` is `hub up` with no flags: the way out it names is the variable too.
    assert "pick another with --port or HUB_PORT" in said, said
