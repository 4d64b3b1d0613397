"""Settings of the hub, read from ``HUB_*`` environment variables and flags."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hub.core.hints import did_you_mean

PLACEHOLDER = "change-me"
MINUTE_DAYS_MAX = 36500  # HUB_MINUTE_ROLLUP_DAYS: a century
DRIVERS = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
# What Kubernetes sets HUB_PORT to in every pod beside a Service named "hub" (its Docker
# links form, tcp://10.0.0.7:8000): no setting of the operator's, so no reason to stop.
SERVICE_LINK = re.compile(r"^tcp://[^/:]+:\d+$")


# A URL's password: after "scheme://user:" up to the last "@" before the path, so that one
# typed with a bare "@" (p@ss) is masked whole, not cut at its first "@" to show the rest.
_PASSWORD = re.compile(r"^([A-Za-z][\w+.-]*://[^:/?#@]*:)[^/?#]*@")
# In what is no URL ("redis//:pw@host", a refused setting), any ":...@" with no "/" in it.
_LOOSE_PASSWORD = re.compile(r":[^:@/]*@")


def masked_url(url: str) -> str:
    """A database or Redis URL fit to print (stderr is a process manager's journal): as
    given, its password as ``***``."""
    masked, found = _PASSWORD.subn(r"\1***@", url, count=1)
    return masked if found else _LOOSE_PASSWORD.sub(":***@", url, count=1)


class Settings(BaseSettings):
    """Everything the hub can be told; one instance per app."""

    # No inf or nan: a refresh interval of inf never refreshed, and nan compares false with
    # every bound, so its refusal named the wrong one.
    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore", allow_inf_nan=False)

    env: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///var/hub.db"
    admin_token: str = PLACEHOLDER
    operator_token: str = PLACEHOLDER
    # Keys API keys are hashed with and personal identifiers are pseudonymised with.
    secret_key: str = PLACEHOLDER
    # Ed25519 private key (PEM path) that signs each committed log batch; generated under var/
    # in development when missing.
    signing_key_file: str = "var/signing-key.pem"
    redis_url: str | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    # Transaction log group commit.
    log_batch_max: int = Field(default=1000, ge=1)
    # Turns of the event loop a batch stays open while records keep arriving (LogWriter).
    log_linger_rounds: int = Field(default=8, ge=0)
    log_queue_max: int = Field(default=50_000, ge=1)
    # Unix socket of a log writer process (hub/txlog/service.py); `hub serve` starts one and
    # sets this. Unset: the writer runs inside the process, as in tests and `hub up`.
    log_writer_socket: str | None = None
    # Directory where the workers of `hub serve --workers N` listen for each other
    # (hub/core/workers.py); `hub serve` makes it and sets this. Unset: one process alone.
    workers_dir: str | None = None
    # Move every object alive after startup out of the garbage collector's sight
    # (`gc.freeze()`); `hub serve` and `hub up` turn it on, see hub/app.py.
    gc_freeze: bool = False

    # Gateway limits.
    # (A service's timeout and body limit are its registry entry's: timeout_ms, max_body_bytes.)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    metrics_client_label: bool = True
    registry_refresh_s: float = Field(default=2.0, gt=0)

    # Days per-minute statistics rollups are kept (hours and days for ever); 0 keeps them.
    minute_rollup_days: int = Field(default=35, ge=0)

    # Provider health checks and circuit breaker.
    health_interval_s: float = Field(default=10.0, gt=0)
    breaker_window_s: float = Field(default=30.0, gt=0)
    breaker_min_requests: int = Field(default=20, ge=1)
    breaker_failure_ratio: float = Field(default=0.5, gt=0, le=1)
    breaker_open_s: float = Field(default=10.0, gt=0)

    # Quotas of clients whose subsystem sets none (None: unlimited); shared through Redis
    # when redis_url is set.
    default_quota_rps: int | None = Field(default=None, ge=1)
    default_quota_per_day: int | None = Field(default=None, ge=1)
    # How long the API's reads and registry writes wait on a locked SQLite database (the log
    # writer waits LOCK_WAIT_S, hub/txlog/sqlite.py, before an exchange is refused).
    sqlite_busy_timeout_ms: int = Field(default=30_000, ge=0)

    demo_credentials: bool = Field(default=True)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset_or_refused(cls, value: object, info: ValidationInfo) -> object:
        """One rule for a variable set but empty (``HUB_X=``, as env files and templates
        leave them): a setting that may be unset (no default, like HUB_REDIS_URL) is unset;
        any other is refused, since a blank token, secret, path or port is never meant."""
        if value != "" or info.field_name is None:
            return value
        default = cls.model_fields[info.field_name].default
        if default is None:
            return None
        if default == PLACEHOLDER and info.data.get("env") == "production":
            # Its default is refused there too (see below): ask for what is accepted.
            raise ValueError("set but empty; give a secret of at least 16 characters in production")
        shown = str(default).lower() if isinstance(default, bool) else default
        raise ValueError(f"set but empty; give a value, or unset it for the default ({shown})")

    @field_validator("port", mode="before")
    @classmethod
    def _port_number(cls, value: object) -> object:
        if not isinstance(value, str) or value == "":  # an int from a flag; or empty, above
            return value
        if SERVICE_LINK.match(value):  # warned about by warn_unknown_variables()
            return cls.model_fields["port"].default
        if not value.strip().isdigit():
            raise ValueError(f"must be a port number from 1 to 65535, not {value[:60]!r}")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(DRIVERS):
            scheme = value.partition("://")[0] or value[:30]
            raise ValueError(
                f"the database URL starts with {scheme!r}: use sqlite+aiosqlite:///PATH or "
                "postgresql+asyncpg://USER@HOST:PORT/DATABASE (the hub's two drivers)"
            )
        # SQLAlchemy reads it when a command connects: a port that was no number was a
        # traceback there, and a password's "@" left the rest of the password in the host
        # name, printed in the error. Neither is quoted here: a password may be in it.
        try:
            host = make_url(value).host or ""
        except (ArgumentError, ValueError):
            raise ValueError(
                "the database URL cannot be read (a port that is no number, a bracket left "
                "open?): give postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DATABASE with a "
                "password's @, /, : or % percent-encoded (p%40ss for p@ss)"
            ) from None
        if "@" in host:
            raise ValueError(
                "the database URL has more than one @: percent-encode an @ in the user or "
                "password as %40 (p%40ss for p@ss)"
            )
        return value

    @field_validator("admin_token", "operator_token", "secret_key")
    @classmethod
    def _no_blank_at_the_ends(cls, value: str, info: ValidationInfo) -> str:
        # A secret read from a file keeps its newline. A token then refused every request
        # with 401 (no Authorization header can carry one); a secret key gave this node
        # other key hashes and pseudonyms than a node given it without one, silently. A
        # secret key of blanks alone is no secret: production's own rule says what it needs.
        if value == value.strip() or (info.field_name == "secret_key" and not value.strip()):
            return value
        # Not the value itself: a secret is never echoed to a log.
        why = (
            "this node's key hashes and pseudonyms differ from those of a node given the "
            "same secret without it"
            if info.field_name == "secret_key"
            else "no Authorization header can carry it"
        )
        raise ValueError(
            "starts or ends with a blank or a newline (a secret file's last newline, a CRLF "
            f"env file): remove it, since {why}"
        )

    @field_validator("admin_token", "operator_token")
    @classmethod
    def _carried_by_a_header(cls, value: str) -> str:
        # A header's bytes reach the hub read as Latin-1: a token of other characters (Vietnamese
        # letters sent in UTF-8) never equalled the one set, and every request got a 401.
        if all(" " <= c <= "~" or c == "\t" for c in value):
            return value
        raise ValueError(
            "must be printable ASCII (letters, digits, punctuation, inner blanks): an "
            "Authorization header cannot carry other characters as they are written here, so "
            "no request could send it"
        )

    @field_validator("minute_rollup_days")
    @classmethod
    def _within_a_century(cls, value: int) -> int:
        # Further back the horizon fell before year 1 (800000 days): every statistics read
        # failed with "date value out of range", blamed on the database.
        if value > MINUTE_DAYS_MAX:
            raise ValueError(
                f"at most {MINUTE_DAYS_MAX} days (a century), not {value}; 0 keeps them for ever"
            )
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name like Asia/Ho_Chi_Minh"
            ) from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                f"{masked_url(value)[:60]!r} is no Redis URL: use redis://HOST:PORT/DB "
                "(rediss:// for TLS)"
            )
        if value and not value.startswith("unix://"):
            # redis-py takes these apart only when it connects: a port that is no number
            # crashed every worker at its first exchange, and "/abc" quietly meant db 0.
            url = urlsplit(value)
            try:
                port = url.port
            except ValueError:
                port = -1
            if port is not None and not 1 <= port <= 65535:
                raise ValueError(
                    "the Redis URL's port must be a number from 1 to 65535: "
                    f"{masked_url(value)[:60]!r}"
                )
            db = url.path.strip("/")
            if db and not db.isdigit():
                raise ValueError(
                    f"the Redis URL's database must be a number (redis://HOST:PORT/11), not {db!r}"
                )
        return value or None

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.env == "production":
            for name in ("admin_token", "operator_token", "secret_key"):
                value = getattr(self, name)
                if value == PLACEHOLDER or len(value.strip()) < 16:
                    raise ValueError(
                        f"HUB_{name.upper()} must be set to a secret of at least 16 characters "
                        "in production"
                    )
            if self.admin_token == self.operator_token:
                raise ValueError(
                    "HUB_ADMIN_TOKEN and HUB_OPERATOR_TOKEN must differ in production: with one "
                    "value, whoever reads statistics may also change the registry"
                )
            object.__setattr__(self, "demo_credentials", False)
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


# HUB_* variables that are no settings: the test suite's (tests/support.py, .ci/run), and
# those the hub sets for its children (hub/core/children.py, `hub up` for `hub mock`).
NOT_SETTINGS_PREFIX = "HUB_TEST_"
NOT_SETTINGS = frozenset({"HUB_PARENT_PID", "HUB_MOCK_CLIENT_KEY"})
_warned: set[str] = set()


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """A sentence for each HUB_* variable in ``environ`` that is no setting, naming the
    closest setting: pydantic-settings ignores them, so HUB_DATABSE_URL quietly left the hub
    on its default SQLite database. And one for a HUB_PORT that Kubernetes set, which the
    settings ignore too."""
    known = sorted("HUB_" + name.upper() for name in Settings.model_fields)
    found = []
    for name in sorted(environ):
        upper = name.upper()  # the settings' names are read in any case
        if not upper.startswith("HUB_") or upper.startswith(NOT_SETTINGS_PREFIX):
            continue
        if upper == "HUB_PORT" and SERVICE_LINK.match(environ[name]):
            found.append(
                f"{name} is {environ[name]!r}, the address Kubernetes gives a pod beside a "
                'Service named "hub", not a port; it is ignored (the hub listens on '
                "`hub serve --port`, 8000 by default)."
            )
            continue
        if upper in known or upper in NOT_SETTINGS:
            continue
        found.append(f"{name} is not a hub setting{did_you_mean(upper, known)}; it is ignored.")
    return found


def warn_unknown_variables() -> None:
    """One line on stderr for each HUB_* variable that is no setting, once a process.

    A warning, in production too, not a refusal: deployments carry variables of their own,
    and some are HUB_* by no choice of the operator's (Kubernetes gives every pod beside a
    Service named "hub" HUB_SERVICE_HOST, HUB_PORT_8000_TCP, even HUB_PORT=tcp://IP:PORT),
    so refusing would stop a production hub over a variable it never reads. The costly typo
    is caught there anyway: a production `hub serve` refuses a SQLite file that does not exist.
    """
    for line in unknown_variables(os.environ):
        if line not in _warned:
            _warned.add(line)
            print(f"warning: {line}", file=sys.stderr)


@lru_cache
def get_settings() -> Settings:
    warn_unknown_variables()
    return Settings()
