"""The mistakes a team onboarding its agency makes in a registry file or an admin API body:
each refusal says what the hub expected (the key meant, what a path segment may be), and a
member code no province or enterprise has is applied but warned about."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from hub.core.db import create_engine, session_factory
from hub.registry import service as registry
from hub.registry.advice import member_code_warnings
from hub.registry.yamlio import RegistryFileError
from tests.support import ADMIN, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "members:\n  - id: VN/LOC/01\n    nmae: UBND TP. Hà Nội\n",
            "reg.yaml:3: members[0].nmae: unknown key 'nmae' (did you mean 'name'?); "
            "allowed: id, name, enabled",
        ),
        (
            "member:\n  - id: VN/LOC/01\n",
            "reg.yaml:1: member: unknown key 'member' (did you mean 'members'?); "
            "allowed: members, subsystems, services, grants",
        ),
        (
            "services:\n  - id: VN/LOC/01/permits/record-lookup\n"
            "    endpoints:\n      - {method: GET, paht: /records}\n",
            "endpoints[0].paht: unknown key 'paht' (did you mean 'path'?); allowed: method, path",
        ),
    ],
    ids=["member field", "section", "endpoint field"],
)
def test_an_unknown_key_says_which_was_meant(text: str, expected: str) -> None:
    with pytest.raises(RegistryFileError) as info:
        registry.parse_documents([("reg.yaml", text)])
    assert expected in str(info.value)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/records/{id}?full=1", "a path holds no query"),
        ("/records/pre{id}post", "a whole segment of its own"),
        ("/records/{i d}", "a whole segment of its own"),
        ("/records//x", "an empty segment"),
    ],
)
def test_an_endpoint_template_says_what_a_segment_may_be(path: str, expected: str) -> None:
    text = (
        "services:\n  - id: VN/LOC/01/permits/record-lookup\n"
        f'    endpoints:\n      - {{method: GET, path: "{path}"}}\n'
    )
    with pytest.raises(RegistryFileError) as info:
        registry.parse_documents([("reg.yaml", text)])
    assert "reg.yaml:4: services[0].endpoints[0].path" in str(info.value)
    assert expected in str(info.value)


async def test_an_admin_body_with_an_unknown_key_says_which_was_meant(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        r = await c.post(
            "/admin/members", json={"id": "VN/LOC/01", "nmae": "Hà Nội"}, headers=ADMIN_H
        )
        assert r.status_code == 422
        assert "body.nmae: unknown key 'nmae' (did you mean 'name'?)" in r.json()["detail"]
        r = await c.post(
            "/admin/members", json={"id": "VN/LOC/01", "name": "Hà Nội"}, headers=ADMIN_H
        )
        assert r.status_code == 201, r.text
        # An id is no field a change takes: the refusal lists those it does, and, as one
        # sending it means to rename the entry, how that is done (it said no more than
        # "unknown key 'id'", of the one key every entry has).
        r = await c.patch("/admin/members/VN/LOC/01", json={"id": "VN/LOC/02"}, headers=ADMIN_H)
        assert r.status_code == 422
        assert r.json()["detail"] == (
            "body.id: unknown key 'id'; allowed: name, enabled. An id cannot change: to rename "
            "a member, create it under the new id with its subsystems, then delete the old one "
            "(its subsystems, services, grants and API keys go with it)"
        )
        svc = {"id": "VN/LOC/01/permits/x", "endpoints": []}
        r = await c.post("/admin/subsystems", json={"id": "VN/LOC/01/permits"}, headers=ADMIN_H)
        assert (await c.post("/admin/services", json=svc, headers=ADMIN_H)).status_code == 201
        r = await c.patch(f"/admin/services/{svc['id']}", json={"id": "y"}, headers=ADMIN_H)
        assert r.status_code == 422
        assert r.json()["detail"].endswith(
            "An id cannot change: to rename a service, create it under the new id, grant it to "
            "the old one's clients, then delete the old one (or rename it in its provider's "
            "file and apply that with --prune)"
        )
        svc = {"id": "VN/LOC/01/permits/x", "endpoints": [{"method": "GET", "pth": "/x"}]}
        r = await c.post("/admin/services", json=svc, headers=ADMIN_H)
        assert r.status_code == 422
        assert "body.endpoints.0.pth: unknown key 'pth' (did you mean 'path'?)" in r.text
        r = await c.post("/admin/keys/1/rotate", json={"grace": 60}, headers=ADMIN_H)
        assert r.status_code == 422
        assert r.json()["detail"] == (
            "body.grace: unknown key 'grace' (did you mean 'grace_seconds'?); allowed: "
            "grace_seconds"
        )


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        ("VN/LOC/02", "02 was a province code before the merger of 1 July 2025"),
        ("VN/LOC/HN", "VN/LOC/HN: a local government member's code is its province's"),
        ("VN/COM/0101234567", "VN/COM/0101234567: 0101234567 is no enterprise code"),
    ],
)
async def test_a_member_code_no_agency_has_is_warned_about(
    member: str, expected: str, db_url: str
) -> None:
    from tests.registry.test_yaml import _apply

    result = await _apply(db_url, f"members:\n  - id: {member}\n    name: Thử nghiệm\n")
    assert result.created == 1
    assert any(expected in w for w in result.warnings), result.warnings


async def test_members_of_real_codes_apply_without_a_warning(db_url: str) -> None:
    from tests.registry.test_yaml import _apply

    text = (
        "members:\n  - id: VN/LOC/01\n    name: UBND TP. Hà Nội\n"
        "  - id: VN/LOC/79\n    name: UBND TP. Hồ Chí Minh\n"
        "  - id: VN/COM/0101234565\n    name: Ngân hàng\n"
        "  - id: VN/GOV/BCA\n    name: Bộ Công an\n"
    )
    assert (await _apply(db_url, text)).warnings == []


async def test_a_service_with_nowhere_to_forward_is_warned_about(db_url: str) -> None:
    from tests.registry.test_yaml import _apply

    text = (
        "members:\n  - id: VN/LOC/01\n    name: UBND TP. Hà Nội\n"
        "subsystems:\n  - id: VN/LOC/01/mot-cua\n"
        "  - id: VN/LOC/01/permits\n    base_url: http://127.0.0.1:9\n"
        "services:\n  - id: VN/LOC/01/mot-cua/record-lookup\n"
        "  - id: VN/LOC/01/permits/record-lookup\n"
    )
    result = await _apply(db_url, text)
    assert result.warnings == [
        "VN/LOC/01/mot-cua/record-lookup: neither it nor its subsystem VN/LOC/01/mot-cua has "
        "a base_url, so its calls answer 502 until one is given (a provider's subsystem has "
        "base_url: http://...; a client's has none)"
    ]
    # Given one of its own, it goes quiet.
    fixed = "services:\n  - id: VN/LOC/01/mot-cua/record-lookup\n    base_url: http://h:1\n"
    assert (await _apply(db_url, fixed)).warnings == []


async def test_a_name_is_kept_in_nfc_whether_it_came_composed_or_not(db_url: str) -> None:
    from tests.registry.test_yaml import _apply, _export

    composed = "members:\n  - id: VN/LOC/01\n    name: UBND TP. Hà Nội\n"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    await _apply(db_url, decomposed)
    assert (await _export(db_url))["members"][0]["name"] == "UBND TP. Hà Nội"
    # The same name, as another editor saved it, changes nothing.
    again = await _apply(db_url, composed)
    assert (again.updated, again.unchanged) == (0, 1)


def test_an_identifier_with_diacritics_says_how_to_write_it() -> None:
    text = "subsystems:\n  - id: VN/LOC/01/một-cửa-đô-thị\n"
    with pytest.raises(RegistryFileError) as info:
        registry.parse_documents([("reg.yaml", text)])
    assert "invalid part 'một-cửa-đô-thị'" in str(info.value)
    assert "without diacritics: 'mot-cua-do-thi'" in str(info.value)


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (
            "{type: objekt}",
            "request_schema is not a valid JSON Schema: at type: 'objekt' is no JSON Schema "
            "type; use array, boolean, integer, null, number, object or string (or a list of "
            "them)",
        ),
        (
            "{type: object, properties: {name: {type: string, minLength: '1'}}}",
            "at properties.name.minLength: '1' is not of type 'integer'",
        ),
        (
            "{type: object, properties: {a: {type: [string, strin]}}}",
            "at properties.a.type: ['string', 'strin'] is no JSON Schema type",
        ),
        ("{required: name}", "at required: 'name' is not of type 'array'"),
        (
            "{pattern: '^\\p{L}+$'}",
            "at pattern: '^\\\\p{L}+$' is not a 'regex' (the hub's are Python's regular "
            "expressions: no \\p{...} classes)",
        ),
    ],
    ids=["type", "nested", "type list", "required", "pattern"],
)
def test_a_request_schema_refused_says_where_in_it(schema: str, expected: str) -> None:
    text = f"services:\n  - id: VN/LOC/01/permits/record-create\n    request_schema: {schema}\n"
    with pytest.raises(RegistryFileError) as info:
        registry.parse_documents([("reg.yaml", text)])
    assert "reg.yaml:3: services[0].request_schema: " in str(info.value)
    assert expected in str(info.value)


async def test_files_may_declare_the_same_entry_alike_but_not_differently(db_url: str) -> None:
    # The provider's file and the client's both declare their agency: one member.
    permits = "members:\n  - id: VN/LOC/01\n    name: UBND TP. Hà Nội\n"
    client = permits + "subsystems:\n  - id: VN/LOC/01/mot-cua\n"
    doc = registry.parse_documents([("permits.yaml", permits), ("client.yaml", client)])
    assert [m.id for m in doc.members] == ["VN/LOC/01"]
    other = client.replace("UBND TP. Hà Nội", "Thành phố Hà Nội")
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            result = await registry.apply(session, doc)
            assert (result.created, result.unchanged) == (2, 0)
            doc = registry.parse_documents([("permits.yaml", permits), ("client.yaml", other)])
            with pytest.raises(RegistryFileError) as info:
                await registry.apply(session, doc)
    finally:
        await engine.dispose()
    assert str(info.value) == (
        "client.yaml:2: members[0]: VN/LOC/01 appears twice (also at permits.yaml:2), "
        "with another name: declare it once, or alike in every file"
    )


async def test_an_entry_posted_alone_answers_the_warnings_apply_gives(
    db_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        r = await c.post(
            "/admin/members", json={"id": "VN/LOC/02", "name": "Hà Giang"}, headers=ADMIN_H
        )
        assert r.status_code == 201, r.text
        assert r.json() == {
            "id": "VN/LOC/02",
            "name": "Hà Giang",
            "enabled": True,
            "warnings": member_code_warnings(["VN/LOC/02"]),
        }
        assert "02 was a province code before the merger" in r.json()["warnings"][0]
        r = await c.post(
            "/admin/members", json={"id": "VN/LOC/01", "name": "Hà Nội"}, headers=ADMIN_H
        )
        assert r.status_code == 201 and r.json()["warnings"] == [], r.text
        r = await c.post("/admin/subsystems", json={"id": "VN/LOC/01/mot-cua"}, headers=ADMIN_H)
        assert r.status_code == 201 and r.json()["warnings"] == [], r.text
        svc = {"id": "VN/LOC/01/mot-cua/record-lookup"}
        r = await c.post("/admin/services", json=svc, headers=ADMIN_H)
        assert r.status_code == 201, r.text
        assert r.json()["id"] == svc["id"]
        assert r.json()["warnings"] == [
            "VN/LOC/01/mot-cua/record-lookup: neither it nor its subsystem VN/LOC/01/mot-cua has "
            "a base_url, so its calls answer 502 until one is given (a provider's subsystem has "
            "base_url: http://...; a client's has none)"
        ]


async def test_a_parameter_written_as_other_frameworks_do_is_warned_about(db_url: str) -> None:
    # Express's /records/:id is a legal segment, the text ":id": every call to /records/R1
    # was refused as an endpoint the service does not offer.
    from tests.registry.test_yaml import _apply

    text = (
        "members:\n  - id: VN/LOC/01\n    name: UBND TP. Hà Nội\n"
        "subsystems:\n  - id: VN/LOC/01/permits\n    base_url: http://127.0.0.1:9\n"
        "services:\n  - id: VN/LOC/01/permits/record-lookup\n"
        "    endpoints:\n      - {method: GET, path: '/records/:id/files/:file_no'}\n"
    )
    result = await _apply(db_url, text)
    assert result.created == 3
    assert result.warnings == [
        "VN/LOC/01/permits/record-lookup: GET /records/:id/files/:file_no takes ':id' and "
        "':file_no' as text, matched only as written; a parameter is written {id}"
    ]
    fixed = text.replace(":id/files/:file_no", "{id}/files/{file_no}")
    assert (await _apply(db_url, fixed)).warnings == []
