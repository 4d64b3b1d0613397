"""The log's SQL: chain a batch of records after the head and write it, with its batch row.

Called by the log writer (hub/txlog/writer.py) inside the transaction it opens and commits,
and by the statistics' synthesizer (hub/stats/synth.py). Three paths to the same rows: plain
SQL on the writer's inline SQLite connection, plain SQL through SQLAlchemy's driver, and
SQLAlchemy Core for a driver this module has no plain SQL for.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, Table, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.models import ChainHead, LogBatch, Transaction
from hub.registry.repository import utcnow
from hub.txlog.chain import batch_message, record_hash
from hub.txlog.signing import Signer
from hub.txlog.sqlite import inline_sqlite

_tx: Table = Transaction.__table__  # type: ignore[assignment]
_batches: Table = LogBatch.__table__  # type: ignore[assignment]
_head: Table = ChainHead.__table__  # type: ignore[assignment]
# Built once: SQLAlchemy caches a statement's compiled form by its structure, and building
# it anew per batch cost ~0.3 ms of cache-key work (pyinstrument, bench/logwriter.py).
_SELECT_HEAD = select(_head.c.seq, _head.c.record_hash, _head.c.batch_id).where(_head.c.id == 1)
_SELECT_HEAD_LOCKED = _SELECT_HEAD.with_for_update()
_INSERT_TX = insert(_tx)
_INSERT_BATCH = insert(_batches)
_UPDATE_HEAD = update(_head).where(_head.c.id == 1)
# One array parameter, however large the batch (asyncpg takes at most 32,767 parameters).
_COUNT_REQUESTS = (
    select(func.count())
    .select_from(_tx)
    .where(_tx.c.request_id == any_(bindparam("ids", type_=ARRAY(String))))
)


async def append(
    conn: AsyncConnection,
    records: list[dict[str, Any]],
    *,
    signer: Signer | None,
    lock: bool,
) -> None:
    """Chain ``records`` after the current head and write them, in the caller's transaction."""
    db = inline_sqlite(conn)
    if db is not None and all(rec.keys() >= GIVEN_COLUMNS for rec in records):
        append_inline(db, records, signer)
        return
    sql = _SQL.get(conn.dialect.paramstyle)
    if sql is None:  # a driver this module has no plain SQL for: SQLAlchemy all the way
        await _append_core(conn, records, signer=signer, lock=lock)
        return
    head: Any = (await conn.exec_driver_sql(sql["head_locked" if lock else "head"])).first()
    if head is None:
        raise HeadGone(HEAD_GONE)
    first_seq, batch_id = head[0] + 1, head[2] + 1
    seq, prev = _chain(records, head[0], head[1], batch_id)
    await _insert_records(conn, records)
    signature = signer.sign(batch_message(batch_id, first_seq, seq, prev)) if signer else None
    committed_at: Any = utcnow()
    if conn.dialect.name == "sqlite":
        committed_at = _sqlite_value(committed_at)
    key_id = signer.key_id if signer else None
    await conn.exec_driver_sql(
        sql["batch"], (batch_id, first_seq, seq, prev, committed_at, key_id, signature)
    )
    await conn.exec_driver_sql(sql["move_head"], (seq, prev, batch_id))


async def landed(conn: AsyncConnection, records: list[dict[str, Any]]) -> bool:
    """Whether ``records`` are in the log already (PostgreSQL), in the caller's transaction.

    For a batch whose connection was lost, maybe during its COMMIT: the records' request ids
    are unique, and a batch commits whole or not at all. The chain head is locked first, so
    a transaction of the lost connection that the server has not ended yet ends (or the lock
    wait times out) before the answer is read.
    """
    await conn.execute(_SELECT_HEAD_LOCKED)
    ids = [rec["request_id"] for rec in records]
    return await conn.scalar(_COUNT_REQUESTS, {"ids": ids}) == len(ids)


# The hub makes the row with the log's tables and never deletes it; every batch fails
# until it is put back, and the writer's log said "cannot unpack non-iterable NoneType".
HEAD_GONE = (
    "the chain head (table chain_head) is gone: it was deleted around the hub, so no record "
    "can be appended and every exchange is refused; run `hub audit verify` to see what else "
    "was changed"
)


class HeadGone(LookupError):
    """The chain head's row is missing."""


def append_inline(
    db: sqlite3.Connection, records: list[dict[str, Any]], signer: Signer | None
) -> None:
    """``append`` on the writer's own SQLite connection, inside its open transaction."""
    sql = _SQL["qmark"]
    head = db.execute(sql["head"]).fetchone()
    if head is None:
        raise HeadGone(HEAD_GONE)
    seq, prev, batch_id = head
    batch_id += 1
    first_seq = seq + 1
    rows = []
    for rec in records:
        seq += 1
        rec["seq"] = seq
        rec["batch_id"] = batch_id
        rec["prev_hash"] = prev
        started = rec["started_at"]
        if _ONLY_STARTED_AT and type(started) is datetime and started.tzinfo is None:
            # One isoformat for the chain's text and the row's (1.5 us, timeit): SQLite's
            # form differs only by the space at index 10, after the always 10-wide date.
            iso = started.isoformat(timespec="microseconds")
            prev = rec["record_hash"] = record_hash(prev, rec, iso)
            row = list(_ROW(rec))
            row[_STARTED_AT] = f"{iso[:10]} {iso[11:]}"
            rows.append(tuple(row))
        else:
            prev = rec["record_hash"] = record_hash(prev, rec)
            rows.extend(_sqlite_rows([rec]))
    db.executemany(sql["records"], rows)
    signature = signer.sign(batch_message(batch_id, first_seq, seq, prev)) if signer else None
    key_id = signer.key_id if signer else None
    committed_at = _sqlite_value(utcnow())
    db.execute(sql["batch"], (batch_id, first_seq, seq, prev, committed_at, key_id, signature))
    db.execute(sql["move_head"], (seq, prev, batch_id))


def _chain(records: list[dict[str, Any]], seq: int, prev: str, batch_id: int) -> tuple[int, str]:
    """Number and hash ``records`` after the head (``seq``, ``prev``); the new head."""
    for rec in records:
        seq += 1
        rec["seq"] = seq
        rec["batch_id"] = batch_id
        rec["prev_hash"] = prev
        prev = rec["record_hash"] = record_hash(prev, rec)
    return seq, prev


async def _append_core(
    conn: AsyncConnection, records: list[dict[str, Any]], *, signer: Signer | None, lock: bool
) -> None:
    """``append`` in SQLAlchemy Core statements, for drivers without plain SQL above."""
    head = (await conn.execute(_SELECT_HEAD_LOCKED if lock else _SELECT_HEAD)).one()
    first_seq, batch_id = head.seq + 1, head.batch_id + 1
    seq, prev = _chain(records, head.seq, head.record_hash, batch_id)
    await conn.execute(_INSERT_TX, records)
    signature = signer.sign(batch_message(batch_id, first_seq, seq, prev)) if signer else None
    await conn.execute(
        _INSERT_BATCH,
        {
            "id": batch_id,
            "first_seq": first_seq,
            "last_seq": seq,
            "last_hash": prev,
            "committed_at": utcnow(),
            "key_id": signer.key_id if signer else None,
            "signature": signature,
        },
    )
    await conn.execute(_UPDATE_HEAD, {"seq": seq, "record_hash": prev, "batch_id": batch_id})


def _plain_sql(mark: Callable[[int], str]) -> dict[str, str]:
    cols = tuple(c.name for c in _tx.columns)
    return {
        "head": "SELECT seq, record_hash, batch_id FROM chain_head WHERE id = 1",
        "head_locked": "SELECT seq, record_hash, batch_id FROM chain_head WHERE id = 1 FOR UPDATE",
        "records": f"INSERT INTO transactions ({', '.join(cols)}) "
        f"VALUES ({', '.join(mark(i) for i in range(1, len(cols) + 1))})",
        "batch": "INSERT INTO log_batches (id, first_seq, last_seq, last_hash, committed_at, "
        f"key_id, signature) VALUES ({', '.join(mark(i) for i in range(1, 8))})",
        "move_head": f"UPDATE chain_head SET seq = {mark(1)}, record_hash = {mark(2)}, "
        f"batch_id = {mark(3)} WHERE id = 1",
    }


# The writer's statements as plain SQL in each driver's parameter style. Through
# SQLAlchemy Core, a one-record batch took 0.61 ms of which the four statements' compile
# cache lookups and parameter processing were about 0.2 ms (pyinstrument,
# bench/logwriter.py); the hub answers only after this commit, so it is latency too.
_SQL = {"qmark": _plain_sql(lambda _i: "?"), "numeric_dollar": _plain_sql(lambda i: f"${i}")}


_TX_COLUMNS = tuple(c.name for c in _tx.columns)
_TX_COLSET = frozenset(_TX_COLUMNS)
_ROW = operator.itemgetter(*_TX_COLUMNS)  # a record's values in column order
_DATETIME_AT = tuple(i for i, c in enumerate(_tx.columns) if isinstance(c.type, DateTime))
_STARTED_AT = _TX_COLUMNS.index("started_at")
_ONLY_STARTED_AT = _DATETIME_AT == (_STARTED_AT,)  # so the chain's text of it serves the row
GIVEN_COLUMNS = _TX_COLSET - {"seq", "batch_id", "prev_hash", "record_hash"}  # append sets these


async def _insert_records(conn: AsyncConnection, records: list[dict[str, Any]]) -> None:
    """One executemany of plain tuples, below SQLAlchemy's per-row parameter processing.

    That processing (construct_params, the SQLite DATETIME bind processor) was about 15 %
    of the writer's time at 1,000 records a batch (cProfile, bench/logwriter.py). Records
    missing a column take the ordinary path, so column defaults still apply to them.
    """
    sql = _SQL.get(conn.dialect.paramstyle, {}).get("records")
    if sql is None or not all(rec.keys() >= _TX_COLSET for rec in records):
        await conn.execute(_INSERT_TX, records)
        return
    rows = _sqlite_rows(records) if conn.dialect.name == "sqlite" else list(map(_ROW, records))
    await conn.exec_driver_sql(sql, rows)


def _sqlite_rows(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The records as SQLite parameter rows: values in column order, datetimes as text.

    itemgetter and the DateTime columns alone: converting every value took 3.2 us a
    record against 1.7-1.8 (timeit, the bench record), and this runs in the writer's
    commit.
    """
    rows = []
    for rec in records:
        row = list(_ROW(rec))
        for i in _DATETIME_AT:
            row[i] = _sqlite_value(row[i])
        rows.append(tuple(row))  # SQLAlchemy's executemany takes tuples, not lists
    return rows


def _sqlite_value(value: Any) -> Any:
    # SQLAlchemy stores a SQLite DATETIME as "YYYY-MM-DD HH:MM:SS.ffffff", ignoring tzinfo.
    if type(value) is datetime:
        if value.tzinfo is not None:  # naive already, as a rule: see chain._datetime
            value = value.replace(tzinfo=None)
        return value.isoformat(" ", "microseconds")
    return value
