"""`hub audit events`: who changed the registry and its keys, and when (GET /admin/events)."""

from __future__ import annotations

import json
from typing import Any

import typer

from hub.cli.common import (
    DbOption,
    console,
    err_console,
    fail,
    read_failed,
    run,
    settings,
    up_to_date,
)
from hub.core.limits import PAGE_MAX, ROW_ID_MAX


def events_cmd(
    since: str | None = typer.Option(
        None, help="From this time: ISO (UTC without a zone), or 24h, 7d, 3mo ago."
    ),
    until: str | None = typer.Option(None, help="Before this time, as --since."),
    action: str | None = typer.Option(
        None, help="One action (grant.create, key.revoke) or a kind (member, grant, key)."
    ),
    target: str | None = typer.Option(
        None,
        help="An entry's id (a grant: CLIENT -> SERVICE; a key: key:ID); an entry's id "
        "also finds the grants it is part of.",
    ),
    under: str | None = typer.Option(
        None,
        help="A member's, subsystem's or service's id: its events, those of the entries "
        "below it (a subsystem's services) and of the grants any of them is part of.",
    ),
    limit: int = typer.Option(100, min=1, max=PAGE_MAX, help="Events a page."),
    cursor: int | None = typer.Option(
        None, min=1, max=ROW_ID_MAX, help="next_cursor of the previous page."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the admin API's JSON instead."),
    db: str | None = DbOption,
) -> None:
    """Registry and key changes, newest first: when, who, from where, what, on what.

    Every change is one event: through the admin API, `hub registry apply` or `hub keys`;
    and each demo loading of `hub up`. `hub audit verify` checks their hash chain.

    Example, the week's key changes: hub audit events --since 7d --action key
    """
    from sqlalchemy.exc import SQLAlchemyError

    from hub.core.db import create_engine, session_factory
    from hub.registry import events_read
    from hub.stats.timeutil import InputError

    s = settings(db)
    up_to_date(s.database_url, "the audit trail", 2)

    async def go() -> dict[str, Any]:
        engine = create_engine(s.database_url)
        try:
            async with session_factory(engine)() as session:
                return await events_read.page(
                    session,
                    since=since,
                    until=until,
                    action=action,
                    target=target,
                    under=under,
                    limit=limit,
                    cursor=cursor,
                    cli=True,
                )
        finally:
            await engine.dispose()

    try:
        found = run(go())
    except InputError as exc:
        fail(exc.cli, 2)
    except (SQLAlchemyError, ValueError) as exc:
        # ValueError: a time stored in a form the hub never writes (SQLite), which `hub audit
        # verify` names by its event; it was a traceback.
        read_failed(exc, s.database_url, "the audit trail", 2)
    # A misspelt --target printed "no events" alone, as for an entry never changed; --json
    # prints the API's JSON, its notes too.
    for note in found["notes"]:
        err_console.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    if as_json:
        from hub.stats.output import write_whole

        write_whole(json.dumps(found, indent=2, ensure_ascii=False) + "\n")
        return
    if not found["items"]:
        console.print("no events", highlight=False)
    for e in found["items"]:
        detail = json.dumps(e["detail"], ensure_ascii=False, separators=(", ", ": "))
        console.print(
            f"{e['id']:>6}  {e['at']}  {e['actor']} ({e['source']})  {e['action']} "
            f"{e['target']}" + (f"  {detail}" if e["detail"] else ""),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if found["next_cursor"] is not None:
        console.print(f"older events: --cursor {found['next_cursor']}", highlight=False)
