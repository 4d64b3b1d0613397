"""Apply is an upsert: what a file leaves out keeps its value; --prune stays within what the
files declare; --dry-run changes nothing; two services on one route are warned about."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hub.cli.main import app
from hub.registry import service as registry
from tests.registry.test_yaml import GOOD, _apply, _export
from tests.support import ADMIN, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
LOOKUP = "VN/GOV/BCA/population/citizen-lookup"


def _by_id(doc: dict, section: str, key: str) -> dict:
    return next(item for item in doc[section] if item.get("id", item.get("service")) == key)


async def test_a_partial_entry_keeps_what_it_leaves_out(db_url: str) -> None:
    await _apply(db_url, GOOD)
    before = await _export(db_url)
    partial = (
        "members:\n  - id: VN/GOV/BCA\n    enabled: false\n"
        "subsystems:\n  - id: VN/GOV/BCA/population\n    name: Dân cư (mới)\n"
        f"services:\n  - id: {LOOKUP}\n    timeout_ms: 7000\n"
        "  - id: VN/GOV/BCA/population/fresh\n"
    )
    result = await _apply(db_url, partial)
    assert (result.created, result.updated) == (1, 3), result
    assert result.changes == [
        "update member VN/GOV/BCA: enabled",
        "update subsystem VN/GOV/BCA/population: name",
        f"update service {LOOKUP}: timeout_ms",
        "create service VN/GOV/BCA/population/fresh",
    ]
    after = await _export(db_url)
    lookup = _by_id(after, "services", LOOKUP)
    # Only the timeout changed: the endpoints, personal_data... were reset to defaults before.
    assert lookup == _by_id(before, "services", LOOKUP) | {"timeout_ms": 7000}
    assert lookup["endpoints"] == [{"method": "GET", "path": "/citizens/{id}"}]
    assert lookup["personal_data"] is True
    population = _by_id(after, "subsystems", "VN/GOV/BCA/population")
    assert population["base_url"] == "http://127.0.0.1:8001"
    assert _by_id(after, "members", "VN/GOV/BCA") == {
        "id": "VN/GOV/BCA",
        "name": "Bộ Công an",
        "enabled": False,
    }
    # A new entry takes the defaults for what is left out.
    fresh = _by_id(after, "services", "VN/GOV/BCA/population/fresh")
    assert (fresh["endpoints"], fresh["timeout_ms"], fresh["personal_data"]) == ([], 10_000, False)
    # Export still comes back unchanged, and says everything.
    again = await _apply(db_url, registry.dump_yaml(after))
    assert (again.created, again.updated, again.deleted, again.changes) == (0, 0, 0, [])
    assert await _export(db_url) == after


async def test_an_export_leaves_out_a_subsystem_without_a_name(db_url: str) -> None:
    # Applied to another registry, `name: ''` blanked the name the subsystem has there.
    await _apply(
        db_url,
        "members:\n  - {id: VN/GOV/BTP, name: B}\nsubsystems:\n  - id: VN/GOV/BTP/civil-status\n",
    )
    exported = await _export(db_url)
    assert _by_id(exported, "subsystems", "VN/GOV/BTP/civil-status") == {
        "id": "VN/GOV/BTP/civil-status"
    }
    await _apply(db_url, "subsystems:\n  - {id: VN/GOV/BTP/civil-status, name: Hộ tịch}\n")
    result = await _apply(db_url, registry.dump_yaml(exported))
    assert result.changes == []
    named = _by_id(await _export(db_url), "subsystems", "VN/GOV/BTP/civil-status")
    assert named["name"] == "Hộ tịch"


async def test_a_grant_without_enabled_keeps_its_switch(db_url: str) -> None:
    await _apply(db_url, GOOD)
    grant = f"grants:\n  - client: VN/GOV/BTP/civil-status\n    service: {LOOKUP}\n"
    await _apply(db_url, grant + "    enabled: false\n")
    result = await _apply(db_url, grant)
    assert (result.updated, result.unchanged) == (0, 1)
    assert (await _export(db_url))["grants"][0]["enabled"] is False


PROVIDER_FILE = """\
members:
  - id: VN/LOC/01
    name: UBND TP. Hà Nội
subsystems:
  - id: VN/LOC/01/permits
    base_url: http://127.0.0.1:9610
services:
  - id: VN/LOC/01/permits/record-lookup
    endpoints: [{method: GET, path: "/records/{id}"}]
  - id: VN/LOC/01/permits/record-search
    endpoints: [{method: GET, path: /records}]
"""
RENAMED = PROVIDER_FILE.replace("record-lookup", "record-get").replace("{id}", "{rid}")


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def registry_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated database holding GOOD and the permits connector, with permits granted."""
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    assert _cli("db", "upgrade")[0] == 0
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "permits.yaml").write_text(PROVIDER_FILE, encoding="utf-8")
    grant = tmp_path / "grant.yaml"
    grant.write_text(
        "grants:\n  - client: VN/GOV/BTP/civil-status\n"
        "    service: VN/LOC/01/permits/record-lookup\n",
        encoding="utf-8",
    )
    for f in ("good.yaml", "permits.yaml", "grant.yaml"):
        code, out = _cli("registry", "apply", str(tmp_path / f))
        assert code == 0, out
    return tmp_path


def _exported() -> dict:
    code, out = _cli("registry", "export")
    assert code == 0, out
    return yaml.safe_load(out)


def test_a_renamed_service_is_warned_about_and_pruned_within_its_subsystem(
    registry_db: Path,
) -> None:
    renamed = registry_db / "renamed.yaml"
    renamed.write_text(RENAMED, encoding="utf-8")
    code, out = _cli("registry", "apply", str(renamed))
    assert code == 0, out
    assert (
        "warning: VN/LOC/01/permits/record-get and VN/LOC/01/permits/record-lookup both "
        "declare GET /records/{rid}"
    ) in " ".join(out.split())
    before = _exported()

    code, out = _cli("registry", "apply", "--dry-run", "--prune", str(renamed))
    assert code == 0, out
    assert out.splitlines()[:2] == [
        "would delete grant VN/GOV/BTP/civil-status -> VN/LOC/01/permits/record-lookup",
        "would delete service VN/LOC/01/permits/record-lookup",
    ]
    assert "dry run, nothing changed: would create 0, update 0, delete 2" in out
    assert _exported() == before  # nothing changed

    code, out = _cli("registry", "apply", "--prune", str(renamed))
    assert code == 0 and "deleted 2" in out and "warning" not in out, out
    after = _exported()
    # Only the old service and its grant went: the rest of the registry is untouched,
    # though the file declares none of it.
    assert [s["id"] for s in after["services"]] == [
        s["id"] for s in before["services"] if s["id"] != "VN/LOC/01/permits/record-lookup"
    ]
    assert after["members"] == before["members"]
    assert after["subsystems"] == before["subsystems"]
    assert after["grants"] == [
        g for g in before["grants"] if g["service"] != "VN/LOC/01/permits/record-lookup"
    ]


def test_prune_deletes_grants_only_between_entries_the_files_declare(registry_db: Path) -> None:
    # GOOD declares the civil-status client and citizen-lookup, and grants it: without the
    # grant, --prune takes it away; the grant to the permits service (not declared) stays.
    without = registry_db / "without.yaml"
    without.write_text(GOOD.split("grants:")[0], encoding="utf-8")
    code, out = _cli("registry", "apply", "--prune", str(without))
    assert code == 0, out
    assert f"delete grant VN/GOV/BTP/civil-status -> {LOOKUP}" in out
    assert "deleted 1," in out
    assert _exported()["grants"] == [
        {"client": "VN/GOV/BTP/civil-status", "service": "VN/LOC/01/permits/record-lookup"}
    ]


def test_apply_without_prune_notes_what_prune_would_delete(registry_db: Path) -> None:
    # An operator deleted a grant line from the registry's file and applied it: the grant
    # stayed in force, and the output ("unchanged 5") read as if the file were applied.
    without = registry_db / "without.yaml"
    without.write_text(GOOD.split("grants:")[0], encoding="utf-8")
    for dry in (["--dry-run"], []):
        code, out = _cli("registry", "apply", *dry, str(without))
        assert code == 0, out
        said = " ".join(out.split())
        assert (
            "note: the files leave out 1 grant that the registry holds within what they "
            f"declare, and it stays in force: VN/GOV/BTP/civil-status -> {LOOKUP}. apply "
            "changes only what the files give; --prune (prune=true) deletes it"
        ) in said, out
    assert {"client": "VN/GOV/BTP/civil-status", "service": LOOKUP} in _exported()["grants"]
    # A service renamed in its provider's file: the old one is left out, and stays.
    renamed = registry_db / "renamed.yaml"
    renamed.write_text(RENAMED, encoding="utf-8")
    code, out = _cli("registry", "apply", str(renamed))
    said = " ".join(out.split())
    assert code == 0, out
    assert (
        "note: the files leave out 1 service that the registry holds within what they "
        "declare, and it stays in force: VN/LOC/01/permits/record-lookup (with 1 grant)"
    ) in said, out
    # The whole registry, exported and applied back: nothing left out, nothing said.
    (registry_db / "all.yaml").write_text(_cli("registry", "export")[1], encoding="utf-8")
    code, out = _cli("registry", "apply", str(registry_db / "all.yaml"))
    assert code == 0 and "note:" not in out, out


def test_prune_all_deletes_everything_left_out_and_says_so(registry_db: Path) -> None:
    code, out = _cli(
        "registry", "apply", "--prune-all", "--dry-run", str(registry_db / "good.yaml")
    )
    assert code == 0, out
    assert "would delete member VN/LOC/01" in out
    assert "would delete subsystem VN/LOC/01/permits" in out
    code, out = _cli("registry", "apply", "--prune-all", str(registry_db / "good.yaml"))
    assert code == 0 and "deleted 5," in out, out
    assert {m["id"] for m in _exported()["members"]} == {"VN/GOV/BCA", "VN/GOV/BTP"}


def test_prune_all_refuses_a_document_with_no_entries(registry_db: Path) -> None:
    # A file all commented out, or an empty pipe (`make-registry | hub registry apply
    # --prune-all -` where the first command failed), deleted the whole registry.
    before = _exported()
    empty = registry_db / "empty.yaml"
    for text in ("# members:\n#   - id: VN/GOV/BCA\n", "", "{}\n"):
        empty.write_text(text, encoding="utf-8")
        code, out = _cli("registry", "apply", "--prune-all", str(empty))
        assert code != 0, out
        assert "holds no entries" in out and "would delete the whole registry" in out, out
    assert _exported() == before
    # Without --prune-all it changes nothing and says so, as before.
    code, out = _cli("registry", "apply", str(empty))
    assert code == 0 and "created 0, updated 0, deleted 0" in out, out
    # A whole registry emptied on purpose says so with its sections.
    empty.write_text("members: []\n", encoding="utf-8")
    code, out = _cli("registry", "apply", "--prune-all", "--dry-run", str(empty))
    assert code == 0 and "would delete member VN/GOV/BCA" in out, out


async def test_the_admin_api_refuses_prune_all_of_an_empty_document(
    db_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        r = await c.put("/admin/registry", json=yaml.safe_load(PROVIDER_FILE), headers=ADMIN_H)
        assert r.status_code == 200, r.text
        yaml_h = {**ADMIN_H, "Content-Type": "application/yaml"}
        for body in ("# all commented out\n", ""):
            r = await c.put("/admin/registry?prune_all=true", content=body, headers=yaml_h)
            assert r.status_code == 422, r.text
            assert "would delete the whole registry" in r.json()["detail"], r.text
        r = await c.put("/admin/registry?prune_all=true", json={}, headers=ADMIN_H)
        assert r.status_code == 422, r.text
        services = (await c.get("/admin/services", headers=ADMIN_H)).json()
        assert services, "nothing was deleted"


async def test_the_admin_api_applies_with_dry_run_prune_and_warnings(
    db_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        doc = yaml.safe_load(PROVIDER_FILE)
        r = await c.put("/admin/registry", json=doc, headers=ADMIN_H)
        assert r.status_code == 200 and r.json()["warnings"] == [], r.text
        renamed = yaml.safe_load(RENAMED)
        r = await c.put("/admin/registry?dry_run=true&prune=true", json=renamed, headers=ADMIN_H)
        answer = r.json()
        assert answer["dry_run"] is True and answer["changes"] == [
            "create service VN/LOC/01/permits/record-get",
            "delete service VN/LOC/01/permits/record-lookup",
        ]
        services = (await c.get("/admin/services", headers=ADMIN_H)).json()
        assert [s["id"] for s in services] == [
            "VN/LOC/01/permits/record-lookup",
            "VN/LOC/01/permits/record-search",
        ]
        r = await c.put("/admin/registry", json=renamed, headers=ADMIN_H)
        assert r.json()["dry_run"] is False
        assert r.json()["warnings"] == [
            "VN/LOC/01/permits/record-get and VN/LOC/01/permits/record-lookup both declare "
            "GET /records/{rid}: if one of them was renamed, delete the old one (`hub registry "
            "apply --prune` with the provider's file, or DELETE /admin/services/ID)"
        ]


def test_prune_notes_the_grants_it_leaves_to_clients_the_file_does_not_declare(
    registry_db: Path,
) -> None:
    # The connector's file once listed the grant to a client it does not declare; the line
    # deleted, --prune leaves the grant (not the file's to delete), and says so.
    civil = "VN/GOV/BTP/civil-status -> VN/LOC/01/permits/record-lookup"
    with_grant = registry_db / "with-grant.yaml"
    with_grant.write_text(
        PROVIDER_FILE + "grants:\n  - client: VN/GOV/BTP/civil-status\n"
        "    service: VN/LOC/01/permits/record-lookup\n",
        encoding="utf-8",
    )
    code, out = _cli("registry", "apply", "--prune", str(with_grant))
    assert code == 0 and "note:" not in out, out  # the file lists it: nothing to say
    for dry in (["--dry-run"], []):
        code, out = _cli("registry", "apply", "--prune", *dry, str(registry_db / "permits.yaml"))
        assert code == 0, out
        said = " ".join(out.split())
        assert "delete 0" in said or "deleted 0" in said, out
        assert (
            "note: --prune leaves 1 grant between an entry the files declare and one they "
            f"do not: {civil}"
        ) in said, out
        assert "DELETE /admin/grants?client=VN/GOV/BTP/civil-status" in said, out
    grants = _exported()["grants"]
    assert {"client": "VN/GOV/BTP/civil-status", "service": "VN/LOC/01/permits/record-lookup"} in (
        grants
    )
    # Without --prune, nothing is pruned and nothing said.
    code, out = _cli("registry", "apply", str(registry_db / "permits.yaml"))
    assert code == 0 and "note:" not in out, out


async def test_the_admin_api_notes_what_prune_leaves(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        doc = yaml.safe_load(PROVIDER_FILE)
        r = await c.put("/admin/registry", json=yaml.safe_load(GOOD), headers=ADMIN_H)
        r = await c.put("/admin/registry", json=doc, headers=ADMIN_H)
        grant = {"client": "VN/GOV/BTP/civil-status", "service": "VN/LOC/01/permits/record-lookup"}
        r = await c.post("/admin/grants", json=grant, headers=ADMIN_H)
        assert r.status_code == 201, r.text
        r = await c.put("/admin/registry?prune=true", json=doc, headers=ADMIN_H)
        assert r.status_code == 200 and r.json()["deleted"] == 0, r.text
        assert len(r.json()["notes"]) == 1, r.text
        assert "VN/GOV/BTP/civil-status -> VN/LOC/01/permits/record-lookup" in r.json()["notes"][0]
        r = await c.put("/admin/registry", json=doc, headers=ADMIN_H)
        assert r.json()["notes"] == [], r.text


async def test_three_services_on_one_route_are_named_in_one_sentence(db_url: str) -> None:
    three = PROVIDER_FILE + "".join(
        f"  - id: VN/LOC/01/permits/copy-{n}\n    endpoints: [{{method: GET, path: /records}}]\n"
        for n in (1, 2)
    )
    result = await _apply(db_url, three)
    assert result.warnings[0].startswith(
        "VN/LOC/01/permits/copy-1, VN/LOC/01/permits/copy-2 and "
        "VN/LOC/01/permits/record-search all declare GET /records: "
    ), result.warnings


def test_a_note_on_many_left_out_entries_names_five_and_counts_the_rest() -> None:
    from types import SimpleNamespace

    from hub.registry.prune import left_grants, left_out
    from hub.registry.schemas import RegistryDoc

    sub = "VN/LOC/01/permits"
    doc = RegistryDoc.model_validate({"subsystems": [{"id": sub}]})
    stored = {f"{sub}/s{i}": SimpleNamespace(subsystem_id=sub) for i in range(7)}
    [note] = left_out(doc, stored, [])
    assert f"{sub}/s0; {sub}/s1; {sub}/s2; {sub}/s3; {sub}/s4 (and 2 more). apply" in note
    grants = [(sub, f"VN/GOV/BCA/population/q{i}") for i in range(6)]
    [note] = left_grants(doc, grants)
    assert f"{sub} -> VN/GOV/BCA/population/q4 (and 1 more). --prune deletes" in note
