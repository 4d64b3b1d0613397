"""Identities: API keys hashed, rotated with a grace period, revoked at once; the operator
token reads but never changes the registry."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from hub.core import security
from hub.models import ApiKey
from hub.registry.repository import utcnow
from tests.reliability.conftest import RHub, running_hub
from tests.reliability.fakes import CLIENT, LOOKUP, PURPOSE
from tests.support import ADMIN, OPERATOR, SECRET

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}


async def call(hub: RHub, key: str) -> int:
    headers = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {key}", **PURPOSE}
    return (await hub.client.get(LOOKUP, headers=headers)).status_code


async def key_row(hub: RHub, key_id: int) -> ApiKey:
    async with hub.app.state.sessions() as session:
        row = await session.get(ApiKey, key_id)
        assert row is not None
        return row


async def test_keys_are_stored_as_keyed_hashes_only(sqlite_url: str, tmp_path: Path) -> None:
    async with running_hub(sqlite_url, tmp_path) as hub:
        resp = await hub.client.post("/admin/keys", json={"client": CLIENT}, headers=ADMIN_H)
        assert resp.status_code == 201
        key = resp.json()["api_key"]
        row = await key_row(hub, resp.json()["id"])
        assert row.prefix == security.key_prefix(key) and row.prefix in key
        assert row.key_hash == security.hash_key(SECRET, key) and key not in row.key_hash
        # Listing shows the prefix, never the key.
        listed = await hub.client.get("/admin/keys", params={"client": CLIENT}, headers=ADMIN_H)
        assert key not in listed.text and row.prefix in listed.text
        # The same prefix with another secret part is refused: the whole key is compared.
        forged = key[: key.rindex("_") + 1] + "A" * 32
        assert await call(hub, key) == 200 and await call(hub, forged) == 401


async def test_a_rotated_key_works_through_its_grace_period_then_expires(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with running_hub(sqlite_url, tmp_path) as hub:
        old = await hub.client.post("/admin/keys", json={"client": CLIENT}, headers=ADMIN_H)
        old_id, old_key = old.json()["id"], old.json()["api_key"]
        new = await hub.client.post(
            f"/admin/keys/{old_id}/rotate", json={"grace_seconds": 3600}, headers=ADMIN_H
        )
        assert new.status_code == 201
        new_key = new.json()["api_key"]
        assert await call(hub, old_key) == 200 and await call(hub, new_key) == 200
        expires = (await key_row(hub, old_id)).expires_at
        assert expires is not None
        assert timedelta(minutes=59) < expires - utcnow() <= timedelta(hours=1)

        # An hour later (moved forward in the database rather than waited for):
        async with hub.app.state.sessions() as session:
            await session.execute(
                update(ApiKey)
                .where(ApiKey.id == old_id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            await session.commit()
        await hub.app.state.registry.refresh(force=True)
        refused = await hub.client.get(
            LOOKUP,
            headers={"X-Road-Client": CLIENT, "Authorization": f"Bearer {old_key}", **PURPOSE},
        )
        assert refused.status_code == 401
        assert refused.json()["message"].startswith("this API key expired at ")
        assert await call(hub, new_key) == 200


async def test_rotation_without_grace_ends_the_old_key_at_once(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with running_hub(sqlite_url, tmp_path) as hub:
        old = (
            await hub.client.post("/admin/keys", json={"client": CLIENT}, headers=ADMIN_H)
        ).json()
        new = await hub.client.post(
            f"/admin/keys/{old['id']}/rotate", json={"grace_seconds": 0}, headers=ADMIN_H
        )
        assert await call(hub, old["api_key"]) == 401
        assert await call(hub, new.json()["api_key"]) == 200


async def test_a_revoked_key_is_refused_at_once(sqlite_url: str, tmp_path: Path) -> None:
    async with running_hub(sqlite_url, tmp_path) as hub:
        issued = (
            await hub.client.post("/admin/keys", json={"client": CLIENT}, headers=ADMIN_H)
        ).json()
        assert await call(hub, issued["api_key"]) == 200
        resp = await hub.client.delete(f"/admin/keys/{issued['id']}", headers=ADMIN_H)
        assert resp.status_code == 204
        assert await call(hub, issued["api_key"]) == 401  # the very next exchange
        again = await hub.client.post(f"/admin/keys/{issued['id']}/rotate", headers=ADMIN_H)
        assert again.status_code == 404  # a revoked key cannot be revived by rotation


async def test_a_rotated_key_cannot_be_rotated_again(sqlite_url: str, tmp_path: Path) -> None:
    async with running_hub(sqlite_url, tmp_path) as hub:
        listing = {"params": {"client": CLIENT}, "headers": ADMIN_H}
        before = len((await hub.client.get("/admin/keys", **listing)).json())
        old = (
            await hub.client.post("/admin/keys", json={"client": CLIENT}, headers=ADMIN_H)
        ).json()
        rotate = f"/admin/keys/{old['id']}/rotate"
        assert (await hub.client.post(rotate, headers=ADMIN_H)).status_code == 201
        # In its grace period: rotating it again would move its end and issue a third key.
        again = await hub.client.post(rotate, json={"grace_seconds": 0}, headers=ADMIN_H)
        assert again.status_code == 409
        assert "rotate the key that replaced it" in again.json()["detail"]
        assert await call(hub, old["api_key"]) == 200  # its grace period is unchanged
        # Expired: a rotation must not bring it back.
        assert (await hub.client.post(rotate, headers=ADMIN_H)).status_code == 409
        async with hub.app.state.sessions() as session:
            await session.execute(
                update(ApiKey)
                .where(ApiKey.id == old["id"])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            await session.commit()
        await hub.app.state.registry.refresh(force=True)
        revived = await hub.client.post(rotate, json={"grace_seconds": 3600}, headers=ADMIN_H)
        assert revived.status_code == 404 and "expired" in revived.json()["detail"]
        assert await call(hub, old["api_key"]) == 401
        # The key and the one rotation that was allowed: none of the refusals issued a key.
        assert len((await hub.client.get("/admin/keys", **listing)).json()) == before + 2


async def test_a_key_id_too_large_for_the_database_is_a_400(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with running_hub(sqlite_url, tmp_path) as hub:
        for method, path in (("DELETE", "/admin/keys/{}"), ("POST", "/admin/keys/{}/rotate")):
            resp = await hub.client.request(method, path.format(10**20), headers=ADMIN_H)
            assert resp.status_code == 400, resp.text


def _concrete(path: str) -> str:
    """A route path with plausible values in its parameters."""
    path = path.replace("{key_id}", "1")
    return re.sub(r"\{[^}]+\}", CLIENT, path)


async def test_the_operator_token_cannot_change_or_read_the_registry(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with running_hub(sqlite_url, tmp_path) as hub:
        before = (await hub.client.get("/admin/registry", headers=ADMIN_H)).json()
        keys_before = len((await hub.client.get("/admin/keys", headers=ADMIN_H)).json())
        routes = [
            (method.upper(), _concrete(path))
            for path, operations in hub.app.api.openapi()["paths"].items()
            if path.startswith("/admin")
            for method in operations
        ]
        assert {m for m, _ in routes} >= {"GET", "POST", "PATCH", "PUT", "DELETE"}
        for method, path in routes:
            for token, status in ((OPERATOR, 403), ("not-a-token", 401), (None, 401)):
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                resp = await hub.client.request(method, path, json={}, headers=headers)
                assert resp.status_code == status, (method, path, token, resp.text)
        assert (await hub.client.get("/admin/registry", headers=ADMIN_H)).json() == before
        assert len((await hub.client.get("/admin/keys", headers=ADMIN_H)).json()) == keys_before
        # What the operator token is for: reading the log and statistics.
        op = {"Authorization": f"Bearer {OPERATOR}"}
        assert (await hub.client.get("/api/stats/summary", headers=op)).status_code == 200
