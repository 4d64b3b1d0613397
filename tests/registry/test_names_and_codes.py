"""Names a person reads (members', subsystems') are never blank; service codes that the
gateway keeps for its metaservices are refused, since such a service could never be called."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.kit.manifest import RESERVED_CODES as KIT_RESERVED
from connectors.kit.manifest import ServiceSpec
from hub.gateway.paths import METASERVICES
from hub.registry import service as registry
from hub.registry.schemas import RESERVED_CODES
from hub.registry.yamlio import RegistryFileError
from tests.support import ADMIN, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}


def test_the_reserved_codes_are_the_gateways_metaservices() -> None:
    assert RESERVED_CODES == KIT_RESERVED == METASERVICES


@pytest.mark.parametrize("code", sorted(METASERVICES))
async def test_a_metaservice_name_is_no_service_code(
    code: str, db_url: str, tmp_path: Path
) -> None:
    text = f"services:\n  - id: VN/GOV/BCA/population/{code}\n"
    with pytest.raises(RegistryFileError) as info:
        registry.parse_documents([("reg.yaml", text)])
    assert f"reg.yaml:2: services[0].id: service code '{code}' is the name of an X-Road " in str(
        info.value
    )
    assert "could never be called; choose another code" in str(info.value)
    with pytest.raises(ValueError, match="metaservice's name"):
        ServiceSpec(code=code, method="GET", path="/x", description="x")
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        for path, body in (
            ("/admin/members", {"id": "VN/GOV/BCA", "name": "B"}),
            (
                "/admin/subsystems",
                {"id": "VN/GOV/BCA/population", "base_url": "http://127.0.0.1:9"},
            ),
        ):
            assert (await c.post(path, json=body, headers=ADMIN_H)).status_code == 201
        r = await c.post(
            "/admin/services", json={"id": f"VN/GOV/BCA/population/{code}"}, headers=ADMIN_H
        )
        assert r.status_code == 422 and "metaservice" in r.json()["detail"], r.text
        assert (await c.get("/admin/services", headers=ADMIN_H)).json() == []
        # Only the whole code is kept: one that begins alike is a service like any other.
        r = await c.post(
            "/admin/services", json={"id": f"VN/GOV/BCA/population/{code}-v2"}, headers=ADMIN_H
        )
        assert r.status_code == 201, r.text


async def test_member_and_subsystem_names_are_never_blank(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        for body in (
            {"id": "VN/GOV/BCA"},
            {"id": "VN/GOV/BCA", "name": "  "},
            {"id": "VN/GOV/BCA", "name": ""},
        ):
            r = await c.post("/admin/members", json=body, headers=ADMIN_H)
            assert r.status_code == 422 and "body.name" in r.json()["detail"], (body, r.text)
        assert (await c.get("/admin/members", headers=ADMIN_H)).json() == []
        r = await c.post(
            "/admin/members", json={"id": "VN/GOV/BCA", "name": "Bộ Công an"}, headers=ADMIN_H
        )
        assert r.status_code == 201
        for name in ("  ", "", "\t"):
            r = await c.patch("/admin/members/VN/GOV/BCA", json={"name": name}, headers=ADMIN_H)
            assert r.status_code == 422, (name, r.text)
            assert "a member's name cannot be blank: give the agency's name" in r.json()["detail"]

        # A subsystem's name is optional (clients in the docs have none): only spaces are refused.
        r = await c.post(
            "/admin/subsystems", json={"id": "VN/GOV/BCA/x", "name": " "}, headers=ADMIN_H
        )
        assert r.status_code == 422 and "name is only whitespace" in r.json()["detail"]
        r = await c.post("/admin/subsystems", json={"id": "VN/GOV/BCA/x"}, headers=ADMIN_H)
        assert r.status_code == 201
        r = await c.patch("/admin/subsystems/VN/GOV/BCA/x", json={"name": "   "}, headers=ADMIN_H)
        assert r.status_code == 422 and "name is only whitespace" in r.json()["detail"]
        r = await c.patch(
            "/admin/subsystems/VN/GOV/BCA/x", json={"name": "Hệ thống"}, headers=ADMIN_H
        )
        assert r.status_code == 200 and r.json()["name"] == "Hệ thống"
        members = (await c.get("/admin/members", headers=ADMIN_H)).json()
        assert members == [{"id": "VN/GOV/BCA", "name": "Bộ Công an", "enabled": True}]


def test_a_file_refuses_a_name_of_spaces_and_keeps_files_with_or_without_names() -> None:
    with pytest.raises(RegistryFileError) as info:
        registry.parse_documents([("reg.yaml", "members:\n  - id: VN/GOV/BCA\n    name: '  '\n")])
    assert "reg.yaml:3: members[0].name: name is only whitespace" in str(info.value)
    doc = registry.parse_documents(
        [
            (
                "reg.yaml",
                "members:\n  - id: VN/GOV/BCA\n    name: Bộ Công an\n"
                "subsystems:\n  - id: VN/GOV/BCA/client\n  - id: VN/GOV/BCA/p\n    name: ''\n",
            )
        ]
    )
    assert [m.name for m in doc.members] == ["Bộ Công an"]
    assert [s.name for s in doc.subsystems] == ["", ""]
