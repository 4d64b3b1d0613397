"""Events signed with the hub's key: the admin API and `hub up`'s demo sign each event's hash
with the key the hub signs its log with, and the check of the trail holds them to it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text, update

from hub.core.db import create_engine
from hub.models import RegistryEvent
from hub.registry.events import event_message
from hub.registry.events_verify import verify_trail
from hub.txlog.signing import Signer, verify
from tests.cli.test_audit_events_signed import rows as _rows
from tests.support import ADMIN, hub_client, make_settings

H = {"Authorization": f"Bearer {ADMIN}"}


async def _trail(url: str, signer: Signer, **expect: object) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            report = await verify_trail(conn, public_keys=[signer.public_key], **expect)  # type: ignore[arg-type]
            return report.problems
    finally:
        await engine.dispose()


async def test_the_admin_apis_events_are_signed_with_the_hubs_key(
    db_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (app, c):
        signer: Signer = app.api.state.hub.signer  # type: ignore[attr-defined]
        for body in ({"id": "VN/GOV/BCA", "name": "B"}, {"id": "VN/GOV/BTP", "name": "T"}):
            assert (await c.post("/admin/members", json=body, headers=H)).status_code == 201
        r = await c.patch("/admin/members/VN/GOV/BTP", json={"enabled": False}, headers=H)
        assert r.status_code == 200, r.text
        listed = (await c.get("/admin/events", headers=H)).json()["items"]
    assert [e["key_id"] for e in listed] == [signer.key_id] * 3
    rows = await _rows(db_url)
    assert len(rows) == 3
    for row in rows:
        assert row.key_id == signer.key_id
        assert verify(signer.public_key, event_message(row.hash), row.signature)
    assert await _trail(db_url, signer) == []

    other = Signer.from_file(tmp_path / "other.pem", create=True)
    said = " ".join(await _trail(db_url, other))
    assert f"event id=1 (member.create VN/GOV/BCA): signed by an unknown key ({signer.key_id})" in (
        said
    )

    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            forged = rows[2].signature  # a real signature, of another event
            await conn.execute(
                update(RegistryEvent).where(RegistryEvent.id == 2).values(signature=forged)
            )
    finally:
        await engine.dispose()
    said = " ".join(await _trail(db_url, signer))
    assert "event id=2 (member.create VN/GOV/BTP): its signature does not match its hash" in said
    assert "event id=1" not in said and "event id=3" not in said


async def test_demo_loading_signs_with_the_hubs_key(sqlite_url: str, tmp_path: Path) -> None:
    import connectors
    from connectors.demo import demo_registry
    from hub.cli.serve import load_demo

    settings = make_settings(sqlite_url, tmp_path, env="development")
    urls = {n: f"http://127.0.0.1:{9100 + i}" for i, n in enumerate(connectors.names())}
    await load_demo(settings, demo_registry(urls))
    signer = Signer.from_file(settings.signing_key_file, create=False)
    rows = await _rows(sqlite_url)
    assert rows and {r.key_id for r in rows} == {signer.key_id}
    assert await _trail(sqlite_url, signer) == []


async def test_an_event_anchor_catches_events_cut_with_the_version_set_back(
    db_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (app, c):
        signer: Signer = app.api.state.hub.signer  # type: ignore[attr-defined]
        for n in range(4):
            body = {"id": f"VN/GOV/M{n}", "name": f"M{n}"}
            assert (await c.post("/admin/members", json=body, headers=H)).status_code == 201
    rows = await _rows(db_url)
    kept = {4: rows[3].hash}
    assert await _trail(db_url, signer, expect=kept) == []
    await _cut_back_to(db_url, 2, rows[1].version)
    assert await _trail(db_url, signer) == []  # nothing else can see it
    said = " ".join(await _trail(db_url, signer, expect=kept))
    assert "event id=4, kept as an anchor, is missing: the trail now ends at id=2" in said
    assert "events were cut from the end" in said

    # Cut back, then made again with other content: the id is there, its hash is not the one.
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        for n in (7, 8):
            body = {"id": f"VN/GOV/X{n}", "name": "X"}
            assert (await c.post("/admin/members", json=body, headers=H)).status_code == 201
    said = " ".join(await _trail(db_url, signer, expect=kept))
    assert "event id=4 is not the event kept as an anchor" in said
    assert await _trail(db_url, signer) == []  # a chain of its own, signed, ends at the version


async def _cut_back_to(url: str, last_id: int, version: int) -> None:
    from sqlalchemy import delete

    from hub.models import RegistryVersion

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(RegistryEvent).where(RegistryEvent.id > last_id))
            await conn.execute(update(RegistryVersion).values(version=version))
    finally:
        await engine.dispose()


def test_a_signature_covers_the_events_hash_only_in_its_own_form() -> None:
    # Not a batch's message: a batch signature cannot pass for an event's, nor the reverse.
    message = event_message("a" * 64)
    assert message == f"hub-registry-event|{'a' * 64}".encode()


async def test_an_event_time_stored_in_another_form_on_sqlite_is_found(
    sqlite_url: str, tmp_path: Path
) -> None:
    # "2026-...T09:00" reads back as the same time (the hash holds), but SQL compares the text:
    # the event dropped out of `hub audit events --until`, and verify said the trail was whole.
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (app, c):
        signer: Signer = app.api.state.hub.signer  # type: ignore[attr-defined]
        for n in range(3):
            body = {"id": f"VN/GOV/M{n}", "name": f"M{n}"}
            assert (await c.post("/admin/members", json=body, headers=H)).status_code == 201
    engine = create_engine(sqlite_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE registry_events SET at = replace(at, ' ', 'T') WHERE id = 2")
            )
    finally:
        await engine.dispose()
    assert await _trail(sqlite_url, signer) == [
        "event id=2 (member.create VN/GOV/M1): its time (at) was changed: it is not stored as "
        "the hub writes it, so time ranges (--since, --until) no longer find it"
    ]
