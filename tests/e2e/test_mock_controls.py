"""A mock's controls are for testers calling it directly: through the hub they are refused."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Stack

CLIENT = "VN/GOV/BTP/civil-status"
ANY_PATH = "VN/GOV/BCA/population/everything"  # no endpoints: every path of the provider


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
