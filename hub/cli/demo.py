"""`hub demo`: the demo clients and their keys (development only)."""

from __future__ import annotations

import json

import typer

from hub.cli.common import DbOption, existing, fail, run, settings, up_to_date

app = typer.Typer(help="Demo registry helpers (refused in production).", no_args_is_help=True)


@app.command("credentials")
def credentials_cmd(db: str | None = DbOption) -> None:
    """Print the demo clients as JSON: client, api_key, services it may call."""
    from sqlalchemy import select

    from hub.core import security
    from hub.core.db import create_engine, session_factory
    from hub.models import Grant
    from hub.registry.keys import live_demo_keys

    s = settings(db)
    if s.env == "production":
        fail("demo credentials are refused in production (HUB_ENV=production)", 2)
    if not s.demo_credentials:
        fail("demo credentials are turned off (HUB_DEMO_CREDENTIALS=false)", 2)
    existing(s.database_url)
    up_to_date(s.database_url)

    async def go() -> list[dict]:
        engine = create_engine(s.database_url)
        try:
            async with session_factory(engine)() as session:
                keys = await live_demo_keys(session)
                grants = (await session.scalars(select(Grant))).all()
        finally:
            await engine.dispose()
        out = []
        for row in keys:
            key = security.demo_api_key(s.secret_key, row.subsystem_id)
            if security.hash_key(s.secret_key, key) != row.key_hash:
                continue
            services = sorted(g.service_id for g in grants if g.client_id == row.subsystem_id)
            out.append({"client": row.subsystem_id, "api_key": key, "services": services})
        return out

    creds = run(go())
    if not creds:
        fail("no demo clients in this database: start `hub up` (or `make run`) first", 1)
    from hub.stats.output import write_whole

    write_whole(json.dumps(creds, indent=2, ensure_ascii=False) + "\n")
