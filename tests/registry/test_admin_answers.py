"""What the admin API answers of its entries is what /openapi.json says it answers: a client
generated from the document reads every list, entry, change and creation with its own types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.support import ADMIN, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
MEMBER = {"id": "VN/GOV/BCA", "name": "Bộ Công an"}
SUBSYSTEM = {"id": "VN/GOV/BCA/population", "base_url": "http://127.0.0.1:9", "quota_rps": 5}
SERVICE = {
    "id": "VN/GOV/BCA/population/lookup",
    "endpoints": [{"method": "GET", "path": "/citizens/{id}"}],
    "request_schema": {"type": "object"},
}
GRANT = {"client": "VN/GOV/BCA/population", "service": "VN/GOV/BCA/population/lookup"}
ONE = {
    "members": "/admin/members/{member_id}",
    "subsystems": "/admin/subsystems/{subsystem_id}",
    "services": "/admin/services/{service_id}",
}


def _answer_schema(doc: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    response = doc["paths"][path][method]["responses"][status]
    return response["content"]["application/json"]["schema"]


def _component(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    assert "$ref" in schema, f"an untyped answer: {schema}"
    return doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]


def _check(doc: dict[str, Any], schema: dict[str, Any], answer: Any) -> None:
    """``answer`` is valid against ``schema``, and the object it describes names exactly
    the fields the hub sends, each of them required (never left out)."""
    validator = jsonschema.Draft202012Validator({**schema, "components": doc["components"]})
    errors = [e.message for e in validator.iter_errors(answer)]
    assert not errors, (answer, errors)
    item = schema["items"] if schema.get("type") == "array" else schema
    model = _component(doc, item)
    for entry in answer if isinstance(answer, list) else [answer]:
        assert set(model["properties"]) == set(entry), (model.get("title"), entry)
        assert set(model["required"]) == set(entry), model.get("title")


@pytest.fixture
async def filled(sqlite_url: str, tmp_path: Path) -> Any:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        created = {}
        for where, body in (
            ("members", MEMBER),
            ("subsystems", SUBSYSTEM),
            ("services", SERVICE),
            ("grants", GRANT),
        ):
            r = await c.post(f"/admin/{where}", json=body, headers=ADMIN_H)
            assert r.status_code == 201, r.text
            created[where] = r.json()
        r = await c.post("/admin/keys", json={"client": GRANT["client"]}, headers=ADMIN_H)
        assert r.status_code == 201, r.text
        doc = (await c.get("/openapi.json")).json()
        yield c, doc, created


@pytest.mark.parametrize("where", ["members", "subsystems", "services", "grants", "keys"])
async def test_each_list_is_documented_as_the_entries_it_answers(filled: Any, where: str) -> None:
    # The lists were documented as arrays of any object ({"additionalProperties": true}): a
    # generated client had no field to read of a member, subsystem, service or grant.
    c, doc, _created = filled
    r = await c.get(f"/admin/{where}", headers=ADMIN_H)
    assert r.status_code == 200 and len(r.json()) == 1, r.text
    schema = _answer_schema(doc, f"/admin/{where}", "get", "200")
    assert schema["type"] == "array"
    _check(doc, schema, r.json())


@pytest.mark.parametrize("where", ["members", "subsystems", "services"])
async def test_an_entry_its_change_and_its_creation_are_documented_as_answered(
    filled: Any, where: str
) -> None:
    c, doc, created = filled
    path, key = ONE[where], created[where]["id"]
    got = await c.get(f"/admin/{where}/{key}", headers=ADMIN_H)
    assert got.status_code == 200, got.text
    _check(doc, _answer_schema(doc, path, "get", "200"), got.json())
    changed = await c.patch(f"/admin/{where}/{key}", json={"enabled": False}, headers=ADMIN_H)
    assert changed.status_code == 200, changed.text
    _check(doc, _answer_schema(doc, path, "patch", "200"), changed.json())
    _check(doc, _answer_schema(doc, f"/admin/{where}", "post", "201"), created[where])
    assert created[where]["warnings"] == [] or where == "services"


async def test_a_grant_its_change_and_its_creation_are_documented_as_answered(
    filled: Any,
) -> None:
    c, doc, created = filled
    changed = await c.patch("/admin/grants", json={**GRANT, "enabled": False}, headers=ADMIN_H)
    assert changed.status_code == 200, changed.text
    _check(doc, _answer_schema(doc, "/admin/grants", "patch", "200"), changed.json())
    _check(doc, _answer_schema(doc, "/admin/grants", "post", "201"), created["grants"])


async def test_the_export_is_documented_as_the_registry_document(filled: Any) -> None:
    # Its JSON was documented as any value: a client could not read what it exported.
    c, doc, _created = filled
    r = await c.get("/admin/registry", headers=ADMIN_H)
    assert r.status_code == 200, r.text
    schema = _answer_schema(doc, "/admin/registry", "get", "200")
    assert schema == {"$ref": "#/components/schemas/RegistryDoc"}
    validator = jsonschema.Draft202012Validator({**schema, "components": doc["components"]})
    assert not [e.message for e in validator.iter_errors(r.json())]
