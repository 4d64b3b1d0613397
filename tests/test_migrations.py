"""Migrations keep every row: a schema change on SQLite must not cascade into deletions."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from hub.core.db import create_engine
from hub.core.migrate import upgrade
from hub.stats.retention import read_pruned

NOW = "2026-01-01 00:00:00.000000"
ROWS = {
    "members": [("VN/GOV/BCA", "VN", "GOV", "BCA", "Bộ Công an", NOW, NOW),
                ("VN/GOV/BTP", "VN", "GOV", "BTP", "Bộ Tư pháp", NOW, NOW)],
    "subsystems": [("VN/GOV/BCA/population", "VN/GOV/BCA", "population", "Dân cư",
                    "http://127.0.0.1:8001", 1, NOW, NOW),
                   ("VN/GOV/BTP/civil-status", "VN/GOV/BTP", "civil-status", "Hộ tịch", None, 1,
                    NOW, NOW)],
    "services": [("VN/GOV/BCA/population/citizen-lookup", "VN/GOV/BCA/population",
                  "citizen-lookup", "", None, "REST", "[]", 1, 5000, 65536, None, 1, 0, NOW,
                  NOW)],
    "grants": [("VN/GOV/BTP/civil-status", "VN/GOV/BCA/population/citizen-lookup", NOW)],
    "api_keys": [(1, "VN/GOV/BTP/civil-status", "0123456789ab", "h" * 64, "ops", NOW, None,
                  None)],
}  # fmt: skip
COLUMNS = {
    "members": "id, instance, member_class, member_code, name, created_at, updated_at",
    "subsystems": "id, member_id, code, name, base_url, enabled, created_at, updated_at",
    "services": "id, subsystem_id, code, description, base_url, service_type, endpoints, "
    "personal_data, timeout_ms, max_body_bytes, request_schema, enabled, keep_bodies, "
    "created_at, updated_at",
    "grants": "client_id, service_id, created_at",
    "api_keys": "id, subsystem_id, prefix, key_hash, label, created_at, expires_at, revoked_at",
}


def test_upgrading_a_populated_sqlite_registry_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0006")  # before members and grants could be disabled (0007)
    with sqlite3.connect(path) as db:
        for table, rows in ROWS.items():
            marks = ", ".join("?" * len(rows[0]))
            db.executemany(f"INSERT INTO {table} ({COLUMNS[table]}) VALUES ({marks})", rows)

    upgrade(url)

    with sqlite3.connect(path) as db:
        counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ROWS}
        enabled = db.execute("SELECT enabled FROM members UNION ALL SELECT enabled FROM grants")
        assert [e for (e,) in enabled] == [1, 1, 1]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        key = db.execute("SELECT subsystem_id, prefix, secret_id FROM api_keys").fetchone()
    assert counts == {t: len(rows) for t, rows in ROWS.items()}
    # 0010: nothing tells which secret an older key was hashed under.
    assert key == ("VN/GOV/BTP/civil-status", "0123456789ab", None)


# --- 0008: key ids never given twice, one subsystem per client certificate ---------------

CERT = "ab" * 32


async def _at_0007_with_keys(url: str, certs: dict[str, str | None]) -> None:
    """The database at ``url`` taken back to 0007, holding subsystems (with ``certs``) and
    keys 1, 2 and 5 (3 and 4 were deleted before)."""
    from alembic import command

    from hub.core.migrate import alembic_config

    await asyncio.to_thread(command.downgrade, alembic_config(url), "0007")
    now = datetime(2026, 1, 1)
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO members (id, instance, member_class, member_code, name, "
                    "created_at, updated_at) VALUES ('VN/GOV/BCA', 'VN', 'GOV', 'BCA', '', :t, :t)"
                ),
                {"t": now},
            )
            for sid, cert in certs.items():
                await conn.execute(
                    text(
                        "INSERT INTO subsystems (id, member_id, code, name, enabled, cert_sha256, "
                        "created_at, updated_at) VALUES (:id, 'VN/GOV/BCA', :code, '', true, "
                        ":cert, :t, :t)"
                    ),
                    {"id": sid, "code": sid.rsplit("/", 1)[1], "cert": cert, "t": now},
                )
            for key_id, sid in ((1, "VN/GOV/BCA/a"), (2, "VN/GOV/BCA/b"), (5, "VN/GOV/BCA/b")):
                await conn.execute(
                    text(
                        "INSERT INTO api_keys (id, subsystem_id, prefix, key_hash, label, "
                        "created_at) VALUES (:id, :sid, :p, 'h', 'ops', :t)"
                    ),
                    {"id": key_id, "sid": sid, "p": f"prefix{key_id}", "t": now},
                )
    finally:
        await engine.dispose()


async def _rows(url: str, sql: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return [tuple(r) for r in await conn.execute(text(sql))]
    finally:
        await engine.dispose()


async def test_0008_keeps_every_key_and_id_and_never_gives_a_deleted_id_again(
    db_url: str,
) -> None:
    from alembic import command

    from hub.core.migrate import alembic_config

    await _at_0007_with_keys(db_url, {"VN/GOV/BCA/a": CERT, "VN/GOV/BCA/b": None})
    await asyncio.to_thread(upgrade, db_url)
    keys = "SELECT id, subsystem_id, prefix FROM api_keys ORDER BY id"
    assert await _rows(db_url, keys) == [
        (1, "VN/GOV/BCA/a", "prefix1"),
        (2, "VN/GOV/BCA/b", "prefix2"),
        (5, "VN/GOV/BCA/b", "prefix5"),
    ]
    certs = "SELECT id, cert_sha256 FROM subsystems ORDER BY id"
    assert await _rows(db_url, certs) == [("VN/GOV/BCA/a", CERT), ("VN/GOV/BCA/b", None)]

    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            # The newest keys go with their subsystem (the foreign key still cascades) ...
            await conn.execute(text("DELETE FROM subsystems WHERE id = 'VN/GOV/BCA/b'"))
            # ... and the next key issued does not take an id they had.
            new = await conn.execute(
                text(
                    "INSERT INTO api_keys (subsystem_id, prefix, key_hash, label, created_at) "
                    "VALUES ('VN/GOV/BCA/a', 'prefix6', 'h', 'ops', :t) RETURNING id"
                ),
                {"t": datetime(2026, 1, 2)},
            )
            assert new.scalar_one() > 5
    finally:
        await engine.dispose()
    assert [k for k, *_ in await _rows(db_url, keys)][0] == 1
    assert len(await _rows(db_url, keys)) == 2

    await asyncio.to_thread(command.downgrade, alembic_config(db_url), "0007")
    assert len(await _rows(db_url, keys)) == 2
    assert await _rows(db_url, certs) == [("VN/GOV/BCA/a", CERT)]
    await asyncio.to_thread(upgrade, db_url)
    assert len(await _rows(db_url, keys)) == 2


async def test_0008_refuses_a_registry_whose_subsystems_share_a_certificate(
    db_url: str,
) -> None:
    await _at_0007_with_keys(
        db_url, {"VN/GOV/BCA/a": CERT, "VN/GOV/BCA/b": CERT, "VN/GOV/BCA/c": None}
    )
    with pytest.raises(RuntimeError) as refused:
        await asyncio.to_thread(upgrade, db_url)
    said = str(refused.value)
    assert "\n" not in said
    assert f"certificate {CERT} is registered for VN/GOV/BCA/a and VN/GOV/BCA/b:" in said
    assert "UPDATE subsystems SET cert_sha256 = NULL" in said
    # Nothing changed, and once the operator chose, the upgrade goes through.
    assert len(await _rows(db_url, "SELECT id FROM api_keys")) == 3
    assert await _rows(db_url, "SELECT version_num FROM alembic_version") == [("0007",)]
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            clear = "UPDATE subsystems SET cert_sha256 = NULL WHERE id = 'VN/GOV/BCA/a'"
            await conn.execute(text(clear))
    finally:
        await engine.dispose()
    await asyncio.to_thread(upgrade, db_url)
    assert len(await _rows(db_url, "SELECT id FROM api_keys")) == 3


# --- 0009: how far the minute rollups were pruned ----------------------------------------

ROLLUP = (
    "INSERT INTO {table} (bucket, client, service, provider, status_code, fault_code, count, "
    "succeeded, request_bytes, response_bytes, total_ms, hub_ms, upstream_ms) "
    "VALUES (:b, 'c', 's', 'p', 200, '', 1, 1, 0, 0, 1.0, 1.0, 0.0)"
)


@pytest.mark.parametrize(
    ("minutes", "hours", "recorded"),
    [
        # Pruned by an older hub, or not: the oldest minute row's hour, all it went by.
        ([datetime(2026, 1, 2, 10, 17), datetime(2026, 1, 2, 11, 5)],
         [datetime(2026, 1, 2, 10)], [(datetime(2026, 1, 2, 10),)]),
        ([], [], [(None,)]),  # no rollups yet: none was pruned
        ([], [datetime(2026, 1, 2, 10)], []),  # every minute gone: not known how far
    ],
)  # fmt: skip
async def test_0009_starts_from_what_the_minute_rows_tell(
    db_url: str, minutes: list[datetime], hours: list[datetime], recorded: list[tuple]
) -> None:
    from alembic import command

    from hub.core.migrate import alembic_config

    await asyncio.to_thread(command.downgrade, alembic_config(db_url), "0008")
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            for table, buckets in (("stats_minute", minutes), ("stats_hour", hours)):
                for bucket in buckets:
                    await conn.execute(text(ROLLUP.format(table=table)), {"b": bucket})
    finally:
        await engine.dispose()
    await asyncio.to_thread(upgrade, db_url)
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            known, before = await read_pruned(conn)
    finally:
        await engine.dispose()
    assert ([(before,)] if known else []) == recorded
    await asyncio.to_thread(command.downgrade, alembic_config(db_url), "0008")
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    assert "minute_prune" not in tables and "stats_minute" in tables


# --- 0011: the audit trail of registry changes -------------------------------------------


def test_0011_down_and_up_keeps_the_registry_and_the_trail_starts_again(tmp_path: Path) -> None:
    from alembic import command

    from hub.core.migrate import alembic_config

    path = tmp_path / "old.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0010")
    with sqlite3.connect(path) as db:
        for table, rows in ROWS.items():
            marks = ", ".join("?" * len(rows[0]))
            db.executemany(f"INSERT INTO {table} ({COLUMNS[table]}) VALUES ({marks})", rows)
    upgrade(url)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM registry_events").fetchone() == (0,)
        db.execute(
            "INSERT INTO registry_events (id, at, actor, source, action, target, version, "
            "detail, prev_hash, hash) VALUES (1, ?, 'demo', 'demo', 'member.create', "
            "'VN/GOV/BCA', 1, '{}', ?, ?)",
            (NOW, "0" * 64, "a" * 64),
        )
    command.downgrade(alembic_config(url), "0010")
    with sqlite3.connect(path) as db:
        counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ROWS}
        tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert counts == {t: len(rows) for t, rows in ROWS.items()}
    assert "registry_events" not in tables
    upgrade(url)
    with sqlite3.connect(path) as db:
        counts = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ROWS}
        assert db.execute("SELECT count(*) FROM registry_events").fetchone() == (0,)
    assert counts == {t: len(rows) for t, rows in ROWS.items()}
