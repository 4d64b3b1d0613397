"""`hub db`: the database schema."""

from __future__ import annotations

import typer

from hub.cli.common import DbOption, console, fail, reason, settings, shown
from hub.core.migrate import upgrade

app = typer.Typer(help="Database schema commands.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(db: str | None = DbOption, revision: str = "head") -> None:
    """Apply the migrations (SQLite or PostgreSQL); safe to run again."""
    s = settings(db)
    try:
        upgrade(s.database_url, revision)
    except Exception as exc:  # a CLI user gets the reason, not a traceback
        fail(f"could not migrate {shown(s.database_url)}: {reason(exc)}")
    console.print(f"database at {shown(s.database_url)} is at revision {revision}")
