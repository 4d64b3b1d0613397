"""``hub audit verify``: recompute the chain, check every batch signature, and hold the
statistics to the log.

What each check catches:

- the hash chain: an edited record (its hash no longer matches), a deleted or inserted
  record (the next record no longer follows it, or ``seq`` has a gap);
- batch coverage: every record lies inside the signed batch it names, so a record appended
  after the fact (with a recomputed chain and chain head) belongs to no signed batch;
- batch signatures: each batch's last hash is signed with Ed25519 when committed, so
  rewriting a record and recomputing the chain of every later record (the database
  administrator's attack) leaves a batch whose signed last hash differs from its records;
- the chain head and the last batch: records deleted from the end, or added past the head;
- the batch rows by id (``hub/txlog/audit_batches.py``): one inserted beside those the
  hub wrote, or deleted from among them;
- stored forms (SQLite, ``hub/txlog/forms.py``): a value stored in a form the hub never
  writes but that reads back as the same Python value, so its hash still matches, while
  SQL sees another one (a NUL character for NULL, ``T`` for the space of a date,
  ``'maybe'`` for a boolean);
- statistics: the rollup tables against the records up to the rollup mark
  (``hub/txlog/audit_stats.py``);
- anchors (``expect``): records kept from an earlier audit, which are still there and
  unchanged; nothing else shows whole batches cut from the end together with their
  signatures and the chain head, and new exchanges appended after (docs/security.md).

What is checked is the log as committed when the check began: records and batches
committed while it runs are not read (see ``begin_snapshot``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Integer, String, Table, select
from sqlalchemy import literal_column as sql
from sqlalchemy import type_coerce as raw
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.models import LogBatch, Transaction
from hub.txlog.audit_records import body_problems, ms_problems, read_stored
from hub.txlog.audit_state import BATCH_COLS, LogState
from hub.txlog.chain import CHAINED_FIELDS, GENESIS, batch_message, record_hash
from hub.txlog.forms import bad_form
from hub.txlog.signing import key_id, verify

_tx: Table = Transaction.__table__  # type: ignore[assignment]
_batches: Table = LogBatch.__table__  # type: ignore[assignment]
CHUNK = 20_000


@dataclass
class AuditReport:
    records: int = 0
    batches: int = 0
    signatures_checked: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    last_batch: int | None = None  # the batch of the last record
    last_key: str | None = None  # the key id that signed the last batch checked
    signed_by: Counter[str] = field(default_factory=Counter)  # key id -> batches it signed
    unknown_keys: set[str] = field(default_factory=set)  # key ids of batches not checkable
    anchors_checked: int = 0
    rollup_mark: int | None = None  # the statistics were compared up to this seq
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def anchor(self) -> str:
        """``SEQ:HASH`` of the last record, for ``hub audit verify --expect`` next time."""
        return f"{self.last_seq}:{self.last_hash}"


async def verify_log(
    engine: AsyncEngine,
    *,
    public_key: Ed25519PublicKey | None = None,
    public_keys: Iterable[Ed25519PublicKey] = (),
    expect: Mapping[int, str] | None = None,
    minute_days: int | None = None,
    now: datetime | None = None,
    max_problems: int = 20,
    progress: Callable[[int, int], None] | None = None,
) -> AuditReport:
    """Walk the log in ``seq`` order; the first problem names the first bad record.

    ``public_key`` and ``public_keys`` are the keys batches may be signed with (old keys stay
    valid for the batches they signed after a rotation); none given skips signatures.
    ``expect``: seq -> record hash of records an earlier audit saw. ``minute_days``: the
    minute rollups' retention (``HUB_MINUTE_ROLLUP_DAYS``, 0 keeps all); None leaves the
    minute rollups unchecked (hours and days are always checked). ``progress(seq, end)``:
    called after each chunk of records with the last seq checked and the last of the log
    (a million records take half a minute: the CLI shows how far it got).
    """
    keys = {key_id(k): k for k in [*([public_key] if public_key else []), *public_keys]}
    report = AuditReport()
    anchors = dict(expect or {})
    async with engine.connect() as conn:
        conn, beside = await begin_snapshot(conn)
        state = await LogState.read(conn, minute_days, now)
        if conn.dialect.name == "sqlite":
            await conn.commit()  # end the read transaction: see begin_snapshot
        report.rollup_mark = state.mark
        report.problems.extend(state.first)
        stats, aside = state.stats, None
        if stats is not None and beside:
            # The rollup tables against each other, in SQL, on a connection of their own
            # while this one walks the log: 200,000 records, 4.1 -> 3.3 s on SQLite.
            aside = asyncio.ensure_future(_on_its_own(engine, stats.check_tables))
        try:
            stopped = await _walk(conn, state, keys, anchors, report, max_problems, progress)
        finally:
            if aside is not None:
                await asyncio.wait([aside])  # never left running; its error is raised below
        if aside is not None:
            aside.result()
        elif stats is not None:
            await stats.check_tables(conn)
    if stopped:
        # The end of the log was not reached: checking it against the chain head would
        # report the unread records as deleted.
        report.problems.append(
            f"stopped after {len(report.problems)} problems at record seq="
            f"{report.last_seq}; the records after it were not checked"
        )
        report.rollup_mark = None
        return report
    for seq in sorted(anchors):
        report.problems.append(
            f"record seq={seq}, kept as an anchor, is missing: "
            + (f"the log now ends at seq={state.end}" if seq > state.end else "it was deleted")
            + " (records were cut from the log, and maybe others appended in their place)"
        )
    report.problems.extend(state.tail(report))
    if state.stats is not None:
        report.problems.extend(state.stats.problems())
    return report


async def _on_its_own(engine: AsyncEngine, work: Callable[[AsyncConnection], Any]) -> None:
    async with engine.connect() as conn:
        await work(conn)


async def begin_snapshot(conn: AsyncConnection) -> tuple[AsyncConnection, bool]:
    """Open the read that the whole check is bounded by; and whether another connection
    may read beside this one (not with the log writer's engine, whose every transaction
    takes the write lock).

    PostgreSQL: one REPEATABLE READ transaction for everything, so every statement sees the
    log as it was at the first. SQLite: a read transaction only for the chain head, the
    rollup mark, the last seq and the statistics (``LogState.read``); the records and batches
    are then read up to that last seq, in statements of their own. Records are append-only
    and a batch commits with its records, so nothing up to that seq changes unless someone
    changes it, and the batches committed later all start after it. One read transaction
    for the whole walk would do the same, but on a live hub it keeps SQLite from
    restarting its WAL while it lasts: the log writer's RESTART checkpoints wait for it
    each time (hub/txlog/sqlite.py) and the WAL grows by the whole write rate.
    """
    if conn.dialect.name == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        return await conn.execution_options(**options), True
    await conn.begin()
    # The log writer's own engine begins every transaction with BEGIN IMMEDIATE (a test
    # verifies through it); any other leaves beginning to the statements, which for reads
    # means none, so each statement would read a log of its own.
    driver: Any = (await conn.get_raw_connection()).driver_connection
    if driver.in_transaction:
        return conn, False
    await conn.exec_driver_sql("BEGIN")  # deferred: the snapshot is the first read's
    return conn, True


async def _walk(
    conn: AsyncConnection,
    state: LogState,
    keys: dict[str, Ed25519PublicKey],
    anchors: dict[int, str],
    report: AuditReport,
    max_problems: int,
    progress: Callable[[int, int], None] | None = None,
) -> bool:
    """The records up to ``state.end`` in order; True when stopped at ``max_problems``."""
    walker = _Walker(conn.dialect.name == "sqlite", state, keys, anchors, report, max_problems)

    async def read(after: int) -> tuple[Sequence[Any], dict[int, Any]]:
        query = select(*walker.columns).where(_tx.c.seq > after, _tx.c.seq <= state.end)
        rows = (await conn.execute(query.order_by(_tx.c.seq).limit(CHUNK))).all()
        return rows, (await _batches_over(conn, rows[0][0], rows[-1][0]) if rows else {})

    last = 0
    while last < state.end:
        rows, batches = await read(last)
        if not rows:
            break
        if walker.chunk(rows, batches):
            return True
        last = rows[-1][0]
        if progress is not None:
            progress(last, state.end)
    return False


class _Walker:
    """Checks the records chunk by chunk, in ``seq`` order, carrying the chain across."""

    def __init__(
        self,
        sqlite: bool,
        state: LogState,
        keys: dict[str, Ed25519PublicKey],
        anchors: dict[int, str],
        report: AuditReport,
        max_problems: int,
    ) -> None:
        self.sqlite, self.state, self.keys, self.anchors = sqlite, state, keys, anchors
        self.report, self.max_problems = report, max_problems
        self.expected_seq, self.prev, self.last = 1, GENESIS, 0
        self.mark = state.mark if state.stats is not None and state.mark is not None else 0
        self.names = [*CHAINED_FIELDS, "prev_hash", "record_hash"]
        self.columns: list[Any] = [_tx.c[name] for name in self.names]
        if sqlite:
            # As stored, not through SQLAlchemy's processors: a date that is not one failed
            # the whole read ("cannot read the log") instead of naming its record.
            at, ok = self.names.index("started_at"), self.names.index("succeeded")
            self.columns[at] = raw(_tx.c.started_at, String).label("started_at")
            self.columns[ok] = raw(_tx.c.succeeded, Integer).label("succeeded")
            self.names.append("bad_form")
            form = bad_form([_tx.c[n] for n in CHAINED_FIELDS], hashed=True)
            self.columns.append(sql(form).label("bad_form"))

    def chunk(self, rows: Sequence[Any], batches: dict[int, Any]) -> bool:
        """Check one chunk of records; True when stopped at ``max_problems``."""
        report, problems, anchors = self.report, self.report.problems, self.anchors
        names, keys, bad_batches = self.names, self.keys, self.state.bad_batches
        expected_seq, prev, mark = self.expected_seq, self.prev, self.mark
        # Batches end in this chunk when their last seq is past the previous chunk's end,
        # so one whose last record was deleted is still checked exactly once.
        last = rows[-1][0]
        ending = {b.last_seq: b for b in batches.values() if self.last < b.last_seq <= last}
        counted = []
        for row in rows:
            rec = dict(zip(names, row, strict=True))
            seq = rec["seq"]
            where = f"record seq={seq} id={rec['id']}"
            if seq > expected_seq:
                # "records 12..12 are missing" for the one record most deletions take.
                gone = (
                    f"record seq={expected_seq} is"
                    if seq - 1 == expected_seq
                    else f"records {expected_seq}..{seq - 1} are"
                )
                problems.append(f"{gone} missing (deleted) before {where}")
            if rec["prev_hash"] != prev:
                problems.append(
                    f"{where} does not follow the record before it (inserted, or its "
                    "predecessor was changed or deleted)"
                )
            started_text, readable = None, True
            if self.sqlite:
                started_text, readable = read_stored(rec, where, problems)
            if started_text == "":
                pass  # said so already, and there is no hash to compare
            elif record_hash(rec["prev_hash"], rec, started_text) != rec["record_hash"]:
                problems.append(f"{where} was edited: its content no longer matches its hash")
            else:
                problems.extend(body_problems(rec, where))
                problems.extend(ms_problems(rec, where))
            batch_id = rec["batch_id"]
            batch = batches.get(batch_id)
            if batch is None and batch_id in bad_batches:
                pass  # its batch row is damaged, and said so already
            elif batch is None or not batch.first_seq <= seq <= batch.last_seq:
                problems.append(
                    f"{where} lies in no committed batch (it names batch {batch_id}): "
                    "it was added after the fact"
                )
            if seq in ending:
                _check_batch(report, keys, ending.pop(seq), rec["record_hash"])
            if anchors and seq in anchors:
                _check_anchor(report, seq, rec["record_hash"], anchors.pop(seq))
            if seq <= mark and readable:
                counted.append(rec)
            prev, expected_seq = rec["record_hash"], seq + 1
            report.last_batch = batch_id
            report.records += 1
            if len(problems) >= self.max_problems:
                report.last_seq, report.last_hash = seq, prev
                return True
        for batch in ending.values():  # their last record is gone: signatures only
            _check_batch(report, keys, batch, None)
        if self.state.stats is not None:
            self.state.stats.add_records(counted)
        self.expected_seq, self.prev, self.last = expected_seq, prev, last
        report.last_seq, report.last_hash = expected_seq - 1, prev
        return len(problems) >= self.max_problems


def _check_anchor(report: AuditReport, seq: int, found: str, kept: str) -> None:
    report.anchors_checked += 1
    if found != kept:
        report.problems.append(
            f"record seq={seq} is not the record kept as an anchor: its hash is {found}, the "
            f"anchor's {kept} (the log was cut back to before it and appended to again, or "
            "rewritten)"
        )


async def _batches_over(conn: AsyncConnection, first: int, last: int) -> dict[int, Any]:
    """Batch id -> row, for the well-formed batches overlapping records first..last."""
    rows = await conn.execute(
        select(*(_batches.c[c] for c in BATCH_COLS)).where(
            _batches.c.last_seq >= first, _batches.c.first_seq <= last
        )
    )
    # SQLite keeps whatever was written: text compares above every number, so a damaged
    # row matches any range (``LogState`` reports it).
    return {r.id: r for r in rows if type(r.first_seq) is int and type(r.last_seq) is int}


def _check_batch(
    report: AuditReport,
    keys: dict[str, Ed25519PublicKey],
    b: Any,
    actual_last_hash: str | None,
) -> None:
    """A batch's signed last hash against its records, and its signature against the keys."""
    report.batches += 1
    span = f"batch {b.id} (records {b.first_seq}..{b.last_seq})"
    if actual_last_hash is not None and actual_last_hash != b.last_hash:
        report.problems.append(
            f"{span} was committed with a different last hash: a record among seq "
            f"{b.first_seq}..{b.last_seq} was changed and the chain recomputed after the fact"
        )
    if not keys:
        return
    if b.signature is None:
        report.problems.append(f"{span} is not signed")
    elif b.key_id is None:
        # Not an unknown key: no key was named at all, and no public key passed could help.
        report.problems.append(
            f"{span} is signed, but its key_id was erased: its signature cannot be checked"
        )
    elif b.key_id not in keys:
        report.problems.append(f"{span} was signed by an unknown key ({b.key_id})")
        report.unknown_keys.add(b.key_id)
    elif not verify(
        keys[b.key_id], batch_message(b.id, b.first_seq, b.last_seq, b.last_hash), b.signature
    ):
        report.problems.append(
            f"{span} has an invalid signature: its signature, range or last hash was changed "
            "(a signature forged or moved from another batch, or a record among seq "
            f"{b.first_seq}..{b.last_seq} rewritten and the chain recomputed after it)"
        )
    else:
        report.signatures_checked += 1
        report.signed_by[b.key_id] += 1
        report.last_key = b.key_id
