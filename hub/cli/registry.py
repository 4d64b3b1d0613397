"""`hub registry`: the declarative registry, in and out (YAML)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from hub.cli.common import (
    DbOption,
    change_actor,
    console,
    err_console,
    existing,
    fail,
    new_or_current,
    parsed_url,
    read_failed,
    run,
    settings,
    shown,
    unsigned_note,
    up_to_date,
)

if TYPE_CHECKING:
    from hub.registry.schemas import ApplyResult

app = typer.Typer(
    help="Registry of members, subsystems, services and grants.", no_args_is_help=True
)


def _read(files: list[Path]) -> list[tuple[str, str]]:
    """Each file's (name, text); stops with exit 2 on one that cannot be read as UTF-8."""
    from hub.registry.yamlio import RegistryFileError, decode

    texts = []
    seen: set[Path] = set()
    for f in files:
        source = "<stdin>" if str(f) == "-" else str(f)
        if source != "<stdin>" and f.is_file():
            if f.resolve() in seen:
                # Its every entry "appeared twice", at the same line: no mistake in the file.
                fail(f"{f}: this file is given twice; give each file once", 2)
            seen.add(f.resolve())
        if source == "<stdin>":
            data = sys.stdin.buffer.read()
        elif f.is_dir():
            fail(f"{f}: is a folder; give the registry's YAML files themselves", 2)
        elif not f.is_file():
            fail(f"{f}: no such file", 2)
        else:
            try:
                data = f.read_bytes()
            except OSError as exc:
                fail(f"{f}: cannot read it ({exc.strerror})", 2)
        try:
            texts.append((source, decode(data, source)))
        except RegistryFileError as exc:
            fail(str(exc), 2)
    return texts


def where(url: str) -> str:
    """The database at ``url`` as a person finds it: a SQLite file's absolute path."""
    parsed = parsed_url(url)
    if parsed is None:
        return url
    path = parsed.database
    if (
        parsed.get_backend_name() == "sqlite"
        and path
        and path != ":memory:"
        and path[:5] != "file:"
    ):
        return str(Path(path).absolute())
    return shown(url)


@app.command("apply")
def apply_cmd(
    files: list[Path] = typer.Argument(..., help="Registry YAML files ('-' reads stdin)."),
    prune: bool = typer.Option(
        False,
        help="Also delete what the files leave out within what they declare: the services "
        "of each subsystem they declare, and the grants between a client and a service "
        "they both declare. Members, subsystems and other providers' entries stay, and so "
        "do grants to or from entries they do not declare (a note names them).",
    ),
    prune_all: bool = typer.Option(
        False,
        "--prune-all",
        help="Delete everything in the registry the files leave out, keys of deleted "
        "subsystems included: for files that hold the whole registry.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be created, updated and deleted; change nothing."
    ),
    db: str | None = DbOption,
) -> None:
    """Make the registry hold what the files say; applying twice changes nothing.

    An entry already there changes only in the fields the files give.

    Entries the registry holds that the files leave out stay: --prune, --prune-all delete them.

    --dry-run prints what would be created, updated and deleted, and changes nothing.

    The database must exist (`hub db upgrade` makes one) and be at this hub's revision.
    An older one is left to `hub db upgrade`, as hubs of the older version may run on it.

    Example, the changes first, then for real: hub registry apply registry.yaml --dry-run
    """
    from sqlalchemy.exc import SQLAlchemyError

    from hub.core.db import create_engine, session_factory
    from hub.registry import service as registry
    from hub.registry.yamlio import RegistryFileError

    try:
        doc = registry.parse_documents(_read(files))
    except RegistryFileError as exc:
        fail(str(exc), 2)
    s = settings(db)
    # A write must not make a database: from another folder, the default var/hub.db was
    # a new, empty one that took the registry while the hub went on reading its own.
    existing(s.database_url)
    # In production the signing key is checked first (reading no database there): a change
    # refused for want of it makes no tables either.
    actor = change_actor(s, writes=not dry_run) if s.env == "production" else None
    if dry_run:
        up_to_date(s.database_url, "the registry")  # changes nothing, makes no database
    else:
        new_or_current(s.database_url)  # a new database gets its tables; an older one refused
    if actor is None:  # elsewhere it looks at the database: is it signed already?
        actor = change_actor(s, writes=not dry_run)

    async def go() -> ApplyResult:
        engine = create_engine(s.database_url)
        try:
            async with session_factory(engine)() as session:
                result = await registry.apply(
                    session, doc, prune=prune, prune_all=prune_all, actor=actor
                )
                if dry_run:
                    await session.rollback()
                else:
                    await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        result = run(go())
    except (RegistryFileError, registry.RegistryConflict) as exc:
        fail(str(exc), 2)
    except SQLAlchemyError as exc:
        read_failed(exc, s.database_url, "the registry")
    would = "would " if dry_run else ""
    for change in result.changes:
        console.print(f"{would}{change}", markup=False, highlight=False, soft_wrap=True)
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
    for note in result.notes:
        err_console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    if dry_run:
        console.print(
            f"dry run, nothing changed: would create {result.created}, update "
            f"{result.updated}, delete {result.deleted}; unchanged {result.unchanged} "
            f"(database {where(s.database_url)})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return
    console.print(
        f"created {result.created}, updated {result.updated}, deleted {result.deleted}, "
        f"unchanged {result.unchanged}",
        highlight=False,
    )
    if result.changes:
        unsigned_note(s, actor)
    console.print(
        f"applied to {where(s.database_url)}", markup=False, highlight=False, soft_wrap=True
    )


@app.command("export")
def export_cmd(db: str | None = DbOption) -> None:
    """Print the registry as YAML (what `apply` takes back)."""
    from hub.core.db import create_engine, session_factory
    from hub.registry import service as registry

    s = settings(db)
    up_to_date(s.database_url)  # reads only: an older database is said so, not migrated

    async def go() -> dict:
        engine = create_engine(s.database_url)
        try:
            async with session_factory(engine)() as session:
                return await registry.export(session)
        finally:
            await engine.dispose()

    from hub.stats.output import write_whole

    # All of it or an error: a backup cut short by a full disk exited 0.
    write_whole(registry.dump_yaml(run(go())))
