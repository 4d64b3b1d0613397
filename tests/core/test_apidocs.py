"""/openapi.json as a client is generated from it: valid OpenAPI, every identifier with the
pattern the hub enforces and an example, the refusals each route sends, examples that are
valid against their own schemas."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from hub.core.ids import XROAD_ID, pattern
from tests.support import ADMIN, OPERATOR, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
OPERATOR_H = {"Authorization": f"Bearer {OPERATOR}"}
NONE = "none"

# Each identifier the admin and operator API take, by where it is sent: the pattern of
# exactly what the hub takes there (hub/core/ids.py).
PATH_IDS = {
    "member_id": pattern(3),
    "subsystem_id": pattern(4),
    "service_id": pattern(5),
    "ident": XROAD_ID.pattern,
}
ADMIN_QUERY_IDS = {"member": pattern(3), "subsystem": pattern(4), "client": pattern(4)}
ADMIN_QUERY_IDS["service"] = pattern(5)
API_QUERY_IDS = {
    "client": pattern(4, NONE),
    "provider": pattern(4, NONE),
    "service": pattern(5, NONE),
}
BODY_IDS = {
    "MemberIn": {"id": pattern(3)},
    "MemberCreate": {"id": pattern(3)},
    "SubsystemIn": {"id": pattern(4)},
    "ServiceIn": {"id": pattern(5)},
    "GrantIn": {"client": pattern(4), "service": pattern(5)},
    "GrantKey": {"client": pattern(4), "service": pattern(5)},
    "GrantPatch": {"client": pattern(4), "service": pattern(5)},
    "KeyRequest": {"client": pattern(4)},
}


@pytest.fixture
async def doc(sqlite_url: str, tmp_path: Path) -> dict[str, Any]:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        r = await c.get("/openapi.json")
        assert r.status_code == 200
        return r.json()


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, ops in doc["paths"].items()
        if path.startswith(("/admin", "/api"))
        for method, op in ops.items()
    ]


def string_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The string branch of an optional parameter's ``anyOf``, or the schema itself."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string":
            return branch
    raise AssertionError(f"no string in {schema}")


def test_the_document_is_valid_openapi(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.")
    validate(doc)  # raises with the first error


def test_every_id_in_a_path_has_the_enforced_pattern_and_an_example(
    doc: dict[str, Any],
) -> None:
    # member_id, subsystem_id, service_id and the log's ident were {"type": "string"}: a
    # generated client took "VN/GOV" or "VN/GOV/a b" and learnt the rule from a 400.
    seen = set()
    for path, method, op in operations(doc):
        for param in op.get("parameters", []):
            if param["in"] != "path":
                continue
            seen.add(param["name"])
            schema = param["schema"]
            assert schema.get("examples"), (path, method, param["name"])
            if param["name"] == "key_id":
                assert schema["type"] == "integer" and schema["minimum"] == 1
                continue
            assert schema["pattern"] == PATH_IDS[param["name"]], (path, method)
    assert seen == {*PATH_IDS, "key_id"}


def test_every_id_in_a_query_or_a_body_has_the_enforced_pattern(doc: dict[str, Any]) -> None:
    checked = 0
    for path, method, op in operations(doc):
        ids = API_QUERY_IDS if path.startswith("/api") else ADMIN_QUERY_IDS
        for param in op.get("parameters", []):
            if param["in"] == "query" and param["name"] in ids:
                schema = string_schema(param["schema"])
                assert schema["pattern"] == ids[param["name"]], (path, method, param["name"])
                assert schema["examples"], (path, method, param["name"])
                checked += 1
    assert checked >= 15
    schemas = doc["components"]["schemas"]
    for model, fields in BODY_IDS.items():
        for name, expected in fields.items():
            field = schemas[model]["properties"][name]
            assert field["pattern"] == expected and field["examples"], (model, name)
    events = {p["name"]: p for p in doc["paths"]["/admin/events"]["get"]["parameters"]}
    for name in ("target", "under"):
        assert "pattern" in string_schema(events[name]["schema"]), name


def _matches(doc: dict[str, Any], path: str, name: str, value: str) -> bool:
    params = {p["name"]: p for p in doc["paths"][path]["get"]["parameters"]}
    # fullmatch reads "^...$" as ECMA-262 does: Python's search lets "$" match before a
    # final line break.
    return re.fullmatch(string_schema(params[name]["schema"])["pattern"], value) is not None


MEMBERS_TAKEN = ["VN/GOV/BCA", "VN/LOC/...", "VN/COM/.x", "VN/GOV/a.b_c-D9", "VN/GOV/" + "a" * 128]
MEMBERS_REFUSED = [
    "VN/GOV/BCA\n",  # was taken, and could be registered
    "VN/GOV/..",
    "VN/GOV/a b",
    "VN/GOV/một",
    "VN/GOV/" + "a" * 129,
    "vn/GOV/BCA",
    "VN/XX/BCA",
]
WRONG_PARTS = ["VN/GOV", "VN/GOV/BCA/x/y/z/w"]  # ids of no arity the API takes


@pytest.mark.parametrize(
    ("path", "name", "suffix", "taken_as"),
    [
        ("/admin/subsystems", "member", "", 200),
        ("/admin/services", "subsystem", "/population", 200),
        ("/admin/grants", "service", "/population/citizen-lookup", 200),
        ("/admin/events", "under", "", 200),
        ("/api/stats/summary", "client", "/population", 200),
        ("/api/stats/summary", "service", "/population/citizen-lookup", 200),
    ],
)
async def test_the_hub_refuses_what_the_pattern_does_not_match(
    sqlite_url: str, tmp_path: Path, path: str, name: str, suffix: str, taken_as: int
) -> None:
    # Asked of the hub itself: each id it answers 400 to is one the document's pattern does
    # not match, and each it takes is one it does.
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        doc = (await c.get("/openapi.json")).json()
        for member in MEMBERS_TAKEN + MEMBERS_REFUSED + WRONG_PARTS:
            value = member if member.endswith("\n") else member + suffix
            if member.endswith("\n") and suffix:
                value = member.rstrip("\n") + suffix + "\n"
            if path.startswith("/api") and value != value.strip():
                continue  # /api's filters trim blanks around an id, as copied from a table
            r = await c.get(path, params={name: value}, headers=ADMIN_H)
            assert r.status_code in (taken_as, 400), r.text
            taken = r.status_code == taken_as
            assert taken == (member in MEMBERS_TAKEN), (value, r.text)
            if member == "VN/GOV/BCA":  # and one part more or fewer than it takes
                for other in (value + "/x", value.rsplit("/", 1)[0]):
                    r = await c.get(path, params={name: other}, headers=ADMIN_H)
                    if r.status_code == 400:
                        assert not _matches(doc, path, name, other), other
            assert _matches(doc, path, name, value) == taken, value


async def test_an_id_with_a_line_break_is_not_registered(sqlite_url: str, tmp_path: Path) -> None:
    # "VN/GOV/BCA\n" was a member of its own, beside VN/GOV/BCA, that no path could name.
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        r = await c.post(
            "/admin/members", json={"id": "VN/GOV/BCA\n", "name": "B"}, headers=ADMIN_H
        )
        assert r.status_code == 400, r.text
        assert "invalid part 'BCA\\n'" in r.json()["detail"]
        assert (await c.get("/admin/members", headers=ADMIN_H)).json() == []


def test_every_route_documents_the_refusals_it_sends(doc: dict[str, Any]) -> None:
    # docs/gateway.md, "The admin API in detail": 400 for what cannot be read, 401 without
    # the token, 403 for the operator's under /admin, 404 for an entry there is not (a
    # grant's PATCH and DELETE too, which name it in the body or the query), 409 for a
    # write the registry refuses, 412 for an If-Match no longer current, 422 for a body
    # refused; each in the body {"detail": "<sentence>"}.
    for path, method, op in operations(doc):
        said = set(op["responses"])
        want = {"400", "401", "503"}
        if path.startswith("/admin"):
            want.add("403")
            if method != "get":
                want.add("409")
        if "{" in path or (path.startswith("/admin") and method in ("patch", "delete")):
            want.add("404")
        if "requestBody" in op:
            want |= {"413", "415", "422"}
        else:
            assert "422" not in said, (path, method)
        if any(p["name"] == "If-Match" for p in op.get("parameters", [])):
            want.add("412")
        assert want <= said, (path, method, want - said)
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)
        assert "Retry-After" in op["responses"]["503"]["headers"]
        assert "WWW-Authenticate" in op["responses"]["401"]["headers"]


async def test_a_missing_grant_is_the_404_the_document_names(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        doc = (await c.get("/openapi.json")).json()
        grant = {"client": "VN/GOV/BTP/civil-status", "service": "VN/GOV/BCA/p/lookup"}
        r = await c.patch("/admin/grants", json={**grant, "enabled": False}, headers=ADMIN_H)
        assert r.status_code == 404, r.text
        assert "404" in doc["paths"]["/admin/grants"]["patch"]["responses"]
        r = await c.request("DELETE", "/admin/grants", params=grant, headers=ADMIN_H)
        assert r.status_code == 404, r.text
        assert "404" in doc["paths"]["/admin/grants"]["delete"]["responses"]


def _examples(node: Any, at: str = "#") -> list[tuple[str, dict[str, Any], Any]]:
    """Every example of the document with the schema it is an example of: a schema's own
    ``examples`` and ``example``, and a parameter's or a media type's beside its schema."""
    found: list[tuple[str, dict[str, Any], Any]] = []
    if isinstance(node, dict):
        if "schema" in node and isinstance(node["schema"], dict):
            if "example" in node:
                found.append((at, node["schema"], node["example"]))
            for name, ex in (node.get("examples") or {}).items():
                found.append((f"{at}/examples/{name}", node["schema"], ex["value"]))
        if "type" in node or "anyOf" in node or "$ref" in node or "pattern" in node:
            if isinstance(node.get("examples"), list):
                found += [(at, node, ex) for ex in node["examples"]]
            if "example" in node and "schema" not in node:
                found.append((at, node, node["example"]))
        for key, value in node.items():
            found += _examples(value, f"{at}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _examples(value, f"{at}/{i}")
    return found


def test_the_examples_are_valid_against_their_own_schemas(doc: dict[str, Any]) -> None:
    registry = Registry().with_resource(
        "", Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    examples = _examples(doc)
    assert len(examples) >= 20  # none at all before
    for at, schema, value in examples:
        validator = jsonschema.Draft202012Validator(
            schema, registry=registry, format_checker=jsonschema.FormatChecker()
        )
        errors = [e.message for e in validator.iter_errors(value)]
        assert not errors, (at, value, errors)
        if isinstance(value, str) and "pattern" in schema:
            assert re.fullmatch(schema["pattern"], value), (at, value)


def _schema_of(doc: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    # The components beside the schema, where its "#/components/..." references point.
    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]})


MEMBER = {"id": "VN/GOV/BCA", "name": "Bộ Công an"}
SUBSYSTEM = {"id": "VN/GOV/BCA/population"}
SERVICE = {"id": "VN/GOV/BCA/population/lookup", "base_url": "http://127.0.0.1:9"}
GRANT_KEY = {"client": "VN/GOV/BCA/population", "service": "VN/GOV/BCA/population/lookup"}


# Bodies a property-based client (schemathesis --checks all) drew from the document and the
# hub refused with 422: the document must not admit them. Each as that client sent it.
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/admin/grants", {**GRANT_KEY, "enabled": None}),
        ("PATCH", "/admin/members/VN%2FGOV%2FBCA", {"enabled": None}),
        ("PATCH", "/admin/members/VN%2FGOV%2FBCA", {"name": None}),
        ("PATCH", "/admin/members/VN%2FGOV%2FBCA", {"name": "  "}),
        ("PATCH", "/admin/subsystems/VN%2FGOV%2FBCA%2Fpopulation", {"enabled": None}),
        ("PATCH", "/admin/subsystems/VN%2FGOV%2FBCA%2Fpopulation", {"name": None}),
        ("PATCH", "/admin/subsystems/VN%2FGOV%2FBCA%2Fpopulation", {"cert_sha256": "Ã"}),
        ("PATCH", "/admin/subsystems/VN%2FGOV%2FBCA%2Fpopulation", {"base_url": "&"}),
        ("PATCH", "/admin/subsystems/VN%2FGOV%2FBCA%2Fpopulation", {"base_url": "HTTP://[0]:7/z"}),
        ("PATCH", "/admin/subsystems/VN%2FGOV%2FBCA%2Fpopulation", {"name": "a\u202eb"}),
        ("PATCH", "/admin/services/VN%2FGOV%2FBCA%2Fpopulation%2Flookup", {"timeout_ms": None}),
        ("PATCH", "/admin/services/VN%2FGOV%2FBCA%2Fpopulation%2Flookup", {"enabled": None}),
        ("POST", "/admin/members", {"id": "VN/GOV/BTP", "name": ""}),
        ("POST", "/admin/subsystems", {"id": "VN/GOV/BCA/other", "cert_sha256": "abc"}),
    ],
)
async def test_a_body_the_hub_refuses_is_one_the_document_does_not_admit(
    sqlite_url: str, tmp_path: Path, method: str, path: str, body: dict[str, Any]
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        doc = (await c.get("/openapi.json")).json()
        for where, entry in (("members", MEMBER), ("subsystems", SUBSYSTEM)):
            r = await c.post(f"/admin/{where}", json=entry, headers=ADMIN_H)
            assert r.status_code == 201, r.text
        assert (await c.post("/admin/services", json=SERVICE, headers=ADMIN_H)).status_code == 201
        r = await c.post("/admin/grants", json=GRANT_KEY, headers=ADMIN_H)
        assert r.status_code == 201, r.text
        r = await c.request(method, path, json=body, headers=ADMIN_H)
        assert r.status_code == 422, r.text
        template = path.split("/VN%2F")[0] + ("/{id}" if "%2F" in path else "")
        for documented, op in doc["paths"].items():
            if re.sub(r"\{\w+\}", "{id}", documented) == template and method.lower() in op:
                content = op[method.lower()]["requestBody"]["content"]["application/json"]
                break
        else:
            raise AssertionError(f"{method} {path} is not in the document")
        assert not _schema_of(doc, content["schema"]).is_valid(body), (path, body)


@pytest.mark.parametrize("value", ["null", 'e72dE@zQ`o9"Qy=5p2', "abc"])
async def test_an_if_match_the_hub_refuses_is_one_the_document_does_not_admit(
    sqlite_url: str, tmp_path: Path, value: str
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        doc = (await c.get("/openapi.json")).json()
        assert (await c.post("/admin/members", json=MEMBER, headers=ADMIN_H)).status_code == 201
        r = await c.patch(
            "/admin/members/VN%2FGOV%2FBCA", json={}, headers={**ADMIN_H, "If-Match": value}
        )
        assert r.status_code == 400, r.text
        params = doc["paths"]["/admin/members/{member_id}"]["patch"]["parameters"]
        (header,) = [p for p in params if p["name"] == "If-Match"]
        assert not _schema_of(doc, header["schema"]).is_valid(value)
        assert not _schema_of(doc, header["schema"]).is_valid(None)  # sent as "null"
        for taken in ("*", '"abc"', ' W/"a" , "b"'):
            assert _schema_of(doc, header["schema"]).is_valid(taken), taken


async def test_metrics_are_documented_as_the_text_they_are(sqlite_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        doc = (await c.get("/openapi.json")).json()
        r = await c.get("/metrics", headers=OPERATOR_H)
        assert r.status_code == 200
        documented = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
        assert r.headers["content-type"].split(";")[0] in documented, documented


async def test_an_action_the_audit_trail_refuses_is_one_the_document_does_not_admit(
    sqlite_url: str, tmp_path: Path
) -> None:
    from hub.registry.events_read import ACTIONS, KINDS

    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        doc = (await c.get("/openapi.json")).json()
        for value in ("\U000528b6", "grant.creat", "grant.", ""):
            r = await c.get("/admin/events", params={"action": value}, headers=ADMIN_H)
            assert r.status_code == 400, (value, r.text)
            assert not _matches(doc, "/admin/events", "action", value), value
        for value in sorted(ACTIONS | KINDS):
            r = await c.get("/admin/events", params={"action": value}, headers=ADMIN_H)
            assert r.status_code == 200, (value, r.text)
            assert _matches(doc, "/admin/events", "action", value), value
