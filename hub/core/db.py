"""Database engines: SQLite (WAL) by default, PostgreSQL through asyncpg."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    NotSupportedError,
    ProgrammingError,
)
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine


def ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        if parsed.query.get("uri") or parsed.database.startswith("file:"):
            return  # a URI filename (file:...?mode=ro): no path to make, sqlite3 opens it
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Opened here first, so that a file that cannot be opened (a folder, a folder this
        # user may not write) fails now: aiosqlite stops the thread of a connection that
        # failed with a future of the running loop, and when the loop closed first the
        # thread died printing "RuntimeError: Event loop is closed".
        sqlite3.connect(parsed.database).close()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL and a busy timeout so readers never block the log."""
    ensure_sqlite_dir(url)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process crash (SIGKILL); only an OS crash or
            # power loss can drop the last commits, and FULL halves the log writer's rate.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine.sync_engine, "handle_error")
        def _read_only_is_lost(ctx: Any) -> None:
            # SQLite opens a WAL it cannot write read-only, and the connection stays so:
            # one opened while the disk or file refused writes refused every write after
            # they were taken again. Dropped like a lost connection, the pool opens anew.
            if "readonly database" in str(ctx.original_exception):
                ctx.is_disconnect = True

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "handle_error")
    def _read_only_session_is_lost(ctx: Any) -> None:
        # A session opened while PostgreSQL refused writes (default_transaction_read_only
        # set on the database, a standby reached in a failover) stays read-only for its
        # life: pooled, it refused the log's batches and the readiness probe after the
        # database took writes again, and the hub answered 503 until restarted. Dropped
        # like a lost connection, with the pool's others, the next one is opened anew.
        if getattr(ctx.original_exception, "sqlstate", None) == READ_ONLY_SQL_TRANSACTION:
            ctx.is_disconnect = True

    return engine


READ_ONLY_SQL_TRANSACTION = "25006"  # PostgreSQL's SQLSTATE for a write in a read-only one


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)


def sync_url(url: str) -> str:
    """The synchronous driver URL for Alembic."""
    return url.replace("+aiosqlite", "").replace("+asyncpg", "+psycopg")


def refusal_message(exc: DBAPIError) -> str | None:
    """What to tell an admin or operator whose request the database refused, or None when
    the error is the hub's own (a constraint, a statement): that stays a 500.

    A read-only file, a full disk, a lock held past the wait, a damaged file or a server
    gone: each admin write was a bare "Internal Server Error" with a traceback in the log.
    """
    if isinstance(exc, IntegrityError | DataError | ProgrammingError | NotSupportedError):
        return None
    cause = exc.orig if exc.orig is not None else exc
    first = (str(cause).splitlines() or [type(cause).__name__])[0] or type(cause).__name__
    return f"the database refused this request ({first}); try again once it takes requests"


def unreachable_message(exc: OSError) -> str | None:
    """What to tell an admin or operator when the database server cannot be reached, or None
    when ``exc`` did not come from the database's driver or SQLAlchemy (it stays a 500).

    asyncpg raises the socket's own error (refused, timed out, no such host), which
    SQLAlchemy does not wrap as it wraps the database's: while PostgreSQL was down every
    request was a bare "Internal Server Error" with a traceback in the log.
    """
    tb = exc.__traceback__
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(("asyncpg", "sqlalchemy")):
            first = (str(exc).splitlines() or [""])[0] or type(exc).__name__
            return f"the database cannot be reached ({first}); try again once it answers"
        tb = tb.tb_next
    return None
