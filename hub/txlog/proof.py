"""Proofs that one exchange is in the log, checked offline (``hub audit proof`` and
``check-proof``): the record's canonical text, the chain from it to the last record of its
batch, and the batch's signature. docs/security.md has the format."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.models import LogBatch, Transaction
from hub.stats.records import transaction
from hub.txlog.audit import begin_snapshot
from hub.txlog.audit_records import body_problems
from hub.txlog.audit_state import BATCH_COLS
from hub.txlog.chain import CHAINED_FIELDS, batch_message, canonical_text
from hub.txlog.chain import _text as field_text  # the definition's text of one field
from hub.txlog.signing import verify

_tx: Table = Transaction.__table__  # type: ignore[assignment]
_batches: Table = LogBatch.__table__  # type: ignore[assignment]

PROOF_FORMAT = "hub-log-proof/1"
_BODY_FIELDS = ("request_body", "request_hash", "response_body", "response_hash")


async def make_proof(engine: AsyncEngine, ident: str) -> dict[str, Any] | None:
    """A proof that the exchange ``ident`` (X-Road-Request-Id, else X-Road-Id) is in the log.

    None when there is no such exchange. Raises ValueError when the log does not hold
    around it (``hub audit verify`` says where): a proof of a broken chain proves nothing.
    """
    async with engine.connect() as conn:
        conn, _ = await begin_snapshot(conn)
        rec = await transaction(conn, ident)  # the lookup of `hub tx show`
        if rec is None:
            return None
        batch = (
            await conn.execute(
                select(*(_batches.c[c] for c in BATCH_COLS)).where(_batches.c.id == rec["batch_id"])
            )
        ).first()
        if batch is None or not batch.first_seq <= rec["seq"] <= batch.last_seq:
            raise ValueError(f"record seq={rec['seq']} lies in no committed batch")
        after = (
            await conn.execute(
                select(*(_tx.c[n] for n in (*CHAINED_FIELDS, "record_hash")))
                .where(_tx.c.seq > rec["seq"], _tx.c.seq <= batch.last_seq)
                .order_by(_tx.c.seq)
            )
        ).all()
    chain = [canonical_text(r._asdict()) for r in after]
    proof = {
        "format": PROOF_FORMAT,
        "exchange": {
            "seq": rec["seq"],
            "prev_hash": rec["prev_hash"],
            "record_hash": rec["record_hash"],
            "fields": {name: field_text(rec.get(name)) for name in CHAINED_FIELDS},
        },
        "chain": chain,
        "batch": {c: getattr(batch, c) for c in BATCH_COLS},
    }
    problems = check_proof(proof, {})
    if problems:
        raise ValueError(problems[0])
    return proof


def _hashes(first: str, texts: Iterable[str]) -> list[str]:
    out, h = [], first
    for t in texts:
        h = hashlib.sha256(f"{h}\x1e{t}".encode()).hexdigest()
        out.append(h)
    return out


class _Malformed(Exception):
    """A part of a proof missing or of another type, said in words."""


_TYPES = {"exchange": dict, "fields": dict, "batch": dict, "chain": list}
_TYPE_NAMES = {dict: "an object", list: "a list"}


def _part(parent: Mapping[str, Any], name: str, whose: str = "its") -> Any:
    """``parent[name]``, if it is there and of the type the format gives it."""
    verb = "are" if name == "fields" else "is"
    if name not in parent:
        raise _Malformed(
            f"it has no {name}" if whose == "its" else f"{whose} {name} {verb} missing"
        )
    value, kind = parent[name], _TYPES[name]
    if not isinstance(value, kind):
        raise _Malformed(f"{whose} {name} {verb} not {_TYPE_NAMES[kind]}")
    return value


def _number(parent: Mapping[str, Any], name: str, whose: str) -> int:
    value = parent.get(name)
    # A bool is an int to Python, and text "12" is what the format never writes.
    if type(value) is not int:
        raise _Malformed(f"{whose} {name} is not a whole number")
    return value


def check_proof(proof: Mapping[str, Any], keys: Mapping[str, Ed25519PublicKey]) -> list[str]:
    """What is wrong with ``proof`` (``make_proof``'s); nothing when it holds.

    ``keys``: key id -> public key that may have signed the batch; none: the signature is
    not checked (``make_proof`` checks its chain before writing it).
    """
    if proof.get("format") != PROOF_FORMAT:
        return [f"not a {PROOF_FORMAT} proof"]
    try:
        ex, chain, b = _part(proof, "exchange"), _part(proof, "chain"), _part(proof, "batch")
        fields = _part(ex, "fields", "its exchange's")
        seq = _number(ex, "seq", "its exchange's")
        batch_id, first, last = (
            _number(b, n, "its batch's") for n in ("id", "first_seq", "last_seq")
        )
        if not all(type(v) is str for v in [*fields.values(), *chain]):
            raise _Malformed("its fields and chain are not all text")
    except _Malformed as exc:
        return [f"not a complete {PROOF_FORMAT} proof: {exc}"]
    if list(fields) != list(CHAINED_FIELDS):
        return ["its fields are not the chained fields, in their order"]
    # Read below as text; each was a KeyError or TypeError out of `hub audit check-proof`.
    texts = [ex.get("prev_hash"), ex.get("record_hash"), b.get("last_hash")]
    if not all(type(v) is str for v in texts) or not all(
        b.get(k) is None or type(b[k]) is str for k in ("key_id", "signature")
    ):
        return [
            f"not a complete {PROOF_FORMAT} proof: its prev_hash, record_hash, last_hash, "
            "key_id and signature are not all text"
        ]
    problems = []
    if fields["seq"] != str(seq) or fields["batch_id"] != str(batch_id):
        problems.append("its record's seq or batch is not the one the proof names")
    text = "\x1f".join(fields[name] for name in CHAINED_FIELDS)
    if hashlib.sha256(f"{ex['prev_hash']}\x1e{text}".encode()).hexdigest() != ex["record_hash"]:
        problems.append("its record's fields do not give its record_hash")
    # The separator may stand in a kept body, so the same hash has other splits of the text:
    # each body's own SHA-512 tells the one the hub wrote (as verify holds the database's).
    kept = {name: None if fields[name] == "\x00" else fields[name] for name in _BODY_FIELDS}
    problems += body_problems(kept, f"record seq={seq}")
    if not first <= seq <= last or seq + len(chain) != last:
        problems.append(f"the chain from seq={seq} does not end at batch {batch_id}'s last record")
    for n, t in enumerate(chain, start=seq + 1):
        if t.split("\x1f", 1)[0] != str(n) or t.rsplit("\x1f", 1)[-1] != str(batch_id):
            problems.append(f"the chain's record seq={n} is not record {n} of batch {batch_id}")
            break
    if (_hashes(ex["record_hash"], chain) or [ex["record_hash"]])[-1] != b["last_hash"]:
        problems.append(f"the chain does not lead to batch {batch_id}'s signed last hash")
    if keys:
        message = batch_message(batch_id, first, last, b["last_hash"])
        if b.get("key_id") not in keys:
            problems.append(f"batch {batch_id} was signed by another key ({b.get('key_id')})")
        elif not verify(keys[b["key_id"]], message, str(b.get("signature"))):
            problems.append(f"batch {batch_id}'s signature does not hold")
    return problems
