"""One rule for the status of a refusal across the admin and operator API (docs/gateway.md,
"The admin API in detail"): 400 for what cannot be read (the path, the query, a header, a
body that is no JSON or YAML), 422 for a body read whose content is wrong, 409 for what
the registry holds already. The same mistake answered 400 on one route and 422 on another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ADMIN, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
JSON_H = {**ADMIN_H, "Content-Type": "application/json"}
YAML_H = {**ADMIN_H, "Content-Type": "application/yaml"}
MEMBER = "VN/GOV/BCA"
PROVIDER = f"{MEMBER}/population"
SERVICE = f"{PROVIDER}/citizen-lookup"
CLIENT = "VN/GOV/BTP/client"
CERT = "a" * 64
REGISTRY = {
    "members": [{"id": MEMBER, "name": "BCA"}, {"id": "VN/GOV/BTP", "name": "BTP"}],
    "subsystems": [{"id": PROVIDER, "cert_sha256": CERT}, {"id": CLIENT}],
    "services": [{"id": SERVICE}],
    "grants": [{"client": CLIENT, "service": SERVICE}],
}

# (method, path, request arguments, the sentence's start or a part of it)
UNREADABLE: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/admin/members", {"content": b'{"id": ', "headers": JSON_H}, "not valid JSON"),
    ("PUT", "/admin/registry", {"content": b'{"members": [', "headers": JSON_H}, "not valid JSON"),
    ("POST", "/admin/keys/1/rotate", {"content": b"{", "headers": JSON_H}, "not valid JSON"),
    (
        "POST",
        "/admin/members",
        {"content": b'{"id": "VN/GOV/X", "id": "VN/GOV/Y", "name": "a"}', "headers": JSON_H},
        "is given twice in one object",
    ),
    ("POST", "/admin/members", {"content": b'{"id": "\xff"}', "headers": JSON_H}, "not UTF-8"),
    ("POST", "/admin/members", {"content": b"[" * 100_000, "headers": JSON_H}, "nested too deep"),
    ("PUT", "/admin/registry", {"content": b"members:\n  - id: [\n", "headers": YAML_H}, "YAML"),
    (
        "PUT",
        "/admin/registry",
        {"content": b"members:\n  - id: VN/GOV/X\n    id: VN/GOV/Y\n", "headers": YAML_H},
        "is given twice",
    ),
    ("PUT", "/admin/registry", {"content": b"\xff", "headers": YAML_H}, "UTF-8"),
    ("GET", "/admin/keys/abc", {}, "path.key_id"),
    ("GET", "/admin/keys/0", {}, "path.key_id"),
    ("GET", "/admin/members?x=1", {}, "unknown query parameter 'x'"),
    ("PUT", "/admin/registry?dryrun=true", {"json": {}}, "unknown query parameter 'dryrun'"),
    ("GET", "/admin/grants?client=A&client=B", {}, "given more than once"),
    ("GET", "/admin/events?limit=0", {}, "query.limit"),
    ("GET", "/admin/events?limit=abc", {}, "query.limit"),
    ("GET", "/admin/events?since=yesterday", {}, "is not a time"),
    ("GET", "/admin/registry?format=xml", {}, "query.format"),
    ("PUT", "/admin/registry?dry_run=maybe", {"json": {}}, "query.dry_run"),
    ("DELETE", "/admin/grants", {}, "which grant?"),
    ("DELETE", f"/admin/grants?client={CLIENT}", {}, "gives a client but no service"),
    (
        "DELETE",
        f"/admin/grants?client={CLIENT}&service={SERVICE}",
        {"json": {"client": CLIENT, "service": SERVICE}},
        "named twice",
    ),
    ("GET", "/api/transactions?status=abc", {}, "query.status"),
    ("GET", "/api/transactions?limit=0", {}, "query.limit"),
    ("GET", "/api/stats/timeseries?bucket=week", {}, "query.bucket"),
    ("GET", "/api/health/providers?window_minutes=0", {}, "query.window_minutes"),
    ("GET", "/api/transactions?x=1", {}, "unknown parameter 'x'"),
]

INVALID: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/admin/members", {"json": [1]}, "body:"),
    ("POST", "/admin/members", {"json": {"id": "VN/GOV/ZZ"}}, "body.name: Field required"),
    ("POST", "/admin/members", {"json": {"id": "VN/GOV/ZZ", "name": "z", "nam": 1}}, "body.nam"),
    ("PATCH", f"/admin/members/{MEMBER}", {"json": {"enabled": "no"}}, "body.enabled"),
    ("POST", "/admin/keys/1/rotate", {"json": {"grace_seconds": -5}}, "body.grace_seconds"),
    ("POST", "/admin/keys", {"json": {"client": "VN/GOV/NONE/x"}}, "unknown client"),
    ("POST", "/admin/members", {"headers": JSON_H}, "this needs a body"),
    (
        "PUT",
        "/admin/registry",
        {"content": b"members:\n  - id: VN/GOV/Q\n    nam: x\n", "headers": YAML_H},
        "unknown key 'nam'",
    ),
    ("PUT", "/admin/registry", {"content": b"- a\n", "headers": YAML_H}, "is a mapping"),
]


async def _loaded(c: httpx.AsyncClient) -> None:
    r = await c.put("/admin/registry", json=REGISTRY, headers=ADMIN_H)
    assert r.status_code == 200, r.text


async def _refusal(c: httpx.AsyncClient, method: str, path: str, sent: dict[str, Any]) -> Any:
    return await c.request(method, path, **{"headers": ADMIN_H, **sent})


@pytest.mark.parametrize(
    ("method", "path", "sent", "said", "status"),
    [(*case, 400) for case in UNREADABLE] + [(*case, 422) for case in INVALID],
)
async def test_what_cannot_be_read_is_a_400_and_a_body_read_but_wrong_a_422(
    sqlite_url: str,
    tmp_path: Path,
    method: str,
    path: str,
    sent: dict[str, Any],
    said: str,
    status: int,
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        await _loaded(c)
        r = await _refusal(c, method, path, sent)
        assert r.status_code == status, r.text
        assert list(r.json()) == ["detail"] and said in r.json()["detail"]


async def test_a_certificate_another_subsystem_holds_is_a_409_on_every_route(
    db_url: str, tmp_path: Path
) -> None:
    # POST and PATCH said 409; the same certificate in PUT /admin/registry said 422.
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _loaded(c)
        other = {"id": f"{MEMBER}/other", "cert_sha256": CERT}
        r = await c.post("/admin/subsystems", json=other, headers=ADMIN_H)
        assert r.status_code == 409, r.text
        r = await c.put("/admin/registry", json={"subsystems": [other]}, headers=ADMIN_H)
        assert r.status_code == 409, r.text
        assert f"is registered for {PROVIDER} already" in r.json()["detail"]
        r = await c.get(f"/admin/subsystems/{MEMBER}/other", headers=ADMIN_H)
        assert r.status_code == 404  # nothing of the document was applied
        # Two subsystems of one document given one certificate: the document contradicts
        # itself (nothing the registry holds), a 422.
        two = [{"id": f"{MEMBER}/{s}", "cert_sha256": "b" * 64} for s in ("a", "b")]
        r = await c.put("/admin/registry", json={"subsystems": two}, headers=ADMIN_H)
        assert r.status_code == 422, r.text
