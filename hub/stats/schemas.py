"""The operator API's answers, as the wire carries them (also what ``--json`` prints)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Percentiles(BaseModel):
    """Latency in milliseconds, from log-spaced histograms (within 5 % of exact)."""

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    mean: float | None = None


def names_field() -> Any:
    return Field(
        default_factory=dict,
        description="id -> the registry's name for it (member · subsystem, or member · "
        'service description), for the ids this answer lists that have one; none for "" '
        "(not identified) or an id the registry no longer holds",
    )


def notes_field() -> Any:
    return Field(
        default_factory=list,
        description="a sentence for each client, service or provider filter that names an id "
        "neither registered nor in the log (a typo, most often), with the registered id likely "
        "meant: the figures are the zeros it matches; empty otherwise",
    )


class Window(BaseModel):
    """The range a figure covers: UTC instants, start included, end excluded."""

    since: str | None = Field(None, description="null: from the first record")
    until: str
    timezone: str


class Summary(Window):
    total: int
    succeeded: int
    failed: int
    by_fault: dict[str, int] = Field(description="hub fault code -> count; faultless omitted")
    by_status: dict[str, int]
    provider_failed: dict[str, int] = Field(
        description="status -> count of failed answers the provider made itself (no hub fault "
        "code); with by_fault, every failed exchange"
    )
    request_bytes: int
    response_bytes: int
    latency_ms: Percentiles
    hub_ms: Percentiles
    latency_window: Window = Field(
        description="the range the percentiles are of: the summary's own (kept for clients "
        "of the time when it was widened to whole hours)"
    )
    notes: list[str] = notes_field()


class Point(BaseModel):
    start: str = Field(description="bucket start, in the operator's time zone")
    label: str = Field(
        description="the bucket as people write it: 2024-06-01, 2024-06...; an hour "
        "the clocks set back comes twice, each with its UTC offset"
    )
    total: int = 0
    succeeded: int = 0
    failed: int = 0
    request_bytes: int = 0
    response_bytes: int = 0
    mean_ms: float | None = None
    groups: dict[str, int] | None = None


class Timeseries(Window):
    bucket: str
    group_by: str | None
    keys: list[str] = Field(description="the groups that appear, biggest first")
    points: list[Point]
    names: dict[str, str] = names_field()
    notes: list[str] = notes_field()


class Cell(BaseModel):
    client: str
    provider: str
    count: int
    succeeded: int
    failed: int


class Matrix(Window):
    clients: list[str]
    providers: list[str]
    cells: list[Cell]
    total: int
    names: dict[str, str] = names_field()


class TopRow(BaseModel):
    key: str
    count: int
    succeeded: int
    failed: int
    share: float
    request_bytes: int
    response_bytes: int


class Top(Window):
    by: str
    rows: list[TopRow]
    names: dict[str, str] = names_field()
    notes: list[str] = notes_field()


class Period(BaseModel):
    period: str
    start: str
    total: int
    change: int | None
    change_pct: float | None = Field(description="against the period before, in percent")
    partial: bool = Field(
        default=False,
        description="the period has not ended yet: its total, and its change, are so far",
    )


class Growth(Window):
    period: str
    periods: list[Period]


class TransactionPage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None
    notes: list[str] = notes_field()


class ProviderHealth(BaseModel):
    provider: str
    base_url: str | None
    reachable: bool | None = Field(description="null until the first active check")
    status: int | None
    check_ms: float | None
    checked_at: str | None
    error: str | None
    exchanges: int = Field(
        description="exchanges in the passive window that reached the provider: it answered "
        "(any status), or the call failed (Server.ServiceFailed) or timed out "
        "(Server.ServiceTimeout); not those the hub refused or answered itself (no grant, an "
        "unknown key, a disabled service, an open circuit, a quota, a metaservice)"
    )
    errors: int = Field(
        description="of which the provider's errors: its own 5xx answers, Server.ServiceFailed "
        "and Server.ServiceTimeout (not the hub's own refusals, such as a disabled service's)"
    )
    error_rate: float | None = Field(description="errors / exchanges; null without exchanges")
    circuit: str = Field(
        description="closed, open or half_open (n/a without a breaker); with several workers "
        "the most refusing of theirs: open in one is open"
    )
    circuit_workers: dict[str, int] | None = Field(
        default=None,
        description="with several workers, how many are in each circuit state",
    )


class HealthReport(BaseModel):
    providers: list[ProviderHealth]
    registered: int
    reachable: int
    connection_rate: float | None = Field(description="reachable share of registered providers")
    window_minutes: int = Field(
        description="the passive figures' window: that many whole minutes and the current one"
    )
    interval_s: float
    names: dict[str, str] = names_field()
