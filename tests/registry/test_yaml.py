"""Declarative registry: apply is idempotent, export round-trips, bad files name the line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hub.cli.main import app
from hub.core.db import create_engine, session_factory
from hub.registry import service as registry
from hub.registry.yamlio import RegistryFileError

GOOD = """\
members:
  - id: VN/GOV/BCA
    name: Bộ Công an
  - id: VN/GOV/BTP
    name: Bộ Tư pháp
subsystems:
  - id: VN/GOV/BCA/population
    name: Dân cư
    base_url: http://127.0.0.1:8001
  - id: VN/GOV/BTP/civil-status
services:
  - id: VN/GOV/BCA/population/citizen-lookup
    endpoints:
      - {method: GET, path: "/citizens/{id}"}
    personal_data: true
    timeout_ms: 5000
  - id: VN/GOV/BCA/population/citizen-verify
    endpoints:
      - {method: post, path: /citizens/verify}
    request_schema:
      type: object
      required: [id]
grants:
  - client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/citizen-lookup
"""


def _new_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HUB_DATABASE_URL at a new database: `registry apply` makes none of its own."""
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output


async def _apply(url: str, text: str, prune: bool = False) -> registry.ApplyResult:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            result = await registry.apply(
                session, registry.parse_documents([("reg.yaml", text)]), prune=prune
            )
            await session.commit()
            return result
    finally:
        await engine.dispose()


async def _export(url: str) -> dict:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return await registry.export(session)
    finally:
        await engine.dispose()


async def test_apply_twice_changes_nothing_and_export_round_trips(db_url: str) -> None:
    first = await _apply(db_url, GOOD)
    assert first.created == 7 and first.updated == 0
    second = await _apply(db_url, GOOD)
    assert (second.created, second.updated, second.deleted) == (0, 0, 0)
    assert second.unchanged == 7

    exported = await _export(db_url)
    assert exported["services"][1]["endpoints"] == [{"method": "POST", "path": "/citizens/verify"}]
    assert exported["subsystems"][0]["base_url"] == "http://127.0.0.1:8001"
    again = await _apply(db_url, registry.dump_yaml(exported))
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
    assert await _export(db_url) == exported
    # Applied to a registry where an operator disabled a service, the export (of a
    # registry where it is enabled) leaves it disabled, as it does subsystems.
    assert all("enabled" not in s and None not in s.values() for s in exported["services"])
    first_service = exported["services"][0]["id"]
    await _apply(db_url, f"services:\n  - id: {first_service}\n    enabled: false\n")
    await _apply(db_url, registry.dump_yaml(exported))
    [off] = [s for s in (await _export(db_url))["services"] if s["id"] == first_service]
    assert off["enabled"] is False


async def test_change_and_prune(db_url: str) -> None:
    await _apply(db_url, GOOD)
    changed = GOOD.replace("timeout_ms: 5000", "timeout_ms: 7000")
    result = await _apply(db_url, changed)
    assert result.updated == 1 and result.created == 0
    without_verify = changed.split("  - id: VN/GOV/BCA/population/citizen-verify")[0] + (
        "grants:\n  - client: VN/GOV/BTP/civil-status\n"
        "    service: VN/GOV/BCA/population/citizen-lookup\n"
    )
    result = await _apply(db_url, without_verify, prune=True)
    assert result.deleted == 1
    services = [s["id"] for s in (await _export(db_url))["services"]]
    assert services == ["VN/GOV/BCA/population/citizen-lookup"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("    personal_data: true", "    personal: true"),
            "reg.yaml:15: services[0].personal: unknown key 'personal'",
        ),
        (GOOD.replace("      - {method: GET", "      - {method: FETCH"), "reg.yaml:14"),
        (
            GOOD.replace(
                "VN/GOV/BCA/population/citizen-lookup\n    endpoints",
                "VN/GOV/BCA/pop ulation/citizen-lookup\n    endpoints",
            ),
            "invalid part 'pop ulation'",
        ),
        ("members: [\n", "reg.yaml:2: not valid YAML"),
        ("- just a list\n", "a registry file is a mapping"),
        (
            GOOD.replace("base_url: http://127.0.0.1:8001", "base_url: ftp://x"),
            "base_url 'ftp://x' must start with http:// or https://",
        ),
        (
            GOOD.replace("base_url: http://127.0.0.1:8001", "base_url: http://127.0.0.1:99999"),
            "base_url 'http://127.0.0.1:99999' has a port out of range (1-65535)",
        ),
        (
            GOOD.replace("      required: [id]", "      required: 5"),
            "request_schema is not a valid JSON Schema",
        ),
        (
            GOOD.replace("path: /citizens/verify}", 'path: "/citizens/verify\\n"}'),
            "has an invalid segment 'verify\\n'",
        ),
    ],
    ids=[
        "unknown key",
        "bad method",
        "bad id",
        "bad yaml",
        "not a mapping",
        "bad url",
        "bad port",
        "bad schema",
        "newline in a path",
    ],
)
def test_bad_files_are_refused_with_where_and_what(text: str, expected: str) -> None:
    with pytest.raises(RegistryFileError) as info:
        registry.parse_documents([("reg.yaml", text)])
    assert expected in str(info.value)


def test_cli_apply_export_and_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _new_db(tmp_path, monkeypatch)
    reg = tmp_path / "reg.yaml"
    reg.write_text(GOOD, encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["registry", "apply", str(reg)])
    assert result.exit_code == 0, result.output
    assert "created 7" in result.output
    result = runner.invoke(app, ["registry", "apply", str(reg)])
    assert "created 0, updated 0, deleted 0, unchanged 7" in result.output

    result = runner.invoke(app, ["registry", "export"])
    assert result.exit_code == 0
    doc = yaml.safe_load(result.output)
    assert {m["id"] for m in doc["members"]} == {"VN/GOV/BCA", "VN/GOV/BTP"}

    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("timeout_ms: 5000", "timeout: 5000"), encoding="utf-8")
    result = runner.invoke(app, ["registry", "apply", str(bad)])
    assert result.exit_code == 2
    assert "unknown key 'timeout'" in result.output and "bad.yaml:16" in result.output
    result = runner.invoke(app, ["registry", "apply", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2 and "no such file" in result.output
    result = runner.invoke(app, ["registry", "apply", str(tmp_path)])
    assert result.exit_code == 2 and "is a folder" in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            GOOD.replace("  - id: VN/GOV/BTP/civil-status\n", ""),
            "reg.yaml:23: grants[0]: grant VN/GOV/BTP/civil-status -> "
            "VN/GOV/BCA/population/citizen-lookup: unknown client VN/GOV/BTP/civil-status",
        ),
        (
            GOOD.replace("  - id: VN/GOV/BTP\n    name: Bộ Tư pháp\n", ""),
            "reg.yaml:8: subsystems[1]: subsystem VN/GOV/BTP/civil-status: its member "
            "VN/GOV/BTP is not declared",
        ),
        (
            GOOD + "  - client: VN/GOV/BTP/civil-status\n    service: VN/GOV/BCA/population/nope\n",
            "reg.yaml:26: grants[1]: grant VN/GOV/BTP/civil-status -> "
            "VN/GOV/BCA/population/nope: unknown service VN/GOV/BCA/population/nope",
        ),
    ],
    ids=["dangling grant client", "dangling member", "dangling service"],
)
def test_dangling_references_are_refused_with_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
) -> None:
    _new_db(tmp_path, monkeypatch)
    reg = tmp_path / "reg.yaml"
    reg.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["registry", "apply", str(reg)])
    assert result.exit_code == 2 and expected in result.output, result.output
    export = CliRunner().invoke(app, ["registry", "export"])
    assert yaml.safe_load(export.output)["members"] == []  # nothing of the file was applied


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "  - client: VN/GOV/BTP/civil-status\n",
            "  - client: VN/GOV/BTP/civil-statu\n",
            "unknown client VN/GOV/BTP/civil-statu (did you mean VN/GOV/BTP/civil-status?)",
        ),
        (
            "    service: VN/GOV/BCA/population/citizen-lookup\n",
            "    service: VN/GOV/BCA/population/citizen-lokup\n",
            "unknown service VN/GOV/BCA/population/citizen-lokup (did you mean "
            "VN/GOV/BCA/population/citizen-lookup?)",
        ),
        (
            "  - id: VN/GOV/BTP/civil-status\n",
            "  - id: VN/GOV/BPT/civil-status\n",
            "its member VN/GOV/BPT is not declared (did you mean VN/GOV/BTP?)",
        ),
        (
            "  - id: VN/GOV/BCA/population/citizen-verify\n",
            "  - id: VN/GOV/BCA/populaton/citizen-verify\n",
            "its subsystem VN/GOV/BCA/populaton is not declared (did you mean "
            "VN/GOV/BCA/population?)",
        ),
    ],
    ids=["client", "service", "member", "subsystem"],
)
def test_a_misspelt_reference_names_the_entry_it_likely_meant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, expected: str
) -> None:
    # A grant's client or service one letter off was told "unknown client ..." alone, and the
    # reader went looking for the id the registry does hold.
    _new_db(tmp_path, monkeypatch)
    reg = tmp_path / "reg.yaml"
    assert old in GOOD
    reg.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    result = CliRunner().invoke(app, ["registry", "apply", str(reg)])
    assert result.exit_code == 2 and expected in " ".join(result.output.split()), result.output


def test_a_misspelt_reference_is_matched_against_the_registry_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _new_db(tmp_path, monkeypatch)
    (tmp_path / "reg.yaml").write_text(GOOD, encoding="utf-8")
    assert CliRunner().invoke(app, ["registry", "apply", str(tmp_path / "reg.yaml")]).exit_code == 0
    grants = tmp_path / "grants.yaml"
    grants.write_text(
        "grants:\n  - client: VN/GOV/BTP/civil-status\n"
        "    service: VN/GOV/BCA/population/citizen-verfy\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["registry", "apply", str(grants)])
    said = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "(did you mean VN/GOV/BCA/population/citizen-verify?)" in said, said
    # Nothing near: no guess.
    grants.write_text(
        "grants:\n  - client: VN/GOV/BTP/civil-status\n    service: VN/COM/0101234565/x/y\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["registry", "apply", str(grants)])
    assert result.exit_code == 2 and "did you mean" not in result.output, result.output


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "grants:\n  - client: VN/GOV/BTP/civil-status\n    service:",
            "grants:\n  client: VN/GOV/BTP/civil-status\n  service:",
            "reg.yaml:24: grants: must be a list: start each entry with '- ' (got a mapping)",
        ),
        (
            '      - {method: GET, path: "/citizens/{id}"}\n',
            '      method: GET\n      path: "/citizens/{id}"\n',
            "reg.yaml:14: services[0].endpoints: must be a list: start each entry with '- ' "
            "(got a mapping)",
        ),
    ],
    ids=["section", "endpoints"],
)
def test_a_list_written_without_its_dashes_says_to_add_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, expected: str
) -> None:
    # "Input should be a valid list (got a mapping)" named pydantic's type, not the dash.
    _new_db(tmp_path, monkeypatch)
    assert old in GOOD
    reg = tmp_path / "reg.yaml"
    reg.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    result = CliRunner().invoke(app, ["registry", "apply", str(reg)])
    assert result.exit_code == 2 and expected in result.output, result.output


def test_a_file_may_refer_to_what_the_registry_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _new_db(tmp_path, monkeypatch)
    (tmp_path / "reg.yaml").write_text(GOOD, encoding="utf-8")
    assert CliRunner().invoke(app, ["registry", "apply", str(tmp_path / "reg.yaml")]).exit_code == 0
    more = tmp_path / "more.yaml"
    more.write_text(
        "members:\n  - id: VN/GOV/NEW1\n    name: N\nsubsystems:\n  - id: VN/GOV/NEW1/app\n"
        "grants:\n  - client: VN/GOV/NEW1/app\n    service: VN/GOV/BCA/population/citizen-verify\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["registry", "apply", str(more)])
    assert result.exit_code == 0 and "created 3" in result.output, result.output
    # --prune stays within what the file declares: the granted service is another provider's.
    result = CliRunner().invoke(app, ["registry", "apply", "--prune", str(more)])
    assert result.exit_code == 0 and "deleted 0, unchanged 3" in result.output, result.output
    # With --prune-all the file must stand alone: the service would be deleted under the grant.
    result = CliRunner().invoke(app, ["registry", "apply", "--prune-all", str(more)])
    assert result.exit_code == 2 and "more.yaml:7: grants[0]" in result.output, result.output
