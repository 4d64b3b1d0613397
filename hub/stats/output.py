"""Printing statistics in a terminal: rich tables for people, JSON and CSV for scripts."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table


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
) -> None:
    """Print ``model`` as JSON, ``rows`` as CSV, or ``rows`` as a table titled ``title``."""
    if as_json:
        data = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(map(as_text, rows))
        return
    # The caption (the range counted) is a line below, not the table's own caption, which
    # rich wraps to the table's width: an empty matrix's split "(Asia/Ho_Chi_Minh" from ")".
    table = Table(title=title, title_justify="left")
    for col in columns:
        # By the first value there is: a first row without one (growth's first change_pct,
        # an empty bucket's mean_ms) left the numbers under it aligned left.
        first = next((r[col] for r in rows if r.get(col) is not None), None)
        numeric = isinstance(first, int | float)
        # A narrow terminal wraps a value rather than cut it to "VN/GOV/…": ids are copied.
        # Escaped as the cells are: a registry name heads a column and may hold "[".
        table.add_column(escape(col), justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    if console.is_terminal:
        console.print(table)
        if caption:
            console.print(escape(caption), highlight=False, soft_wrap=True)
        return
    # Piped into grep, less or a file, there is no width to keep to: every row on one line.
    wide = Console(file=console.file, width=100_000, color_system=None)
    width = Measurement.get(wide, wide.options, table).maximum
    out = Console(width=width, color_system=None)
    with out.capture() as text:
        out.print(table)
    console.file.write("".join(line.rstrip() + "\n" for line in text.get().splitlines()))
    if caption:
        console.file.write(caption + "\n")


# A cell a spreadsheet reads as a formula. Clients choose their X-Road-Id, X-Road-UserId
# and X-Road-Issue: "=HYPERLINK(...&A1...)" there ran in the operator's spreadsheet.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def as_text(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` for a CSV cell by cell: text that would read as a formula gets a leading
    ``'``, as spreadsheets themselves mark text (OWASP's advice); numbers stay numbers."""
    return {
        k: "'" + v if isinstance(v, str) and v.startswith(FORMULA_START) else v
        for k, v in row.items()
    }


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    # Text as written: a key's label, or anything else the hub was sent, may hold "[/]" (a
    # MarkupError from rich) or "[red]" (a style) that rich would read as markup.
    return escape(str(value))
