"""``hub audit verify``: what the walk over the records is bounded by and checked against.

Read in the audit's one snapshot (``hub.txlog.audit.begin_snapshot``): the chain head, the
last seq, the batches stored in forms the hub never writes, the rollup mark and the
statistics to hold to the records; and, after the walk, the checks on the log's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, Table, func, select
from sqlalchemy import literal_column as sql
from sqlalchemy import type_coerce as raw
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.models import ChainHead, LogBatch, RollupMark, Transaction
from hub.stats.retention import first_whole_hour, minute_horizon, read_pruned
from hub.txlog.audit_batches import batch_problems
from hub.txlog.audit_records import shown
from hub.txlog.audit_stats import Statistics
from hub.txlog.forms import all_well_formed, bad_form

if TYPE_CHECKING:
    from hub.txlog.audit import AuditReport

_tx: Table = Transaction.__table__  # type: ignore[assignment]
_batches: Table = LogBatch.__table__  # type: ignore[assignment]
_head: Table = ChainHead.__table__  # type: ignore[assignment]
_mark: Table = RollupMark.__table__  # type: ignore[assignment]
BATCH_COLS = ("id", "first_seq", "last_seq", "last_hash", "key_id", "signature")


async def _minutes_kept(
    conn: AsyncConnection, minute_days: int, now: datetime | None, first: list[str]
) -> datetime | None:
    """The hour from which the minute rows are held to their hours; None: they are not.

    Minutes a hub with fewer days pruned are no tampering, whatever the days given here.
    """
    try:
        known, before = await read_pruned(conn)
    except ValueError as exc:
        first.append(f"the record of how far the minute rollups were pruned was changed: {exc}")
        known, before = False, None
    if known:
        # Recorded with each prune's delete: every minute row from there on is kept, so
        # the oldest ones missing were deleted, not pruned.
        kept: datetime | None = before or datetime.min
    else:
        # Pruned by an older hub, which recorded nothing: from the oldest row's hour on,
        # none when none is left.
        kept = await first_whole_hour(conn)
    if kept is None:
        return None
    return max(minute_horizon(minute_days, now) or datetime.min, kept)


async def _below_the_log(conn: AsyncConnection) -> list[str]:
    """Records below seq 1, where the hub begins the log: the walk starts there, so one put
    below it (seq 0, or negative) was never read while `hub tx show` showed it."""
    below = _tx.c.seq < 1
    found = (
        await conn.execute(select(_tx.c.seq, _tx.c.id).where(below).order_by(_tx.c.seq).limit(1))
    ).first()
    if found is None:
        return []
    n = int((await conn.execute(select(func.count()).where(below))).scalar() or 0)
    return [
        f"record seq={found.seq} id={found.id} lies before seq=1, where the hub begins the log: "
        f"it was inserted ({n} record{'' if n == 1 else 's'} below seq=1)"
    ]


@dataclass
class LogState:
    """What the walk is bounded by and checked against, read in one snapshot
    (``begin_snapshot``)."""

    end: int  # the last record's seq
    head: Any | None
    mark: int | None
    bad_batches: dict[int, str]  # id -> its columns not stored as the hub writes them
    first: list[str]  # problems to report before the records'
    last_batch: Any | None  # the batch with the highest id
    beyond: Any | None  # the first batch ending past the last record
    stats: Statistics | None

    @classmethod
    async def read(
        cls, conn: AsyncConnection, minute_days: int | None, now: datetime | None
    ) -> LogState:
        sqlite = conn.dialect.name == "sqlite"
        first: list[str] = []
        head_cols: list[Any] = [_head.c.seq, _head.c.record_hash, _head.c.batch_id]
        mark_cols: list[Any] = [_mark.c.seq]
        if sqlite:
            head_cols.append(sql(bad_form(head_cols)).label("bad_form"))
            mark_cols.append(sql(bad_form(mark_cols)).label("bad_form"))
        head = (await conn.execute(select(*head_cols).where(_head.c.id == 1))).first()
        end = int((await conn.execute(select(func.max(_tx.c.seq)))).scalar() or 0)
        first.extend(await _below_the_log(conn))
        bad_batches = {}
        if sqlite:
            cols = [_batches.c[c] for c in BATCH_COLS[1:]] + [_batches.c.committed_at]
            damaged = select(
                _batches.c.id, sql(bad_form(cols)), *(raw(c, String) for c in cols)
            ).where(sql(f"NOT ({all_well_formed(cols)})"))
            for row in await conn.execute(damaged):
                stored = dict(zip((c.name for c in cols), row[2:], strict=True))
                bad_batches[row[0]] = row[1]
                first.append(f"batch {row[0]} was changed: {shown(row[1], stored)}")
            if head is not None and head.bad_form:
                first.append(
                    f"the chain head was changed: {shown(head.bad_form, dict(head._mapping))}"
                )
        first.extend(await batch_problems(conn, bad_batches))
        last_batch = (
            await conn.execute(
                select(_batches.c.id, _batches.c.last_seq).order_by(_batches.c.id.desc()).limit(1)
            )
        ).first()
        beyond = None
        for b in await conn.execute(
            select(_batches.c.id, _batches.c.first_seq, _batches.c.last_seq)
            .where(_batches.c.last_seq > end)
            .order_by(_batches.c.last_seq)
            .limit(1)
        ):
            beyond = b if type(b.last_seq) is int and b.id not in bad_batches else None
        mark_row = (await conn.execute(select(*mark_cols).where(_mark.c.id == 1))).first()
        mark, stats = None, None
        if mark_row is None:
            first.append("the rollup mark is missing (its row was deleted): statistics fail")
        elif (sqlite and mark_row.bad_form) or type(mark_row.seq) is not int:
            first.append(f"the rollup mark was changed: seq={mark_row.seq!r} is not a seq")
        elif not 0 <= mark_row.seq <= end:
            mark = mark_row.seq
            first.append(
                f"the rollup mark says the statistics count the log up to seq={mark}, but "
                f"the records end at seq={end}: it was changed, or records were deleted from "
                "the end"
            )
        else:
            mark = mark_row.seq
        if mark is not None:
            horizon = None
            if minute_days is not None:
                horizon = await _minutes_kept(conn, minute_days, now, first)
            stats = Statistics(mark, horizon)
            await stats.read_tables(conn)
        return cls(end, head, mark, bad_batches, first, last_batch, beyond, stats)

    def tail(self, report: AuditReport) -> list[str]:
        """Records deleted from the end leave the chain head or a batch pointing past them."""
        end, problems = report.last_seq, []
        b = self.beyond
        if b is not None:
            problems.append(
                f"batch {b.id} covers records {b.first_seq}..{b.last_seq} but the records end "
                f"at seq={end}: record seq={end + 1} and later were deleted from the end"
            )
        head = self.head
        if head is None:
            problems.append(
                "the chain head is missing (its row was deleted): the hub cannot append, and "
                "the end of the log cannot be checked against it"
            )
        elif head.seq != end:
            problems.append(
                f"the chain head says the log ends at seq={head.seq} but the records end at "
                f"seq={end}: records were deleted from or added to the end"
            )
        elif head.record_hash != report.last_hash:
            problems.append(
                f"the chain head names record seq={end} with hash {head.record_hash!s:.16}..., "
                f"but that record's hash is {report.last_hash:.16}...: the chain head was "
                "changed, or the last record replaced"
            )
        elif self.last_batch is not None and head.batch_id != self.last_batch.id:
            problems.append(
                f"the chain head names batch {head.batch_id} but the last batch is "
                f"{self.last_batch.id}: batches were deleted from or added to the end"
            )
        return problems
