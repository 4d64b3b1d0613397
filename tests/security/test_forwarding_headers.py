"""What a client claims of its route never reaches the provider, and a provider's redirect
names the hub's path, not the provider's address."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from tests.gateway.conftest import load_registry
from tests.support import hub_client, make_settings, serve

PROVIDER = "VN/GOV/BCA/population"
CLIENT = "VN/GOV/BTP/civil-status"
OTHER = "VN/GOV/BTP/other"  # load_registry issues it a key too
SERVICE = f"{PROVIDER}/anything"


def provider(base: dict[str, str]) -> FastAPI:
    app = FastAPI()

    @app.get("/headers")
    async def headers(request: Request) -> dict[str, str]:
        return dict(request.headers)

    @app.post("/made")
    async def made() -> JSONResponse:
        # A created resource is named by its provider's URL (RFC 9110 8.7: Content-Location).
        where = {"Location": base["url"] + "/items/7", "Content-Location": base["url"] + "/items/7"}
        return JSONResponse({"id": 7}, status_code=201, headers=where)

    @app.get("/go")
    async def go(to: str) -> RedirectResponse:
        return RedirectResponse({"here": base["url"] + "/headers?x=1", "root": base["url"],
                                 "elsewhere": "https://example.org/headers",
                                 "nearby": base["url"] + "0/headers"}[to])  # fmt: skip

    return app


def doc(base_url: str) -> dict[str, Any]:
    return {
        "members": [{"id": "VN/GOV/BCA"}, {"id": "VN/GOV/BTP"}],
        "subsystems": [{"id": PROVIDER, "base_url": base_url}, {"id": CLIENT}, {"id": OTHER}],
        "services": [{"id": SERVICE}],
        "grants": [{"client": CLIENT, "service": SERVICE}],
    }


async def test_forwarding_claims_are_dropped_and_redirects_name_the_hub(
    sqlite_url: str, tmp_path: Path
) -> None:
    base: dict[str, str] = {}
    async with serve(provider(base)) as base_url:
        base["url"] = base_url
        keys = await load_registry(sqlite_url, doc(base_url))
        async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
            h = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {keys[CLIENT]}"}
            claims = {
                "X-Forwarded-For": "10.9.9.9", "X-Forwarded-Proto": "https",
                "X-Forwarded-Host": "evil.example", "Forwarded": "for=10.9.9.9;proto=https",
                "X-Real-IP": "10.9.9.9", "X-Kept": "yes",
            }  # fmt: skip
            got = (await c.get(f"/r1/{SERVICE}/headers", headers=h | claims)).json()
            assert got["x-kept"] == "yes" and got["x-road-client"] == CLIENT
            for name in ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
                         "forwarded", "x-real-ip"):  # fmt: skip
                assert name not in got, name

            async def location(to: str) -> str:
                r = await c.get(f"/r1/{SERVICE}/go", params={"to": to}, headers=h)
                assert r.status_code == 307
                return r.headers["location"]

            assert await location("here") == f"/r1/{SERVICE}/headers?x=1"
            assert await location("root") == f"/r1/{SERVICE}"
            assert await location("elsewhere") == "https://example.org/headers"
            assert await location("nearby") == base_url + "0/headers"  # another port
            made = await c.post(f"/r1/{SERVICE}/made", headers=h)
            assert made.status_code == 201, made.text
            assert made.headers["location"] == f"/r1/{SERVICE}/items/7"
            assert made.headers["content-location"] == f"/r1/{SERVICE}/items/7"


async def test_claims_spelled_with_underscores_are_dropped_too(
    sqlite_url: str, tmp_path: Path
) -> None:
    # CGI, WSGI and PHP read "X_Road_Client" as "X-Road-Client" (both HTTP_X_ROAD_CLIENT):
    # forwarded beside the hub's own, a client's could stand for it at such a provider.
    async with serve(provider({})) as base_url:
        keys = await load_registry(sqlite_url, doc(base_url))
        async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
            h = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {keys[CLIENT]}"}
            claims = {
                "X_Road_Client": "VN/GOV/EVIL/x", "X-Road_UserId": "someone-else",
                "X_Forwarded_For": "10.9.9.9", "X_Real_IP": "10.9.9.9", "X_Kept": "yes",
            }  # fmt: skip
            got = (await c.get(f"/r1/{SERVICE}/headers", headers=h | claims)).json()
            assert got["x_kept"] == "yes" and got["x-road-client"] == CLIENT
            for name in ("x_road_client", "x-road_userid", "x_forwarded_for", "x_real_ip"):
                assert name not in got, name


async def test_an_expectation_is_not_passed_on(sqlite_url: str, tmp_path: Path) -> None:
    # The hub has read the whole body before it forwards: the client's expectation was met
    # (or refused) here, and a provider that knows no such expectation answers 417.
    async with serve(provider({})) as base_url:
        keys = await load_registry(sqlite_url, doc(base_url))
        async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
            h = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {keys[CLIENT]}"}
            got = (await c.get(f"/r1/{SERVICE}/headers", headers=h | {"Expect": "x-y"})).json()
            assert got["x-road-client"] == CLIENT and "expect" not in got


async def test_method_and_path_overrides_are_not_passed_on(sqlite_url: str, tmp_path: Path) -> None:
    # A grant names a method and a path; a provider's framework that honours these (ASP.NET
    # Core's and Jersey's method override, Express's method-override, Symfony's and IIS's
    # X-Original-URL) would run another method or route another path than the hub checked.
    async with serve(provider({})) as base_url:
        keys = await load_registry(sqlite_url, doc(base_url))
        async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
            h = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {keys[CLIENT]}"}
            overrides = {
                "X-HTTP-Method-Override": "DELETE", "X-HTTP-Method": "DELETE",
                "X-Method-Override": "DELETE", "X-Original-URL": "/citizens/changes",
                "X-Original-URI": "/citizens/changes", "X-Rewrite-URL": "/citizens/changes",
                "X-Forwarded-Uri": "/citizens/changes", "X_HTTP_Method_Override": "DELETE",
                "X-Kept": "yes",
            }  # fmt: skip
            got = (await c.get(f"/r1/{SERVICE}/headers", headers=h | overrides)).json()
            assert got["x-kept"] == "yes" and got["x-road-client"] == CLIENT
            for name in overrides:
                if name != "X-Kept":
                    assert name.lower() not in got, name
