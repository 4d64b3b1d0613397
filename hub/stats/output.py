"""Printing statistics in a terminal: rich tables for people, JSON and CSV for scripts."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from rich.cells import cell_len
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

# Each column costs its two spaces of padding and a rule; the table one rule more.
RULES = 3
# A registry name or a label wraps at its spaces, but not into a column narrower than this.
WRAP_MIN = 20


@dataclass(frozen=True)
class Col:
    """A column of a table: under ``head``, the values of ``keys`` one below the other in
    each cell. Ids, numbers and times stay whole on their line, as wide as the widest (an id
    is copied; "1,317,4" over "08" is misread); the values of ``wraps`` (a registry name, a
    key's label) wrap at their spaces into the width the others leave."""

    head: str
    keys: tuple[str, ...]
    wraps: frozenset[str] = frozenset()


def col(head: str, *keys: str, wraps: Iterable[str] = ()) -> Col:
    """A column of ``keys`` (the key ``head`` alone without them)."""
    return Col(head, keys or (head,), frozenset(wraps))


@dataclass(frozen=True)
class Layout:
    """One way to lay out a table, tried when the ones before it do not fit the terminal."""

    cols: Sequence[Col]
    note: str | None = None  # said below the table: what it leaves out, how to read it
    rows: Sequence[dict[str, Any]] | None = None  # rows of its own: a matrix as its pairs
    # A key shown once for a run of rows with the same value, a rule between the runs.
    group: str | None = None


def narrowing(cols: Sequence[Col], drops: Sequence[Sequence[Col]], note: str = "") -> list[Layout]:
    """``cols``, then without each of ``drops`` in turn, each layout saying what it leaves out."""
    layouts = [Layout(cols, note or None)]
    gone: list[Col] = []
    for drop in drops:
        gone += drop
        heads = ", ".join(" ".join(c.head.split()) for c in gone)
        left = f"not shown at this width: {heads} (--json and --csv have them)"
        layouts.append(
            Layout([c for c in cols if c not in gone], "\n".join(filter(None, [note, left])))
        )
    return layouts


def write_whole(text: str) -> None:
    """Write ``text`` to stdout, all of it or an error. Python's buffered stdout answers a
    large write that the pipe or disk took only part of (the reader of `| head` gone, a full
    disk) with the count taken and drops the rest, without an error: the command exited 0
    with its JSON cut short. The rest is written again, so that the error is raised."""
    out = sys.stdout
    buffer = getattr(out, "buffer", None)
    if buffer is None:  # a StringIO (tests) takes everything
        out.write(text)
        return
    out.flush()
    data = memoryview(text.encode(out.encoding, out.errors or "strict"))
    while data:
        taken = buffer.write(data)
        data = data[taken if taken is not None else len(data) :]
    buffer.flush()


def emit(
    model: BaseModel | dict[str, Any],
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    *,
    title: str,
    as_json: bool,
    as_csv: bool,
    console: Console,
    caption: str | None = None,
    layouts: Sequence[Layout] = (),
) -> None:
    """Print ``model`` as JSON, ``rows`` as CSV, or ``rows`` as a table titled ``title``: in
    the first of ``layouts`` that fits the terminal (``columns`` side by side without them)."""
    if as_json:
        data = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
        write_whole(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(map(as_text, rows))
        return
    layouts = layouts or [Layout([col(c) for c in columns])]
    # Piped into grep, less or a file, there is no width to keep to: the first layout, every
    # row on one line (rich would assume 80 columns).
    width = console.width if console.is_terminal else None
    for layout in layouts:
        cells = _cells(layout, rows)
        widths = _fit(layout, cells, width)
        if widths is not None:
            break
    table = _table(layout, rows, cells, widths, title)
    # The caption (the range counted) is lines below, not the table's own caption, which
    # rich wraps to the table's width: an empty matrix's split "(Asia/Ho_Chi_Minh" from ")".
    if width is not None:
        console.print(table)
        if caption:
            console.print(escape(caption), highlight=False, soft_wrap=True)
        if layout.note:
            # Wrapped at its spaces, as prose is: a legend's id or a column's name stays whole.
            console.print(escape(layout.note), highlight=False, soft_wrap=False)
        return
    below = "\n".join(filter(None, [caption, layout.note]))
    out = Console(width=sum(widths or ()) + RULES * len(layout.cols) + 1, color_system=None)
    with out.capture() as text:
        out.print(table)
    console.file.write("".join(line.rstrip() + "\n" for line in text.get().splitlines()))
    if below:
        console.file.write(below + "\n")


# Each row's cells, each cell's lines, each line with whether it may wrap.
Lines = list[list[list[tuple[str, bool]]]]


def _cells(layout: Layout, rows: Sequence[dict[str, Any]]) -> Lines:
    """The lines of each cell of ``layout``'s rows (its own, or ``rows``)."""
    cells = []
    last: Any = object()
    for row in layout.rows if layout.rows is not None else rows:
        shown = []
        repeat = layout.group is not None and row.get(layout.group) == last
        for c in layout.cols:
            lines = [] if repeat and layout.group in c.keys else [
                (line, key in c.wraps)
                for key in c.keys
                # A stacked cell leaves out what is blank (a name the registry has not).
                if not (len(c.keys) > 1 and row.get(key) == "")
                for line in _cell(row.get(key)).split("\n")
            ]  # fmt: skip
            shown.append(lines)
        if layout.group is not None:
            last = row.get(layout.group)
        cells.append(shown)
    return cells


def _fit(layout: Layout, cells: Lines, width: int | None) -> list[int] | None:
    """The columns' widths in a table at most ``width`` wide (None: any width) with every id,
    number and time whole on its line and the names wrapped no narrower than WRAP_MIN; None
    when it cannot be."""
    need, heads, want = [], [], []
    for i, c in enumerate(layout.cols):
        # A header wraps at its spaces: "request bytes" over two lines, an id as its own line.
        least = max((cell_len(w) for w in c.head.split()), default=0)
        most = most_head = max(cell_len(line) for line in c.head.split("\n"))
        for row in cells:
            for line, wraps in row[i]:
                size = cell_len(line)
                least = max(least, min(size, WRAP_MIN) if wraps else size)
                most = max(most, size)
        need.append(least)
        heads.append(max(least, most_head))
        want.append(most)
    if width is None:
        return want
    spare = width - RULES * len(layout.cols) - 1 - sum(need)
    if spare < 0:
        return None
    widths = need
    # The room left goes first to headers that would wrap ("share %"), then to the names,
    # a character at a time to each.
    for goal in (heads, want):
        while spare > 0 and (short := [i for i, w in enumerate(widths) if w < goal[i]]):
            given = short[:spare]
            for i in given:
                widths[i] += 1
            spare -= len(given)
    return widths


def _table(
    layout: Layout,
    rows: Sequence[dict[str, Any]],
    cells: Lines,
    widths: list[int] | None,
    title: str,
) -> Table:
    """The rich table of ``layout``; at ``widths``, or, when none fits, as rich can."""
    data = layout.rows if layout.rows is not None else rows
    table = Table(title=title, title_justify="left")
    for i, c in enumerate(layout.cols):
        # By the first value there is: a first row without one (growth's first change_pct,
        # an empty bucket's mean_ms) left the numbers under it aligned left.
        firsts = [next((r[k] for r in data if r.get(k) is not None), None) for k in c.keys]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in firsts)
        table.add_column(
            # Text, not markup: a registry name heads a column and may hold "[".
            Text(c.head), justify="right" if numeric else "left",
            width=widths[i] if widths else None,
            # When nothing fits, rich narrows the other columns first; a long id is
            # wrapped rather than cut to "VN/GOV/…": ids are copied.
            no_wrap=numeric and not widths, overflow="fold",
        )  # fmt: skip
    group: Any = None
    for row, shown in zip(data, cells, strict=True):
        if layout.group is not None and table.rows and row.get(layout.group) != group:
            table.rows[-1].end_section = True
        group = row.get(layout.group) if layout.group else None
        table.add_row(*(Text("\n".join(line for line, _ in lines)) for lines in shown))
    return table


# A cell a spreadsheet reads as a formula. Clients choose their X-Road-Id, X-Road-UserId
# and X-Road-Issue: "=HYPERLINK(...&A1...)" there ran in the operator's spreadsheet.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def as_text(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` for a CSV cell by cell: text that would read as a formula gets a leading
    ``'``, as spreadsheets themselves mark text (OWASP's advice); numbers stay numbers, and
    a flag is ``true`` or ``false``."""
    return {k: _csv_cell(v) for k, v in row.items()}


def _csv_cell(value: Any) -> Any:
    # A flag as the JSON writes it (and the dashboard's download, JavaScript's String(true)):
    # Python's "True" and "False" were another spelling for a script that reads both.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _cell(value: Any) -> str:
    """``value`` as a table shows it: text as written (a key's label, or anything else the
    hub was sent, may hold "[/]" or "[red]": cells are Text, never markup)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)
