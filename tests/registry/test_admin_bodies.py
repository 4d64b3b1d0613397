"""Bodies the admin API cannot take as they are, each refused with a sentence saying what to
fix: a key given twice in a JSON object, bytes that are not UTF-8, nesting thousands deep,
a number too long to read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.registry.yamlio import RegistryFileError, load
from tests.support import ADMIN, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
JSON_H = {**ADMIN_H, "Content-Type": "application/json"}
YAML_H = {**ADMIN_H, "Content-Type": "application/yaml"}
SERVICE = "VN/GOV/BCA/population/citizen-lookup"
DOC = {
    "members": [{"id": "VN/GOV/BCA", "name": "Bộ Công an"}],
    "subsystems": [{"id": "VN/GOV/BCA/population", "base_url": "http://127.0.0.1:9"}],
    "services": [{"id": SERVICE}],
}
DEEP = "[" * 50_000 + "]" * 50_000


def _nested(levels: int) -> dict:
    schema: dict = {"type": "object"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "said"),
    [
        # The last "id" was taken: VN/GOV/BTP was created, where YAML refuses a key twice.
        ("POST", "/admin/members", '{"id": "VN/GOV/BCA2", "name": "x", "id": "VN/GOV/BTP"}',
         400, "body: the key 'id' is given twice in one object"),
        ("PUT", "/admin/registry", '{"members": [{"id": "VN/GOV/BTP", "name": "a", "name": "b"}]}',
         400, "the key 'name' is given twice"),
        ("POST", "/admin/members", b'{"id": "VN/GOV/BTP", "name": "B\xf4 T\xfa"}',
         400, "the body is not UTF-8 (byte 0xf4 at position 31): send the JSON as UTF-8 text"),
        # Each was "There was an error parsing the body".
        ("PUT", "/admin/registry", DEEP, 400, "the body is nested too deep to read"),
        ("PUT", "/admin/registry", '{"members": ' + DEEP + "}", 400, "nested too deep"),
        # A count of 5,000 digits (past Python's 4,300 for reading an integer) was also "There
        # was an error parsing the body", which named neither the field nor the number.
        ("PATCH", "/admin/subsystems/VN/GOV/BCA/population", '{"quota_rps": ' + "9" * 5000 + "}",
         400, "the body holds a whole number longer than 4300 digits, which no field takes"),
        # A 500: jsonschema recursed past Python's limit checking the schema.
        ("PATCH", f"/admin/services/{SERVICE}", json.dumps({"request_schema": _nested(300)}),
         422, "request_schema nests objects and lists more than 100 levels deep"),
    ],
)  # fmt: skip
async def test_a_json_body_read_wrongly_or_not_at_all_is_refused(
    sqlite_url: str,
    tmp_path: Path,
    method: str,
    path: str,
    body: str | bytes,
    status: int,
    said: str,
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        assert (await c.put("/admin/registry", json=DOC, headers=ADMIN_H)).status_code == 200
        before = (await c.get("/admin/registry", headers=ADMIN_H)).json()
        r = await c.request(method, path, content=body, headers=JSON_H)
        assert r.status_code == status and said in r.json()["detail"], r.text
        assert (await c.get("/admin/registry", headers=ADMIN_H)).json() == before


async def test_a_deep_schema_within_the_limit_is_taken(sqlite_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        assert (await c.put("/admin/registry", json=DOC, headers=ADMIN_H)).status_code == 200
        body = {"request_schema": _nested(49)}
        r = await c.patch(f"/admin/services/{SERVICE}", json=body, headers=ADMIN_H)
        assert r.status_code == 200, r.text


async def test_yaml_nested_thousands_deep_is_a_400_not_a_500(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        r = await c.put("/admin/registry", content=f"members: {DEEP}\n", headers=YAML_H)
        assert r.status_code == 400, r.text
        assert r.json()["detail"] == (
            "body: nested too deep to read: lists or mappings thousands of levels inside one "
            "another"
        )


def test_a_registry_file_nested_thousands_deep_is_a_refusal_not_a_traceback() -> None:
    # `hub registry apply` printed a RecursionError's traceback.
    with pytest.raises(RegistryFileError, match=r"^reg\.yaml: nested too deep to read"):
        load(f"members: {DEEP}\n", "reg.yaml")


def _aliases(levels: int) -> str:
    """A registry file whose member's unknown key holds ``levels`` of aliases of lists of
    aliases, 9 to the power of ``levels`` values in a few lines ("billion laughs")."""
    lines = [
        "x-laughs:",
        '  l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
    ]
    lines += [f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "\n".join(lines) + f"\nmembers:\n  - id: VN/GOV/BCA\n    extra: *l{levels - 1}\n"


def test_a_registry_file_of_aliases_of_aliases_is_refused_at_once() -> None:
    # Nine levels held `hub registry apply` for hours, walking 387 million values.
    with pytest.raises(RegistryFileError, match=r"^reg\.yaml: YAML aliases make this file"):
        load(_aliases(9), "reg.yaml")
    # A few aliases, as YAML's users write them, are taken.
    data, _node = load(_aliases(3), "reg.yaml")
    assert len(data["members"][0]["extra"]) == 9


@pytest.mark.parametrize(
    ("value", "said"),
    [
        # PyYAML reads these as an integer and a date, and Python refuses to make them: a
        # ValueError's traceback from `hub registry apply`, a 500 from the API.
        ("9" * 5000, "reg.yaml:3: not valid YAML: a whole number of 5000 digits"),
        ("2024-13-01", "reg.yaml:3: not valid YAML: '2024-13-01' is no date (month must be"),
    ],
)
def test_a_value_yaml_reads_but_python_cannot_make_is_refused_with_its_line(
    value: str, said: str
) -> None:
    text = f"subsystems:\n  - id: VN/GOV/BTP/civil-status\n    quota_rps: {value}\n"
    with pytest.raises(RegistryFileError) as info:
        load(text, "reg.yaml")
    assert str(info.value).startswith(said)


async def test_a_number_too_long_for_python_in_yaml_is_a_400_not_a_500(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        text = "subsystems:\n  - id: VN/GOV/BTP/civil-status\n    quota_rps: " + "9" * 5000 + "\n"
        r = await c.put("/admin/registry?dry_run=true", content=text, headers=YAML_H)
        assert r.status_code == 400, r.text
        assert r.json()["detail"].startswith("body:3: not valid YAML: a whole number of 5000")
