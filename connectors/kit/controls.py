"""The mock's controls for testers: health, reset, faults, stubs and the request journal.

- ``GET /__health``, ``POST /__reset``, ``GET|PUT|DELETE /__faults`` (``connectors.kit.faults``)
- ``GET|PUT|POST|DELETE /__stubs``, ``GET|DELETE /__stubs/{id}`` (``connectors.kit.stubs``)
- ``GET|DELETE /__scenarios``, ``PUT /__scenarios/{name}`` (``connectors.kit.scenarios``)
- ``GET|DELETE /__requests``, ``GET /__requests/count`` (``connectors.kit.journal``; its
  filters, ``connectors.kit.journal_filters``)

All but ``/__health`` answer 403 to a request that came through the hub.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Body, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from connectors.kit.dataset import Dataset
from connectors.kit.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    unknown_query,
    with_fields,
)
from connectors.kit.faults import FaultConfig
from connectors.kit.journal import JOURNAL_SIZE, Journal
from connectors.kit.journal_filters import FILTERS, journal_filters
from connectors.kit.manifest import Manifest
from connectors.kit.queries import repeated_query
from connectors.kit.stub_model import ScenarioState, Stub
from connectors.kit.stubs import LiveStub, StubError, Stubs
from schemas.common import Problem

if TYPE_CHECKING:
    from connectors.kit.app import ConnectorApp

_KINDS = {list: "a list", dict: "an object", str: "a string", bytes: "text", bool: "a boolean"}


def _direct(request: Request) -> None:
    """Refuse a control call that came through the hub (it adds ``X-Road-Client``).

    A granted service without endpoints reaches every path of its provider, and with this
    mock's ``PUT /__faults`` any client could have made the provider fail for every other.
    """
    if "x-road-client" in request.headers:
        raise ForbiddenError(
            f"{request.url.path} is a control of the mock for testers, not a service: call the "
            "mock directly, not through the hub"
        )


class _Takes:
    """A route dependency: a query parameter the control does not take is a 422 naming it.

    ``names`` may end with ``.NAME``: the control takes every name of that prefix
    (``query.province``).
    """

    def __init__(self, what: str | None = None, *names: str) -> None:
        self.what = what
        self.names = names
        self.prefixes = tuple(n.removesuffix("NAME") for n in names if n.endswith(".NAME"))

    def _known(self, name: str) -> bool:
        return name in self.names or (bool(self.prefixes) and name.startswith(self.prefixes))

    def _meant(self, name: str) -> str | None:
        # "headers.x-a" is "header.x-a": the name after the dot is the caller's own.
        prefix, dot, rest = name.partition(".")
        close = difflib.get_close_matches(f"{prefix}.", self.prefixes, n=1) if dot else []
        return f"{close[0]}{rest}" if close and rest else None

    async def __call__(self, request: Request) -> None:
        unknown = [k for k in dict.fromkeys(request.query_params.keys()) if not self._known(k)]
        if unknown:
            # Ignored, DELETE /__requests?method=GET cleared every call, not the GETs.
            what = self.what or f"{request.method} {request.scope['route'].path}"
            raise InvalidRequestError(unknown_query(what, unknown, self.names, meant=self._meant))
        twice = repeated_query(
            request.query_params,
            "each filter takes one value (ask once per value and add up the answers)",
        )
        if twice:
            raise InvalidRequestError(twice)


async def _stubs(request: Request, body: Any, *, many: bool) -> list[Stub]:
    """The stubs of a request body (one object or a list; a list only where ``many``)."""
    wanted = "a JSON list of stubs ([] for none)" if many else "a stub as a JSON object"
    content_type = request.headers.get("content-type", "")
    if body is None and not (await request.body()).strip():
        raise InvalidRequestError(f"the body is missing: send {wanted}")
    if isinstance(body, str | bytes) and "json" not in content_type.lower():
        raise InvalidRequestError(
            f"the body must be {wanted} sent with Content-Type: application/json "
            f"(got {content_type or 'no Content-Type'})"
        )
    if not isinstance(body, list) and (many or not isinstance(body, dict)):
        # JSON null is a body sent, not a missing one.
        kind = "null" if body is None else _KINDS.get(type(body), "a number")
        raise InvalidRequestError(f"the body must be {wanted} (got {kind})")
    items = body if isinstance(body, list) else [body]
    stubs, errors = [], []
    for i, item in enumerate(items):
        where: tuple[str, ...] = ("body", f"stubs[{i}]") if isinstance(body, list) else ("body",)
        try:
            stubs.append(Stub.model_validate(item))
        except ValidationError as exc:
            errors += [{**e, "loc": (*where, *e["loc"])} for e in exc.errors()]
    if errors:
        raise RequestValidationError(with_fields(errors, Stub), body=body)
    return stubs


def _views(stubs: list[LiveStub]) -> list[dict[str, Any]]:
    return [s.view() for s in stubs]


def add_control_routes(app: ConnectorApp, manifest: Manifest, dataset: Dataset) -> None:
    direct = [Depends(_direct)]
    plain = [*direct, Depends(_Takes())]  # controls that take no query parameters
    refused: dict[int | str, dict[str, Any]] = {422: {"model": Problem}}

    # Each also with a trailing slash, answered alike (WireMock's users asked the same of
    # /__admin/docs/): the router's 307 to the path without it came with an empty body, which
    # curl without -L printed as nothing, and the fault was not set. None holds anything
    # below it, so the slash can mean nothing else (/__stubs/ and /__scenarios/ can: a 404).
    @app.get("/__health/", include_in_schema=False)
    @app.get("/__health", include_in_schema=False)
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "connector": manifest.name,
            "subsystem": manifest.subsystem_id,
            **dataset.health(),
        }

    @app.post("/__reset/", include_in_schema=False, dependencies=plain)
    @app.post("/__reset", include_in_schema=False, dependencies=plain)
    async def reset() -> dict[str, Any]:
        dataset.reset()
        app.faults.reset()
        app.stubs.reset()
        app.journal.clear()
        return {"status": "reset", **dataset.health()}

    @app.get("/__faults/", include_in_schema=False, dependencies=plain)
    @app.get("/__faults", include_in_schema=False, dependencies=plain)
    async def get_faults() -> FaultConfig:
        return app.faults.config

    @app.put("/__faults/", include_in_schema=False, dependencies=plain, responses=refused)
    @app.put("/__faults", include_in_schema=False, dependencies=plain, responses=refused)
    async def put_faults(config: FaultConfig) -> FaultConfig:
        unknown = config.unknown_services(spec.code for spec in manifest.services)
        if unknown:
            raise InvalidRequestError(unknown)
        app.faults.set(config)
        return app.faults.config

    @app.delete("/__faults/", include_in_schema=False, dependencies=plain)
    @app.delete("/__faults", include_in_schema=False, dependencies=plain)
    async def clear_faults() -> FaultConfig:
        app.faults.set(FaultConfig())  # as PUT {} does: the seed too goes back to the default
        return app.faults.config

    _add_stub_routes(app, plain)
    _add_scenario_routes(app, plain)
    _add_journal_routes(app, direct)


def _add_stub_routes(app: ConnectorApp, plain: list[Any]) -> None:
    stubs: Stubs = app.stubs

    @app.get("/__stubs", include_in_schema=False, dependencies=plain)
    async def list_stubs() -> list[dict[str, Any]]:
        return _views(stubs.stubs)

    @app.put("/__stubs", include_in_schema=False, dependencies=plain)
    async def put_stubs(
        request: Request, body: Annotated[Any, Body()] = None
    ) -> list[dict[str, Any]]:
        given = await _stubs(request, body, many=True)
        try:
            return _views(stubs.replace(given))
        except StubError as exc:
            raise InvalidRequestError(str(exc)) from None

    @app.post("/__stubs", include_in_schema=False, dependencies=plain)
    async def add_stubs(request: Request, body: Annotated[Any, Body()] = None) -> JSONResponse:
        given = await _stubs(request, body, many=False)
        taken = stubs.taken(given)
        if taken is not None:
            raise ConflictError(
                f"there is already a stub {taken!r}: delete it first, or give another id"
            )
        try:
            added = _views(stubs.add(given))
        except StubError as exc:
            raise InvalidRequestError(str(exc)) from None
        return JSONResponse(added if isinstance(body, list) else added[0], status_code=201)

    @app.delete("/__stubs", include_in_schema=False, dependencies=plain)
    async def clear_stubs() -> list[dict[str, Any]]:
        return _views(stubs.clear())

    @app.get("/__stubs/{stub_id}", include_in_schema=False, dependencies=plain)
    async def get_stub(stub_id: str) -> dict[str, Any]:
        found = next((s for s in stubs.stubs if s.id == stub_id), None)
        if found is None:
            raise NotFoundError(f"no stub {stub_id[:64]!r}: GET /__stubs lists them")
        return found.view()

    @app.delete("/__stubs/{stub_id}", include_in_schema=False, dependencies=plain)
    async def delete_stub(stub_id: str) -> dict[str, Any]:
        removed = stubs.remove(stub_id)
        if removed is None:
            raise NotFoundError(f"no stub {stub_id[:64]!r}: GET /__stubs lists them")
        return removed.view()

    @app.api_route("/__stubs/", methods=["GET", "PUT", "POST", "DELETE"], include_in_schema=False)
    async def no_stub_id(request: Request) -> None:
        # Else the router redirected (307) to /__stubs, and a client that follows redirects
        # (Python's requests does, method and all) deleted every stub for one whose id came
        # out empty: DELETE /__stubs/{id} with no id.
        raise NotFoundError(
            f"no stub id given in {request.method} /__stubs/: /__stubs/{{id}} is one stub "
            "(GET, DELETE), /__stubs with no slash the list (GET, PUT, POST, DELETE)"
        )


def _add_scenario_routes(app: ConnectorApp, plain: list[Any]) -> None:
    stubs: Stubs = app.stubs

    def views() -> list[dict[str, Any]]:
        return stubs.scenarios.views(s.stub for s in stubs.stubs)

    @app.get("/__scenarios", include_in_schema=False, dependencies=plain)
    async def list_scenarios() -> list[dict[str, Any]]:
        return views()

    @app.put("/__scenarios/{name}", include_in_schema=False, dependencies=plain)
    async def set_scenario(name: str, given: ScenarioState) -> dict[str, Any]:
        found = next((v for v in views() if v["name"] == name), None)
        if found is None:
            raise NotFoundError(
                f"no scenario {name[:64]!r}: a scenario is named by a stub's scenario field, "
                "and GET /__scenarios lists them"
            )
        if given.state not in found["states"]:
            # Else a typo ("submited") left every stub of the scenario waiting for a state
            # that none of them moves it out of.
            raise InvalidRequestError(
                f"scenario {name!r} has no state {given.state[:64]!r}: its stubs know "
                f"{', '.join(found['states'])}"
            )
        stubs.scenarios.set(name, given.state)
        return {**found, "state": given.state}

    @app.delete("/__scenarios", include_in_schema=False, dependencies=plain)
    async def reset_scenarios() -> list[dict[str, Any]]:
        stubs.scenarios.reset()
        return views()

    @app.api_route("/__scenarios/", methods=["GET", "PUT", "DELETE"], include_in_schema=False)
    async def no_scenario_name(request: Request) -> None:
        # Else the router redirected (307) to /__scenarios, and DELETE reset every scenario.
        raise NotFoundError(
            f"no scenario name given in {request.method} /__scenarios/: PUT "
            "/__scenarios/{name} sets one, /__scenarios with no slash lists them (GET) or "
            "puts them all back to Started (DELETE)"
        )


def _add_journal_routes(app: ConnectorApp, direct: list[Any]) -> None:
    journal: Journal = app.journal
    plain = [*direct, Depends(_Takes())]
    listing = [*direct, Depends(_Takes("GET /__requests", *FILTERS, "limit"))]
    counting = [*direct, Depends(_Takes("GET /__requests/count", *FILTERS))]

    # With a trailing slash as without, as the other controls with no id below them
    # (add_control_routes): only /__requests/count is below it.
    @app.get("/__requests/", include_in_schema=False, dependencies=listing)
    @app.get("/__requests", include_in_schema=False, dependencies=listing)
    async def list_requests(
        filters: Annotated[dict[str, Any], Depends(journal_filters)],
        limit: Annotated[int, Query(ge=1, le=JOURNAL_SIZE)] = 100,
    ) -> dict[str, Any]:
        found = journal.select(**filters)
        return {
            "items": [e.view() for e in found[:limit]],
            "matched": len(found),
            "dropped": journal.dropped,
            "capacity": journal.size,
        }

    @app.get("/__requests/count", include_in_schema=False, dependencies=counting)
    async def count_requests(
        filters: Annotated[dict[str, Any], Depends(journal_filters)],
    ) -> dict[str, int]:
        return {"count": len(journal.select(**filters)), "dropped": journal.dropped}

    @app.delete("/__requests/", include_in_schema=False, dependencies=plain)
    @app.delete("/__requests", include_in_schema=False, dependencies=plain)
    async def clear_requests() -> dict[str, int]:
        return {"deleted": journal.clear()}
