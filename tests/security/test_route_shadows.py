"""A grant of one service never reaches another service's endpoint at the same provider.

A template (``/citizens/{id}``) matches any segment, and an any-path service matches any
path; the provider routes ``/citizens/changes`` to another service's handler. The hub
refuses such a path under the service that only matched it loosely.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from tests.gateway.conftest import load_registry
from tests.support import hub_client, make_settings, serve

PROVIDER = "VN/GOV/BCA/population"
CLIENT = "VN/GOV/BTP/civil-status"
OTHER = "VN/GOV/BTP/other"  # load_registry issues it a key too
PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-0001"}


def provider() -> FastAPI:
    app = FastAPI()

    @app.get("/citizens/changes")
    async def changes() -> dict[str, str]:
        return {"feed": "every birth and death"}

    @app.get("/citizens/{cid}")
    async def citizen(cid: str) -> dict[str, str]:
        return {"id": cid}

    @app.get("/v2/citizens/{cid}")
    async def citizen_v2(cid: str) -> dict[str, str]:
        return {"id": cid, "version": "2"}

    @app.get("/status")
    async def status() -> dict[str, str]:
        return {"up": "yes"}

    return app


def doc(base_url: str) -> dict[str, Any]:
    def svc(code: str, paths: list[str], **kw: Any) -> dict[str, Any]:
        endpoints = [{"method": "GET", "path": p} for p in paths]
        return {"id": f"{PROVIDER}/{code}", "endpoints": endpoints, **kw}

    services = [
        svc("citizen-lookup", ["/citizens/{id}"]),
        svc("citizen-changes", ["/citizens/changes"]),
        svc("anything", []),
        # The same host under a path prefix: its /citizens/{id} is /v2/citizens/{id} there.
        svc("citizen-lookup-v2", ["/citizens/{id}"], base_url=f"{base_url}/v2"),
    ]
    granted = ("citizen-lookup", "anything", "citizen-lookup-v2")
    return {
        "members": [{"id": "VN/GOV/BCA"}, {"id": "VN/GOV/BTP"}],
        "subsystems": [{"id": PROVIDER, "base_url": base_url}, {"id": CLIENT}, {"id": OTHER}],
        "services": services,
        "grants": [{"client": CLIENT, "service": f"{PROVIDER}/{code}"} for code in granted],
    }


@asynccontextmanager
async def civil_status(
    db_url: str, tmp_path: Path, more: Callable[[dict[str, Any]], None] = lambda _doc: None
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """The hub with the provider above and ``doc``'s registry (``more`` adds to it), and the
    civil-status system's headers."""
    async with serve(provider()) as base_url:
        registry = doc(base_url)
        more(registry)
        keys = await load_registry(db_url, registry)
        async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
            yield c, {"X-Road-Client": CLIENT, "Authorization": f"Bearer {keys[CLIENT]}", **PURPOSE}


async def test_a_template_or_any_path_does_not_reach_another_services_endpoint(
    db_url: str, tmp_path: Path
) -> None:
    async with civil_status(db_url, tmp_path) as (c, h):

        async def get(path: str) -> tuple[int, Any]:
            r = await c.get(f"/r1/{PROVIDER}/{path}", headers=h)
            return r.status_code, r.json()

        assert await get("citizen-lookup/citizens/079203001234") == (
            200,
            {"id": "079203001234"},
        )
        # Tomcat, Jetty and Spring cut ";params" off a segment before routing, Express and
        # ASP.NET Core route without regard to case: each reads these as /citizens/changes.
        for path in ("citizens/changes", "citizens/%63hanges", "citizens/changes/",
                     "citizens/changes;jsessionid=1", "citizens/changes%3Bx",
                     "citizens/CHANGES", "citizens/Changes;x/"):  # fmt: skip
            status, body = await get(f"citizen-lookup/{path}")
            assert status == 403, (path, body)
            assert body["type"] == "Client.AccessDenied"
            assert f"is served by {PROVIDER}/citizen-changes" in body["message"]
        assert (await get("citizen-changes/citizens/changes"))[0] == 403  # not granted

        # The any-path service reaches what no other service names, and nothing else.
        assert await get("anything/status") == (200, {"up": "yes"})
        status, body = await get("anything/citizens/079203001234")
        assert status == 403 and f"served by {PROVIDER}/citizen-lookup," in body["message"]
        status, body = await get("anything/v2/citizens/079203001234")
        assert status == 403 and f"served by {PROVIDER}/citizen-lookup-v2," in body["message"]

        # Under its prefix, v2's template is matched against what lies under /v2 only.
        assert await get("citizen-lookup-v2/citizens/079203001234") == (
            200,
            {"id": "079203001234", "version": "2"},
        )


async def test_the_service_named_is_the_one_that_declares_the_method(
    db_url: str, tmp_path: Path
) -> None:
    def records(registry: dict[str, Any]) -> None:
        registry["services"] += [
            {"id": f"{PROVIDER}/{code}", "endpoints": [{"method": method, "path": "/records"}]}
            for code, method in (("record-search", "GET"), ("record-create", "POST"))
        ]

    async with civil_status(db_url, tmp_path, records) as (c, h):
        said = {}
        for method in ("GET", "HEAD", "POST", "DELETE"):
            r = await c.request(method, f"/r1/{PROVIDER}/anything/records", headers=h)
            assert r.status_code == 403, method
            said[method] = r.headers["X-Road-Error"], (r.json() if method != "HEAD" else {})
    assert f"served by {PROVIDER}/record-search," in said["GET"][1]["message"]
    assert f"served by {PROVIDER}/record-create," in said["POST"][1]["message"]
    # A method neither declares is still refused: the path is another service's.
    assert said["DELETE"][1]["message"].startswith("/records is served by")
    assert said["HEAD"][0] == "Client.AccessDenied"


async def test_a_suffix_trailing_dot_or_space_does_not_reach_another_services_endpoint(
    db_url: str, tmp_path: Path
) -> None:
    async with civil_status(db_url, tmp_path) as (c, h):
        # Spring MVC's suffix pattern match (its default before 5.3) routes /x.* to /x, and
        # Windows drops a name's trailing dots and spaces (IIS): each reads these as
        # /citizens/changes.
        for path in ("citizens/changes.", "citizens/changes.json", "citizens/changes..",
                     "citizens/Changes.xml;x", "citizens/changes%20", "citizens/changes./",
                     "citizens/changes.%20"):  # fmt: skip
            r = await c.get(f"/r1/{PROVIDER}/citizen-lookup/{path}", headers=h)
            assert r.status_code == 403, (path, r.text)
            assert f"is served by {PROVIDER}/citizen-changes" in r.json()["message"]
        # A dot elsewhere is no other service's: the template takes it.
        r = await c.get(f"/r1/{PROVIDER}/citizen-lookup/citizens/a.changes", headers=h)
        assert r.status_code == 200 and r.json() == {"id": "a.changes"}
