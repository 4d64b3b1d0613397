"""Values the admin API and the registry files take only as written: a boolean is true or
false (not "no", 0 or "off"), a key's end is ISO 8601 text (not a Unix time), and a label
or a name is one line of text (no newline, no escape sequence)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.registry import service as registry
from hub.registry.yamlio import RegistryFileError
from tests.registry.registries import ADMIN_H, CLIENT, SERVICE, small_registry
from tests.support import hub_client, make_settings

DOC = small_registry(grants=[{"client": CLIENT, "service": SERVICE}])
GRANT = {"client": CLIENT, "service": SERVICE}


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        # Each was taken as false (or true): "no", 0 and "off" switched entries off.
        ("PATCH", f"/admin/services/{SERVICE}", {"enabled": "no"}, "body.enabled"),
        ("PATCH", f"/admin/services/{SERVICE}", {"personal_data": 1}, "body.personal_data"),
        ("PATCH", f"/admin/services/{SERVICE}", {"keep_bodies": "yes"}, "body.keep_bodies"),
        ("PATCH", f"/admin/subsystems/{CLIENT}", {"enabled": 0}, "body.enabled"),
        ("PATCH", "/admin/members/VN/GOV/BCA", {"enabled": "false"}, "body.enabled"),
        ("PATCH", "/admin/grants", {**GRANT, "enabled": "off"}, "body.enabled"),
        ("POST", "/admin/members", {"id": "VN/GOV/BTP", "name": "B", "enabled": 0}, "enabled"),
        ("PUT", "/admin/registry", {**DOC, "services": [{"id": SERVICE, "enabled": "no"}]},
         "body.services.0.enabled"),
    ],
)  # fmt: skip
async def test_a_boolean_field_takes_true_or_false_only(
    sqlite_url: str, tmp_path: Path, method: str, path: str, body: dict, field: str
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        assert (await c.put("/admin/registry", json=DOC, headers=ADMIN_H)).status_code == 200
        before = (await c.get("/admin/registry", headers=ADMIN_H)).json()
        r = await c.request(method, path, json=body, headers=ADMIN_H)
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert field in detail and "give true or false" in detail, detail
        assert (await c.get("/admin/registry", headers=ADMIN_H)).json() == before
        # True and false themselves are taken.
        r = await c.patch(f"/admin/services/{SERVICE}", json={"enabled": False}, headers=ADMIN_H)
        assert r.status_code == 200 and r.json()["enabled"] is False, r.text


@pytest.mark.parametrize(
    ("line", "said"),
    [
        (
            '    enabled: "no"\n',
            "reg.yaml:3: services[0].enabled: give true or false (without quotes), not 'no'",
        ),
        ("    enabled: 0\n", "reg.yaml:3: services[0].enabled: give true or false, not 0"),
        (
            "    keep_bodies: 'true'\n",
            "services[0].keep_bodies: give true or false (without quotes), not 'true'",
        ),
    ],
)
def test_a_registry_file_boolean_is_true_or_false_said_with_its_line(line: str, said: str) -> None:
    text = f"services:\n  - id: {SERVICE}\n{line}"
    with pytest.raises(RegistryFileError, match="give true or false") as caught:
        registry.parse_documents([("reg.yaml", text)])
    assert said in str(caught.value)


def test_yaml_booleans_are_still_booleans() -> None:
    # YAML's own words for true and false (no, off, yes) are booleans to its reader.
    text = f"services:\n  - id: {SERVICE}\n    enabled: no\n    keep_bodies: yes\n"
    doc = registry.parse_documents([("reg.yaml", text)])
    assert doc.services[0].enabled is False and doc.services[0].keep_bodies is True


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        # 99999999999999 was read as seconds since 1970: a key that expires in the year 5138.
        ({"expires_at": 99999999999999}, 422, "expires_at takes a time as ISO 8601 text, not 9"),
        ({"expires_at": "1900000000"}, 422, "not '1900000000': give e.g. \"2030-01-01T00:00:00Z\""),
        ({"expires_at": 1.9e9}, 422, "expires_at takes a time as ISO 8601 text"),
        # An hour 25 was "unexpected extra characters at the end of the input".
        ({"expires_at": "2099-01-01T25:00:00Z"}, 422, "expires_at '2099-01-01T25:00:00Z' is "
         "no time (hour must be in 0..23): give e.g. \"2030-01-01T00:00:00Z\""),
        ({"expires_at": "2099-02-30"}, 422, "is no time (day is out of range for month)"),
        ({"expires_at": "tomorrow"}, 422, "expires_at 'tomorrow' is no time: give e.g."),
        # What docs/gateway.md promises stays: an offset, Z, or none (UTC).
        ({"expires_at": "2099-01-01T00:00:00+07:00"}, 201, "2098-12-31T17:00:00Z"),
        ({"expires_at": "2099-01-01T00:00:00"}, 201, "2099-01-01T00:00:00Z"),
        # A newline or ESC in a label broke `hub keys list` and reached the terminal.
        ({"label": "trial\nrevoked"}, 422, "body.label: holds a control character (U+000A, "
         "LINE FEED) at position 6: give one line of text without it"),
        ({"label": "\x1b[31mred"}, 422, "(U+001B, ESCAPE) at position 1"),
        # Reordered on screen: reads as "trial" spelt backwards after the override.
        ({"label": "key \u202elairt"}, 422, "(U+202E, RIGHT-TO-LEFT OVERRIDE) at position 5"),
        ({"label": "a\u2067b\u2069"}, 422, "(U+2067, RIGHT-TO-LEFT ISOLATE) at position 2"),
        ({"label": "thử nghiệm"}, 201, "thử nghiệm"),
    ],
)  # fmt: skip
async def test_a_key_takes_its_end_as_text_and_its_label_as_one_line(
    db_url: str, tmp_path: Path, body: dict, status: int, said: str
) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        assert (await c.put("/admin/registry", json=DOC, headers=ADMIN_H)).status_code == 200
        r = await c.post("/admin/keys", json={"client": CLIENT, **body}, headers=ADMIN_H)
        assert r.status_code == status, r.text
        assert said in (r.json()["detail"] if status == 422 else r.text), r.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/admin/members", {"id": "VN/GOV/BTP", "name": "Bộ Tư pháp\n"}),
        ("PATCH", "/admin/members/VN/GOV/BCA", {"name": "Bộ\tCông an"}),
        ("PATCH", f"/admin/subsystems/{CLIENT}", {"name": "client\x1b]0;owned\x07"}),
        ("PUT", "/admin/registry", {**DOC, "members": [{"id": "VN/GOV/BCA", "name": "a\rb"}]}),
        ("PATCH", "/admin/members/VN/GOV/BCA", {"name": "B\u1ed9 C\u00f4ng an \u202e"}),
    ],
)
async def test_a_name_is_one_line(
    sqlite_url: str, tmp_path: Path, method: str, path: str, body: dict
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        assert (await c.put("/admin/registry", json=DOC, headers=ADMIN_H)).status_code == 200
        r = await c.request(method, path, json=body, headers=ADMIN_H)
        assert r.status_code == 422, r.text
        assert "name: holds a control character (U+" in r.json()["detail"], r.text
