"""`hub replay --out FILE`: one row per request sent, streamed to CSV or JSON Lines.

The report sums a run up; this file keeps each request, to plot latency over time, find
the slow ones and join them with the hub's log by X-Road-Id (k6's ``--out csv`` and
``--out json``). Rows go to a buffered file as requests end, never into a list: a run of
a million requests holds no more memory with ``--out`` than without. The buffer is flushed
every ``FLUSH_EVERY_S`` (so ``tail -f`` follows the run) and when the run ends, however it
ends, so that the file then ends on a whole row.
"""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

import orjson

FLUSH_EVERY_S = 1.0  # k6's CSV output saves every second too
BUFFER_BYTES = 1 << 16  # a few hundred rows a write
FAILURE_CHARS = 300  # a row's reason is a pointer; the report has the whole of it
SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
WHAT_TO_GIVE = "give a file ending in .csv or .jsonl (or .ndjson), e.g. --out requests.csv"


class RequestRow(NamedTuple):
    """One request the runner sent: its columns, in the file's order (docs/scenarios.md)."""

    timestamp: str  # when it was sent, ISO 8601 UTC to the microsecond
    scenario: str
    iteration: int
    step: str
    method: str
    path: str  # the request target sent to the hub: /r1/..., with its query
    status: int | None  # None: no answer (a transport error)
    outcome: str  # passed | failed | transport_error
    failure: str | None
    duration_ms: float | None
    x_road_id: str | None
    x_road_request_id: str | None
    hub_latency_ms: float | None  # the hub's X-Hub-Latency header
    bytes_sent: int | None  # counted as the report's data_sent: answered requests only
    bytes_received: int | None


COLUMNS = RequestRow._fields


def timestamp(seconds: float) -> str:
    """``time.time()`` as ISO 8601 UTC to the microsecond: ``2025-01-31T08:00:00.123456Z``."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def failure_text(message: str, note: str = "") -> str:
    """A failure's words on one line, cut at ``FAILURE_CHARS``; ``note`` (a retried step's
    `` (after N attempts)``) ends it whole, the words cut shorter for it."""
    text = " ".join(message.split()) if "\n" in message or "\r" in message else message
    room = FAILURE_CHARS - len(note)
    return (text if len(text) <= room else text[: room - 3] + "...") + note


def number(value: str | None) -> float | None:
    """A header's number (X-Hub-Latency), or None when it is absent or not a number."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def unknown_kind(path: Path) -> str | None:
    """Why ``path`` names no file ``--out`` can write, or None."""
    if path.suffix.lower() in SUFFIXES:
        return None
    return f"--out {path}: {WHAT_TO_GIVE}"


class RequestLog:
    """The rows of a run, written to one file as they come.

    A write that fails (a full disk) stops the writing and is kept in ``error``, for the
    command to say once the report is out: the run itself goes on.
    """

    def __init__(self, path: Path, file: IO[Any]) -> None:
        self.path = path
        self.file = file
        self.error: OSError | None = None

    def write(self, row: RequestRow) -> None:
        if self.error is not None:
            return
        try:
            self._write(row)
        except OSError as exc:
            self.error = exc

    def _write(self, row: RequestRow) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        if self.error is None and not self.file.closed:
            try:
                self.file.flush()
            except OSError as exc:
                self.error = exc

    def close(self) -> None:
        self.flush()
        try:
            self.file.close()
        except OSError as exc:  # the flush of what was left failed, again
            self.error = self.error or exc

    async def keep_flushed(self) -> None:
        """Flush every ``FLUSH_EVERY_S`` until cancelled: rows of a slow run reach the file
        before the buffer fills."""
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            self.flush()


class CsvLog(RequestLog):
    """RFC 4180 CSV with a header line, UTF-8; empty cells for none. Lines end with ``\\n``
    (csv.DictReader, pandas and spreadsheets take it; ``wc -l`` counts rows)."""

    def __init__(self, path: Path, file: IO[str]) -> None:
        super().__init__(path, file)
        self.writer = csv.writer(file, lineterminator="\n")
        self.writer.writerow(COLUMNS)

    def _write(self, row: RequestRow) -> None:
        self.writer.writerow(row)


class JsonLinesLog(RequestLog):
    """One JSON object a line, keys in the columns' order; null for none."""

    def _write(self, row: RequestRow) -> None:
        self.file.write(orjson.dumps(row._asdict(), option=orjson.OPT_APPEND_NEWLINE))


def open_request_log(path: Path) -> RequestLog:
    """The log for ``path``, by its suffix (``unknown_kind`` says which are taken); OSError
    if the file cannot be opened for writing."""
    if SUFFIXES[path.suffix.lower()] == "csv":
        # newline="": the csv module writes its own line ends, and quoted ones inside cells.
        text = path.open("w", encoding="utf-8", newline="", buffering=BUFFER_BYTES)
        return CsvLog(path, text)
    return JsonLinesLog(path, path.open("wb", buffering=BUFFER_BYTES))
