"""The rollups' SQL: one ``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`` per
table, compiled once per dialect, and on the writer's SQLite connection sent as one
multi-row statement (hub/stats/rollup.py sums the rows these write).
"""

from __future__ import annotations

import functools
import sqlite3
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite


def dicts(
    sums: dict[Any, list[Any]], key: tuple[str, ...], cols: tuple[str, ...]
) -> list[dict[str, Any]]:
    return [dict(zip(key + cols, (*k, *v), strict=True)) for k, v in sums.items()]


def upsert(dialect: str, table: Table, key: tuple[str, ...], sums: tuple[str, ...]) -> Any:
    """``INSERT ... ON CONFLICT (key) DO UPDATE SET col = col + excluded.col``."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=list(key),
        set_={c: table.c[c] + stmt.excluded[c] for c in sums},
    )


_compiled: dict[tuple[str, str], tuple[str, Any]] = {}


def driver_sql(dialect: Any, table: Table, key: tuple[str, ...], sums: tuple[str, ...]) -> Any:
    """The upsert compiled once per dialect, and the converter of its bucket parameter.

    Rollups are written for every log batch, and synthetic loads write millions of rows:
    compiling and binding through the ORM each time cost more than the database's work.
    """
    cache_key = (dialect.name, table.name)
    found = _compiled.get(cache_key)
    if found is None:
        compiled = upsert(dialect.name, table, key, sums).compile(dialect=dialect)
        if tuple(compiled.positiontup or ()) != key + sums:
            raise RuntimeError(f"unexpected parameter order in the upsert of {table.name}")
        bucket = table.c.bucket.type.dialect_impl(dialect).bind_processor(dialect)
        if bucket is not None:
            # A batch's rows share a few buckets: SQLite's string form of each was ~1 % of
            # the hub's CPU under load (py-spy), formatted anew for every row and table.
            bucket = functools.lru_cache(maxsize=256)(bucket)
        found = _compiled[cache_key] = (str(compiled), bucket)
    return found


# Rows a multi-row upsert takes at most: SQLite allows 32,766 parameters a statement, and
# each (table, row count) is a statement of its own in the connection's cache.
MULTI_ROWS = 32
_multi: dict[tuple[str, int], str] = {}


def upsert_rows(db: sqlite3.Connection, sql: str, params: list[tuple[Any, ...]]) -> None:
    """``db.executemany(sql, params)`` as one multi-row upsert per ``MULTI_ROWS`` rows.

    The latency tables take about 20 rows a batch each under load (a bench batch of 17
    exchanges with spread latencies): 65 against 45 us a table through one statement
    (SQLite, WAL, 3,000 batches; bench/profile_notes.md, eighth round). SQLite takes the
    rows in order, as executemany does, and a Rollup has one row per key anyway.
    """
    if len(params) == 1:
        db.execute(sql, params[0])
        return
    for start in range(0, len(params), MULTI_ROWS):
        chunk = params[start : start + MULTI_ROWS]
        found = _multi.get((sql, len(chunk)))
        if found is None:
            head, sep, tail = sql.partition(" VALUES ")
            values, close, conflict = tail.partition(") ")
            if not (sep and close and conflict.startswith("ON CONFLICT")):
                raise RuntimeError(f"unexpected upsert form: {sql[:80]}")
            rows = ", ".join([values + ")"] * len(chunk))
            found = _multi[(sql, len(chunk))] = f"{head} VALUES {rows} {conflict}"
        db.execute(found, [value for row in chunk for value in row])
