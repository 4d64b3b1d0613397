"""What the database itself holds to: a key id names one key for ever, and a client
certificate proves one subsystem even when two changes race for it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from hub.admin import entries, grants
from hub.core.db import create_engine
from hub.registry import repository as repo
from hub.registry import service as registry
from tests.registry.conftest import change_can_come_between
from tests.support import ADMIN, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
BANK = "VN/COM/0101234565/ekyc"
PORTAL = "VN/GOV/BHXH/portal"
THIRD = "VN/GOV/BHXH/third"
DOC = {
    "members": [{"id": "VN/COM/0101234565"}, {"id": "VN/GOV/BHXH"}],
    "subsystems": [{"id": BANK}, {"id": PORTAL}, {"id": THIRD}],
}
CERT = "ab" * 32
OTHER_CERT = "cd" * 32


async def _load(c: httpx.AsyncClient) -> None:
    r = await c.put("/admin/registry", json=DOC, headers=ADMIN_H)
    assert r.status_code == 200, r.text


async def _issue(c: httpx.AsyncClient, client: str) -> int:
    r = await c.post("/admin/keys", json={"client": client, "label": "ops"}, headers=ADMIN_H)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _certs(*given: tuple[str, str | None]) -> dict[str, Any]:
    return {"subsystems": [{"id": sid, "cert_sha256": cert} for sid, cert in given]}


async def _holders(c: httpx.AsyncClient) -> dict[str, str]:
    subs = (await c.get("/admin/subsystems", headers=ADMIN_H)).json()
    return {s["id"]: s["cert_sha256"] for s in subs if s["cert_sha256"]}


async def test_a_deleted_members_key_id_is_never_issued_again(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
        kept = await _issue(c, BANK)
        gone = await _issue(c, PORTAL)
        # The member goes, and its keys with it; an operator's note still says "key <gone>".
        r = await c.delete("/admin/members/VN/GOV/BHXH", headers=ADMIN_H)
        assert r.status_code == 204, r.text
        new = await _issue(c, BANK)
        assert new not in (kept, gone)
        # The note's DELETE finds no key, rather than revoking the bank's new one.
        r = await c.delete(f"/admin/keys/{gone}", headers=ADMIN_H)
        assert r.status_code == 404, r.text
        keys = (await c.get("/admin/keys", headers=ADMIN_H)).json()
        assert [(k["id"], k["revoked_at"]) for k in keys] == [(kept, None), (new, None)]


async def test_the_database_refuses_a_second_holder_of_a_certificate(
    db_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            set_cert = text("UPDATE subsystems SET cert_sha256 = :c WHERE id = :id")
            await conn.execute(set_cert, {"c": CERT, "id": BANK})
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(set_cert, {"c": CERT, "id": PORTAL})
        # Any number of subsystems hold none.
        async with engine.connect() as conn:
            nulls = "SELECT count(*) FROM subsystems WHERE cert_sha256 IS NULL"
            assert (await conn.execute(text(nulls))).scalar() == 2
    finally:
        await engine.dispose()


async def test_a_certificate_taken_while_a_patch_was_checked_is_a_409_with_a_sentence(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
        r = await c.patch(f"/admin/subsystems/{BANK}", json={"cert_sha256": CERT}, headers=ADMIN_H)
        assert r.status_code == 200, r.text

        # The API's checks ran before the other change committed: they saw the cert free.
        real = registry.cert_holder

        def checked_too_early(calls: int) -> None:
            left = [calls]

            async def cert_holder(session: Any, cert: str, *, besides: str) -> str | None:
                left[0] -= 1
                return None if left[0] >= 0 else await real(session, cert, besides=besides)

            monkeypatch.setattr(registry, "cert_holder", cert_holder)

        checked_too_early(1)  # the route's check
        r = await c.patch(
            f"/admin/subsystems/{PORTAL}", json={"cert_sha256": CERT}, headers=ADMIN_H
        )
        assert r.status_code == 409, r.text
        assert r.json()["detail"].startswith(f"certificate {CERT} is registered for {BANK}")
        checked_too_early(2)  # the route's and the registry document's
        new = {"id": "VN/GOV/BHXH/new", "cert_sha256": CERT}
        r = await c.post("/admin/subsystems", json=new, headers=ADMIN_H)
        assert r.status_code == 409, r.text
        assert r.json()["detail"].startswith(f"certificate {CERT} is registered for {BANK}")
        checked_too_early(1)
        r = await c.put("/admin/registry", json={"subsystems": [new]}, headers=ADMIN_H)
        assert r.status_code == 409, r.text
        assert r.json()["detail"].startswith(f"certificate {CERT} is registered for {BANK}")
        monkeypatch.setattr(registry, "cert_holder", real)
        assert await _holders(c) == {BANK: CERT}
        # The refused changes left nothing behind, and the hub goes on.
        assert (
            await c.get("/admin/subsystems/VN/GOV/BHXH/new", headers=ADMIN_H)
        ).status_code == 404
        r = await c.patch(f"/admin/subsystems/{PORTAL}", json={"name": "Cổng"}, headers=ADMIN_H)
        assert r.status_code == 200 and r.json()["cert_sha256"] is None, r.text


async def test_concurrent_patches_leave_one_holder_of_a_certificate(
    db_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
        answers = await asyncio.gather(
            *(
                c.patch(f"/admin/subsystems/{s}", json={"cert_sha256": CERT}, headers=ADMIN_H)
                for s in (BANK, PORTAL, THIRD)
            )
        )
        codes = sorted(r.status_code for r in answers)
        assert codes == [200, 409, 409], [r.text for r in answers]
        holders = await _holders(c)
        assert list(holders.values()) == [CERT]
        for r in answers:
            if r.status_code == 409:
                assert r.json()["detail"].startswith(f"certificate {CERT} is registered for")


async def test_certificates_swap_and_move_in_one_document(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
        both = _certs((BANK, CERT), (THIRD, OTHER_CERT))
        assert (await c.put("/admin/registry", json=both, headers=ADMIN_H)).status_code == 200
        # What counts is the registry after the document, not the order of its writes.
        swap = _certs((BANK, OTHER_CERT), (THIRD, CERT))
        r = await c.put("/admin/registry", json=swap, headers=ADMIN_H)
        assert r.status_code == 200, r.text
        assert await _holders(c) == {BANK: OTHER_CERT, THIRD: CERT}
        # To a subsystem that sorts first, and to one the document creates.
        moved = _certs((BANK, CERT), (THIRD, None), ("VN/COM/0101234565/a", OTHER_CERT))
        r = await c.put("/admin/registry", json=moved, headers=ADMIN_H)
        assert r.status_code == 200, r.text
        assert await _holders(c) == {BANK: CERT, "VN/COM/0101234565/a": OTHER_CERT}
        # Two entries of one document given the same certificate: a sentence, nothing kept.
        twice = _certs((PORTAL, "ee" * 32), (THIRD, "ee" * 32))
        r = await c.put("/admin/registry", json=twice, headers=ADMIN_H)
        assert r.status_code == 422, r.text
        assert "ee" * 32 in r.json()["detail"] and THIRD in r.json()["detail"], r.text
        assert await _holders(c) == {BANK: CERT, "VN/COM/0101234565/a": OTHER_CERT}


async def test_a_change_to_an_entry_deleted_meanwhile_is_a_409_with_a_sentence(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_can_come_between(db_url)
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
        key = await _issue(c, PORTAL)
        grant = {"client": PORTAL, "service": "VN/GOV/BHXH/third/s"}
        doc = {"services": [{"id": grant["service"]}], "grants": [grant]}
        r = await c.put("/admin/registry", json=doc, headers=ADMIN_H)
        assert r.status_code == 200, r.text
        engine = create_engine(db_url)

        def deleted_once_read(module: Any, name: str, table: str, where: str) -> None:
            """Another admin deletes the entry just after this request has read it."""
            real = getattr(module, name)

            async def read(*args: Any, **kwargs: Any) -> Any:
                row = await real(*args, **kwargs)
                async with engine.begin() as conn:
                    await conn.execute(text(f"DELETE FROM {table} WHERE {where}"))
                return row

            monkeypatch.setattr(module, name, read)

        try:
            deleted_once_read(entries, "_get", "subsystems", f"id = '{BANK}'")
            r = await c.patch(f"/admin/subsystems/{BANK}", json={"name": "x"}, headers=ADMIN_H)
            assert r.status_code == 409, r.text
            assert "deleted by another change" in r.json()["detail"], r.text
            deleted_once_read(grants, "_grant", "grants", f"client_id = '{PORTAL}'")
            r = await c.patch("/admin/grants", json={**grant, "enabled": False}, headers=ADMIN_H)
            assert r.status_code == 409 and "deleted by another change" in r.text, r.text
            deleted_once_read(repo, "get_key", "api_keys", f"id = {key}")
            r = await c.delete(f"/admin/keys/{key}", headers=ADMIN_H)
            assert r.status_code == 409 and "deleted by another change" in r.text, r.text
        finally:
            await engine.dispose()


async def test_a_key_rotated_or_revoked_meanwhile_is_not_rotated_again(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_can_come_between(db_url)
    # Four operators rotating one key at once got four 201s: four new keys, the old one's
    # end moved by each, though a key is rotated once (docs/security.md).
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
        engine = create_engine(db_url)
        real = repo.get_key

        def changed_once_read(change: str) -> None:
            """Another admin changes the key just after this request has read it."""

            async def read(*args: Any, **kwargs: Any) -> Any:
                row = await real(*args, **kwargs)
                monkeypatch.setattr(repo, "get_key", real)
                async with engine.begin() as conn:
                    later = repo.utcnow() + timedelta(hours=1)
                    await conn.execute(text(change), {"id": row.id, "at": later})
                return row

            monkeypatch.setattr(repo, "get_key", read)

        try:
            for change, status, said in (
                ("UPDATE api_keys SET expires_at = :at WHERE id = :id", 409, "already has an end"),
                ("UPDATE api_keys SET revoked_at = :at WHERE id = :id", 404, "no active key"),
            ):
                key = await _issue(c, BANK)
                changed_once_read(change)
                r = await c.post(f"/admin/keys/{key}/rotate", json={"grace_seconds": 60},
                                 headers=ADMIN_H)  # fmt: skip
                assert r.status_code == status, r.text
                assert said in r.json()["detail"], r.text
                keys = (await c.get("/admin/keys", headers=ADMIN_H)).json()
                assert keys[-1]["id"] == key  # no key was issued
        finally:
            await engine.dispose()


async def test_an_entry_created_meanwhile_is_a_409_and_stays_as_it_was(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_can_come_between(db_url)
    # Two operators posting one entry at once both got 201: the second's apply found the
    # first's entry and updated it with its own fields, though a POST never changes what
    # is there.
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
        engine = create_engine(db_url)
        real = registry.apply
        service = "VN/GOV/BHXH/third/s"

        def created_just_before(insert: str) -> None:
            """Another admin's POST commits after this one checked, before it applies."""

            async def apply(*args: Any, **kwargs: Any) -> Any:
                monkeypatch.setattr(registry, "apply", real)
                async with engine.begin() as conn:
                    await conn.execute(text(insert), {"now": repo.utcnow()})
                return await real(*args, **kwargs)

            monkeypatch.setattr(registry, "apply", apply)

        try:
            created_just_before(
                "INSERT INTO members (id, instance, member_class, member_code, name, enabled, "
                "created_at, updated_at) VALUES ('VN/GOV/BTP', 'VN', 'GOV', 'BTP', 'first', "
                "true, :now, :now)"
            )
            r = await c.post("/admin/members", json={"id": "VN/GOV/BTP", "name": "second"},
                             headers=ADMIN_H)  # fmt: skip
            assert r.status_code == 409, r.text
            assert r.json()["detail"] == "member VN/GOV/BTP exists; PATCH it instead"
            got = (await c.get("/admin/members/VN/GOV/BTP", headers=ADMIN_H)).json()
            assert got["name"] == "first"
            r = await c.post("/admin/services", json={"id": service}, headers=ADMIN_H)
            assert r.status_code == 201, r.text
            created_just_before(
                f"INSERT INTO grants (client_id, service_id, enabled, created_at) "
                f"VALUES ('{PORTAL}', '{service}', false, :now)"
            )
            grant = {"client": PORTAL, "service": service}
            r = await c.post("/admin/grants", json={**grant, "enabled": True}, headers=ADMIN_H)
            assert r.status_code == 409, r.text
            assert "has a grant for" in r.json()["detail"], r.text
            listed = (await c.get("/admin/grants", params=grant, headers=ADMIN_H)).json()
            assert listed == [{**grant, "enabled": False}]
        finally:
            await engine.dispose()


async def test_an_entry_deleted_meanwhile_is_a_404_to_the_second_delete(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_can_come_between(db_url)
    # Two operators deleting one entry at once both got 204, and the server's log a
    # SQLAlchemy warning ("expected to delete 1 row(s); 0 were matched").
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
        engine = create_engine(db_url)
        real = entries._get

        async def read(*args: Any, **kwargs: Any) -> Any:
            """Another admin deletes the subsystem just after this request has read it."""
            row = await real(*args, **kwargs)
            async with engine.begin() as conn:
                await conn.execute(text(f"DELETE FROM subsystems WHERE id = '{THIRD}'"))
            return row

        monkeypatch.setattr(entries, "_get", read)
        try:
            r = await c.delete(f"/admin/subsystems/{THIRD}", headers=ADMIN_H)
            assert r.status_code == 404, r.text
            assert r.json()["detail"] == (
                f"no such subsystem {THIRD}: GET /admin/subsystems lists them"
            )
        finally:
            await engine.dispose()
        monkeypatch.setattr(entries, "_get", real)
        r = await c.delete(f"/admin/subsystems/{PORTAL}", headers=ADMIN_H)
        assert r.status_code == 204, r.text
        subsystems = (await c.get("/admin/subsystems", headers=ADMIN_H)).json()
        assert [s["id"] for s in subsystems] == [BANK]
