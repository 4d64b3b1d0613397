"""A registry of one fake provider, served over real HTTP, and a hub in front of it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from hub.core.db import create_engine, session_factory
from hub.registry import keys as api_keys
from hub.registry import service as registry
from hub.registry.schemas import RegistryDoc
from tests.support import SECRET, hub_client, make_settings, serve

CLIENT = "VN/GOV/BTP/civil-status"
OTHER = "VN/GOV/BTP/other"
PROVIDER = "VN/GOV/BCA/population"
CITIZEN = "079203001234"


def provider_app() -> FastAPI:
    app = FastAPI()
    seen: list[dict[str, Any]] = []
    app.state.seen = seen

    @app.get("/citizens/{cid}")
    async def citizen(cid: str, request: Request) -> Response:
        seen.append({"path": request.url.path, "headers": dict(request.headers)})
        if cid != CITIZEN:
            return JSONResponse({"type": "NotFound", "message": f"no citizen {cid}"}, 404)
        return JSONResponse({"id": cid, "full_name": "Nguyễn Văn An"})

    @app.post("/echo")
    async def echo(request: Request) -> Response:
        seen.append({"path": request.url.path, "headers": dict(request.headers)})
        return Response(await request.body(), media_type="application/json", status_code=201)

    @app.get("/slow")
    async def slow() -> dict[str, bool]:
        await asyncio.sleep(2)
        return {"slow": True}

    @app.get("/bad")
    async def bad() -> Response:
        return Response(b'{"truncated": ', media_type="application/json")

    @app.get("/hostile")
    async def hostile() -> Response:
        # Headers only the hub may set, and one named as this hop's own.
        return Response(
            b"{}",
            media_type="application/json",
            headers={
                "X-Road-Client": "VN/GOV/EVIL/x",
                "X-Road-Id": "provider-id",
                "X-Road-Error": "Server.Fake",
                "X-Hub-Latency": "999",
                "Connection": "keep-alive, X-Secret-Hop",
                "X-Secret-Hop": "1",
                "X-Kept": "yes",
            },
        )

    @app.get("/status/{code}")
    async def status(code: int) -> Response:
        return Response(status_code=code)  # no body, no content type

    @app.get("/raw")
    async def raw() -> Response:
        return Response(b"plain bytes")  # no content type

    @app.api_route("/sized", methods=["GET", "HEAD"], include_in_schema=False)
    async def sized() -> Response:
        return Response(b"x" * 249, media_type="text/plain")

    @app.get("/people")
    async def people(request: Request) -> dict[str, str]:
        seen.append({"path": request.url.path, "headers": dict(request.headers)})
        return {"query": str(request.url.query)}

    @app.get("/files/{name}")
    async def files(name: str, request: Request) -> dict[str, str]:
        return {"name": name, "raw": request.scope.get("raw_path", b"").decode()}

    return app


def registry_doc(base_url: str) -> dict[str, Any]:
    def svc(code: str, endpoints: list[dict[str, str]], **kw: Any) -> dict[str, Any]:
        return {"id": f"{PROVIDER}/{code}", "endpoints": endpoints, **kw}

    services = [
        svc("citizen-lookup", [{"method": "GET", "path": "/citizens/{id}"}], personal_data=True),
        svc(
            "echo",
            [{"method": "POST", "path": "/echo"}],
            max_body_bytes=200,
            request_schema={
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "string"}},
            },
        ),
        svc("slow", [{"method": "GET", "path": "/slow"}], timeout_ms=300),
        svc("bad", [{"method": "GET", "path": "/bad"}]),
        svc("files", [{"method": "GET", "path": "/files/{name}"}]),
        svc("answers", []),  # any method and path
        svc("people", [{"method": "GET", "path": "/people"}], personal_data=True),
        svc("closed", [{"method": "GET", "path": "/citizens/{id}"}], enabled=False),
        svc("unreachable", [], base_url="http://127.0.0.1:9"),
        svc("ungranted", [{"method": "GET", "path": "/citizens/{id}"}]),
    ]
    grants = [
        {"client": CLIENT, "service": s["id"]} for s in services if "ungranted" not in s["id"]
    ]
    return {
        "members": [{"id": "VN/GOV/BCA", "name": "Bộ Công an"}, {"id": "VN/GOV/BTP"}],
        "subsystems": [
            {"id": PROVIDER, "name": "Dân cư", "base_url": base_url},
            {"id": CLIENT},
            {"id": OTHER},
        ],
        "services": services,
        "grants": grants,
    }


async def load_registry(db_url: str, doc: dict[str, Any]) -> dict[str, str]:
    """Apply ``doc`` and issue one key per client; returns client -> key."""
    engine = create_engine(db_url)
    keys = {}
    try:
        async with session_factory(engine)() as session:
            await registry.apply(session, RegistryDoc.model_validate(doc))
            for client in (CLIENT, OTHER):
                _, keys[client] = await api_keys.issue_key(session, secret=SECRET, client=client)
            await session.commit()
    finally:
        await engine.dispose()
    return keys


class Hub:
    """A running hub with its client, keys and provider, for one test."""

    def __init__(self, app: Any, client: Any, keys: dict[str, str], provider: FastAPI) -> None:
        self.app = app
        self.client = client
        self.keys = keys
        self.provider = provider

    def headers(self, client: str = CLIENT, **extra: str) -> dict[str, str]:
        return {"X-Road-Client": client, "Authorization": f"Bearer {self.keys[client]}", **extra}

    async def records(self) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from hub.models import Transaction

        async with self.app.state.sessions() as session:
            rows = (await session.scalars(select(Transaction).order_by(Transaction.seq))).all()
        return [{c.name: getattr(r, c.name) for c in Transaction.__table__.columns} for r in rows]


@pytest.fixture
async def hub(db_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    papp = provider_app()
    async with serve(papp) as base_url:
        keys = await load_registry(db_url, registry_doc(base_url))
        settings = make_settings(db_url, tmp_path)
        async with hub_client(settings) as (app, client):
            yield Hub(app, client, keys, papp)
