"""``hub audit verify``: recompute the chain and check every batch signature.

What each check catches:

- the hash chain: an edited record (its hash no longer matches), a deleted or inserted
  record (the next record no longer follows it, or ``seq`` has a gap);
- batch coverage: every record lies inside the signed batch it names, so a record appended
  after the fact (with a recomputed chain and chain head) belongs to no signed batch;
- batch signatures: each batch's last hash is signed with Ed25519 when committed, so
  rewriting a record and recomputing the chain of every later record (the database
  administrator's attack) leaves a batch whose signed last hash differs from its records;
- the chain head and the last batch: records deleted from the end.

What it cannot catch from inside the database: dropping whole batches from the end together
with their signatures and the chain head. Keep the last verified ``seq`` and hash elsewhere
(docs/security.md) to close that.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.models import ChainHead, LogBatch, Transaction
from hub.txlog.chain import CHAINED_FIELDS, GENESIS, batch_message, record_hash
from hub.txlog.signing import key_id, verify

_tx = Transaction.__table__
_batches = LogBatch.__table__
_head = ChainHead.__table__
CHUNK = 20_000


@dataclass
class AuditReport:
    records: int = 0
    batches: int = 0
    signatures_checked: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_log(
    engine: AsyncEngine,
    *,
    public_key: Ed25519PublicKey | None = None,
    public_keys: Iterable[Ed25519PublicKey] = (),
    max_problems: int = 20,
) -> AuditReport:
    """Walk the log in ``seq`` order; the first problem names the first bad record.

    ``public_key`` and ``public_keys`` are the keys batches may be signed with (old keys stay
    valid for the batches they signed after a rotation); none given skips signatures.
    """
    keys = {key_id(k): k for k in [*([public_key] if public_key else []), *public_keys]}
    report = AuditReport()
    expected_seq, prev = 1, GENESIS
    cols = [_tx.c[name] for name in CHAINED_FIELDS] + [_tx.c.prev_hash, _tx.c.record_hash]

    async with engine.connect() as conn:
        last = 0
        stopped = False  # at max_problems: what lies past that point was not read
        while not stopped:
            rows = (
                await conn.execute(
                    select(*cols).where(_tx.c.seq > last).order_by(_tx.c.seq).limit(CHUNK)
                )
            ).all()
            if not rows:
                break
            batches = await _batches_over(conn, rows[0].seq, rows[-1].seq)
            # Batches end in this chunk when their last seq is past the previous chunk's end,
            # so one whose last record was deleted is still checked exactly once.
            ending = {b.last_seq: b for b in batches.values() if last < b.last_seq <= rows[-1].seq}
            for row in rows:
                rec = row._asdict()
                seq = rec["seq"]
                where = f"record seq={seq} id={rec['id']}"
                if seq > expected_seq:
                    report.problems.append(
                        f"records {expected_seq}..{seq - 1} are missing (deleted) before {where}"
                    )
                if rec["prev_hash"] != prev:
                    report.problems.append(
                        f"{where} does not follow the record before it (inserted, or its "
                        "predecessor was changed or deleted)"
                    )
                if record_hash(rec["prev_hash"], rec) != rec["record_hash"]:
                    report.problems.append(
                        f"{where} was edited: its content no longer matches its hash"
                    )
                else:
                    report.problems.extend(_body_problems(rec, where))
                batch = batches.get(rec["batch_id"])
                if batch is None or not batch.first_seq <= seq <= batch.last_seq:
                    report.problems.append(
                        f"{where} lies in no committed batch (it names batch {rec['batch_id']}): "
                        "it was added after the fact"
                    )
                if seq in ending:
                    _check_batch(report, keys, ending.pop(seq), rec["record_hash"])
                prev, expected_seq = rec["record_hash"], seq + 1
                report.records += 1
                if len(report.problems) >= max_problems:
                    stopped = True
                    break
            if not stopped:
                for batch in ending.values():  # their last record is gone: signatures only
                    _check_batch(report, keys, batch, None)
            last = rows[-1].seq
            stopped = stopped or len(report.problems) >= max_problems

        report.last_seq, report.last_hash = expected_seq - 1, prev
        if stopped:
            # The end of the log was not reached: checking it against the chain head would
            # report the unread records as deleted.
            report.problems.append(
                f"stopped after {len(report.problems)} problems at record seq="
                f"{report.last_seq}; the records after it were not checked"
            )
        else:
            await _check_tail(conn, report)
    return report


def _body_problems(rec: dict[str, Any], where: str) -> list[str]:
    """Stored bodies (keep_bodies services) against the body hashes taken at the exchange.

    The record hash covers fields joined by a separator a body may hold itself, so text moved
    from one body to the other kept the hash ("pay A\x1fnote" | "{...}" read as "pay A" |
    "note\x1f{...}"); each body's own SHA-512 does not follow. A body stored with U+FFFD
    (bytes that were not UTF-8, replaced) cannot be hashed back, and is not judged.
    """
    problems = []
    for side in ("request", "response"):
        body = rec[f"{side}_body"]
        if body is None or "\ufffd" in body:
            continue
        digest = base64.b64encode(hashlib.sha512(body.encode()).digest()).decode()
        if digest != rec[f"{side}_hash"]:
            problems.append(
                f"{where} was edited: its stored {side} body does not match its {side}_hash"
            )
    return problems


async def _batches_over(conn: AsyncConnection, first: int, last: int) -> dict[int, Any]:
    """Batch id -> row, for the batches overlapping records first..last."""
    rows = await conn.execute(
        select(_batches).where(_batches.c.last_seq >= first, _batches.c.first_seq <= last)
    )
    return {r.id: r for r in rows}


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
    elif b.key_id not in keys:
        report.problems.append(f"{span} was signed by an unknown key ({b.key_id})")
    elif not verify(
        keys[b.key_id], batch_message(b.id, b.first_seq, b.last_seq, b.last_hash), b.signature
    ):
        report.problems.append(f"{span} has an invalid signature: its row was changed")
    else:
        report.signatures_checked += 1


async def _check_tail(conn: AsyncConnection, report: AuditReport) -> None:
    """Records deleted from the end leave the chain head or a batch pointing past them."""
    end = report.last_seq
    beyond = (
        await conn.execute(
            select(_batches.c.id, _batches.c.first_seq, _batches.c.last_seq)
            .where(_batches.c.last_seq > end)
            .order_by(_batches.c.last_seq)
            .limit(1)
        )
    ).first()
    if beyond is not None:
        report.problems.append(
            f"batch {beyond.id} covers records {beyond.first_seq}..{beyond.last_seq} but the "
            f"records end at seq={end}: record seq={end + 1} and later "
            "were deleted from the end"
        )
    head = (await conn.execute(select(_head).where(_head.c.id == 1))).first()
    if head is not None and (head.seq != end or head.record_hash != report.last_hash):
        report.problems.append(
            f"the chain head says the log ends at seq={head.seq} but the records end at "
            f"seq={end}: records were deleted from or added to the end"
        )
