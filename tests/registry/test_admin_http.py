"""The admin and operator API as HTTP: methods a path answers (405, OPTIONS, HEAD), trailing
slashes, where a created entry is (Location), and /openapi.json saying what errors look like."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import ADMIN, OPERATOR, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
OPERATOR_H = {"Authorization": f"Bearer {OPERATOR}"}
MEMBER = "VN/GOV/BCA"
SUBSYSTEM = f"{MEMBER}/population"
SERVICE = f"{SUBSYSTEM}/citizen-lookup"
CLIENT = f"{MEMBER}/client"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", f"/admin/members/{MEMBER}", "GET, PATCH, DELETE"),
        ("POST", f"/admin/services/{SERVICE}", "GET, PATCH, DELETE"),
        ("PUT", "/admin/grants", "GET, POST, PATCH, DELETE"),
        ("DELETE", "/admin/registry", "GET, PUT"),
        ("PATCH", "/admin/keys/1", "GET, DELETE"),
        ("POST", "/api/transactions", "GET"),
    ],
)
async def test_a_405_names_every_method_of_the_path(
    db_url: str, tmp_path: Path, method: str, path: str, allow: str
) -> None:
    # The Allow header named the methods of the first route of the path only: PUT of a
    # member said "Allow: GET", as if it could not be changed (PATCH) or deleted.
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        r = await c.request(method, path, headers=ADMIN_H)
        assert r.status_code == 405, r.text
        assert r.headers["allow"] == allow
        assert r.json() == {"detail": f"{method} {path}: this path takes {allow} only"}


async def test_options_answers_the_methods_of_the_path(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        r = await c.options("/admin/grants", headers=ADMIN_H)
        assert r.status_code == 204, r.text
        assert r.headers["allow"] == "GET, POST, PATCH, DELETE"
        assert r.content == b""
        r = await c.options("/api/stats/summary", headers=OPERATOR_H)
        assert r.status_code == 204 and r.headers["allow"] == "GET"


@pytest.mark.parametrize(
    "path", ["/admin/members", f"/admin/members/{MEMBER}", "/api/transactions", "/admin/events"]
)
async def test_head_answers_as_get_without_a_body(db_url: str, tmp_path: Path, path: str) -> None:
    # HEAD of every GET route of the admin and operator API was a 405 "Method Not Allowed".
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await c.post("/admin/members", json={"id": MEMBER, "name": "B"}, headers=ADMIN_H)
        got = await c.get(path, headers=ADMIN_H)
        r = await c.head(path, headers=ADMIN_H)
        assert r.status_code == got.status_code == 200, r.text
        assert r.content == b""
        assert r.headers["content-type"] == got.headers["content-type"]
        assert r.headers["content-length"] == str(len(got.content))
        assert r.headers.get("etag") == got.headers.get("etag")
        r = await c.head(path)
        assert r.status_code == 401 and r.content == b""


@pytest.mark.parametrize(
    ("sent", "meant"),
    [
        ("/admin/members/", "/admin/members"),
        ("/admin/subsystems/", "/admin/subsystems"),
        ("/admin/services/", "/admin/services"),
    ],
)
async def test_a_trailing_slash_is_redirected_as_on_the_other_routes(
    db_url: str, tmp_path: Path, sent: str, meant: str
) -> None:
    # /admin/grants/ and /api/stats/summary/ redirect (307); /admin/members/ was a 400
    # "member identifier '' must have the form INSTANCE/CLASS/MEMBER", and a POST to it a
    # 405 "Allow: GET". (An entry's id ending in a slash is a malformed id: a 400.)
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        for method in ("GET", "POST"):
            r = await c.request(method, sent, headers=ADMIN_H)
            assert r.status_code == 307, r.text
            assert r.headers["location"] == f"http://hub{meant}"


async def test_a_created_entry_says_where_it_is(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        created = {
            "/admin/members": {"id": MEMBER, "name": "B"},
            "/admin/subsystems": {"id": SUBSYSTEM, "base_url": "http://127.0.0.1:9"},
            "/admin/services": {"id": SERVICE},
        }
        for path, body in created.items():
            r = await c.post(path, json=body, headers=ADMIN_H)
            assert r.status_code == 201, r.text
            assert r.headers["location"] == f"{path}/{body['id']}"
            got = await c.get(r.headers["location"], headers=ADMIN_H)
            assert got.status_code == 200 and got.json()["id"] == body["id"]
            assert got.headers["etag"] == r.headers["etag"]
        await c.post("/admin/subsystems", json={"id": CLIENT}, headers=ADMIN_H)
        r = await c.post(
            "/admin/grants", json={"client": CLIENT, "service": SERVICE}, headers=ADMIN_H
        )
        assert r.status_code == 201, r.text
        got = await c.get(r.headers["location"], headers=ADMIN_H)
        assert got.status_code == 200 and len(got.json()) == 1, got.text
        assert got.json()[0]["client"] == CLIENT and got.json()[0]["service"] == SERVICE
        r = await c.post("/admin/keys", json={"client": CLIENT}, headers=ADMIN_H)
        assert r.status_code == 201, r.text
        key = r.json()
        assert r.headers["location"] == f"/admin/keys/{key['id']}"
        got = await c.get(r.headers["location"], headers=ADMIN_H)
        assert got.status_code == 200, got.text
        assert got.json() == {k: v for k, v in key.items() if k != "api_key"}
        r = await c.post(f"/admin/keys/{key['id']}/rotate", json={}, headers=ADMIN_H)
        assert r.status_code == 201 and r.headers["location"] == f"/admin/keys/{r.json()['id']}"
        r = await c.get("/admin/keys/999", headers=ADMIN_H)
        assert r.status_code == 404 and r.json() == {"detail": "there is no key 999"}


async def test_openapi_describes_the_error_bodies_sent(db_url: str, tmp_path: Path) -> None:
    # It described a 422 as FastAPI's {"detail": [{"loc", "msg", "type"}]}, while the hub
    # answers {"detail": "<sentence>"}: a client generated from it failed to read its 422s.
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        doc = (await c.get("/openapi.json")).json()
        r = await c.get("/api/transactions?limit=0", headers=OPERATOR_H)
        assert r.status_code == 400 and isinstance(r.json()["detail"], str)
        schemas = doc["components"]["schemas"]
        assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
        assert schemas["Error"]["properties"]["detail"]["type"] == "string"
        operation = doc["paths"]["/api/transactions"]["get"]
        for status in ("400", "401"):
            body = operation["responses"][status]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/Error"}
        # A 422 is a body refused: a route that takes none answers no 422.
        assert "422" not in operation["responses"]
        assert "403" in doc["paths"]["/admin/members"]["get"]["responses"]
        assert {"400", "404", "409", "412", "413", "415", "422"} <= set(
            doc["paths"]["/admin/members/{member_id}"]["patch"]["responses"]
        )
        export = doc["paths"]["/admin/registry"]["get"]["responses"]["200"]["content"]
        assert "application/yaml" in export
        assert "401" not in doc["paths"]["/healthz"]["get"]["responses"]


async def test_a_registry_applied_over_a_stale_export_is_refused(
    db_url: str, tmp_path: Path
) -> None:
    # Two operators export the registry, each edits the file and applies it with prune_all:
    # the second apply silently undid the first's change. The export's ETag, sent back as
    # If-Match, now refuses the second (412) and leaves the registry as the first left it.
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await c.post("/admin/members", json={"id": MEMBER, "name": "B"}, headers=ADMIN_H)
        r = await c.get("/admin/registry", headers=ADMIN_H)
        tag, doc = r.headers["etag"], r.json()
        first = {**doc, "members": [{"id": MEMBER, "name": "First"}]}
        r = await c.put(
            "/admin/registry",
            params={"prune_all": "true"},
            json=first,
            headers={**ADMIN_H, "If-Match": tag},
        )
        assert r.status_code == 200, r.text
        assert r.headers["etag"] != tag
        now = await c.get("/admin/registry", headers=ADMIN_H)
        assert r.headers["etag"] == now.headers["etag"]
        second = {**doc, "members": [{"id": MEMBER, "name": "Second"}]}
        r = await c.put(
            "/admin/registry",
            params={"prune_all": "true"},
            json=second,
            headers={**ADMIN_H, "If-Match": tag},
        )
        assert r.status_code == 412, r.text
        assert r.json()["detail"].startswith("the registry changed since the ETag given")
        got = await c.get(f"/admin/members/{MEMBER}", headers=ADMIN_H)
        assert got.json()["name"] == "First"
        r = await c.put("/admin/registry", json=second, headers={**ADMIN_H, "If-Match": "*"})
        assert r.status_code == 200, r.text
        got = await c.get(f"/admin/members/{MEMBER}", headers=ADMIN_H)
        assert got.json()["name"] == "Second"
