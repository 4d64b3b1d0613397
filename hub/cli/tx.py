"""`hub tx`: browse the transaction log, and load synthetic history into it."""

from __future__ import annotations

import csv
import json
import sys
from typing import TYPE_CHECKING, Any

import typer

from hub.cli.common import (
    DbOption,
    Unwritable,
    console,
    err_console,
    fail,
    new_or_current,
    plural,
    reason,
    run,
    settings,
    shown,
)
from hub.cli.stats import (
    ClientOpt,
    CsvOpt,
    JsonOpt,
    ProviderOpt,
    ServiceOpt,
    SinceOpt,
    TzOpt,
    UntilOpt,
)
from hub.cli.stats import query as stats_query
from hub.cli.stats_tables import named
from hub.core.limits import PAGE_MAX

if TYPE_CHECKING:
    from collections.abc import Mapping

    from hub.stats.output import Layout

app = typer.Typer(help="The transaction log: list, show, synthesise.", no_args_is_help=True)
COLUMNS = ("started_at", "id", "client", "service", "status_code", "fault_code", "total_ms")
LOG = "the transaction log"
LIMIT = 20


def _csv_columns() -> tuple[str, ...]:
    """Every field of the listing but its seq: what a CSV gives scripts."""
    from hub.stats.records import LIST_COLUMNS

    return tuple(c for c in LIST_COLUMNS if c != "seq")


@app.command("list")
def list_cmd(
    since: str | None = SinceOpt,
    until: str | None = UntilOpt,
    client: str | None = ClientOpt,
    service_: str | None = ServiceOpt,
    provider: str | None = ProviderOpt,
    status: int | None = typer.Option(None, min=100, max=599, help="Only this HTTP status."),
    fault: str | None = typer.Option(None, help="Only this fault code, or 'none'."),
    user_id: str | None = typer.Option(None, "--user-id", help="Only this officer."),
    issue: str | None = typer.Option(None, help="Only this case or dossier."),
    limit: int = typer.Option(LIMIT, min=1, max=PAGE_MAX, help="Records per page."),
    cursor: str | None = typer.Option(
        None, help="next_cursor of the previous page, with the same filters."
    ),
    every: bool = typer.Option(
        False, "--all", help="Every page, streamed: CSV, or with --json one record a line."
    ),
    as_json: bool = JsonOpt,
    as_csv: bool = CsvOpt,
    tz: str | None = TzOpt,
    db: str | None = DbOption,
) -> None:
    """The newest records first, filtered; prints the cursor of the next page.

    Example, the last day's 502s from one provider as CSV:
    hub tx list --since 24h --provider VN/GOV/BCA/population --status 502 --csv
    """
    from hub.stats import browse
    from hub.stats.output import emit

    if every:
        if as_json == as_csv:
            fail("--all streams every record for a script: add --csv or --json (not both)", 2)
        n = stats_query(
            db, tz, _stream, what=LOG, as_csv=as_csv, since=since, until=until, client=client,
            service=service_, provider=provider, status=status, fault=fault, user_id=user_id,
            issue=issue, cursor=cursor,
        )  # fmt: skip
        err_console.print(plural(n, "record", sep=","), style="dim")
        return
    page = stats_query(
        db, tz, browse.page, what=LOG, since=since, until=until, client=client, service=service_,
        provider=provider, status=status, fault=fault, user_id=user_id, issue=issue,
        limit=limit, cursor=cursor,
    )  # fmt: skip
    items = page.items
    caption = None
    if page.next_cursor:
        given = {
            "--since": since, "--until": until, "--client": client, "--service": service_,
            "--provider": provider, "--status": status, "--fault": fault, "--user-id": user_id,
            "--issue": issue, "--limit": limit if limit != LIMIT else None, "--tz": tz,
        }  # fmt: skip
        width = console.width if console.is_terminal else None
        caption = f"next page: {_next_page(given, page.next_cursor, width)}"
    if not (as_json or as_csv):  # the data keeps "", the table says what it is
        items = [i | {k: named(i[k]) for k in ("client", "service")} for i in items]
        if console.is_terminal:  # piped, the record's own time, for grep
            items = [i | {"started_at": _when(i)} for i in items]
        if not items:  # a header alone looked like a listing cut short
            caption = "no record matches these filters"
    emit(
        # CSV is for scripts: every field of the listing, the provider and purpose included.
        page, items, _csv_columns() if as_csv else COLUMNS,
        title="Transactions (newest first)", as_json=as_json, as_csv=as_csv, console=console,
        caption=caption,
        layouts=_layouts(started="started (UTC)" if console.is_terminal else "started"),
    )  # fmt: skip


def _next_page(given: Mapping[str, object], cursor: str, width: int | None = None) -> str:
    """The options that read the next page. A cursor continues only the listing of its
    range and filters: `--cursor C` alone, as the line said, was refused after a filtered
    page, so the line repeats them (its relative forms keep the first page's instants).
    In a terminal ``width`` wide, the command is cut at its spaces into lines that a shell
    joins again (`` \\``), to be copied whole; a cursor and a long service id run past 80."""
    import shlex

    options = [f"{name} {shlex.quote(str(value))}" for name, value in given.items() if value]
    if not options:
        return f"--cursor {cursor}"
    words = ["hub tx list", *options, f"--cursor {cursor}"]
    if width is None:
        return " ".join(words)
    lines = [words[0]]
    for word in words[1:]:
        # "next page: " before the first line, "  " and " \\" around the others.
        room = width - (len("next page: ") if len(lines) == 1 else 2) - 2
        if len(lines[-1]) + 1 + len(word) <= room:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return " \\\n  ".join(lines)


def _when(item: dict[str, Any]) -> str:
    """A record's time as a terminal's table shows it: ``2026-12-07 09:34:29``, UTC, as the
    header says. Its 27 characters (``2026-12-07T09:34:29.568956Z``) made the column that
    stood between a record and two lines at 80 columns; piped, --json and --csv keep them."""
    started = item["started_at"]
    return f"{started[:10]} {started[11:19]}" if started else "-"


def _layouts(*, started: str) -> list[Layout]:
    """The listing's tables, widest first. A record's id (32 characters), a service's (up to
    52) and its time do not fit 80 columns side by side: narrower, they go one below the
    other in a cell, each whole. For two lines a record at 80 columns, the fault is left
    out, and beside the longer services' ids (40 characters and more) the time taken; where a
    page's service and client ids are too long together for that, three lines, without the
    fault: each said below the table."""
    from hub.stats.output import Layout, col

    at, ident, client, service, status, fault, ms = (
        col(started, "started_at"), col("id"), col("client"), col("service"),
        col("status", "status_code"), col("fault", "fault_code"), col("total ms", "total_ms"),
    )  # fmt: skip
    when = col(f"id\n{started}", "id", "started_at")
    who = col("client\nservice", "client", "service")
    how = col("status\nfault\ntotal ms", "status_code", "fault_code", "total_ms")
    what = col("id\nservice", "id", "service")
    by = col(f"{started}\nclient", "started_at", "client")
    # Three lines: the longest service (52) and client (28) cannot stand side by side at 80
    # columns, one below the other they can, beside the time, status and time taken.
    ids = col("id\nservice\nclient", "id", "service", "client")
    rest = col(f"{started}\nstatus\ntotal ms", "started_at", "status_code", "total_ms")
    return [
        Layout([at, ident, client, service, status, fault, ms]),
        Layout([when, who, status, fault, ms]),
        Layout([when, who, how]),
        Layout([what, by, col("status\ntotal ms", "status_code", "total_ms")], _left_out("fault")),
        Layout([what, by, status], _left_out("fault, total ms")),
        Layout([ids, rest], _left_out("fault")),
        Layout([col(f"id\n{started}\nclient\nservice", *ident.keys, *by.keys, *service.keys), how]),
    ]


def _left_out(heads: str) -> str:
    """The line under a table that leaves columns out, in hub/stats/output.py's words."""
    return f"not shown at this width: {heads} (--json and --csv have them)"


async def _stream(conn: Any, *, tz: str, as_csv: bool, **filters: Any) -> int:
    """Write every page of the listing to stdout as it is read; the number of records."""
    from hub.stats import browse
    from hub.stats.output import as_text
    from hub.stats.timeutil import utcnow

    now = utcnow()  # "24h" means the same instant on every page
    out = csv.DictWriter(sys.stdout, fieldnames=_csv_columns(), extrasaction="ignore")

    def write(items: list[dict[str, Any]], first: bool) -> None:
        try:
            if as_csv:
                if first:
                    out.writeheader()
                out.writerows(map(as_text, items))
            else:
                lines = (json.dumps(i, ensure_ascii=False, default=str) + "\n" for i in items)
                sys.stdout.writelines(lines)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise Unwritable(exc) from exc

    n = 0
    while True:
        page = await browse.page(conn, tz=tz, now=now, limit=browse.MAX_LIMIT, **filters)
        write(page.items, first=n == 0)
        n += len(page.items)
        if page.next_cursor is None:
            return n
        filters["cursor"] = page.next_cursor


@app.command("show")
def show_cmd(
    ident: str = typer.Argument(..., help="X-Road-Id or X-Road-Request-Id."),
    db: str | None = DbOption,
    # Taken and changes nothing: the record is always JSON, and `hub tx show ID --json`, as
    # `hub tx list --json` is written, was refused with "No such option".
    _json: bool = typer.Option(False, "--json", help="The record is JSON anyway."),
) -> None:
    """One record, every field, as JSON.

    Example (an id from `hub tx list`): hub tx show 00662131f62691fa3b0ca980000007d0
    """
    from hub.stats import browse

    if not ident.strip():
        # `hub tx show "$ID"` with $ID unset: no id to look for, not one that is missing.
        fail("give an X-Road-Id or X-Road-Request-Id (from `hub tx list`); got an empty one", 2)

    async def one(conn: Any, *, tz: str) -> dict[str, Any] | None:
        return await browse.show(conn, ident)

    found = stats_query(db, None, one, what=LOG)
    if found is None:
        fail(browse.missing(ident))
    from hub.stats.output import write_whole

    write_whole(json.dumps(found, indent=2, ensure_ascii=False, default=str) + "\n")


@app.command("synth")
def synth_cmd(
    records: int = typer.Option(100_000, min=1, help="How many exchanges to add."),
    days: int = typer.Option(30, min=1, max=3660, help="Spread over this many past days."),
    seed: int = typer.Option(1, help="Same seed, same traffic (request ids aside)."),
    batch: int = typer.Option(20_000, min=100, help="Records per transaction."),
    db: str | None = DbOption,
) -> None:
    """Bulk-load realistic past traffic through the log's chain and rollups (not in production)."""
    from rich.progress import MofNCompleteColumn, Progress

    from hub.stats import synth
    from hub.txlog.signing import Signer
    from hub.txlog.sqlite import create_writer_engine

    s = settings(db)
    if s.env == "production":
        fail("synthetic traffic would mix with real records; refused in production", 2)
    try:
        signer = Signer.from_file(s.signing_key_file, create=True)
    except (OSError, ValueError) as exc:
        fail(f"cannot load the signing key: {exc}", 2)
    new_or_current(s.database_url)  # a new database gets its tables, as with `apply`

    async def go() -> synth.LoadReport:
        engine = create_writer_engine(s.database_url)
        try:
            # On stderr, as every note is: stdout keeps the one line a script reads.
            with Progress(
                *Progress.get_default_columns(), MofNCompleteColumn(), console=err_console,
                transient=True,
            ) as bar:  # fmt: skip
                task = bar.add_task("logging", total=records)
                return await synth.load(
                    engine, records=records, days=days, secret=s.secret_key, seed=seed,
                    tz=s.timezone, signer=signer, batch_size=batch,
                    progress=lambda n: bar.advance(task, n),
                )  # fmt: skip
        finally:
            await engine.dispose()

    try:
        report = run(go())
    except Exception as exc:
        fail(f"could not load synthetic traffic into {shown(s.database_url)}: {reason(exc)}")
    console.print(
        f"added {plural(report.records, 'record', sep=',')} over {plural(days, 'day')} in "
        f"{report.seconds:.1f} s ({report.rate:,.0f} records/s); check them with: hub audit verify"
    )
