"""`hub stats`: operator statistics read straight from the database's rollups."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from hub.cli.common import (
    DbOption,
    Unwritable,
    console,
    err_console,
    fail,
    plural,
    read_failed,
    run,
    settings,
    up_to_date,
)
from hub.cli.stats_tables import heading, matrix_layouts, named, series_layouts, window

if TYPE_CHECKING:
    pass

T = TypeVar("T")
app = typer.Typer(
    help="Operator statistics: volumes, faults, latency, growth, provider health.",
    no_args_is_help=True,
)


def since_option(default: str) -> Any:
    """--since, saying where a command starts without one (the default span differs)."""
    forms = "24h, 7d, 3mo, an ISO date or datetime"
    return typer.Option(None, "--since", help=f"{forms}; default {default}.")


SinceOpt = since_option("the first record")
UntilOpt = typer.Option(
    None, "--until", help="Same forms as --since (the range ends before it); default now."
)
ClientOpt = typer.Option(
    None, "--client", help="Only this client subsystem; none: callers not identified."
)
ServiceOpt = typer.Option(None, "--service", help="Only this service; none: no registered service.")
ProviderOpt = typer.Option(
    None, "--provider", help="Only this provider subsystem; none: no registered one."
)


def _one_format(ctx: typer.Context, param: typer.CallbackParam, value: bool) -> bool:
    # Both given printed JSON alone, the --csv a script asked for silently dropped. Each
    # option checks the other: whichever Click reads second finds the first in ctx.params.
    other = "as_csv" if param.name == "as_json" else "as_json"
    if value and ctx.params.get(other):
        raise typer.BadParameter("give --json or --csv, not both", param_hint="--json/--csv")
    return value


JsonOpt = typer.Option(False, "--json", help="Print the API's JSON.", callback=_one_format)
CsvOpt = typer.Option(False, "--csv", help="Print CSV rows.", callback=_one_format)
TzOpt = typer.Option(
    None, "--tz", help="Time zone of the dates given and the days shown (default HUB_TIMEZONE)."
)


def query(
    db: str | None,
    tz: str | None,
    fn: Callable[..., Awaitable[T]],
    *,
    what: str = "statistics",
    **kw: Any,
) -> T:
    """Run a service function on a connection of the configured database (``what`` it reads),
    with the settings it takes: its time zone (``tz`` or HUB_TIMEZONE), the minute rollups'
    horizon, the interval of the hub's health checks."""
    from pydantic import BaseModel

    from hub.core.db import create_engine
    from hub.stats.retention import minute_horizon
    from hub.stats.timeutil import InputError
    from hub.stats.unheard import unheard_of

    s = settings(db)

    async def go() -> T:
        engine = create_engine(s.database_url)
        try:
            async with engine.connect() as conn:
                takes = inspect.signature(fn).parameters
                if "minute_horizon" in takes:
                    kw["minute_horizon"] = minute_horizon(s.minute_rollup_days)
                if "tz" in takes:
                    kw["tz"] = tz or s.timezone
                if "interval_s" in takes:
                    kw["interval_s"] = s.health_interval_s
                found = await fn(conn, **kw)
                notes.extend(await unheard_of(conn, kw, cli=True))
                # --json prints the API's JSON: its notes too.
                if notes and isinstance(found, BaseModel) and "notes" in type(found).model_fields:
                    found = found.model_copy(update={"notes": notes})
                return found
        finally:
            await engine.dispose()

    up_to_date(s.database_url, what)
    notes: list[str] = []
    try:
        found = run(go())
        for note in notes:
            err_console.print(f"note: {note}", highlight=False, soft_wrap=True)
        return found
    except InputError as exc:
        fail(exc.cli, 2)
    except (BrokenPipeError, Unwritable):
        raise  # the reader went (`| head`) or the disk is full: see hub/cli/main.py
    except Exception as exc:  # a CLI user gets the reason, not a traceback
        read_failed(exc, s.database_url, what)


@app.command("summary")
def summary_cmd(
    since: str | None = SinceOpt,
    until: str | None = UntilOpt,
    client: str | None = ClientOpt,
    service_: str | None = ServiceOpt,
    provider: str | None = ProviderOpt,
    as_json: bool = JsonOpt,
    as_csv: bool = CsvOpt,
    tz: str | None = TzOpt,
    db: str | None = DbOption,
) -> None:
    """Totals, faults by code, bytes and latency percentiles.

    Example, one client's last week: hub stats summary --since 7d --client VN/LOC/79/one-stop-portal
    """
    from hub.stats import service
    from hub.stats.output import emit

    s = query(
        db, tz, service.summary, since=since, until=until, client=client, service=service_,
        provider=provider,
    )  # fmt: skip
    rows: list[dict[str, Any]] = [
        {"figure": "total", "value": s.total},
        {"figure": "succeeded", "value": s.succeeded},
        {"figure": "failed", "value": s.failed},
        {"figure": "request bytes", "value": s.request_bytes},
        {"figure": "response bytes", "value": s.response_bytes},
    ]
    for name, p in (("latency ms", s.latency_ms), ("hub ms", s.hub_ms)):
        for q in ("p50", "p95", "p99", "mean"):
            rows.append({"figure": f"{name} {q}", "value": getattr(p, q)})
    rows += [{"figure": f"fault {code}", "value": n} for code, n in s.by_fault.items()]
    rows += [
        {"figure": f"provider failed {code}", "value": n} for code, n in s.provider_failed.items()
    ]
    rows += [{"figure": f"status {code}", "value": n} for code, n in s.by_status.items()]
    emit(
        s, rows, ("figure", "value"), title="Exchanges", as_json=as_json, as_csv=as_csv,
        console=console, caption=window(s),
    )  # fmt: skip


@app.command("timeseries")
def timeseries_cmd(
    bucket: str = typer.Option("hour", help="minute, hour, day, month or year."),
    group_by: str | None = typer.Option(None, "--group-by", help="client, service or provider."),
    since: str | None = since_option(
        "the last 60 minutes, 24 hours, 30 days, 12 months or 5 years, by --bucket, before --until"
    ),
    until: str | None = UntilOpt,
    client: str | None = ClientOpt,
    service_: str | None = ServiceOpt,
    provider: str | None = ProviderOpt,
    as_json: bool = JsonOpt,
    as_csv: bool = CsvOpt,
    tz: str | None = TzOpt,
    db: str | None = DbOption,
) -> None:
    """Volume per bucket (local days and months), optionally split into groups.

    Example, a day a row for 30 days, per provider:
    hub stats timeseries --bucket day --since 30d --group-by provider
    """
    from hub.stats import service
    from hub.stats.output import emit

    ts = query(
        db, tz, service.timeseries, bucket=bucket, group_by=group_by, since=since, until=until,
        client=client, service=service_, provider=provider,
    )  # fmt: skip
    columns = [
        "label",
        "total",
        "succeeded",
        "failed",
        "request_bytes",
        "response_bytes",
        "mean_ms",
    ]
    keys = ts.keys[:8] if not as_csv else ts.keys
    # The data keeps "", the table's column header says what it is (as matrix and top do),
    # and whose it is under the id. The CSV's columns stay the ids: its JSON has the names.
    names = keys if as_csv else [heading(k, ts.names) for k in keys]
    rows = []
    for p in ts.points:
        row = p.model_dump(exclude={"groups"})
        row["label"] = p.label
        for k, name in zip(keys, names, strict=True):
            row[name] = (p.groups or {}).get(k, 0)
        rows.append(row)
    emit(
        ts, rows, columns + names, title=f"Exchanges per {bucket}", as_json=as_json,
        as_csv=as_csv, console=console, caption=f"times in {ts.timezone}",
        layouts=() if as_json or as_csv else series_layouts(names),
    )  # fmt: skip


@app.command("matrix")
def matrix_cmd(
    since: str | None = SinceOpt,
    until: str | None = UntilOpt,
    as_json: bool = JsonOpt,
    as_csv: bool = CsvOpt,
    tz: str | None = TzOpt,
    db: str | None = DbOption,
) -> None:
    """Who shared with whom: exchanges per client and provider.

    Example, the last month as CSV: hub stats matrix --since 30d --csv > matrix.csv
    """
    from hub.stats import service
    from hub.stats.output import emit

    m = query(db, tz, service.matrix, since=since, until=until)
    if as_json or as_csv:
        # The names after the columns scripts already read by position.
        rows = [
            c.model_dump() | {"client_name": m.names.get(c.client, ""),
                              "provider_name": m.names.get(c.provider, "")}
            for c in m.cells
        ]  # fmt: skip
        fields = ("client", "provider", "count", "succeeded", "failed", "client_name",
                  "provider_name")  # fmt: skip
        emit(m, rows, fields, title="", as_json=as_json, as_csv=as_csv, console=console)
        return
    cells = {(c.client, c.provider): c.count for c in m.cells}
    heads = [heading(p, m.names) for p in m.providers]
    rows = [
        {
            "client": named(client),
            "name": m.names.get(client, ""),
            **{h: cells.get((client, p), 0) for p, h in zip(m.providers, heads, strict=True)},
        }
        for client in m.clients
    ]
    columns = ["client", "name", *heads]
    layouts = matrix_layouts(m, heads)
    emit(m, rows, columns, title=f"Sharing matrix ({plural(m.total, 'exchange', sep=',')})",
         as_json=False, as_csv=False, console=console, caption=window(m),
         layouts=layouts)  # fmt: skip


@app.command("top")
def top_cmd(
    by: str = typer.Option("service", help="client, service or provider."),
    limit: int = typer.Option(10, min=1, help="How many rows."),
    since: str | None = SinceOpt,
    until: str | None = UntilOpt,
    client: str | None = ClientOpt,
    service_: str | None = ServiceOpt,
    provider: str | None = ProviderOpt,
    as_json: bool = JsonOpt,
    as_csv: bool = CsvOpt,
    tz: str | None = TzOpt,
    db: str | None = DbOption,
) -> None:
    """The busiest clients, services or providers.

    Example, the five busiest clients this week: hub stats top --by client --limit 5 --since 7d
    """
    from hub.stats import service
    from hub.stats.output import Layout, col, emit, narrowing

    t = query(
        db, tz, service.top, by=by, limit=limit, since=since, until=until, client=client,
        service=service_, provider=provider,
    )  # fmt: skip
    rows = [r.model_dump() | {"name": t.names.get(r.key, "")} for r in t.rows]
    columns = ["key", "count", "failed", "share", "request_bytes", "response_bytes"]
    if as_csv:
        columns += ["name", "succeeded"]  # after the columns scripts already read by position
    elif not as_json:  # the data keeps "", the table says what it is
        rows = [r | {"key": named(r["key"]), "share_pct": round(r["share"] * 100, 1)} for r in rows]
        columns = ["key", "name", "count", "succeeded", *columns[2:]]
    ok, share = col("succeeded"), col("share %", "share_pct")
    sent, received = col("request bytes", "request_bytes"), col("response bytes", "response_bytes")
    figures = [col("count"), ok, col("failed"), share, sent, received]
    # The name beside the id where it fits (a pipe: one line a row, for grep), else below it;
    # then the figures a narrow terminal has least need of (succeeded is count - failed).
    layouts = [
        Layout([col(by, "key"), col("name", wraps=["name"]), *figures]),
        *narrowing([col(by, "key", "name", wraps=["name"]), *figures],
                   [[ok], [sent, received], [share]]),
    ]  # fmt: skip
    emit(t, rows, columns, title=f"Top {by}s", as_json=as_json, as_csv=as_csv, console=console,
         caption=window(t), layouts=layouts)  # fmt: skip


@app.command("growth")
def growth_cmd(
    period: str = typer.Option("month", help="day, month or year."),
    since: str | None = since_option(
        "the last 30 days, 12 months or 5 years, by --period, before --until"
    ),
    until: str | None = UntilOpt,
    as_json: bool = JsonOpt,
    as_csv: bool = CsvOpt,
    tz: str | None = TzOpt,
    db: str | None = DbOption,
) -> None:
    """Volume per period and its change against the period before.

    Example, month on month over a year: hub stats growth --period month --since 12mo
    """
    from hub.stats import service
    from hub.stats.output import Layout, col, emit

    g = query(db, tz, service.growth, period=period, since=since, until=until)
    rows = [p.model_dump() | {"start": _start(p)} for p in g.periods]
    # The period's local name has no zone: the CSV ends with its `start`, as the JSON has it.
    columns = ("period", "total", "change", "change_pct", "partial") + (
        ("start",) if as_csv else ()
    )
    shown = [col("period"), col("total"), col("change"), col("change %", "change_pct"),
             col("partial")]  # fmt: skip
    emit(g, rows, columns, title=f"Growth per {period}", as_json=as_json, as_csv=as_csv,
         console=console, layouts=[Layout(shown)])  # fmt: skip


@app.command("health")
def health_cmd(
    window_minutes: int = typer.Option(
        15,
        "--window-minutes",
        min=1,
        max=1440,
        help="Count exchanges over the last this many minutes and the current one.",
    ),
    check: bool = typer.Option(
        False, "--check", help="Ask each provider's /__health now, from this machine."
    ),
    as_json: bool = JsonOpt,
    as_csv: bool = CsvOpt,
    db: str | None = DbOption,
) -> None:
    """How reliably each provider serves: its calls, errors and error rate.

    The figures of GET /api/health/providers; --check also asks each provider if it is up.
    Circuit states are the serving hub's alone: its API and dashboard show them.
    """
    from hub.stats import health
    from hub.stats.output import Layout, col, emit
    from hub.stats.schemas import ProviderHealth

    h = query(db, None, health.read, what="provider health", window_minutes=window_minutes,
              check=check)  # fmt: skip
    if as_json or as_csv:
        rows = [r.model_dump(exclude={"circuit_workers"}) | {"name": h.names.get(r.provider, "")}
                for r in h.providers]  # fmt: skip
        fields = [f for f in ProviderHealth.model_fields if f != "circuit_workers"] + ["name"]
        emit(h, rows, fields, title="", as_json=as_json, as_csv=as_csv, console=console)
        return
    # The dashboard's table: the reason a provider is down goes below it, whole, and the
    # check's status and time are in --json and --csv, so that it fits 80 columns.
    rows = [
        {
            "provider": r.provider,
            "name": h.names.get(r.provider, ""),
            "state": "not checked" if r.reachable is None else "reachable" if r.reachable
            else "down",
            "exchanges": r.exchanges,
            "errors": r.errors,
            "error_rate": r.error_rate,
        }
        for r in h.providers
    ]  # fmt: skip
    figures = [col("state"), col("exchanges"), col("errors"), col("error rate", "error_rate")]
    layouts = [
        Layout([col("provider"), col("name", wraps=["name"]), *figures]),
        Layout([col("provider", "provider", "name", wraps=["name"]), *figures]),
    ]
    notes = [f"exchanges: the last {plural(h.window_minutes, 'minute')} and the current one"]
    if not h.providers:  # as the dashboard says it, not an empty table without a word
        notes = ["no providers registered: the registry has none with a base URL to check"]
    elif check:
        rate = "-" if h.connection_rate is None else f"{h.connection_rate:.0%}"
        notes.append(f"{h.reachable} of {h.registered} providers reachable ({rate})")
        notes += [f"{r.provider} down: {r.error}" for r in h.providers if r.reachable is False]
    else:
        notes.append("reachability not checked: --check asks each provider now")
    if h.providers:
        notes.append("circuit states: the serving hub's GET /api/health/providers")
    emit(h, rows, ("provider", "name", "state", "exchanges", "errors", "error_rate"),
         title="Provider health", as_json=False, as_csv=False, console=console,
         caption="\n".join(notes), layouts=layouts)  # fmt: skip


def _start(point: Any) -> str:
    """A bucket's or period's ``start`` as its JSON writes it: ISO 8601 with the offset."""
    return str(point.model_dump(mode="json", include={"start"})["start"])
