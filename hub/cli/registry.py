"""`hub registry`: the declarative registry, in and out (YAML)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from hub.cli.common import DbOption, console, existing, fail, migrated, run, settings
from hub.core.db import create_engine, session_factory
from hub.registry import service as registry
from hub.registry.schemas import ApplyResult
from hub.registry.yamlio import RegistryFileError

app = typer.Typer(
    help="Registry of members, subsystems, services and grants.", no_args_is_help=True
)


@app.command("apply")
def apply_cmd(
    files: list[Path] = typer.Argument(..., help="Registry YAML files ('-' reads stdin)."),
    prune: bool = typer.Option(False, help="Also delete what the files do not mention."),
    db: str | None = DbOption,
) -> None:
    """Make the registry hold what the files say; applying twice changes nothing."""
    texts = []
    for f in files:
        if str(f) == "-":
            texts.append(("<stdin>", sys.stdin.read()))
        elif f.is_dir():
            fail(f"{f}: is a folder; give the registry's YAML files themselves", 2)
        elif not f.is_file():
            fail(f"{f}: no such file", 2)
        else:
            texts.append((str(f), f.read_text(encoding="utf-8")))
    try:
        doc = registry.parse_documents(texts)
    except RegistryFileError as exc:
        fail(str(exc), 2)
    s = settings(db)
    migrated(s.database_url)

    async def go() -> ApplyResult:
        engine = create_engine(s.database_url)
        try:
            async with session_factory(engine)() as session:
                result = await registry.apply(session, doc, prune=prune)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        result = run(go())
    except (RegistryFileError, registry.RegistryConflict) as exc:
        fail(str(exc), 2)
    console.print(
        f"created {result.created}, updated {result.updated}, deleted {result.deleted}, "
        f"unchanged {result.unchanged}"
    )


@app.command("export")
def export_cmd(db: str | None = DbOption) -> None:
    """Print the registry as YAML (what `apply` takes back)."""
    s = settings(db)
    existing(s.database_url)
    migrated(s.database_url)

    async def go() -> dict:
        engine = create_engine(s.database_url)
        try:
            async with session_factory(engine)() as session:
                return await registry.export(session)
        finally:
            await engine.dispose()

    sys.stdout.write(registry.dump_yaml(run(go())))
