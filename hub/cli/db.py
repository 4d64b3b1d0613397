"""`hub db`: the database schema."""

from __future__ import annotations

import typer

from hub.cli.common import DbOption, console, fail, not_ours, on_disk, reason, settings, shown

app = typer.Typer(help="Database schema commands.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(
    db: str | None = DbOption,
    revision: str = typer.Option(
        "head", help="Migration to bring the database to (e.g. 0007); it never goes back."
    ),
) -> None:
    """Apply the migrations (SQLite or PostgreSQL); safe to run again."""
    from alembic.script import ScriptDirectory

    from hub.core.migrate import alembic_config, revisions, upgrade

    s = settings(db)
    # Each connection to an in-memory SQLite database has one of its own: the migrated one
    # was gone at once, and the check after it said "is at revision None, past 0011".
    on_disk(s.database_url)
    script = ScriptDirectory.from_config(alembic_config(s.database_url))
    ids = [r.revision for r in script.walk_revisions()]  # newest first
    if revision != "head" and revision not in ids:
        # Alembic's own forms ("base", "+1", a prefix) made a database file, said "is at
        # revision None" or "Can't locate revision", and exited 0 or 1.
        fail(
            f"--revision {revision} is no migration of this hub: give one from {ids[-1]} to "
            f"{ids[0]}, or leave --revision out for the newest",
            2,
        )
    try:
        before = revisions(s.database_url)[0]
        upgrade(s.database_url, revision)
        current, head = revisions(s.database_url)
    except Exception as exc:  # a CLI user gets the reason, not a traceback
        fail(f"could not migrate {shown(s.database_url)}: {reason(exc)}", not_ours(exc))
    asked = head if revision == "head" else revision
    if asked != current:
        # Alembic does nothing when asked to upgrade to a revision the database is past.
        fail(
            f"the database at {shown(s.database_url)} is at revision {current}, past "
            f"{asked}: `hub db upgrade` never goes back",
            2,
        )
    newest = " (the newest)" if current == head else ""
    # What was done first (it said the same of a new database, one migrated and one left as
    # it was), then where the database is, the words a deploy script greps for.
    if before is None:
        done = "made the hub's tables"
    elif before != current:
        done = f"migrated from {before}"
    else:
        done = "nothing to migrate"
    console.print(f"{done}: database at {shown(s.database_url)} is at revision {current}{newest}")
