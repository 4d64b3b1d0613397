"""Settings from HUB_* variables: one rule for a variable set but empty, finite numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.core import settings as settings_module
from hub.core.settings import Settings


def _settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings()


@pytest.mark.parametrize(
    "name",
    [
        "HUB_REDIS_URL",
        "HUB_DEFAULT_QUOTA_RPS",
        "HUB_DEFAULT_QUOTA_PER_DAY",
        "HUB_LOG_WRITER_SOCKET",
    ],
)
def test_an_empty_variable_of_a_setting_that_may_be_unset_leaves_it_unset(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # HUB_REDIS_URL= meant "no Redis" while HUB_DEFAULT_QUOTA_RPS= was refused as no integer.
    s = _settings(monkeypatch, **{name: ""})
    assert getattr(s, name.removeprefix("HUB_").lower()) is None


@pytest.mark.parametrize(
    ("name", "default"),
    [
        ("HUB_ADMIN_TOKEN", "change-me"),
        ("HUB_SECRET_KEY", "change-me"),
        ("HUB_SIGNING_KEY_FILE", "var/signing-key.pem"),
        ("HUB_HOST", "127.0.0.1"),
        ("HUB_PORT", "8000"),
        ("HUB_ENV", "development"),
        ("HUB_DATABASE_URL", "sqlite+aiosqlite:///var/hub.db"),
        ("HUB_GC_FREEZE", "false"),
    ],
)
def test_an_empty_variable_of_a_setting_with_a_default_is_refused_naming_it(
    name: str, default: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty HUB_ADMIN_TOKEN or HUB_SECRET_KEY was taken as the empty string (no admin
    # could ever sign in, keys hashed with no secret); HUB_PORT= said "not an integer".
    with pytest.raises(ValidationError) as caught:
        _settings(monkeypatch, **{name: ""})
    (error,) = caught.value.errors()
    assert error["loc"] == (name.removeprefix("HUB_").lower(),)
    assert "set but empty" in error["msg"] and f"the default ({default})" in error["msg"]


# Secrets production takes: each test changes one of them.
SECRETS = {"HUB_ADMIN_TOKEN": "a" * 24, "HUB_OPERATOR_TOKEN": "o" * 24, "HUB_SECRET_KEY": "s" * 32}


@pytest.mark.parametrize("name", ["HUB_ADMIN_TOKEN", "HUB_OPERATOR_TOKEN", "HUB_SECRET_KEY"])
def test_an_empty_secret_in_production_asks_for_a_secret_not_the_placeholder(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It said "unset it for the default (change-me)", which production refuses in turn.
    with pytest.raises(ValidationError) as caught:
        _settings(monkeypatch, HUB_ENV="production", **{**SECRETS, name: ""})
    (error,) = caught.value.errors()
    assert error["loc"] == (name.removeprefix("HUB_").lower(),)
    assert "set but empty" in error["msg"], error["msg"]
    assert "a secret of at least 16 characters in production" in error["msg"], error["msg"]
    assert "change-me" not in error["msg"], error["msg"]


@pytest.mark.parametrize("env", ["development", "production"])
@pytest.mark.parametrize("name", ["HUB_ADMIN_TOKEN", "HUB_OPERATOR_TOKEN"])
@pytest.mark.parametrize("padded", ["{}\n", "{}\r\n", " {}"])
def test_a_token_with_a_newline_or_blank_at_an_end_is_refused(
    padded: str, name: str, env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A token read from a secret file ends with its newline: the hub started, and refused
    # every request with 401, since no Authorization header can carry it.
    with pytest.raises(ValidationError) as caught:
        _settings(monkeypatch, HUB_ENV=env, **{**SECRETS, name: padded.format("t" * 24)})
    (error,) = caught.value.errors()
    assert error["loc"] == (name.removeprefix("HUB_").lower(),)
    assert "starts or ends with a blank or a newline" in error["msg"], error["msg"]
    assert "remove it" in error["msg"], error["msg"]


@pytest.mark.parametrize("env", ["development", "production"])
@pytest.mark.parametrize("name", ["HUB_ADMIN_TOKEN", "HUB_OPERATOR_TOKEN"])
@pytest.mark.parametrize(
    "token", ["quản-trị-viên-bí-mật-2026", "token-0123456789\x7f", "token-01234\n56789"]
)
def test_a_token_no_authorization_header_can_carry_is_refused(
    token: str, name: str, env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A header's value reaches the hub as bytes read as Latin-1: a token of Vietnamese letters
    # sent in UTF-8 never equalled the one set, and the hub refused it with 401 for ever.
    with pytest.raises(ValidationError) as caught:
        _settings(monkeypatch, HUB_ENV=env, **{**SECRETS, name: token})
    (error,) = caught.value.errors()
    assert error["loc"] == (name.removeprefix("HUB_").lower(),)
    assert "printable ASCII" in error["msg"], error["msg"]
    assert token not in error["msg"]  # a secret is never echoed


def test_a_token_with_a_blank_inside_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "admin token 0123456789"
    assert _settings(monkeypatch, **{**SECRETS, "HUB_ADMIN_TOKEN": token}).admin_token == token


@pytest.mark.parametrize("env", ["development", "production"])
@pytest.mark.parametrize("padded", ["{}\n", "{}\r\n", " {}", "{}\t"])
def test_a_secret_key_with_a_newline_or_blank_at_an_end_is_refused(
    padded: str, env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # HUB_SECRET_KEY read from a file kept its newline, and was taken: the node's key hashes
    # and pseudonyms silently differed from those of a node given the secret without it.
    with pytest.raises(ValidationError) as caught:
        _settings(
            monkeypatch, HUB_ENV=env, **{**SECRETS, "HUB_SECRET_KEY": padded.format("k" * 32)}
        )
    (error,) = caught.value.errors()
    assert error["loc"] == ("secret_key",)
    assert "starts or ends with a blank or a newline" in error["msg"], error["msg"]
    assert "remove it" in error["msg"] and "pseudonyms differ" in error["msg"], error["msg"]
    assert "k" * 32 not in error["msg"]  # a secret is never echoed


def test_a_command_refuses_a_padded_secret_key_in_one_sentence(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from hub.cli.main import app

    env = {"HUB_SECRET_KEY": "k" * 32 + "\n", "HUB_ENV": "development"}
    db = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    result = CliRunner().invoke(app, ["keys", "list", "--db", db], env=env)
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert said.startswith("error: HUB_SECRET_KEY: starts or ends with a blank or a newline")
    assert "k" * 32 not in said and "Traceback" not in said


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql+asyncpg://hub:s3cret@db:abc/hub", "the database URL cannot be read"),
        ("postgresql+asyncpg://hub:s3cret@[::1/hub", "the database URL cannot be read"),
        ("postgresql+asyncpg://hub:s3c@ret@db/hub", "the database URL has more than one @"),
    ],
    ids=["port", "bracket", "at sign"],
)
def test_a_database_url_sqlalchemy_cannot_read_is_one_sentence(
    url: str, said: str, tmp_path: Path
) -> None:
    # A port that was no number was a ValueError traceback from every command; a password's
    # "@" left its end in the host name, which the error printed ("u:***@ret@db").
    from typer.testing import CliRunner

    from hub.cli.main import app

    result = CliRunner().invoke(app, ["registry", "export", "--db", url])
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert out.startswith(f"error: --db: {said}"), out
    assert "Traceback" not in out and "s3c" not in out and "ret@" not in out


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
@pytest.mark.parametrize("name", ["HUB_REGISTRY_REFRESH_S", "HUB_BREAKER_FAILURE_RATIO"])
def test_a_duration_or_ratio_must_be_a_finite_number(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # HUB_REGISTRY_REFRESH_S=inf was taken: the registry never refreshed; nan was refused as
    # "should be less than or equal to 1".
    with pytest.raises(ValidationError, match="finite number"):
        _settings(monkeypatch, **{name: value})


def test_a_hub_variable_that_is_no_setting_is_named_with_the_closest_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # HUB_DATABSE_URL was ignored without a word: the hub ran on the default SQLite file.
    monkeypatch.setattr(settings_module, "_warned", set())
    monkeypatch.setenv("HUB_DATABSE_URL", "postgresql+asyncpg://hub@db/hub")
    monkeypatch.setenv("HUB_ZZZ", "1")
    # The test suite's, and those the hub sets for its own children: not settings, not typos.
    for name in ("HUB_TEST_POSTGRES_URL", "HUB_TEST_ANYTHING", "HUB_PARENT_PID"):
        monkeypatch.setenv(name, "x")
    monkeypatch.setenv("HUB_MOCK_CLIENT_KEY", "hub_x")
    settings_module.warn_unknown_variables()
    settings_module.warn_unknown_variables()  # once a process: `hub serve` loads them twice
    assert capsys.readouterr().err.splitlines() == [
        "warning: HUB_DATABSE_URL is not a hub setting (did you mean HUB_DATABASE_URL?); "
        "it is ignored.",
        "warning: HUB_ZZZ is not a hub setting; it is ignored.",
    ]
    assert Settings().database_url == "sqlite+aiosqlite:///var/hub.db"  # still ignored


def test_every_hub_variable_the_repository_sets_is_a_setting_or_known() -> None:
    # A variable the Dockerfile, CI, bench/, a test or the hub itself sets draws no warning.
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    names: set[str] = set()
    for pattern in (
        "Dockerfile",
        "Makefile",
        ".ci/run",
        "bench/*.py",
        "tests/**/*.py",
        "hub/**/*.py",
    ):
        for path in root.glob(pattern):
            if path.name != "settings.py":  # its examples of what is no setting
                names |= set(re.findall(r"\bHUB_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    names -= {"HUB_PATH", "HUB_ONLY_PREFIXES"}  # Python names: bench/targets.py's, the gateway's
    names -= {"HUB_DATABSE_URL", "HUB_ADMN_TOKEN", "HUB_ZZZ"}  # the tests' typos
    names -= {"HUB_DEFAULT_TIMEOUT_MS", "HUB_DEFAULT_MAX_BODY_BYTES"}  # settings no more
    assert settings_module.unknown_variables(dict.fromkeys(names, "x")) == []


def test_a_kubernetes_service_address_in_hub_port_is_ignored_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Kubernetes gives every pod beside a Service named "hub" HUB_PORT=tcp://IP:PORT: every
    # command, read-only ones included, stopped with "Input should be a valid integer".
    monkeypatch.setattr(settings_module, "_warned", set())
    monkeypatch.setenv("HUB_PORT", "tcp://10.0.0.7:8000")
    settings_module.warn_unknown_variables()
    settings_module.warn_unknown_variables()
    assert capsys.readouterr().err.splitlines() == [
        "warning: HUB_PORT is 'tcp://10.0.0.7:8000', the address Kubernetes gives a pod beside "
        'a Service named "hub", not a port; it is ignored (the hub listens on '
        "`hub serve --port`, 8000 by default)."
    ]
    assert Settings().port == 8000
    assert Settings(port=9000).port == 9000  # a flag still wins


@pytest.mark.parametrize("value", ["abc", "8000x", "tcp://", "http://10.0.0.7:8000"])
def test_a_hub_port_that_is_no_number_is_refused_in_one_sentence(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError) as caught:
        _settings(monkeypatch, HUB_PORT=value)
    (error,) = caught.value.errors()
    assert error["loc"] == ("port",)
    assert error["msg"] == f"Value error, must be a port number from 1 to 65535, not {value!r}"
    assert settings_module.unknown_variables({"HUB_PORT": value}) == []  # refused, not warned


def test_minute_rollup_days_beyond_a_century_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # HUB_MINUTE_ROLLUP_DAYS=800000 was taken: its horizon fell before year 1, and `hub
    # stats` and `hub audit verify` blamed the database ("cannot read the log from ...: date
    # value out of range"), `hub serve` each stats request and prune pass.
    from hub.stats.retention import minute_horizon

    with pytest.raises(ValidationError) as caught:
        _settings(monkeypatch, HUB_MINUTE_ROLLUP_DAYS="800000")
    (error,) = caught.value.errors()
    assert error["loc"] == ("minute_rollup_days",)
    assert "0 keeps them for ever" in error["msg"], error["msg"]
    most = _settings(monkeypatch, HUB_MINUTE_ROLLUP_DAYS="36500").minute_rollup_days
    horizon = minute_horizon(most)
    assert horizon is not None and horizon.year >= 1900


def test_every_setting_is_documented_where_users_look() -> None:
    # HUB_LOG_BATCH_MAX, HUB_SQLITE_BUSY_TIMEOUT_MS, HUB_DEMO_CREDENTIALS and others were
    # read by the hub and named nowhere a user reads: the README and docs/ only.
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    text = (root / "README.md").read_text() + "".join(
        p.read_text() for p in sorted((root / "docs").glob("*.md"))
    )
    missing = [
        "HUB_" + name.upper() for name in Settings.model_fields if "HUB_" + name.upper() not in text
    ]
    assert missing == []


@pytest.mark.parametrize("name", ["HUB_DEFAULT_TIMEOUT_MS", "HUB_DEFAULT_MAX_BODY_BYTES"])
def test_a_service_default_the_hub_never_read_is_warned_about(name: str) -> None:
    # These were settings that nothing read: a service's timeout and body limit come from
    # its registry entry (timeout_ms, max_body_bytes), so setting them quietly did nothing.
    (line,) = settings_module.unknown_variables({name: "5000"})
    assert line.startswith(f"{name} is not a hub setting"), line


@pytest.mark.parametrize(
    "url",
    [
        "redis://:s3cret-pw@127.0.0.1:99999/0",  # a port out of range
        "redis://hub:s3cret-pw@127.0.0.1:abc/0",  # a port that is no number
        "redis//:s3cret-pw@127.0.0.1:6379/0",  # a scheme mistyped
    ],
)
def test_a_refused_redis_url_is_named_without_its_password(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The refusal goes to stderr, a process manager's journal: it printed the URL whole, the
    # password too, where HUB_DATABASE_URL's is masked. (The sentence is what the commands
    # print: hub/cli/common.py, settings.)
    with pytest.raises(ValidationError) as caught:
        _settings(monkeypatch, HUB_REDIS_URL=url)
    said = " ".join(str(e["msg"]) for e in caught.value.errors())
    assert "s3cret-pw" not in said, said
    assert ":***@127.0.0.1" in said, said
