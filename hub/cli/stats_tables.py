"""How `hub stats` and `hub tx` show their figures in a terminal: the ids, names and ranges
of a table, and the layouts a table narrows to (hub/stats/output.py picks the first that
fits)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from hub.stats.output import Layout


UNIDENTIFIED = "(not identified)"


def window(answer: Any) -> str:
    """The range a table counts, in the zone its days are: "--since 2026-12-07" read back as
    2026-12-06T17:00:00Z was right in UTC and looked like the wrong day in Ha Noi."""
    zone = ZoneInfo(answer.timezone)

    def local(iso: str) -> str:
        at = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(zone)
        return at.strftime("%Y-%m-%d %H:%M" + (":%S" if at.second or at.microsecond else ""))

    first = local(answer.since) if answer.since else "the first record"
    return f"{first} .. {local(answer.until)} ({answer.timezone})"


def named(key: str) -> str:
    """A client, service or provider as a table shows it: "" is a caller refused before the
    hub knew who it was, or an unknown service or provider (a blank header, row or cell; the
    dashboard's label)."""
    return key or UNIDENTIFIED


def heading(key: str, names: dict[str, str]) -> str:
    """A client, service or provider as a column's header or a row's first cell: its id, and
    its name below."""
    return named(key) + (f"\n{names[key]}" if key in names else "")


def series_layouts(groups: list[str]) -> list[Layout]:
    """A series' tables, widest first: the groups' ids as headers; then numbered, their ids
    below the table (a service's id is up to 52 characters: eight do not fit beside each
    other); then without its secondary figures, and its last groups, in turn."""
    from hub.stats.output import col, narrowing

    label, total, ok, failed, sent, received, mean = (
        col("label"), col("total"), col("succeeded"), col("failed"),
        col("request bytes", "request_bytes"), col("response bytes", "response_bytes"),
        col("mean ms", "mean_ms"),
    )  # fmt: skip
    figures = [label, total, ok, failed, sent, received, mean]
    numbered = [col(f"#{i}", g) for i, g in enumerate(groups, 1)]
    legend = "\n".join(f"#{i} " + g.replace("\n", " · ") for i, g in enumerate(groups, 1))
    drops = [[ok], [sent, received], [mean], [failed], *([c] for c in reversed(numbered[1:]))]
    return [
        *narrowing([*figures, *(col(g) for g in groups)], []),
        *narrowing([*figures, *numbered], drops, legend),
    ]


def matrix_layouts(m: Any, heads: list[str]) -> list[Layout]:
    """A matrix's tables, widest first: the clients' rows under the providers' columns, the
    names beside the ids, then under them; then its pairs, one row each."""
    from hub.stats.output import Layout, col

    # Many providers side by side do not fit a terminal with their ids whole (six of 28
    # characters are 80 columns alone): the matrix is then listed as its pairs, as its CSV is.
    pairs = [
        {"client": named(c.client), "client_name": m.names.get(c.client, ""),
         "provider": named(c.provider), "provider_name": m.names.get(c.provider, ""),
         "count": c.count}
        for c in m.cells
    ]  # fmt: skip
    grid = [col(h) for h in heads]
    layouts = [
        Layout([col("client"), col("name", wraps=["name"]), *grid]),
        Layout([col("client", "client", "name", wraps=["name"]), *grid]),
        Layout(
            [col("client", "client", "client_name", wraps=["client_name"]),
             col("provider", "provider", "provider_name", wraps=["provider_name"]),
             col("exchanges", "count")],
            rows=pairs, group="client",
            note="one row per client and provider that exchanged: the matrix is wider than "
            "this terminal (--json and --csv have every cell)",
        ),
    ]  # fmt: skip
    return layouts
