"""The app factory: a FastAPI app serving a manifest's services, its control routes and faults.

``build_app(manifest, dataset=..., handlers={"citizen-lookup": fn, ...})`` adds one route per
``ServiceSpec`` (method, path, request/response models, 404 ``NotFound``, 422 ``Problem``), so
FastAPI's ``/openapi.json`` is the manifest's OpenAPI document. Each handler is an ordinary
FastAPI endpoint function (path and query parameters, a body typed with the request model); a
query parameter it does not take is a 422 ``InvalidRequest`` naming it, never ignored. The app
also serves:

- ``GET /__health``: ``{"status": "ok", "connector", "subsystem", "seed", "size", ...}``
- ``POST /__reset``: drop every write (in the state file too), restore the starting faults and
  stubs (their scenarios in ``Started``), clear the journal
- ``GET|PUT|DELETE /__faults``: see ``connectors.kit.faults``
- ``GET|PUT|POST|DELETE /__stubs``: answers set at run time, see ``connectors.kit.stubs``
- ``GET|DELETE /__scenarios``, ``PUT /__scenarios/{name}``: the states of stateful stubs, see
  ``connectors.kit.scenarios``
- ``GET|DELETE /__requests``, ``GET /__requests/count``: what the mock received, see
  ``connectors.kit.journal``

The controls (``connectors.kit.controls``) but ``/__health`` answer 403 to a request that came
through the hub.

``Connector`` is what each connector package exposes as ``connector``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from connectors.kit.bodies import KitRoute
from connectors.kit.controls import add_control_routes
from connectors.kit.dataset import Dataset
from connectors.kit.errors import (
    InvalidRequestError,
    ProviderError,
    http_error_handler,
    provider_error_handler,
    unknown_query,
    validation_error_handler,
)
from connectors.kit.faults import FaultConfig, FaultMiddleware, Faults
from connectors.kit.hub import HubClient
from connectors.kit.journal import Journal
from connectors.kit.manifest import Manifest, ServiceSpec
from connectors.kit.nearby import did_you_mean
from connectors.kit.queries import repeated_query
from connectors.kit.stubs import Stubs
from schemas.common import NotFound, Problem

# Handlers are FastAPI endpoint functions (async ones, by habit).
Handler = Callable[..., Any]
FaultsArg = FaultConfig | Mapping[str, Any] | None


class AppFactory(Protocol):
    def __call__(
        self,
        *,
        seed: int = 42,
        size: int | None = None,
        hub_url: str | None = None,
        client_key: str | None = None,
        # Any: factories may narrow it (e.g. to dict | FaultConfig); the kit accepts both.
        faults: Any = None,
        state_path: str | Path | None = None,
    ) -> FastAPI: ...


@dataclass(frozen=True)
class Connector:
    """A mock agency: its manifest and the factory of its app."""

    manifest: Manifest
    factory: AppFactory

    @property
    def name(self) -> str:
        return self.manifest.name

    def create_app(
        self,
        *,
        seed: int = 42,
        size: int | None = None,
        hub_url: str | None = None,
        client_key: str | None = None,
        faults: FaultsArg = None,
        state_path: str | Path | None = None,
    ) -> FastAPI:
        """A fresh app with its own dataset, faults and hub client.

        With ``state_path`` the dataset keeps its writes in that SQLite file (and starts from
        what is there); without it, in memory only.
        """
        # Passed only when given, so factories written before state files still work.
        extra: dict[str, Any] = {} if state_path is None else {"state_path": state_path}
        return self.factory(
            seed=seed, size=size, hub_url=hub_url, client_key=client_key, faults=faults, **extra
        )


class ConnectorApp(FastAPI):
    """FastAPI with the fault layer outermost, where it can reach the server's transport."""

    faults: Faults
    stubs: Stubs
    journal: Journal

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.router.route_class = KitRoute  # bodies read by bodies.loads, services' and controls'

    def build_middleware_stack(self) -> ASGIApp:
        return FaultMiddleware(
            super().build_middleware_stack(),
            faults=self.faults,
            routes=self.router.routes,
            codes=[spec.code for spec in self.state.manifest.services],
            stubs=self.stubs,
            journal=self.journal,
        )


# How the OpenAPI document describes the error statuses a service declares (ServiceSpec.errors).
_ERRORS = {
    400: "Not a well-formed identifier: says what one looks like",
    409: "The current state contradicts this request: says why",
    502: "A check through the hub could not be made: says which",
}


def _specificity(spec: ServiceSpec) -> int:
    # Literal paths first, so /citizens/changes is not taken for /citizens/{id}.
    return spec.path.count("{")


class _KnownQuery:
    """A route dependency: a query parameter the service does not take is a 422, not ignored.

    Ignored, a typo (``GET /citizens?provinc=79``) answered every citizen, and a scenario
    passed for the wrong reason. The parameters taken are those of the route's OpenAPI
    operation, read at its first call.
    """

    def __init__(self, spec: ServiceSpec) -> None:
        self.spec = spec
        self.names: tuple[str, ...] | None = None

    async def __call__(self, request: Request) -> None:
        if not request.query_params:
            return
        if self.names is None:
            operation = request.app.openapi()["paths"][self.spec.path][self.spec.method.lower()]
            self.names = tuple(
                p["name"] for p in operation.get("parameters", ()) if p["in"] == "query"
            )
        unknown = [k for k in dict.fromkeys(request.query_params.keys()) if k not in self.names]
        if unknown:
            raise InvalidRequestError(unknown_query(self.spec.code, unknown, self.names))
        # No service takes a list in its query.
        twice = repeated_query(request.query_params, f"{self.spec.code} takes one value of it")
        if twice:
            raise InvalidRequestError(twice)


def _check_handlers(manifest: Manifest, handlers: Mapping[str, Handler]) -> None:
    """Each service code of the manifest has one handler, and each handler a service.

    Said one code at a time, with the handler a renamed code most likely left behind: two
    sorted lists of codes left the reader to find what differs between them."""
    codes = [spec.code for spec in manifest.services]
    missing = [code for code in codes if code not in handlers]
    extra = [code for code in handlers if code not in codes]
    if not missing and not extra:
        return
    said = [f"service {code} of the manifest has no handler" for code in missing]
    for code in extra:
        said.append(f"handler {code!r} names no service{did_you_mean(code, missing)}")
    raise ValueError(
        f"{manifest.name}: {'; '.join(said)}: give build_app's handlers one for each service "
        "code, keyed by the code"
    )


def build_app(
    manifest: Manifest,
    *,
    dataset: Dataset,
    handlers: Mapping[str, Handler],
    hub: HubClient | None = None,
    faults: FaultsArg = None,
    version: str = "1.0.0",
    on_close: Sequence[Callable[[], Awaitable[None]]] = (),
) -> FastAPI:
    """Build the app serving ``manifest`` with ``handlers`` (service code -> endpoint).

    ``on_close`` are awaited when the app shuts down, while its hub client is still open
    (to stop the deliveries of ``connectors.kit.subscriptions`` under way, say).
    """
    _check_handlers(manifest, handlers)
    codes = {spec.code for spec in manifest.services}
    hub = hub or HubClient(client_id=manifest.subsystem_id)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with hub:
                try:
                    yield
                finally:
                    for close in on_close:
                        await close()
        finally:
            dataset.close()

    app = ConnectorApp(
        title=f"{manifest.subsystem_name} ({manifest.subsystem_id})",
        description=f"Mock of {manifest.member_name}: {manifest.subsystem_name}.",
        version=version,
        lifespan=lifespan,
    )
    config = _fault_config(faults)
    unknown = config.unknown_services(codes)
    if unknown:
        raise ValueError(f"{manifest.name} faults: {unknown}")
    app.faults = Faults(config, default_seed=dataset.seed)
    app.stubs = Stubs()
    app.journal = Journal()
    app.state.manifest = manifest
    app.state.dataset = dataset
    app.state.hub = hub
    app.add_exception_handler(ProviderError, provider_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)

    for spec in sorted(manifest.services, key=_specificity):
        app.add_api_route(
            spec.path,
            handlers[spec.code],
            methods=[spec.method],
            name=spec.code,
            operation_id=spec.code,
            summary=spec.description,
            tags=[manifest.name],
            dependencies=[Depends(_KnownQuery(spec))],
            response_model=spec.response_model,
            status_code=spec.status_code,
            responses={
                404: {"model": NotFound, "description": "No data"},
                422: {"model": Problem, "description": "Not a valid request: says what to fix"},
                **{
                    status: {"model": Problem, "description": _ERRORS.get(status, "Refused")}
                    for status in spec.errors
                },
            },
            openapi_extra={
                "x-service-id": f"{manifest.subsystem_id}/{spec.code}",
                "x-personal-data": spec.personal_data,
                "x-timeout-ms": spec.timeout_ms,
            },
        )
        _check_handler(spec, app.router.routes[-1])
    add_control_routes(app, manifest, dataset)
    return app


def _check_handler(spec: ServiceSpec, route: object) -> None:
    """Refuse a handler that does not take what its service declares.

    FastAPI takes a handler's parameter that the path does not name for a query parameter, so
    the mock started and answered every call ``422 query parameter plate is required``; and a
    body model other than the manifest's ``request_model`` left the hub checking bodies
    against another schema (or none) than the mock's.
    """
    if not isinstance(route, APIRoute):  # build_app adds the service's route just before
        raise TypeError(f"service {spec.code}: its route is a {type(route).__name__}")
    handler = getattr(route.endpoint, "__name__", spec.code)
    taken = _path_parameters(route.dependant)
    missing = [name for name in route.param_convertors if name not in taken]
    if missing:
        query = ", ".join(param.alias for param in route.dependant.query_params) or "nothing"
        raise ValueError(
            f"service {spec.code}: its path {spec.path} has "
            f"{', '.join('{' + name + '}' for name in missing)}, which its handler {handler} "
            f"does not take (it takes {query}): name the handler's parameter as the path does"
        )
    # /vehicles/plate meant for /vehicles/{plate}: every lookup a 404, the path itself a 422.
    segments = set(spec.path.strip("/").split("/"))
    for param in route.dependant.query_params:
        if param.alias in segments and param.field_info.is_required():
            raise ValueError(
                f"service {spec.code}: its path {spec.path} has the segment {param.alias!r}, "
                f"and its handler {handler} takes {param.alias}, required, from the query: "
                f"write the segment {{{param.alias}}} to take it from the path"
            )
    bodies = [param.field_info.annotation for param in route.dependant.body_params]
    model = bodies[0] if len(bodies) == 1 else None
    if isinstance(model, type) and issubclass(model, BaseModel) and model is not spec.request_model:
        declared = (
            f"the manifest's request_model is {spec.request_model.__name__}, whose JSON Schema"
            " the hub would check bodies against"
            if spec.request_model
            else "the manifest gives it no request_model, so the hub would check no body"
        )
        raise ValueError(
            f"service {spec.code}: its handler {handler} takes a body of {model.__name__}, but "
            f"{declared}: give the service request_model={model.__name__}"
        )


def _path_parameters(dependant: Dependant) -> set[str]:
    """The path parameters a handler takes, its dependencies' included."""
    names = {param.alias for param in dependant.path_params}
    for dependency in dependant.dependencies:
        names |= _path_parameters(dependency)
    return names


def _fault_config(faults: FaultsArg) -> FaultConfig:
    if faults is None:
        return FaultConfig()
    if isinstance(faults, FaultConfig):
        return faults
    return FaultConfig.model_validate(dict(faults))
