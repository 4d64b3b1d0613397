"""Helpers the CLI commands share: settings from flags, running coroutines, failing well.

Every call of `hub`, `hub --help` included, imports all the command modules and this one:
in them, what is slow to import (SQLAlchemy, the settings, FastAPI, Alembic, uvicorn, the
connector kit) is imported by the function that uses it, so that a command waits for what
it runs and its help for none of it (tests/cli/test_startup.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from hub.core.settings import Settings
    from hub.registry.events import Actor

T = TypeVar("T")
# A sentence is never broken at the terminal's width (80 columns in a pipe or a deploy
# log): a script's grep for "revision 0011" or a hash must find it whole. Tables still fit.
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


class Unwritable(Exception):
    """The command's output could not be written (a full disk): not the database's fault."""


def stdout_gone() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush of what could not be
    written raises no second error on the way out."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings(db: str | None = None, **overrides: Any) -> Settings:
    """Settings from HUB_* variables, with flags taking precedence."""
    from pydantic import ValidationError

    from hub.core.settings import Settings, warn_unknown_variables

    # Before any refusal, which the typo may explain (HUB_ADMN_TOKEN: "HUB_ADMIN_TOKEN must
    # be set").
    warn_unknown_variables()
    if db is not None and not db.strip():
        # `--db "$URL"` with $URL unset: the default database is not what was meant.
        fail("--db: empty; give a database URL, or leave --db out for HUB_DATABASE_URL", 2)
    if db:
        os.environ["HUB_DATABASE_URL"] = db
    # --db goes through the environment (the workers of `hub serve` read it there), but a
    # bad value is named as the flag it came from, not as a variable the user never set; so
    # are the other flags given.
    flags = {"database_url": "--db"} if db else {}
    # Only the flags given: one left out (None) leaves its variable to be blamed (HUB_PORT=).
    flags |= {k: "--" + k.replace("_", "-") for k, v in overrides.items() if v is not None}
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        fail("; ".join(_problem(e, flags) for e in exc.errors()), 2)


def _problem(error: Any, flags: dict[str, str]) -> str:
    """One settings error, naming the flag or variable it came from when there is one."""
    message = str(error["msg"]).removeprefix("Value error, ")
    field = error["loc"][0] if error["loc"] else None
    if not isinstance(field, str):
        return message
    if error["type"] != "value_error" and isinstance(error.get("input"), str):
        # pydantic's own ("Input should be a valid integer") never say what was given; the
        # hub's (value_error) do when it is safe to, never a database URL's password.
        message += f" (it is {error['input'][:60]!r})"
    return f"{flags.get(field) or 'HUB_' + field.upper()}: {message}"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


PORT_MAX = 65535  # TCP's last port: the kernel kept the low 16 bits of a larger one

DbOption = typer.Option(
    None, "--db", help="Database URL (default HUB_DATABASE_URL or sqlite under var/)."
)


def plural(n: int, one: str, many: str = "", *, sep: str = "") -> str:
    """A count with its noun: ``1 day``, ``2 days`` (``many`` where adding an s is wrong).

    ``sep=","`` groups the thousands (``3,000 records``).
    """
    return f"{n:{sep}} {one if n == 1 else many or one + 's'}"


def shown(url: str) -> str:
    """A database URL fit to print: as given, its password masked.

    SQLAlchemy's rendering quotes the database part, so a URI filename read "file%3A/..."
    and a Vietnamese file name turned to %-escapes: not what the user typed. It is the
    fallback for a password the pattern cannot find (one with a bare "/" in it).
    """
    parsed = parsed_url(url)
    if parsed is None or parsed.password is None:
        return url
    from hub.core.settings import masked_url

    masked = masked_url(url)
    return masked if masked != url else parsed.render_as_string(hide_password=True)


def parsed_url(url: str) -> URL | None:
    """``url`` as SQLAlchemy reads it; None when it is no URL at all."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except ArgumentError:
        return None


def reason(exc: BaseException) -> str:
    """The first line of an error: SQLAlchemy adds SQL and a "Background on this error" link."""
    from sqlalchemy.exc import DBAPIError

    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    first = (str(cause).splitlines() or [type(cause).__name__])[0] or type(cause).__name__
    if first == "unable to open database file":  # SQLite's, naming nothing
        first += (
            " (it must be a SQLite file, or none yet, in a folder this user may write: "
            "SQLite keeps its -wal and -shm files beside it)"
        )
    elif first == "database disk image is malformed":  # SQLite's, of any damaged file
        first += (
            " (the file is damaged: a copy cut short or taken while the hub wrote, or a -wal "
            "file left beside a restored one; restore a backup as docs/operators.md says)"
        )
    return first


def on_disk(url: str) -> None:
    """Stop unless ``url`` is a database the hub's several connections share.

    Each SQLite connection to ":memory:" has a database of its own: the one migrated was not
    the one the app read, and `hub serve` ended in "no such table" tracebacks.
    """
    parsed = parsed_url(url)
    if parsed is None:
        return  # not a URL at all: opening it says why
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        fail(
            f"{shown(url)} is an in-memory SQLite database: each of the hub's connections "
            "(log writer, registry, operators' reads) would get an empty one of its own; give "
            "a file, e.g. sqlite+aiosqlite:///var/hub.db",
            2,
        )


UPGRADE_ONLY = (
    "the hub's other commands never migrate a database in use, where hubs of the older "
    "version may still run"
)


def new_or_current(url: str, *, serving: bool = False) -> None:
    """Give a new database (no tables at all) this hub's tables; stop, changing nothing,
    unless the database is then at this hub's revision.

    A database at an older revision is never migrated here: hubs of the older version may
    run on it still (a rolling upgrade, nodes upgraded one by one), and their registry
    reloads and log writes would meet tables and columns they do not know. `hub registry
    apply` migrated it silently while `hub keys` refused; `hub db upgrade` (or `hub serve
    --migrate`, ``serving``) is the operator's own decision to migrate.
    """
    from hub.core.migrate import revisions, upgrade

    on_disk(url)
    try:
        current, _head = revisions(url)
        if current is None:  # nobody runs on it: made as `hub db upgrade` makes it
            upgrade(url)  # refuses another application's tables (ForeignDatabase)
            return
    except Exception as exc:  # a CLI user gets the reason, not a traceback
        fail(f"cannot open the database at {shown(url)}: {reason(exc)}", not_ours(exc))
    up_to_date(url, serving=serving)


def not_ours(exc: BaseException) -> int:
    """The exit status of a failed migration: 2 when the database given is not this hub's."""
    from hub.core.migrate import ForeignDatabase

    return 2 if isinstance(exc, ForeignDatabase) else 1


def takes_writes(url: str) -> None:
    """Stop unless the database at ``url`` takes a write, changing nothing.

    A read-only file (or folder, or open) passed the migration, which had nothing to write:
    `hub serve` then reported ready and sent exchanges to providers whose answers it could
    not record. The chain head moves and is put back, as the readiness probe does; a lock
    another process holds is not a refusal (the log writer waits for it too).
    """
    from hub.core.db import create_engine
    from hub.core.readiness import write_probe

    async def probe() -> None:
        engine = create_engine(url)
        try:
            # busy_ms: the wait its connection goes back with; the engine is closed next.
            await write_probe(engine, sqlite=url.startswith("sqlite"), busy_ms=0)
        finally:
            await engine.dispose()

    try:
        run(probe())
    except Exception as exc:
        why = reason(exc)
        if "database is locked" in why or "lock timeout" in why or isinstance(exc, TimeoutError):
            return
        fail(
            f"the database at {shown(url)} refuses writes ({why}): the hub records every "
            "exchange there; give a database this user may write (for SQLite, its folder too)"
        )


def existing(url: str) -> None:
    """Stop unless the SQLite file at ``url`` exists: commands that only read never make one.

    Connecting creates a missing SQLite file (and the engine its folder), so a typo in --db
    left an empty database behind and the error blamed its schema.
    """
    on_disk(url)  # an in-memory one is empty to every connection: "no hub tables", for ever
    parsed = parsed_url(url)
    if parsed is None:
        return  # not a URL at all: opening it says why
    path = parsed.database
    if parsed.get_backend_name() != "sqlite" or path in (None, "", ":memory:"):
        return
    if parsed.query.get("uri") or path.startswith("file:"):
        return  # a URI filename (mode=ro and the like): sqlite3 opens it as it says
    if not Path(path).is_file():
        fail(
            f"there is no database at {Path(path).absolute()}: check --db or HUB_DATABASE_URL "
            "(`hub db upgrade` creates a new one)",
            2,
        )


def read_failed(exc: BaseException, url: str, what: str, code: int = 1) -> NoReturn:
    """Stop: ``what`` could not be read. A database without the hub's tables is the wrong
    one given (exit 2, as `hub registry export` and `hub audit` said; `hub tx` and `hub
    stats` said 1), anything else exits ``code``."""
    fail(unreadable(exc, url, what), 2 if _no_tables(reason(exc)) else code)


def _no_tables(why: str) -> bool:
    # SQLite says "no such table: x", PostgreSQL 'relation "x" does not exist'.
    return "no such table" in why or ("relation" in why and "does not exist" in why)


def unreadable(exc: BaseException, url: str, what: str) -> str:
    """Why ``what`` could not be read from the database at ``url``, in one line without SQL."""
    why = reason(exc)
    if _no_tables(why):
        return (
            f"the database {shown(url)} lacks this hub's tables ({why}): it is empty or older "
            "than this hub; run `hub db upgrade` first"
        )
    if isinstance(exc, ValueError) and "isoformat" in why:
        # A time stored in a form the hub never writes: the file was edited by hand.
        return (
            f"cannot read {what} from {shown(url)}: {why}; a time is stored in a form the hub "
            "never writes, so the database was changed by other means: `hub audit verify` "
            "names the rows"
        )
    return f"cannot read {what} from {shown(url)}: {why}"


def up_to_date(url: str, what: str | None = None, code: int = 1, *, serving: bool = False) -> None:
    """Stop unless the database has this hub's schema, changing nothing.

    For `hub serve --no-migrate` (every worker failed its startup with a traceback on a
    missing table, and with --workers 2 the whole ended with exit 0) and the commands that
    only read ``what``: `hub registry export` migrated an older database, the backup taken
    before an upgrade being the very thing it changed, and `hub stats`, `hub tx` and `hub
    audit` read an older or a newer hub's tables as this hub's own. A database that cannot
    be read exits ``code`` (2 for `hub audit`, whose 1 means a record found bad).
    """
    from hub.core.migrate import known, revisions, unknown_revision

    existing(url)  # connecting would make an empty file
    try:
        current, head = revisions(url)
    except Exception as exc:
        if what is not None:
            fail(unreadable(exc, url, what), code)
        fail(f"cannot open the database at {shown(url)}: {reason(exc)}", code)
    if current is None:
        fail(f"the database at {shown(url)} has no hub tables: run `hub db upgrade` first", 2)
    if not known(url, current):
        fail(unknown_revision(current, head, f"the database at {shown(url)}"), 2)
    if current != head:
        advice = (
            "run `hub db upgrade` first, or start with `hub serve --migrate` if no hub of the "
            "older version runs on it: without --migrate, `hub serve` never migrates a "
            "database in use"
            if serving  # the one command that takes --migrate
            else f"run `hub db upgrade` first: {UPGRADE_ONLY}"
        )
        fail(
            f"the database at {shown(url)} is at revision {current} and this hub needs {head}: "
            f"{advice}",
            2,
        )


def change_actor(s: Settings, *, writes: bool = True) -> Actor:
    """The OS user on this host, as the author of registry and key changes, with the hub's
    signing key (HUB_SIGNING_KEY_FILE) to sign their events: commands run on the hub's host
    with its variables.

    A missing key is made as the hub makes it, outside production only: a development
    registry is applied before the first `hub serve`, which then takes the same file (the
    events of that first apply were unsigned, and `hub audit verify` failed on them).
    Outside production, without the file (or leave to read it) the events are unsigned
    (``unsigned_note``). In production a change that ``writes`` stops instead, as `hub
    serve` does there: an unsigned event is a finding `hub audit verify` reports until an
    auditor settles it, and a command run from the wrong shell or account (the usual cause)
    is better told at once, with the admin API (which the hub signs) still open. A file
    that is there but no key stops the command."""
    from hub.registry.events import local_actor
    from hub.txlog.signing import Signer

    path = s.signing_key_file
    # Not for a registry the hub has signed already: the key is elsewhere (the default
    # var/ is relative, and this command ran from another folder), and one made here signed
    # with a key the hub never had, which `hub audit verify` called tampering.
    create = s.env != "production" and (Path(path).exists() or not _signed_already(s.database_url))
    try:
        return local_actor(signer=Signer.from_file(path, create=create))
    except (FileNotFoundError, PermissionError):
        if s.env == "production" and writes:
            fail(
                f"HUB_SIGNING_KEY_FILE {_key_file_problem(s)}: in production a change is not "
                "written to the audit trail unsigned, which `hub audit verify` could not prove, "
                "so nothing was changed. Run the command on the hub's host, as its user, with its "
                "variables, or make the change through the admin API, which the hub signs",
                2,
            )
        return local_actor()
    except (OSError, ValueError) as exc:
        said = str(exc)
        where = "" if path in said else f"{path}: "
        fail(
            "HUB_SIGNING_KEY_FILE: cannot load the signing key, which signs the audit trail's "
            f"events of this change: {where}{said}",
            2,
        )


def _key_file_problem(s: Settings) -> str:
    # Absolute: the default var/signing-key.pem is relative, and the folder is what is wrong
    # when the command ran from another one than the hub.
    path = Path(s.signing_key_file).absolute()
    return f"{path} {'is not readable by this user' if path.exists() else 'does not exist'}"


def _signed_already(url: str) -> bool:
    from hub.core.db import create_engine, session_factory
    from hub.registry.repository import signed_already

    async def ask() -> bool:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session:
                return await signed_already(session)
        finally:
            await engine.dispose()

    try:
        return run(ask())
    except Exception:  # no schema yet (a dry run before `hub db upgrade`), no server: the
        # command says what is wrong when it reaches the database itself
        return False


def unsigned_note(s: Settings, actor: Actor) -> None:
    """Say on stderr that the events a change wrote are unsigned, when they are."""
    if actor.signer is not None:
        return
    err_console.print(
        f"[yellow]note:[/yellow] HUB_SIGNING_KEY_FILE {_key_file_problem(s)}: the audit "
        "trail's events of this change were written unsigned, and `hub audit verify` names "
        "them. Run commands that change the registry on the hub's host, as its user, with "
        "its variables, to sign them.",
        highlight=False,
        soft_wrap=True,
    )
