"""Operator API under /api, plus /metrics and the /dashboard page.

Every /api route needs the operator or the admin token. /metrics is open, as Prometheus
scrapers expect; it carries no more than the counts (put it behind the network's own
access control where client names are sensitive, or turn the client label off).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, PlainTextResponse
from pydantic import BaseModel, BeforeValidator, Field

from hub.core.deps import OperatorDep, SessionDep, StateDep
from hub.core.ids import XROAD_ID, Described, described
from hub.stats import browse, health, service
from hub.stats.common import NONE
from hub.stats.names import Directory
from hub.stats.offload import ClientGone, QueryThread
from hub.stats.retention import minute_horizon
from hub.stats.schemas import (
    Growth,
    HealthReport,
    Matrix,
    Summary,
    Timeseries,
    Top,
    TransactionPage,
)
from hub.stats.timeutil import InputError
from hub.stats.unheard import unheard_of

T = TypeVar("T")
STATIC = Path(__file__).resolve().parent / "static"


def _query_names(dependant: Any) -> list[str]:
    """The query parameters a route takes, its dependencies' included, in their order."""
    names: list[str] = []
    for sub in dependant.dependencies:
        names += [n for n in _query_names(sub) if n not in names]
    return names + [p.alias for p in dependant.query_params if p.alias not in names]


async def refuse_unknown(request: Request, _: OperatorDep) -> None:
    """A 400 for a query parameter the route does not take (after the token, so a caller
    without one learns no parameter names). A misspelt filter (consumer=, from=) or one the
    route has not (the matrix's client=) was ignored: the figures of everything, as if
    narrowed. A parameter given twice is refused too, for the same reason."""
    route = request.scope.get("route")
    if route is None:
        return
    known = _query_names(route.dependant)
    unknown = [k for k in dict.fromkeys(request.query_params) if k not in known]
    where = getattr(route, "path_format", route.path)  # {ident}, not {ident:path}
    if unknown:
        names = ", ".join(repr(k[:40]) for k in unknown[:5])
        takes = ", ".join(known) if known else "no parameters"
        plural = "s" if len(unknown) > 1 else ""
        raise HTTPException(400, f"unknown parameter{plural} {names}: {where} takes {takes}")
    # A repeated one (client=A&client=B) kept its last value alone: B's figures, as if both.
    for key in dict.fromkeys(request.query_params):
        times = len(request.query_params.getlist(key))
        if times > 1:
            raise HTTPException(
                400, f"{key} is given {times} times: {where} takes one value of each parameter"
            )


api = APIRouter(prefix="/api", tags=["operator"], dependencies=[Depends(refuse_unknown)])
router = APIRouter()

Since = Annotated[
    str | None,
    Query(description="ISO date or datetime (local time unless it has an offset), or 24h, 7d, 3mo"),
]
Until = Annotated[str | None, Query(description="Same forms as since; default now")]
# Blanks around an id, NONE as none and an empty value (no filter) are taken too
# (hub/stats/common.py id_filters); the pattern says what a client sends.
Client = Annotated[
    Annotated[str, described(4, NONE)] | None,
    Query(description="client subsystem id; none: callers not identified"),
]
Service = Annotated[
    Annotated[str, described(5, NONE)] | None,
    Query(description="service id; none: no registered service"),
]
Provider = Annotated[
    Annotated[str, described(4, NONE)] | None,
    Query(description="provider subsystem id; none: no registered one"),
]
# What the log can hold as an X-Road-Id (the gateway refuses any other) or as an
# X-Road-Request-Id (32 hex digits, which that takes too): any other names no record.
Ident = Annotated[
    str,
    Described(XROAD_ID.pattern, ("case-2024-0042", "0193a5b2c4d87e1f9a0b1c2d3e4f5a6b")),
]
Group = Literal["client", "service", "provider"]


def _blank_is_none(value: Any) -> Any:
    # A form's empty field (?status=, ?group_by=) is no filter, as an empty since is.
    return None if value == "" else value


Status = Annotated[
    Annotated[int, Field(ge=100, le=599)] | None,
    BeforeValidator(_blank_is_none),
    Query(description="HTTP status code of the answer"),
]
GroupBy = Annotated[Group | None, BeforeValidator(_blank_is_none), Query()]


@dataclass
class RangeQuery:
    """The time range every operator query takes."""

    since: Since = None
    until: Until = None


@dataclass
class FilterQuery:
    """Who and what a query is narrowed to."""

    client: Client = None
    service: Service = None
    provider: Provider = None


Range = Annotated[RangeQuery, Depends()]
Filters = Annotated[FilterQuery, Depends()]


async def _query(
    request: Request,
    fn: Callable[..., Awaitable[BaseModel]],
    filters: FilterQuery | None = None,
    purpose: dict[str, str | None] | None = None,
) -> Response:
    """``fn(conn)`` on the operator query thread (hub/stats/offload.py), as JSON made there;
    cancelled there if the client goes first. With ``filters``, its ``notes`` say which of
    them names nothing (hub/stats/unheard.py)."""

    async def answer(conn: Any) -> bytes:
        found = await fn(conn)
        given = (asdict(filters) if filters is not None else {}) | (purpose or {})
        if given and (notes := await unheard_of(conn, given)):
            found = found.model_copy(update={"notes": notes})
        return found.model_dump_json().encode()

    queries: QueryThread = request.app.state.hub.extras["queries"]
    try:
        body = await queries.answer(request.receive, answer)
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
    except ClientGone:
        return Response(status_code=499)  # nginx's "client closed request": nobody reads it
    return Response(body, media_type="application/json")


def _context(state: Any) -> dict[str, Any]:
    """The settings every statistics query reads: the time zone and the minute horizon."""
    settings = state.settings
    return {"tz": settings.timezone, "minute_horizon": minute_horizon(settings.minute_rollup_days)}


def _directory(state: Any) -> Directory:
    """The names of the registry snapshot this process holds (a snapshot is never changed,
    only replaced, so the query thread may read it)."""
    return Directory(state.registry.snapshot)


@api.get("/transactions", response_model=TransactionPage, summary="Browse the log")
async def list_transactions(
    _: OperatorDep,
    request: Request,
    state: StateDep,
    window: Range,
    filters: Filters,
    status: Status = None,
    fault: Annotated[str | None, Query(description="fault code, or none")] = None,
    user_id: str | None = None,
    issue: str | None = None,
    limit: Annotated[int, Query(ge=1, le=browse.MAX_LIMIT)] = 100,
    cursor: str | None = None,
) -> Response:
    return await _query(
        request,
        partial(
            browse.page,
            tz=state.settings.timezone,
            **asdict(window),
            **asdict(filters),
            status=status,
            fault=fault,
            user_id=user_id,
            issue=issue,
            limit=limit,
            cursor=cursor,
        ),
        filters,
        {"user_id": user_id, "issue": issue},
    )


# `:path`: the gateway takes `/` in an X-Road-Id a client chooses.
@api.get("/transactions/{ident:path}", summary="One record by X-Road-Id or X-Road-Request-Id")
async def get_transaction(ident: Ident, _: OperatorDep, session: SessionDep) -> dict[str, Any]:
    found = await browse.show(session, ident)
    if found is None:
        raise HTTPException(404, browse.missing(ident))
    return found


@api.get("/stats/summary", response_model=Summary, summary="Totals, faults, latency")
async def stats_summary(
    _: OperatorDep,
    request: Request,
    state: StateDep,
    window: Range,
    filters: Filters,
) -> Response:
    return await _query(
        request,
        partial(service.summary, **_context(state), **asdict(window), **asdict(filters)),
        filters,
    )


@api.get("/stats/timeseries", response_model=Timeseries, summary="Volume over time")
async def stats_timeseries(
    _: OperatorDep,
    request: Request,
    state: StateDep,
    window: Range,
    filters: Filters,
    bucket: Literal["minute", "hour", "day", "month", "year"] = "hour",
    group_by: GroupBy = None,
) -> Response:
    return await _query(
        request,
        partial(
            service.timeseries,
            **_context(state),
            directory=_directory(state),
            bucket=bucket,
            group_by=group_by,
            **asdict(window),
            **asdict(filters),
        ),
        filters,
    )


@api.get("/stats/matrix", response_model=Matrix, summary="Who shared with whom")
async def stats_matrix(
    _: OperatorDep, request: Request, state: StateDep, window: Range
) -> Response:
    return await _query(
        request,
        partial(service.matrix, **_context(state), directory=_directory(state), **asdict(window)),
    )


@api.get("/stats/top", response_model=Top, summary="Busiest clients, services or providers")
async def stats_top(
    _: OperatorDep,
    request: Request,
    state: StateDep,
    window: Range,
    filters: Filters,
    by: Group = "service",
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> Response:
    return await _query(
        request,
        partial(
            service.top,
            **_context(state),
            directory=_directory(state),
            by=by,
            limit=limit,
            **asdict(window),
            **asdict(filters),
        ),
        filters,
    )


@api.get("/stats/growth", response_model=Growth, summary="Volume per period and its change")
async def stats_growth(
    _: OperatorDep,
    request: Request,
    state: StateDep,
    window: Range,
    period: Literal["day", "month", "year"] = "month",
) -> Response:
    return await _query(
        request, partial(service.growth, **_context(state), period=period, **asdict(window))
    )


@api.get("/health/providers", response_model=HealthReport, summary="Provider health")
async def providers_health(
    _: OperatorDep,
    state: StateDep,
    session: SessionDep,
    refresh: Annotated[bool, Query(description="check every provider now first")] = False,
    window_minutes: Annotated[int, Query(ge=1, le=1440)] = 15,
) -> HealthReport:
    monitor: health.HealthMonitor = state.extras["health"]
    if refresh:
        await monitor.check_all()
    breaker = state.extras.get("breaker")
    others = None
    if (link := state.extras.get("workers")) is not None:
        others = [json.loads(a) for a in await link.ask("circuits") if a]
    return await health.report(
        session, monitor, breaker, window_minutes=window_minutes, others=others
    )


@router.get(
    "/metrics",
    tags=["health"],
    summary="Prometheus metrics of this hub, every worker's",
    response_class=PlainTextResponse,
    responses={200: {"description": "The Prometheus text exposition format"}},
)
async def metrics(state: StateDep) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    return Response(await state.extras["metrics"].scrape(), media_type=CONTENT_TYPE_LATEST)


# HEAD as GET, without the body (FileResponse leaves it out); not described, as FastAPI
# describes no HEAD beside a GET.
@router.head("/dashboard", include_in_schema=False)
@router.get(
    "/dashboard", tags=["operator"], summary="The operators' dashboard", response_class=FileResponse
)
async def dashboard() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@router.head("/dashboard/{name:path}", include_in_schema=False)
@router.get("/dashboard/{name:path}", tags=["operator"], include_in_schema=False)
async def dashboard_asset(name: str) -> FileResponse:
    if name == "":  # "/dashboard/", as typed or bookmarked: the page (its links are absolute)
        return await dashboard()
    # Only files shipped in static/ are served; the resolved path must stay inside it.
    path = (STATIC / name).resolve()
    if not path.is_file() or STATIC not in path.parents:
        raise HTTPException(404, f"no dashboard file {name[:100]!r}")
    return FileResponse(path)


router.include_router(api)
