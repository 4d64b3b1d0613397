"""The batch rows held to how the hub writes them, for ``hub audit verify``.

The log writer gives each batch the next id and the records right after the chain head
(``repository.append``), so the rows, by id, run 1, 2, 3... and their ranges follow one
another from seq 1 with neither gap nor overlap. The walk over the records checks the
batches their records name; this finds the rows no record leads to: one inserted beside
the others (a copy of a signed row under another id, an empty range), or one deleted from
among them.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

LIMIT = 10

# Whether any row does not follow the row of the id before it: one join on the primary
# key, about 0.1 s on SQLite for 200,000 batches (a hub at low load writes one per exchange),
# against 0.6 s for the window functions of _QUERY, which only a tampered log then runs.
_ANY = text(
    """
    SELECT b.id FROM log_batches AS b LEFT JOIN log_batches AS p ON p.id = b.id - 1
    WHERE b.first_seq > b.last_seq
       OR (p.id IS NULL AND (b.id <> 1 OR b.first_seq <> 1))
       OR b.first_seq <> p.last_seq + 1
    LIMIT 1
    """
)

# Each row with the two before it and the one after it, by id; only the rows that do not
# follow the one before them (or are no range at all) come back.
_QUERY = text(
    """
    SELECT id, first_seq, last_seq, p1_id, p1_first, p1_last, p2_id, p2_last,
           n1_id, n1_first
    FROM (
        SELECT id, first_seq, last_seq,
               LAG(id) OVER w AS p1_id, LAG(first_seq) OVER w AS p1_first,
               LAG(last_seq) OVER w AS p1_last,
               LAG(id, 2) OVER w AS p2_id, LAG(last_seq, 2) OVER w AS p2_last,
               LEAD(id) OVER w AS n1_id, LEAD(first_seq) OVER w AS n1_first
        FROM log_batches
        WINDOW w AS (ORDER BY id)
    ) AS b
    WHERE first_seq > last_seq
       OR id <> COALESCE(p1_id, 0) + 1
       OR first_seq <> COALESCE(p1_last, 0) + 1
    ORDER BY id
    LIMIT :limit
    """
)


class _Row(NamedTuple):
    id: int
    first_seq: int
    last_seq: int
    p1_id: int | None
    p1_first: int | None
    p1_last: int | None
    p2_id: int | None
    p2_last: int | None
    n1_id: int | None
    n1_first: int | None


def _follows(row_id: int | None, first: int | None, prev_id: int | None, prev_last: Any) -> bool:
    """Whether a batch (id, first seq) comes right after the one before (none: the first)."""
    return row_id == (prev_id or 0) + 1 and first == (prev_last or 0) + 1


async def batch_problems(conn: AsyncConnection, damaged: Collection[int]) -> list[str]:
    """The batch rows that are not where the hub writes them, each named with why.

    ``damaged``: ids of rows reported already for values not stored as the hub writes them
    (SQLite); they and the rows after them are not judged again.
    """
    if (await conn.execute(_ANY)).first() is None:
        return []
    rows = [_Row(*r) for r in await conn.execute(_QUERY, {"limit": LIMIT})]
    problems = []
    for r in rows:
        if r.id in damaged or r.p1_id in damaged:
            continue
        span = f"batch {r.id} (records {r.first_seq}..{r.last_seq})"
        before = (
            f"batch {r.p1_id} (records {r.p1_first}..{r.p1_last})" if r.p1_id is not None else ""
        )
        rule = "the hub writes batches one after another from seq=1"
        if (
            r.p1_id is not None
            and r.first_seq <= r.last_seq
            and _follows(r.id, r.first_seq, r.p2_id, r.p2_last)
        ):
            continue  # the row before it stands between it and its own: said so there
        if (
            r.first_seq > r.last_seq
            or (r.p1_last is not None and r.first_seq <= r.p1_last)
            or (r.n1_id is not None and _follows(r.n1_id, r.n1_first, r.p1_id, r.p1_last))
        ):
            problems.append(
                f"{span} is not one the hub wrote: {rule}, and this row stands beside them "
                "(inserted, or its range changed)"
            )
        elif r.id > (r.p1_id or 0) + 1 and r.first_seq > (r.p1_last or 0) + 1:
            first_id, last_id = (r.p1_id or 0) + 1, r.id - 1
            gone = f"batch {first_id}" if first_id == last_id else f"batches {first_id}..{last_id}"
            records = f"records {(r.p1_last or 0) + 1}..{r.first_seq - 1}"
            was = "was" if first_id == last_id else "were"
            after = f"does not follow {before}" if before else "is the first batch"
            problems.append(f"{span} {after}: {rule}, so {gone} ({records}) {was} deleted")
        elif r.id == (r.p1_id or 0) + 1 and r.first_seq > (r.p1_last or 0) + 1:
            after = f"does not follow {before}" if before else "is the first batch"
            problems.append(
                f"{span} {after}: {rule}, so records {(r.p1_last or 0) + 1}..{r.first_seq - 1} "
                "belong to no batch (the chain head was moved past them, or a row's range changed)"
            )
        else:
            after = f"does not follow {before}" if before else "is the first batch"
            problems.append(f"{span} {after}: {rule}, so one of them was changed")
    if len(rows) == LIMIT:
        problems.append(f"the batch rows were read no further than their first {LIMIT} problems")
    return problems
