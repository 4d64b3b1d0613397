"""Migrations keep every row: a schema change on SQLite must not cascade into deletions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hub.core.migrate import upgrade

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
        key = db.execute("SELECT subsystem_id, prefix FROM api_keys").fetchone()
    assert counts == {t: len(rows) for t, rows in ROWS.items()}
    assert key == ("VN/GOV/BTP/civil-status", "0123456789ab")
