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


@pytest.mark.parametrize(
    ("path", "takes"),
    [
        ("/admin/members", "the admin token (HUB_ADMIN_TOKEN"),
        ("/admin", "the admin token (HUB_ADMIN_TOKEN"),
        ("/api/stats/summary", "the operator token (HUB_OPERATOR_TOKEN"),
        ("/api", "the operator token (HUB_OPERATOR_TOKEN"),
    ],
)
async def test_each_401_is_a_sentence_of_what_to_send_there_in_the_api_s_own_body(
    sqlite_url: str, tmp_path: Path, path: str, takes: str
) -> None:
    # A wrong token was told "check the value (HUB_ADMIN_TOKEN or HUB_OPERATOR_TOKEN of the
    # hub)" under /admin too, which takes the admin's alone; a Basic header was told to send
    # a header as if none had come; and the body was spaced unlike every other refusal of
    # the API ({"detail": "..."} against {"detail":"..."}).
    sent = {
        "none": {},
        "wrong": {"Authorization": "Bearer not-the-token"},
        "basic": {"Authorization": "Basic YWRtaW46YWRtaW4="},
    }
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, client):
        got = {name: await client.get(path, headers=headers) for name, headers in sent.items()}
    for name, r in got.items():
        assert r.status_code == 401, (name, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.content.startswith(b'{"detail":"'), r.content  # as FastAPI's own refusals
        detail = r.json()["detail"]
        assert takes in detail, (name, detail)
        if path.startswith("/admin"):
            assert "HUB_OPERATOR_TOKEN" not in detail, detail
    assert got["none"].json()["detail"].startswith("no token: send 'Authorization: Bearer")
    assert got["wrong"].json()["detail"].startswith("the token sent is neither this hub's admin")
    assert (
        got["basic"]
        .json()["detail"]
        .startswith("the Authorization header must be 'Bearer <token>'")
    )
