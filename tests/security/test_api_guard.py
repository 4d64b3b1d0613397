"""/admin and /api check the token, and the body's size, before any body is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support import ADMIN, OPERATOR, hub_client, make_settings

API_BODY_MAX = 16 * 1024 * 1024


async def call(app: Any, path: str, headers: dict[str, str], chunks: list[bytes]) -> dict[str, Any]:
    """Send a PUT to the ASGI app; returns status, JSON body and how many chunks it read."""
    read = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read < len(chunks):
            read += 1
            return {
                "type": "http.request",
                "body": chunks[read - 1],
                "more_body": read < len(chunks),
            }
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "PUT",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return {"status": sent[0]["status"], "json": json.loads(body), "read": read}


async def test_no_token_or_the_wrong_one_is_refused_before_the_body_is_read(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (app, _c):
        big = [b"[" + b"1," * 1000 for _ in range(50)]  # never read, never parsed
        out = await call(app, "/admin/registry", {"Content-Length": "100050"}, big)
        assert (out["status"], out["read"]) == (401, 0)
        assert "Authorization: Bearer" in out["json"]["detail"]
        wrong = {"Authorization": "Bearer not-the-token"}
        assert (await call(app, "/api/stats/summary", wrong, big))["read"] == 0
        operator = {"Authorization": f"Bearer {OPERATOR}"}
        out = await call(app, "/admin/registry", operator, big)
        assert (out["status"], out["read"]) == (403, 0)
        # "the operator token only reads" was said to a GET of /admin as well, which it cannot.
        assert out["json"]["detail"] == (
            "/admin needs the admin token (HUB_ADMIN_TOKEN), for reading as for changing; the "
            "operator token reads /api (statistics and the log)"
        )
        read = await _c.get("/admin/members", headers=operator)
        assert (read.status_code, read.json()) == (403, out["json"])


async def test_bodies_over_the_cap_are_refused_with_or_without_a_length(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (app, _c):
        admin = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
        declared = {**admin, "Content-Length": str(API_BODY_MAX + 1)}
        out = await call(app, "/admin/registry", declared, [b"{}"])
        assert (out["status"], out["read"]) == (413, 0)
        assert "over 16 MiB" in out["json"]["detail"]
        mib = b" " * (1024 * 1024)
        chunked = [mib] * 17 + [b"{}"]  # no Content-Length: counted as it comes
        out = await call(app, "/admin/registry", admin, chunked)
        assert out["status"] == 413 and out["read"] == 17
        out = await call(app, "/admin/registry", admin, [b"{}"])
        assert out["status"] == 200, out  # an empty document changes nothing


DESCRIPTION = ("/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect")


async def test_the_api_description_needs_a_token_in_production_only(
    sqlite_url: str, tmp_path: Path
) -> None:
    # In production anyone reaching the hub read the whole admin API's description.
    production = make_settings(sqlite_url, tmp_path, env="production")
    async with hub_client(production) as (_app, c):
        for path in DESCRIPTION:
            r = await c.get(path)
            assert r.status_code == 401, path
            assert "Authorization: Bearer" in r.json()["detail"]
            r = await c.get(path, headers={"Authorization": "Bearer not-the-token"})
            assert r.status_code == 401 and "neither this hub's admin token" in r.json()["detail"]
        for token in (ADMIN, OPERATOR):  # the operator's /api is described there too
            r = await c.get("/openapi.json", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200 and "/admin/registry" in r.json()["paths"]
        r = await c.get("/docs", headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 200 and "swagger-ui" in r.text
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        for path in DESCRIPTION:  # open in development, where `hub up` points people at it
            assert (await c.get(path)).status_code == 200, path
