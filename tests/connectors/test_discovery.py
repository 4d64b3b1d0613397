"""Discovery, registry entries in the contracts.md format, and the demo registry."""

from __future__ import annotations

from pathlib import Path

import httpx
import jsonschema
import pytest
import yaml
from stdnum.vn import mst
from typer.testing import CliRunner

import connectors
from connectors.demo import BANK_MST, demo_registry
from hub.cli.main import app
from tests.support import ADMIN, hub_client, make_settings


def test_discovery_finds_the_agencies_in_port_order() -> None:
    names = connectors.names()
    assert names[0] == "population" and "insurance" in names
    assert connectors.get("insurance").manifest.subsystem_id == "VN/GOV/BHXH/health-insurance"
    with pytest.raises(connectors.UnknownConnector, match="known: population"):
        connectors.get("nope")


def test_registry_entry_has_the_contract_fields() -> None:
    entry = connectors.get("population").manifest.registry_entry("http://127.0.0.1:8001")
    assert entry["members"] == [{"id": "VN/GOV/BCA", "name": "Bộ Công an"}]
    assert entry["subsystems"][0]["base_url"] == "http://127.0.0.1:8001"
    services = {s["id"]: s for s in entry["services"]}
    lookup = services["VN/GOV/BCA/population/citizen-lookup"]
    assert lookup["endpoints"] == [{"method": "GET", "path": "/citizens/{id}"}]
    assert lookup["personal_data"] is True and lookup["request_schema"] is None
    assert set(lookup) == {
        "id", "description", "base_url", "service_type", "endpoints", "personal_data",
        "timeout_ms", "max_body_bytes", "request_schema",
    }  # fmt: skip
    schema = services["VN/GOV/BCA/population/citizen-verify"]["request_schema"]
    jsonschema.validate({"id": "079201000001", "full_name": "A"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"full_name": "A"}, schema)


async def test_applying_the_entry_again_keeps_what_an_operator_disabled(
    sqlite_url: str, tmp_path: Path
) -> None:
    # docs/connectors.md step 4: after a manifest change, write the file again and apply it.
    # The file said `enabled: true` for every service, so that re-enabled one an operator had
    # disabled; a new service is enabled without it.
    entry = connectors.get("insurance").manifest.registry_entry("http://127.0.0.1:8004")
    admin = {"Authorization": f"Bearer {ADMIN}"}
    service = "VN/GOV/BHXH/health-insurance/card-lookup"
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        assert (await c.put("/admin/registry", json=entry, headers=admin)).status_code == 200
        assert (await c.get(f"/admin/services/{service}", headers=admin)).json()["enabled"]
        off = await c.patch(f"/admin/services/{service}", json={"enabled": False}, headers=admin)
        assert off.status_code == 200, off.text
        again = await c.put("/admin/registry", json=entry, headers=admin)
        assert again.status_code == 200 and again.json()["changes"] == [], again.text
        assert not (await c.get(f"/admin/services/{service}", headers=admin)).json()["enabled"]


def test_demo_registry_grants_only_what_exists() -> None:
    assert mst.is_valid(BANK_MST)
    doc = demo_registry({"population": "http://p", "insurance": "http://i"})
    services = {s["id"] for s in doc["services"]}
    assert all(g["service"] in services for g in doc["grants"])
    assert all(not s.startswith("VN/GOV/BTC/") for s in services)
    bank = {g["service"] for g in doc["grants"] if g["client"] == f"VN/COM/{BANK_MST}/ekyc"}
    assert bank == {
        "VN/GOV/BCA/population/citizen-verify",
        "VN/GOV/BCA/population/citizen-search",
        "VN/GOV/BCA/population/citizen-batch-lookup",  # batch KYC of its customers
    }
    ids = [m["id"] for m in doc["members"]]
    assert len(ids) == len(set(ids)) and "VN/GOV/BTP" in ids


def test_demo_registry_with_every_connector() -> None:
    urls = {name: f"http://127.0.0.1:{8001 + i}" for i, name in enumerate(connectors.names())}
    doc = demo_registry(urls)
    subsystems = {s["id"] for s in doc["subsystems"]}
    assert {g["client"] for g in doc["grants"]} <= subsystems
    civil = {g["service"] for g in doc["grants"] if g["client"] == "VN/GOV/BTP/civil-status"}
    assert "VN/GOV/BHXH/health-insurance/card-issue" in civil
    assert "VN/GOV/BCA/population/citizen-verify" not in civil
    assert "VN/GOV/BCA/population/citizen-batch-lookup" in civil
    portal = {g["service"] for g in doc["grants"] if g["client"] == "VN/LOC/79/one-stop-portal"}
    assert "VN/GOV/BNNMT/land-registry/parcel-batch-lookup" in portal
    assert yaml.safe_load(yaml.safe_dump(doc, allow_unicode=True)) == doc


def test_cli_registry_prints_yaml_and_unknown_name_exits_2() -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["connectors", "registry", "insurance", "--base-url", "http://127.0.0.1:8004"]
    )
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load(result.stdout)
    assert doc["subsystems"][0]["base_url"] == "http://127.0.0.1:8004"
    unknown = runner.invoke(app, ["mock", "nope"])
    assert unknown.exit_code == 2 and "no connector named 'nope'" in unknown.output
    # A name a letter or a capital off was listed with the others, left to spot.
    for given, meant in (("insurace", "insurance"), ("Population", "population")):
        near = runner.invoke(app, ["mock", given])
        assert near.exit_code == 2
        assert f"no connector named {given!r} (did you mean {meant!r}?); known: " in near.output
    listed = runner.invoke(app, ["connectors", "list"])
    assert listed.exit_code == 0 and "VN/GOV/BCA/population" in listed.stdout


@pytest.mark.parametrize(
    ("name", "path"),
    [("population", "/citizens"), ("business", "/enterprises"), ("land", "/parcels")],
)
async def test_a_search_by_a_province_that_is_no_more_says_so(name: str, path: str) -> None:
    # "02" was Hà Giang until the 2025 merger: the search answered an empty page (and a
    # cursor to more of them) instead of saying which codes exist.
    app = connectors.get(name).create_app(seed=42, size=2000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as client:
        refused = await client.get(path, params={"province": "02"})
        found = await client.get(path, params={"province": "79", "limit": 3})
    assert refused.status_code == 422
    assert "province '02' is not one of the 34 province codes" in refused.text
    assert "79" in refused.json()["message"]  # the codes that do exist are listed
    assert found.status_code == 200
    assert found.json()["items"]


async def test_a_search_by_an_unknown_commune_says_so() -> None:
    # Five digits that name no commune (say a pre-2025 district's code) matched nothing: the
    # land search answered an empty page, as if the commune had no parcels.
    app = connectors.get("land").create_app(seed=42, size=2000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://land") as client:
        refused = await client.get("/parcels", params={"commune": "99999"})
        known = (await client.get("/parcels", params={"limit": 1})).json()["items"][0]["commune"]
        found = await client.get("/parcels", params={"commune": known, "limit": 3})
    assert refused.status_code == 422
    assert refused.json() == {
        "type": "InvalidRequest",
        "message": "commune '99999' is not a commune code in force since the 2025 merger: "
        "give one of its 5-digit codes, e.g. 23701 (Phường Sài Gòn, province 79)",
    }
    assert found.status_code == 200
    assert [p["commune"] for p in found.json()["items"]] == [known] * 3


@pytest.mark.parametrize(
    ("name", "code", "statuses"),
    [
        ("population", "citizen-lookup", {"200", "400", "404", "422"}),
        ("population", "household-lookup", {"200", "400", "404", "422"}),
        ("population", "birth-registration", {"201", "404", "409", "422"}),
        ("population", "death-registration", {"200", "404", "409", "422"}),
        ("population", "residence-registration", {"200", "404", "409", "422"}),
        ("business", "enterprise-lookup", {"200", "400", "404", "422"}),
        ("business", "enterprise-registration", {"201", "404", "409", "422", "502"}),
        ("land", "parcel-lookup", {"200", "400", "404", "422"}),
        ("land", "land-transfer", {"201", "400", "404", "422", "502"}),
        ("insurance", "card-lookup", {"200", "400", "404", "422"}),
        ("insurance", "card-issue", {"201", "404", "409", "422"}),
    ],
)
def test_openapi_declares_every_status_a_service_answers(
    name: str, code: str, statuses: set[str]
) -> None:
    # The documents said 404 and 422 only, while a birth registered twice answers 409, a
    # malformed enterprise code 400 and a check through the hub that fails 502: a client
    # generated from them had no model for those answers.
    doc = connectors.get(name).create_app(size=1000).openapi()
    spec = connectors.get(name).manifest.service(code)
    responses = doc["paths"][spec.path][spec.method.lower()]["responses"]
    assert set(responses) == statuses
    for status in statuses - {str(spec.status_code)}:
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema["$ref"] in ("#/components/schemas/Problem", "#/components/schemas/NotFound")
