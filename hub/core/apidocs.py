"""/docs and /redoc with Swagger UI and ReDoc served by the hub itself.

FastAPI's own pages load both from a CDN: on a network without the internet, where hubs
between agencies run, they showed a blank page. The scripts come pinned in the
``fastapi-offline`` package (Swagger UI and ReDoc's standalone bundles, FastAPI's favicon)
and are served under /docs/assets; the pages are FastAPI's, pointed at them.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS = "/docs"
REDOC = "/redoc"
ASSETS = "/docs/assets"


def install(api: FastAPI) -> None:
    """Add /docs, its OAuth2 redirect, /redoc and their files to ``api``, made with
    ``docs_url=None, redoc_url=None``; its ``docs_url`` and ``redoc_url`` then name them."""
    assert api.openapi_url and api.docs_url is None and api.redoc_url is None
    openapi_url = api.openapi_url
    redirect = api.swagger_ui_oauth2_redirect_url
    bundled = files("fastapi_offline") / "static"
    api.mount(ASSETS, StaticFiles(directory=str(bundled)), name="docs-assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{api.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            oauth2_redirect_url=root + redirect if redirect else None,
            init_oauth=api.swagger_ui_init_oauth,
            swagger_ui_parameters=api.swagger_ui_parameters,
        )

    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{api.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )

    api.add_route(DOCS, swagger_ui, include_in_schema=False)
    if redirect:
        api.add_route(redirect, oauth2_redirect, include_in_schema=False)
    api.add_route(REDOC, redoc, include_in_schema=False)
    api.docs_url, api.redoc_url = DOCS, REDOC


def _root(request: Request) -> str:
    """The path the hub is served under (behind a proxy), as FastAPI's own pages take it."""
    return str(request.scope.get("root_path", "")).rstrip("/")


ERROR = {
    "type": "object",
    "title": "Error",
    "description": "What a refusal of the admin and operator API answers.",
    "properties": {"detail": {"type": "string", "title": "Detail", "description": "why"}},
    "required": ["detail"],
}
_ERROR_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_REFUSALS = {
    "400": "A request that cannot be read: a malformed identifier, time, cursor or header, a "
    "query parameter it does not take, given twice or of the wrong form, a body that is no JSON",
    "401": "No token, or one that is neither the admin's nor the operator's",
    "503": "The database cannot be reached or refused the request: retry after the seconds "
    "of Retry-After",
}
_HEADERS = {
    "401": {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    "503": {
        "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}},
    },
}
_WRITES = {
    "409": "The entry is there already, or another change took it first",
}
_BODIES = {
    "413": "A body over 16 MiB",
    "415": "A body that is not JSON (or, for the registry, YAML)",
    "422": "A body read but refused: a field missing, unknown, of the wrong type or out of "
    "range, or naming an entry there is not",
}


def describe_errors(api: FastAPI) -> None:
    """Make ``api``'s OpenAPI describe the refusals it sends, ``{"detail": "<sentence>"}``.

    FastAPI described a 422 as its own ``{"detail": [{"loc", "msg", "type"}]}``, which the
    hub never sends, and no 401 or 403: a client generated from /openapi.json failed to
    read the refusals it got."""
    build = api.openapi

    def openapi() -> dict[str, Any]:
        doc = build()
        _with_errors(doc)
        return doc

    api.openapi = openapi  # type: ignore[method-assign]


def _with_errors(doc: dict[str, Any]) -> None:
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ERROR
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if "requestBody" not in operation:
                # FastAPI's 422 of a route with parameters: a mistake in the path or the
                # query is a 400 here, and a 422 is a body refused.
                responses.pop("422", None)
            if operation.get("security"):
                said = dict(_REFUSALS)
                if path.startswith("/admin"):
                    said["403"] = "The operator token: /admin takes the admin token"
                # A grant's PATCH and DELETE name it by client and service, not by a path.
                if "{" in path or (path.startswith("/admin") and method in ("patch", "delete")):
                    said["404"] = "No such entry"
                if path.startswith("/admin") and method != "get":
                    said.update(_WRITES)
                if "requestBody" in operation:
                    said.update(_BODIES)
                for status, description in said.items():
                    responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status.startswith(("4", "5")) and not _own_body(response):
                    response["content"] = _ERROR_BODY
                    if status in _HEADERS:
                        response.setdefault("headers", _HEADERS[status])


def _own_body(response: dict[str, Any]) -> bool:
    """Whether a refusal's body is a route's own (/readyz's 503, /listClients' X-Road
    error), not FastAPI's 422 nor none said."""
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema) and schema.get("$ref") != "#/components/schemas/HTTPValidationError"
