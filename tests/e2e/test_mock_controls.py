"""A mock's controls are for testers calling it directly: through the hub they are refused."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Stack

CLIENT = "VN/GOV/BTP/civil-status"
ANY_PATH = "VN/GOV/BCA/population/everything"  # no endpoints: every path of the provider
GONE = {"type": "NotFound", "message": "stubbed: no such citizen"}


async def test_a_service_without_endpoints_does_not_reach_the_mocks_controls(
    stack: Stack,
) -> None:
    r = await stack.admin("POST", "/admin/services", json={"id": ANY_PATH})
    assert r.status_code == 201, r.text
    r = await stack.admin("POST", "/admin/grants", json={"client": CLIENT, "service": ANY_PATH})
    assert r.status_code == 201, r.text
    headers = stack.headers(CLIENT)

    put = await stack.http.put(f"/r1/{ANY_PATH}/__faults", json={"error_rate": 1}, headers=headers)
    assert put.status_code == 403
    assert put.json()["type"] == "Forbidden" and "call the mock directly" in put.json()["message"]
    for method in ("GET", "DELETE"):
        r = await stack.http.request(method, f"/r1/{ANY_PATH}/__faults", headers=headers)
        assert r.status_code == 403, method
    assert (await stack.http.post(f"/r1/{ANY_PATH}/__reset", headers=headers)).status_code == 403

    async with httpx.AsyncClient(base_url=stack.providers["population"]) as direct:
        assert (await direct.get("/__faults")).json()["error_rate"] == 0  # untouched
        assert (await direct.put("/__faults", json={"latency_ms": 1})).status_code == 200
    # The service still reaches the provider (its health: its data is other services').
    assert (await stack.http.get(f"/r1/{ANY_PATH}/__health", headers=headers)).status_code == 200


async def test_a_stub_answers_through_the_hub_and_the_journal_shows_the_hubs_call(
    stack: Stack,
) -> None:
    person = "079203001234"
    async with httpx.AsyncClient(base_url=stack.providers["population"]) as direct:
        stub = {"method": "GET", "path": f"/citizens/{person}", "status": 404, "body": GONE}
        assert (await direct.put("/__stubs", json=[stub])).status_code == 200
        headers = stack.headers(CLIENT)
        answer = await stack.http.get(
            f"/r1/VN/GOV/BCA/population/citizen-lookup/citizens/{person}", headers=headers
        )
        assert answer.status_code == 404 and answer.json() == GONE, answer.text
        # Through a service that reaches every path, stubs and the journal are refused too.
        r = await stack.admin("POST", "/admin/services", json={"id": ANY_PATH})
        assert r.status_code == 201, r.text
        grant = {"client": CLIENT, "service": ANY_PATH}
        assert (await stack.admin("POST", "/admin/grants", json=grant)).status_code == 201
        for method, path in (("PUT", "/__stubs"), ("GET", "/__stubs"), ("GET", "/__requests")):
            refused = await stack.http.request(
                method, f"/r1/{ANY_PATH}{path}", headers=headers, json=[]
            )
            assert refused.status_code == 403, (method, path, refused.text)
        [seen] = (await direct.get("/__requests")).json()["items"]
        assert seen["path"] == f"/citizens/{person}" and seen["stub"] == "s1"
        assert seen["headers"]["x-road-client"] == CLIENT
        api_key = headers["Authorization"].split()[1]
        assert api_key not in str(seen)
