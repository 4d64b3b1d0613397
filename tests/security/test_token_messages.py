"""A 401 from the admin or operator API says whether a token came and was refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import OPERATOR, hub_client, make_settings


@pytest.mark.parametrize("path", ["/admin/members", "/api/stats/summary"])
async def test_a_wrong_token_is_said_to_be_refused_and_a_missing_one_how_to_send(
    sqlite_url: str, tmp_path: Path, path: str
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, client):
        none = await client.get(path)
        wrong = await client.get(path, headers={"Authorization": "Bearer not-the-token"})
        operator = await client.get(path, headers={"Authorization": f"Bearer {OPERATOR}"})
    assert none.status_code == wrong.status_code == 401
    assert "send 'Authorization: Bearer <token>'" in none.text
    assert "neither this hub's admin token nor its operator token" in wrong.text
    assert operator.status_code == (403 if path.startswith("/admin") else 200)
