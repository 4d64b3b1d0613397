"""What to say of a client, service or provider filter that names nothing.

An id neither registered nor in the log (a typo, most often) matches no exchange: every
figure is zero and every listing empty, as they rightly are, but nothing said why. The API
answers the same zeros (a filter naming nothing is a valid question) with a note in
``notes``; `hub stats` and `hub tx` print it on stderr.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.core.hints import did_you_mean
from hub.core.limits import SAFE_HEADER
from hub.stats import timeutil as tu
from hub.stats.common import GROUPS, NONE

# Filters on the purpose headers a record keeps as the gateway read them.
PURPOSE = {"user_id": "X-Road-UserId", "issue": "X-Road-Issue"}
# How alike a registered id must be to be offered as the one meant: a letter or two off.
CUTOFF = 0.8


async def unheard_of(
    conn: AsyncConnection, filters: Mapping[str, Any], *, cli: bool = False
) -> list[str]:
    """A sentence for each of the ``client``, ``service`` and ``provider`` of ``filters``
    that is neither registered nor in the log, naming the registered id likely meant; in
    the API's words (client=X), or with ``cli`` the command line's (--client X).

    Each filter costs a lookup by primary key, and one on the log's (client, seq) or
    (service, seq) index when the registry no longer holds it: a query's own cost is far
    more. The registry's ids are read whole only for an id found in neither, to guess."""
    notes = []
    for name in GROUPS:
        value = (filters.get(name) or "").strip()
        if not value or value.lower() == NONE:
            continue
        table = "services" if name == "service" else "subsystems"
        known = await conn.execute(
            text(f"SELECT 1 FROM {table} WHERE id = :value"), {"value": value}
        )
        if known.first() is not None:
            continue
        # A provider is the start of its services' ids: a range of the (service, seq) index.
        column = "service" if name == "provider" else name
        bounds = {"low": value + "/", "high": value + "0"} if name == "provider" else {}
        where = f"{column} >= :low AND {column} < :high" if bounds else f"{column} = :value"
        seen = await conn.execute(
            text(f"SELECT 1 FROM transactions WHERE {where} LIMIT 1"), bounds or {"value": value}
        )
        if seen.first() is not None:
            continue  # no longer registered, but in the log: its exchanges are counted
        ids = list((await conn.execute(text(f"SELECT id FROM {table}"))).scalars())
        meant = did_you_mean(value, ids, cutoff=CUTOFF)
        given = f"{tu.option(name)} {value}" if cli else f"{name}={value}"
        notes.append(
            f"no {name} {value} is registered or in the log{meant}: nothing matches {given}"
        )
    for name, header in PURPOSE.items():
        value = filters.get(name) or ""
        # The gateway logs these headers only as 1-300 printable ASCII characters, read
        # without blanks at their ends: an officer's name in Vietnamese ("cán-bộ") or a
        # field copied with its blank listed nothing, as if that officer had asked nothing.
        if value and (not SAFE_HEADER.fullmatch(value) or value != value.strip(" \t")):
            given = f"{tu.option(name)} {value}" if cli else f"{name}={value}"
            notes.append(
                f"no record can have {header} {value!r}: the gateway takes 1-300 printable "
                f"ASCII characters (no diacritics), without blanks at either end; nothing "
                f"matches {given}"
            )
    return notes
