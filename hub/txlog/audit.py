"""``hub audit verify``: recompute the chain and check every batch signature."""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.models import ChainHead, LogBatch, Transaction
from hub.txlog.chain import CHAINED_FIELDS, GENESIS, batch_message, record_hash
from hub.txlog.signing import key_id, verify

_tx = Transaction.__table__
CHUNK = 20_000


@dataclass
class AuditReport:
    records: int = 0
    batches: int = 0
    signatures_checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_log(
    engine: AsyncEngine, *, public_key: Ed25519PublicKey | None = None, max_problems: int = 20
) -> AuditReport:
    """Walk the log in ``seq`` order; the first problem names the first bad record."""
    report = AuditReport()
    expected_seq, prev = 1, GENESIS
    batch_last: dict[int, tuple[int, str]] = {}
    cols = [_tx.c[name] for name in CHAINED_FIELDS] + [_tx.c.prev_hash, _tx.c.record_hash]

    async with engine.connect() as conn:
        last = 0
        while len(report.problems) < max_problems:
            rows = (
                await conn.execute(
                    select(*cols).where(_tx.c.seq > last).order_by(_tx.c.seq).limit(CHUNK)
                )
            ).all()
            if not rows:
                break
            for row in rows:
                rec = row._asdict()
                seq = rec["seq"]
                if seq != expected_seq:
                    if seq > expected_seq:
                        report.problems.append(
                            f"records {expected_seq}..{seq - 1} are missing (deleted) before "
                            f"record seq={seq} id={rec['id']}"
                        )
                    else:
                        report.problems.append(f"record seq={seq} is out of order")
                if rec["prev_hash"] != prev:
                    report.problems.append(
                        f"record seq={seq} id={rec['id']} does not follow the record before it "
                        "(inserted, or its predecessor was changed or deleted)"
                    )
                if record_hash(rec["prev_hash"], rec) != rec["record_hash"]:
                    report.problems.append(
                        f"record seq={seq} id={rec['id']} was edited: its content no longer "
                        "matches its hash"
                    )
                prev, expected_seq = rec["record_hash"], seq + 1
                batch_last[seq] = (rec["batch_id"], rec["record_hash"])
                report.records += 1
                if len(report.problems) >= max_problems:
                    break
            last = rows[-1].seq
            # Keep only what batch checks need: the hash at each batch's last seq.
            batch_last = {k: v for k, v in batch_last.items() if k == last}
            await _check_batches_upto(conn, report, public_key, last, rows, _tx)

        head = (await conn.execute(select(ChainHead).where(ChainHead.id == 1))).one_or_none()
        if head is not None:
            h = head[0]
            if h.seq != expected_seq - 1 or h.record_hash != prev:
                report.problems.append(
                    f"the chain head says the log ends at seq={h.seq} but the records end at "
                    f"seq={expected_seq - 1}: records were deleted from or added to the end"
                )
    return report


async def _check_batches_upto(conn, report, public_key, last_seq, rows, table) -> None:  # type: ignore[no-untyped-def]
    """Check the signatures of batches whose last record lies in this chunk."""
    first_seq = rows[0].seq
    hashes = {r.seq: r.record_hash for r in rows}
    batches = (
        await conn.execute(
            select(LogBatch).where(LogBatch.last_seq >= first_seq, LogBatch.last_seq <= last_seq)
        )
    ).scalars()
    for b in batches:
        report.batches += 1
        actual = hashes.get(b.last_seq)
        if actual is not None and actual != b.last_hash:
            report.problems.append(
                f"batch {b.id} (records {b.first_seq}..{b.last_seq}) was committed with a "
                "different last hash: the chain was recomputed after the fact"
            )
        if public_key is not None:
            if b.signature is None:
                report.problems.append(f"batch {b.id} is not signed")
            elif b.key_id != key_id(public_key):
                report.problems.append(f"batch {b.id} was signed by another key ({b.key_id})")
            elif not verify(
                public_key, batch_message(b.id, b.first_seq, b.last_seq, b.last_hash), b.signature
            ):
                report.problems.append(f"batch {b.id} has an invalid signature")
            else:
                report.signatures_checked += 1
