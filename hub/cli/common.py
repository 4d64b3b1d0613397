"""Helpers the CLI commands share: settings from flags, running coroutines, failing well."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from hub.core.settings import Settings

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def settings(db: str | None = None, **overrides: Any) -> Settings:
    """Settings from HUB_* variables, with flags taking precedence."""
    if db:
        os.environ["HUB_DATABASE_URL"] = db
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        fail("; ".join(_problem(e) for e in exc.errors()), 2)


def _problem(error: Any) -> str:
    """One settings error, naming the variable it came from when there is one."""
    message = str(error["msg"]).removeprefix("Value error, ")
    field = error["loc"][0] if error["loc"] else None
    return f"HUB_{str(field).upper()}: {message}" if isinstance(field, str) else message


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


PORT_MAX = 65535  # TCP's last port: the kernel kept the low 16 bits of a larger one

DbOption = typer.Option(
    None, "--db", help="Database URL (default HUB_DATABASE_URL or sqlite under var/)."
)


def migrated(url: str) -> None:
    """Bring the database up to date, or stop with why it cannot be opened."""
    from hub.core.migrate import upgrade

    try:
        upgrade(url)
    except Exception as exc:  # a CLI user gets the reason, not a traceback
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        fail(f"cannot open the database at {url}: {reason}")
