"""A body nested past what a request schema is checked to is the client's mistake (422),
never the hub's 500: jsonschema recursed into each level and raised RecursionError."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from hub.gateway import body as body_mod
from tests.gateway.conftest import CLIENT, PROVIDER, Hub, load_registry, provider_app, registry_doc
from tests.support import hub_client, make_settings, serve

VERIFY = f"/r1/{PROVIDER}/verify/echo"
# The demo citizen-verify's request schema, as its pydantic model writes it.
VERIFY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id"],
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": 32},
        "full_name": {"anyOf": [{"type": "string", "maxLength": 200}, {"type": "null"}]},
        "date_of_birth": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
    },
}
PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-0001"}


def nested(field: str, depth: int) -> bytes:
    """A body whose ``field`` is ``depth`` arrays deep; "id" given for another field."""
    before = b'{"%s":' % field.encode() if field == "id" else b'{"id": "1", "%s":' % field.encode()
    return before + b"[" * depth + b"]" * depth + b"}"


@pytest.fixture
async def hub(db_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    papp = provider_app()
    async with serve(papp) as base_url:
        doc = registry_doc(base_url)
        doc["services"].append(
            {
                "id": f"{PROVIDER}/verify",
                "endpoints": [{"method": "POST", "path": "/echo"}],
                "personal_data": True,
                "max_body_bytes": 64 * 1024,
                "request_schema": VERIFY_SCHEMA,
            }
        )
        doc["grants"].append({"client": CLIENT, "service": f"{PROVIDER}/verify"})
        keys = await load_registry(db_url, doc)
        async with hub_client(make_settings(db_url, tmp_path)) as (app, client):
            yield Hub(app, client, keys, papp)


async def post(hub: Hub, body: bytes) -> Any:
    headers = hub.headers(**PURPOSE, **{"Content-Type": "application/json"})
    return await hub.client.post(VERIFY, content=body, headers=headers)


@pytest.mark.parametrize("field", ["id", "full_name"])
async def test_a_body_nested_past_the_limit_is_invalid(hub: Hub, field: str) -> None:
    body = nested(field, 1000)  # 2,007 bytes for "id", under the service's limit
    resp = await post(hub, body)
    assert resp.status_code == 422, resp.text[:300]
    assert resp.headers["X-Road-Error"] == "Client.InvalidPayload"
    limit = body_mod.MAX_BODY_DEPTH
    assert f"the body nests deeper than {limit} levels" in resp.json()["message"]
    assert hub.provider.state.seen == []  # refused before anything was forwarded
    (rec,) = await hub.records()
    assert (rec["status_code"], rec["fault_code"]) == (422, "Client.InvalidPayload")


async def test_a_body_at_the_limit_is_validated_as_usual(hub: Hub) -> None:
    # The object itself is a level: "id"'s arrays make up the rest.
    resp = await post(hub, nested("id", body_mod.MAX_BODY_DEPTH - 1))
    assert resp.status_code == 422 and "is not of type 'string'" in resp.json()["message"]
    assert "nests deeper" not in resp.json()["message"]


async def test_brackets_inside_strings_are_not_levels(hub: Hub) -> None:
    resp = await post(hub, b'{"id": "1", "full_name": "' + b"[{" * 90 + b'"}')
    assert resp.status_code == 201, resp.text[:300]


async def test_recursion_in_the_validator_is_the_clients_mistake_too(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The last resort, should a schema recurse more per level than the limit allows for.
    monkeypatch.setattr(body_mod, "MAX_BODY_DEPTH", 10_000)
    resp = await post(hub, nested("id", 1000))
    assert resp.status_code == 422, resp.text[:300]
    assert resp.headers["X-Road-Error"] == "Client.InvalidPayload"
    assert "nests too deeply" in resp.json()["message"]


@pytest.mark.parametrize(
    ("doc", "deep"),
    [
        ([[[]]], False),
        ({"a": [1, {"b": "[[[["}]}, False),
        ([{"a": []}] * 100, False),  # wide is not deep
        (None, False),
    ],
)
def test_depth_is_counted_in_levels_not_brackets(doc: Any, deep: bool) -> None:
    body = orjson.dumps(doc)
    assert body_mod._too_deep(body, doc) is deep


@pytest.mark.parametrize("depth", [1, 63, 64, 65, 200])
def test_depth_at_and_past_the_limit(depth: int) -> None:
    doc: Any = []
    for _ in range(depth - 1):
        doc = [doc, {"k": 1}]
    body = orjson.dumps(doc)
    assert body_mod._too_deep(body, doc) is (depth > body_mod.MAX_BODY_DEPTH)
