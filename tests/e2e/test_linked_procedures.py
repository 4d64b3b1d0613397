"""Cross-agency writes really go through the hub, and mock faults reach clients as SPEC codes."""

from __future__ import annotations

import pytest

from connectors.population.dataset import DEFAULT_SIZE, citizen_at
from tests.e2e.conftest import Stack

PORTAL = "VN/LOC/79/one-stop-portal"
BANK = "VN/COM/0101234565/ekyc"
POP = "VN/GOV/BCA/population"


def adult(start: int = 0) -> dict:
    for i in range(start, start + 1000):
        c = citizen_at(42, DEFAULT_SIZE, i)
        if c["date_of_birth"] < "2000-01-01" and not c.get("date_of_death"):
            return c
    raise AssertionError("no adult citizen found")


async def test_enterprise_registration_checks_the_representative_through_the_hub(
    stack: Stack,
) -> None:
    rep = adult(10)
    body = {
        "name": "Công ty TNHH Kiểm Thử Liên Thông",
        "head_office": {
            "province": rep["permanent_address"]["province"],
            "commune": rep["permanent_address"]["commune"],
            "detail": "Số 1 Lê Lợi",
        },
        "legal_representative": {"id": rep["id"], "full_name": rep["full_name"]},
    }
    resp = await stack.http.post(
        "/r1/VN/GOV/BTC/business-registry/enterprise-registration/enterprises",
        json=body,
        headers=stack.headers(PORTAL),
    )
    assert resp.status_code == 201, resp.text
    code = resp.json()["code"]

    records = await stack.records()
    verify = [r for r in records if r["service"] == f"{POP}/citizen-verify"]
    assert len(verify) == 1
    assert verify[0]["client"] == "VN/GOV/BTC/business-registry"
    assert verify[0]["issue"] == "HS-E2E-1" and verify[0]["succeeded"]
    assert rep["id"] not in str(records)  # pseudonymised, never raw
    # The new enterprise is visible to a later read.
    resp = await stack.http.get(
        f"/r1/VN/GOV/BTC/business-registry/enterprise-lookup/enterprises/{code}",
        headers=stack.headers(PORTAL),
    )
    assert resp.status_code == 200 and resp.json()["legal_representative"]["id"] == rep["id"]

    wrong = {**body, "legal_representative": {"id": rep["id"], "full_name": "Sai Tên"}}
    resp = await stack.http.post(
        "/r1/VN/GOV/BTC/business-registry/enterprise-registration/enterprises",
        json=wrong,
        headers=stack.headers(PORTAL),
    )
    assert resp.status_code == 422 and "X-Road-Error" not in resp.headers


async def test_land_transfer_checks_both_parties_through_the_hub(stack: Stack) -> None:
    resp = await stack.http.get(
        "/r1/VN/GOV/BNNMT/land-registry/parcel-search/parcels",
        params={"province": "79", "limit": 50},
        headers=stack.headers(PORTAL),
    )
    assert resp.status_code == 200, resp.text
    parcel = next(
        p
        for p in resp.json()["items"]
        if len(p["land_users"]) == 1 and p["land_users"][0]["kind"] == "citizen"
    )
    owner_id = parcel["land_users"][0]["id"]
    owner = (
        await stack.http.get(
            f"/r1/{POP}/citizen-lookup/citizens/{owner_id}", headers=stack.headers(PORTAL)
        )
    ).json()
    buyer = adult(500)
    transfer = {
        "from": {"kind": "citizen", "id": owner_id, "name": owner["full_name"]},
        "to": {"kind": "citizen", "id": buyer["id"], "name": buyer["full_name"]},
        "certificate": {
            "code": parcel["certificate"]["code"],
            "serial": parcel["certificate"]["serial"],
        },
    }
    before = len(await stack.records())
    resp = await stack.http.post(
        f"/r1/VN/GOV/BNNMT/land-registry/land-transfer/parcels/{parcel['id']}/transfers",
        json=transfer,
        headers=stack.headers(PORTAL),
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["parcel"]["land_users"] == [{"kind": "citizen", "id": buyer["id"]}]
    new = (await stack.records())[before:]
    checks = [r for r in new if r["client"] == "VN/GOV/BNNMT/land-registry"]
    assert {r["service"] for r in checks} == {f"{POP}/citizen-verify"}
    assert len(checks) == 2 and all(r["succeeded"] for r in checks)


async def test_bank_may_verify_but_not_read(stack: Stack) -> None:
    c = adult(3)
    resp = await stack.http.post(
        f"/r1/{POP}/citizen-verify/citizens/verify",
        json={"id": c["id"], "full_name": c["full_name"], "date_of_birth": c["date_of_birth"]},
        headers=stack.headers(BANK),
    )
    assert resp.status_code == 200 and resp.json() == {"match": True}
    resp = await stack.http.get(
        f"/r1/{POP}/citizen-lookup/citizens/{c['id']}", headers=stack.headers(BANK)
    )
    assert resp.status_code == 403 and resp.headers["X-Road-Error"] == "Client.AccessDenied"


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"error_rate": 1, "error_status": 503}, 503, None),
        ({"timeout_rate": 1}, 504, "Server.ServiceTimeout"),
        ({"latency_ms": 1500}, 504, "Server.ServiceTimeout"),
        ({"reset_rate": 1}, 502, "Server.ServiceFailed"),
        ({"malformed_rate": 1}, 502, "Server.ServiceFailed"),
    ],
    ids=["error", "timeout", "slow", "reset", "malformed"],
)
async def test_mock_faults_reach_the_client_as_spec_codes(
    stack: Stack, fault: dict, status: int, code: str | None
) -> None:
    service = f"{POP}/citizen-lookup"
    resp = await stack.admin("PATCH", f"/admin/services/{service}", json={"timeout_ms": 500})
    assert resp.status_code == 200
    base = stack.providers["population"]
    assert (await stack.http.put(f"{base}/__faults", json=fault)).status_code == 200
    c = adult(1)
    resp = await stack.http.get(
        f"/r1/{service}/citizens/{c['id']}", headers=stack.headers("VN/GOV/BTP/civil-status")
    )
    assert resp.status_code == status, resp.text
    assert resp.headers.get("X-Road-Error") == code
    (rec,) = [r for r in await stack.records() if r["service"] == service]
    assert rec["fault_code"] == code and rec["status_code"] == status
    await stack.http.delete(f"{base}/__faults")
    resp = await stack.http.get(
        f"/r1/{service}/citizens/{c['id']}", headers=stack.headers("VN/GOV/BTP/civil-status")
    )
    assert resp.status_code == 200
