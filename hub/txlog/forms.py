"""The forms in which the hub writes values to SQLite, as SQL that tells a row stored otherwise.

SQLite stores any value in any column; a value in a form the hub never writes may read back
as the same Python value (so a record's hash still holds) while SQL compares it as stored.
``hub audit verify`` reports such rows as tampering (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, Integer

# SQLAlchemy writes a SQLite DATETIME as "YYYY-MM-DD HH:MM:SS.ffffff", always.
_D = "[0-9]"
DATETIME_GLOB = f"{_D * 4}-{_D * 2}-{_D * 2} {_D * 2}:{_D * 2}:{_D * 2}.{_D * 6}"


def well_formed(column: Any, *, hashed: bool = False) -> str | None:
    """SQLite SQL, true when ``column`` holds a value in the form the hub writes it.

    SQLite stores any value in any column. ``hashed``: only what a record's hash cannot see
    (None when nothing): the hash takes the values as Python reads them back, and reads a
    NUL character where the hub wrote NULL (both hash as "\\x00") and a date with ``T`` as
    the hub's own, while SQL compares them as stored, so such a record drops out of a query
    while its hash holds. Any other value in another form reads back as another value, which
    the hash sees (checking every column here cost a third more time reading the log).
    """
    name, kind = column.name, column.type
    nul = f"{name} IS NOT CAST(x'00' AS TEXT)"
    if isinstance(kind, Boolean):
        ok = f"{name} IN (0, 1)"
    elif isinstance(kind, DateTime):
        ok = f"typeof({name}) = 'text' AND {name} GLOB '{DATETIME_GLOB}'"
    elif hashed:
        return nul if column.nullable else None
    elif isinstance(kind, Float):
        ok = f"typeof({name}) = 'real'"
    elif isinstance(kind, Integer):
        ok = f"typeof({name}) = 'integer'"
    else:
        ok = f"typeof({name}) = 'text' AND {nul}"
    return f"({name} IS NULL OR ({ok}))" if column.nullable else f"({ok})"


def all_well_formed(columns: Sequence[Any], hashed: bool = False) -> str:
    return " AND ".join(ok for c in columns if (ok := well_formed(c, hashed=hashed)) is not None)


def bad_form(columns: Sequence[Any], hashed: bool = False) -> str:
    """SQLite SQL naming the ``columns`` of a row not stored as the hub writes them; NULL if
    none (the names are worked out only for such a row)."""
    checks = [(c.name, ok) for c in columns if (ok := well_formed(c, hashed=hashed))]
    names = " || ".join(f"(CASE WHEN {ok} THEN '' ELSE '{n} ' END)" for n, ok in checks)
    return f"CASE WHEN {' AND '.join(ok for _, ok in checks)} THEN NULL ELSE {names} END"
