"""A body that repeats a key in one object is refused where a request schema is declared.

The hub validated the last value of a repeated key (orjson keeps it), while a provider
whose parser keeps the first (some Java, Go and PHP parsers, streaming ones) acted on a
value the hub never checked: {"id": "079049355864", "id": "../admin"} passed as the first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from hub.gateway import body as body_mod
from tests.gateway.conftest import PROVIDER, Hub, load_registry, provider_app, registry_doc
from tests.support import hub_client, make_settings, serve

ECHO = f"/r1/{PROVIDER}/echo/echo"  # request_schema: an object whose "id" is a string


async def post(hub: Hub, path: str, body: bytes) -> Any:
    headers = hub.headers(**{"Content-Type": "application/json"})
    return await hub.client.post(path, content=body, headers=headers)


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"id": "079049355864", "id": "not-valid"}', "id"),
        (b'{"id": 5, "id": "079049355864"}', "id"),  # the last one valid: passed before
        (b'{"id": "1", "\\u0069d": 5}', "id"),  # the same key once decoded
        (b'{"id": "1", "x": {"a": 1, "b": 2, "a": 3}}', "a"),
        (b'{"id": "1", "x": [{"k": 1}, {"k": 1, "k": 2}]}', "k"),
        (b'[{"id": "1"}, {"t": "10:00", "t": "x:y"}]', "t"),  # colons in strings too
        (b'{"id": "1", "n": 1, "n": "\\u003a"}', "n"),  # a colon spelled as an escape
        (b'{"id": "1", "": 1, "": 2}', ""),
    ],
)
async def test_a_repeated_key_is_refused_and_named(hub: Hub, body: bytes, key: str) -> None:
    resp = await post(hub, ECHO, body)
    assert resp.status_code == 400, resp.text[:300]
    assert resp.headers["X-Road-Error"] == "Client.BadRequest"
    message = resp.json()["message"]
    assert f"repeats the key {orjson.dumps(key).decode()} in one object" in message
    assert hub.provider.state.seen == []  # refused before anything was forwarded
    (rec,) = await hub.records()
    assert (rec["status_code"], rec["fault_code"]) == (400, "Client.BadRequest")


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "079049355864"}',
        b'{"id": "1", "x": {"id": "2"}, "y": [{"k": 1}, {"k": 2}]}',  # other objects
        b'{"id": "a:b", "at": "2025-07-01T10:00:00+07:00", "note": "\\u003a"}',
        b'{"id": "1", "name": "Nguy\\u1ec5n V\\u0103n An", "Id": 2, "i\\"d": 3}',
    ],
)
async def test_a_body_without_repeated_keys_is_forwarded_as_sent(hub: Hub, body: bytes) -> None:
    resp = await post(hub, ECHO, body)
    assert resp.status_code == 201, resp.text[:300]
    assert resp.content == body


@pytest.fixture
async def schemaless(db_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    """The hub of ``hub``, its echo service declaring no request schema."""
    papp = provider_app()
    async with serve(papp) as base_url:
        doc = registry_doc(base_url)
        (echo,) = [s for s in doc["services"] if s["id"] == f"{PROVIDER}/echo"]
        del echo["request_schema"]
        keys = await load_registry(db_url, doc)
        async with hub_client(make_settings(db_url, tmp_path)) as (app, client):
            yield Hub(app, client, keys, papp)


async def test_a_service_without_a_schema_never_reads_the_body(schemaless: Hub) -> None:
    # Its body is the provider's to read; the hub forwards it unread, as before.
    body = b'{"id": "079049355864", "id": "not-valid"}'
    resp = await post(schemaless, ECHO, body)
    assert resp.status_code == 201, resp.text[:300]
    assert resp.content == body


@pytest.mark.parametrize("doc", [{"a": ":", "b": [{"c": "x:y", "d": {}}]}, [], "a:b"])
def test_the_quick_count_lets_bodies_without_repeats_through(
    doc: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(body_mod, "json", None)  # parsing again would raise AttributeError
    body = orjson.dumps(doc, option=orjson.OPT_INDENT_2)
    assert body_mod._repeated_key(body, orjson.loads(body)) is None


def test_a_repeat_deep_in_a_large_body_is_found() -> None:
    rows = [{"id": f"{i:012d}", "at": "10:00"} for i in range(2000)]
    body = orjson.dumps({"rows": rows})
    assert body_mod._repeated_key(body, orjson.loads(body)) is None
    body = body.replace(b'"at"', b'"id"', 1)  # row 0's id is given twice
    assert body_mod._repeated_key(body, orjson.loads(body)) == "id"
