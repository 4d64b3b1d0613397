"""The hub's own pages and API answers carry the browser protections; /r1 carries none."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import CITIZEN, PROVIDER, load_registry, provider_app, registry_doc
from tests.support import ADMIN, OPERATOR, hub_client, make_settings, serve

PROTECTIONS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def policy(resp: httpx.Response) -> dict[str, str]:
    """The Content-Security-Policy as directive -> its sources."""
    said = resp.headers.get("content-security-policy", "")
    parts = (p.strip().split(" ", 1) for p in said.split(";") if p.strip())
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


def protected(resp: httpx.Response) -> None:
    for name, value in PROTECTIONS.items():
        assert resp.headers.get_list(name) == [value], (resp.url, name, resp.headers)
    csp = policy(resp)
    assert csp.get("frame-ancestors") == "'none'", (resp.url, csp)
    assert csp.get("base-uri") == "'none'", (resp.url, csp)
    assert "unsafe-eval" not in str(csp)


@pytest.mark.parametrize(
    "path",
    ["/dashboard", "/dashboard/", "/dashboard/dashboard.js", "/dashboard/dashboard.css",
     "/dashboard/vendor/chart.umd.min.js"],
)  # fmt: skip
async def test_the_dashboard_and_its_files(sqlite_url: str, tmp_path: Path, path: str) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, client):
        resp = await client.get(path)
        head = await client.head(path)
    assert resp.status_code == 200
    protected(resp)
    csp = policy(resp)
    # Only the hub's own files: no inline script or style, no other origin, no plugin.
    assert csp["default-src"] == "'self'"
    assert "unsafe-inline" not in resp.headers["content-security-policy"]
    assert csp["object-src"] == "'none'" and csp["form-action"] == "'self'"
    # HEAD answers as GET does, without the body.
    assert head.status_code == 200, head.text
    assert head.content == b""
    for name in ("content-type", "content-length", "content-security-policy", "etag"):
        assert head.headers.get(name) == resp.headers.get(name), name


async def test_a_missing_dashboard_file_is_protected_too(sqlite_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, client):
        resp = await client.get("/dashboard/nothing.js")
        head = await client.head("/dashboard/nothing.js")
    assert resp.status_code == 404 and head.status_code == 404
    protected(resp)


async def test_api_and_admin_answers_are_not_kept_by_any_cache(
    sqlite_url: str, tmp_path: Path
) -> None:
    operator = {"Authorization": f"Bearer {OPERATOR}"}
    admin = {"Authorization": f"Bearer {ADMIN}"}
    await load_registry(sqlite_url, registry_doc("http://127.0.0.1:9"))
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, client):
        answers = [
            await client.get("/api/stats/summary?since=24h", headers=operator),
            await client.get("/api/transactions?limit=5", headers=operator),
            await client.get("/api/transactions/nothing-like-it", headers=operator),
            await client.get("/admin/subsystems", headers=admin),
            await client.get("/api/stats/summary"),  # 401, refused before FastAPI
            await client.get("/admin/subsystems", headers=operator),  # 403
            await client.get("/demo/credentials"),  # demo keys, in development
        ]
        key = await client.post(
            "/admin/keys", headers=admin, json={"client": "VN/GOV/BTP/civil-status"}
        )
    assert [r.status_code for r in answers] == [200, 200, 404, 200, 401, 403, 200]
    for resp in answers:
        protected(resp)
        assert resp.headers.get_list("cache-control") == ["no-store"], resp.url
        # JSON needs nothing a page needs: it may load, run and frame nothing.
        assert policy(resp)["default-src"] == "'none'", resp.url
    # An answer that sets its own Cache-Control keeps it, once.
    assert key.status_code == 201, key.text
    assert key.headers.get_list("cache-control") == ["no-store"]
    protected(key)


async def test_the_api_description_and_its_pages(sqlite_url: str, tmp_path: Path) -> None:
    """/docs and /redoc load Swagger UI and ReDoc from the hub itself, with one inline
    script of the hub's own: the policy allows those and nothing else."""
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, client):
        described = await client.get("/openapi.json")
        docs = await client.get("/docs")
        redoc = await client.get("/redoc")
        redirect = await client.get("/docs/oauth2-redirect")
        head = await client.head("/docs")
    for resp in (described, docs, redoc, redirect):
        assert resp.status_code == 200
        protected(resp)
    assert policy(described)["default-src"] == "'none'"
    for page in (docs, redoc, redirect):
        csp = policy(page)
        assert csp["default-src"] == "'none'", csp
        inline = re.findall(r"<script>(.*?)</script>", page.text, re.S)
        hashes = {
            "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
            for s in inline
        }
        assert hashes <= set(csp.get("script-src", "").split()), (page.url, csp)
        assert "'unsafe-inline'" not in csp.get("script-src", "")
        assert re.findall(r'(?:src|href)="(https?://[^/"]+)', page.text) == [], page.text
        assert "https:" not in str(csp) and "http:" not in str(csp), csp
    assert "connect-src" in policy(docs) and "'self'" in policy(docs)["connect-src"]
    # HEAD: the same head, without the page its policy was made from.
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-security-policy"] == docs.headers["content-security-policy"]


async def test_the_gateway_answers_carry_none_of_it(sqlite_url: str, tmp_path: Path) -> None:
    """/r1 passes on the provider's answer with the X-Road headers only."""
    async with serve(provider_app()) as base_url:
        keys = await load_registry(sqlite_url, registry_doc(base_url))
        async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, client):
            headers = {"X-Road-Client": "VN/GOV/BTP/civil-status",
                       "Authorization": f"Bearer {keys['VN/GOV/BTP/civil-status']}",
                       "X-Road-UserId": "officer-01", "X-Road-Issue": "HS-1"}  # fmt: skip
            ok = await client.get(
                f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}", headers=headers
            )
            refused = await client.get(f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}")
    assert ok.status_code == 200 and 400 <= refused.status_code < 500
    for resp in (ok, refused):
        assert "x-road-id" in resp.headers or "x-road-error" in resp.headers
        for name in (*PROTECTIONS, "content-security-policy"):
            assert name not in resp.headers, (name, resp.headers)
