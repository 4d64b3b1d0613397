"""The hub's ASGI application: a lean gateway for ``/r1`` in front of a FastAPI app.

``create_app(settings)`` builds both; engines, the log writer and HTTP clients are made
in the lifespan, never at import time, so tests build their own app with their own settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from hub import __version__
from hub.admin.router import router as admin_router
from hub.core import apidocs, errors, readiness, security
from hub.core.children import end_with_parent, is_child, orphaned
from hub.core.db import create_engine, refusal_message, session_factory, unreachable_message
from hub.core.ids import IdError, request_id
from hub.core.open_answers import (
    DEMO_OFF,
    LIST_CLIENTS,
    READINESS,
    DemoCredential,
    Health,
)
from hub.core.settings import Settings, warn_unknown_variables
from hub.front import HubApp
from hub.gateway.forwarder import Forwarder
from hub.gateway.handler import Gateway
from hub.gateway.metaservices import XML, client_list_xml, list_clients, prefers_xml
from hub.registry import keys
from hub.registry.cache import RegistryCache
from hub.txlog.remote import RemoteLogWriter
from hub.txlog.signing import Signer
from hub.txlog.sqlite import create_writer_engine
from hub.txlog.writer import LogWriter

log = logging.getLogger(__name__)


@dataclass
class HubState:
    """Everything the running hub holds; one per app."""

    settings: Settings
    engine: AsyncEngine
    writer_engine: AsyncEngine | None  # None when a log writer process writes the log
    sessions: async_sessionmaker
    registry: RegistryCache
    writer: LogWriter | RemoteLogWriter
    forwarder: Forwarder
    gateway: Gateway
    signer: Signer
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    stopping: bool = False
    # Features add what they need to start and stop with the hub.
    on_shutdown: list[Callable[[], Any]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)


def _install_features(state: HubState, api: FastAPI) -> None:
    """Optional features (stats, reliability) hook into the writer and the gateway here."""
    from hub.core import workers
    from hub.stats import hooks as stats_hooks
    from hub.stats.router import router as stats_router

    workers.install(state)  # first: the features below answer the other workers through it
    stats_hooks.install(state)
    api.include_router(stats_router)
    try:
        from hub.reliability import install as reliability_install
    except ImportError:  # feature not present in this build
        return
    reliability_install(state)


def create_app(settings: Settings | None = None) -> Callable:
    end_with_parent()  # a worker of `hub serve --workers N`; a no-op elsewhere
    if settings is None:
        if not is_child():  # else `hub serve` said it, not each of its workers again
            warn_unknown_variables()
        settings = Settings()

    @contextlib.asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        state: HubState = api.state.hub
        # A startup step that fails (the log writer process gone) still has what started
        # before it stopped. Its database connections' threads, left running, had kept a
        # worker's interpreter, and the port it inherited, from ever exiting.
        try:
            await state.registry.refresh(force=True)
            if not is_child():  # else `hub serve` said it once, for all its workers
                keys.warn_foreign(state.registry.snapshot, settings.secret_key)
            await state.forwarder.start()
            await state.writer.start()
            for start in state.extras.get("on_startup", []):
                await start()
            state.tasks.append(
                asyncio.create_task(state.registry.poll(settings.registry_refresh_s))
            )
            state.tasks.append(asyncio.create_task(readiness.probe_log(state), name="log-probe"))
            if settings.gc_freeze:
                # Everything loaded so far (FastAPI, SQLAlchemy, pydantic, the registry) lives
                # as long as the process: frozen, the collector's full passes stop walking it.
                # On the bench exchange (wrk, 32 connections) this took the hub without its
                # log from 199 to 177 us of CPU per exchange and its p99 from 43 to 8 ms: the
                # p99 was those passes (bench/profile_notes.md, third round).
                gc.collect()
                gc.freeze()
        except BaseException:
            if orphaned():
                # A worker whose `hub serve` died while it started (its log writer process
                # gone with it): nobody is left to tell, and uvicorn's exit after a failed
                # startup was seen to hold the port for 30 s and more.
                os._exit(3)
            await _stop(state)
            raise
        try:
            yield
        finally:
            await _stop(state)

    api = FastAPI(
        title="Data-exchange hub",
        version=__version__,
        description="X-Road style gateway with a provable transaction log. The exchange "
        "itself is served under /r1/{INSTANCE}/{CLASS}/{MEMBER}/{SUBSYSTEM}/{SERVICE}/...",
        lifespan=lifespan,
        docs_url=None,  # served by apidocs, without a CDN
        redoc_url=None,
    )
    apidocs.install(api)
    apidocs.describe_errors(api)
    engine = create_engine(settings.database_url)
    writer_engine: AsyncEngine | None = None
    sessions = session_factory(engine)
    registry = RegistryCache(sessions)
    # Made on first start when missing; operators back it up and publish its public half
    # (`hub audit public-key`) so anyone can verify the log later.
    signer = Signer.from_file(settings.signing_key_file, create=True)
    writer: LogWriter | RemoteLogWriter
    if settings.log_writer_socket:
        writer = RemoteLogWriter(settings.log_writer_socket, queue_max=settings.log_queue_max)
    else:
        writer_engine = create_writer_engine(settings.database_url)
        writer = LogWriter(
            writer_engine,
            signer=signer,
            batch_max=settings.log_batch_max,
            queue_max=settings.log_queue_max,
            linger_rounds=settings.log_linger_rounds,
        )
    forwarder = Forwarder()
    gateway = Gateway(settings=settings, registry=registry, writer=writer, forwarder=forwarder)
    state = HubState(
        settings=settings,
        engine=engine,
        writer_engine=writer_engine,
        sessions=sessions,
        registry=registry,
        writer=writer,
        forwarder=forwarder,
        gateway=gateway,
        signer=signer,
    )
    api.state.hub = state
    _add_routes(api, state)
    api.include_router(admin_router)
    _install_features(state, api)
    return HubApp(api, gateway)


async def _stop(state: HubState) -> None:
    """Stop what the lifespan started, in reverse; each step is safe if its start never ran."""
    state.stopping = True
    for task in state.tasks:
        task.cancel()
    await asyncio.gather(*state.tasks, return_exceptions=True)
    await state.writer.stop()
    for stop in state.on_shutdown:
        result = stop()
        if asyncio.iscoroutine(result):
            await result
    await state.forwarder.stop()
    await state.engine.dispose()
    if state.writer_engine is not None:
        await state.writer_engine.dispose()


def _no_route(path: str) -> str:
    """The refusal of a path that no route takes: where exchanges and the APIs are."""
    if path.startswith(("/admin/", "/api/")):
        return f"nothing is served at {path}: /docs lists the routes of the admin and operator API"
    return (
        f"nothing is served at {path}: exchanges go to "
        "/r1/INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE/... (r1 in lower case), the admin API "
        "is under /admin/ and the operator API under /api/ (/docs lists every route)"
    )


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed(request: Request) -> str:
    """The methods some route of the request's path takes (HEAD, which every GET answers,
    goes without saying): each asked of the router, which holds included routers whole."""
    allowed = []
    for method in METHODS:
        scope = {
            "type": "http",
            "method": method,
            "path": request.scope["path"],
            "root_path": request.scope.get("root_path", ""),
            "headers": [],
            "query_string": b"",
        }
        if any(route.matches(scope)[0] == Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


def _add_routes(api: FastAPI, state: HubState) -> None:
    @api.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errs = exc.errors()
        problems = [_problem(e) for e in errs[:10]]
        status = 400 if any(_unreadable(e) for e in errs) else 422
        return JSONResponse({"detail": "; ".join(problems)}, status_code=status)

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404 and exc.detail == "Not Found":
            # No route took the path (a route's own 404 says what it lacks): most often a
            # provider's path sent without /r1, or with /R1.
            exc = StarletteHTTPException(404, _no_route(request.url.path), exc.headers)
        elif exc.status_code == 405 and exc.detail == "Method Not Allowed":
            # The router's Allow named the methods of the path's first route only: a PUT of
            # /admin/members/ID said "Allow: GET", as if PATCH and DELETE were not there.
            allow = _allowed(request) or (exc.headers or {}).get("Allow", "")
            if request.method == "OPTIONS":
                return Response(status_code=204, headers={"Allow": allow})
            call = f"{request.method} {request.url.path}"
            message = f"{call}: this path takes {allow or 'other methods'} only"
            exc = StarletteHTTPException(405, message, {**(exc.headers or {}), "Allow": allow})
        return await http_exception_handler(request, exc)

    @api.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> Response:
        return _database_state(refusal_message(exc), exc, "a request failed on the database")

    @api.exception_handler(OSError)
    async def _unreachable(_: Request, exc: OSError) -> Response:
        return _database_state(unreachable_message(exc), exc, "a request failed")

    @api.get(
        "/healthz",
        tags=["health"],
        response_model=Health,
        summary="Liveness: the process answers",
    )
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get(
        "/readyz",
        tags=["health"],
        responses=READINESS,
        summary="Readiness: database, log writer, registry",
    )
    async def readyz() -> JSONResponse:
        checks = {
            "database": True,
            "log_writer": readiness.log_takes_exchanges(state),
            "registry": state.registry.snapshot.version >= 0 and not state.registry.failing,
        }
        try:
            async with state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            checks["database"] = False
        if not checks["log_writer"] and checks["database"] and await readiness.takes_writes(state):
            state.writer.recovered()
            checks["log_writer"] = readiness.log_takes_exchanges(state)
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    def refused(refusal: errors.HubError) -> Response:
        # In X-Road's error shape, as the metaservices under /r1 refuse (FastAPI's own 405
        # body was {"detail": "Method Not Allowed"}); its detail is the X-Road-Request-Id
        # the answer carries, as theirs is.
        rid = request_id()
        return Response(
            refusal.body(rid),
            status_code=refusal.status,
            media_type="application/json",
            headers={"X-Road-Error": refusal.code, "X-Road-Request-Id": rid},
        )

    def clients(request: Request) -> Response:
        try:
            body = list_clients(
                state.registry.snapshot, request.query_params.getlist("xRoadInstance")
            )
        except errors.HubError as exc:
            return refused(exc)
        # JSON, or PR-META's XML to a client that asks for it; caches keep the two apart.
        vary = {"Vary": "Accept"}
        if prefers_xml(request.headers.get("accept")):
            return Response(client_list_xml(body), media_type=XML, headers=vary)
        return JSONResponse(body, headers=vary)

    @api.get(
        "/listClients",
        tags=["metaservices"],
        summary="Members and subsystems (X-Road); ?xRoadInstance=VN names the instance",
        **LIST_CLIENTS,
    )
    async def list_clients_route(request: Request) -> Response:
        return clients(request)

    # HEAD as the metaservices under /r1 answer it (FastAPI adds no HEAD to a GET route):
    # the GET's head, whose body the server leaves out.
    @api.head("/listClients", include_in_schema=False)
    async def list_clients_head(request: Request) -> Response:
        return clients(request)

    async def list_clients_other(scope: dict[str, Any], receive: Any, send: Any) -> None:
        method = scope["method"]
        refusal = errors.BadRequest(f"listClients answers GET and HEAD only (got {method})")
        await refused(refusal)(scope, receive, send)

    # Every other method, TRACE and unregistered ones too (a list of them left TRACE to
    # FastAPI's 405 {"detail": ...}): a route of an ASGI app (not of a function, which
    # Starlette gives GET alone) takes them all, matched after the GET and HEAD above.
    api.router.routes.append(
        Route("/listClients", _AnyMethod(list_clients_other), include_in_schema=False)
    )

    @api.get(
        "/demo/credentials",
        tags=["demo"],
        response_model=list[DemoCredential],
        responses=DEMO_OFF,
        summary="Demo clients' keys (development)",
    )
    async def demo_credentials() -> list[dict[str, Any]]:
        if not state.settings.demo_credentials:
            raise HTTPException(404, _demo_off(state.settings))
        return await demo_credentials_list(state)

    @api.get(
        "/demo/providers",
        tags=["demo"],
        responses=DEMO_OFF,
        summary="Provider base URLs (development)",
    )
    async def demo_providers() -> dict[str, str]:
        if not state.settings.demo_credentials:
            raise HTTPException(404, _demo_off(state.settings))
        return {
            sid: url for sid, (_n, url, _e) in state.registry.snapshot.subsystems.items() if url
        }


class _AnyMethod:
    """An ASGI app of one function: Starlette routes it for every method."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def _database_state(said: str | None, exc: Exception, failed: str) -> Response:
    """A 503 that says what the database is doing, or a 500 when ``said`` is None (the
    error is the hub's own: its traceback goes to the log)."""
    if said is None:
        log.error(failed, exc_info=exc)
        return JSONResponse({"detail": "internal error"}, status_code=500)
    log.warning("%s", said)  # one line: the database's state, not the hub's fault
    return JSONResponse({"detail": said}, status_code=503, headers={"Retry-After": "5"})


def _demo_off(settings: Settings) -> str:
    """Why the demo endpoints answer 404: production, or HUB_DEMO_CREDENTIALS=false."""
    why = "production" if settings.env == "production" else "HUB_DEMO_CREDENTIALS=false"
    return f"demo endpoints are off ({why})"


async def demo_credentials_list(state: HubState) -> list[dict[str, Any]]:
    """Every client holding a demo key, its key (derived again) and what it may call."""
    async with state.sessions() as session:
        rows = await keys.live_demo_keys(session)
    grants = state.registry.snapshot.grants
    out = []
    for row in rows:
        key = security.demo_api_key(state.settings.secret_key, row.subsystem_id)
        if security.hash_key(state.settings.secret_key, key) != row.key_hash:
            continue  # made with another secret; cannot be shown
        services = sorted(s for c, s in grants if c == row.subsystem_id)
        out.append({"client": row.subsystem_id, "api_key": key, "services": services})
    return out


def _unreadable(error: dict[str, Any]) -> bool:
    """Whether ``error`` makes the request a 400 (docs/gateway.md, "The admin API in
    detail"): the path, the query or a header is wrong, the body is no JSON, or an identifier
    is malformed wherever it is sent (SPEC §4). The rest, a body read whose content is wrong,
    is a 422: the same line the gateway draws between Client.BadRequest and InvalidPayload."""
    if error["type"] == "json_invalid" or error["loc"][:1] in (("path",), ("query",), ("header",)):
        return True
    return isinstance(error.get("ctx", {}).get("error"), IdError)


def _problem(error: dict[str, Any]) -> str:
    """One validation error as a sentence a person can act on."""
    if error["type"] == "json_invalid":
        # pydantic says "body.1: JSON decode error": the 1 is the character it stopped at.
        at = error["loc"][1] if len(error["loc"]) > 1 else 0
        why = error.get("ctx", {}).get("error", "")
        return f"the body is not valid JSON: {why} at character {at}".replace(":  at", ": at")
    where = ".".join(str(p) for p in error["loc"])
    value = error.get("input")
    got = ""
    if isinstance(value, bool):  # as the caller wrote it in JSON, not Python's True
        got = f" (got {'true' if value else 'false'})"
    elif isinstance(value, str | int | float) and len(repr(value)) <= 60:
        got = f" (got {value!r})"
    return f"{where}: {error['msg']}{got}"
