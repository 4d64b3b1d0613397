"""/metrics labels are registered ids: what a refused caller sends cannot grow the series."""

from __future__ import annotations

from tests.gateway.conftest import CITIZEN, CLIENT, PROVIDER, Hub
from tests.support import OPERATOR

PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-0001"}


async def test_unregistered_clients_and_services_share_one_label(hub: Hub) -> None:
    for i in range(20):
        # No key, a client and a service of the caller's invention: 401s, logged and counted.
        await hub.client.get(
            f"/r1/VN/GOV/Z{i}/q/svc{i}/a", headers={"X-Road-Client": f"VN/GOV/X{i}/y"}
        )
        await hub.client.get(f"/r1/{PROVIDER}/nothing{i}/x", headers=hub.headers())  # 404
    ok = await hub.client.get(
        f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}", headers=hub.headers(**PURPOSE)
    )
    assert ok.status_code == 200
    meta = await hub.client.get(f"/r1/{PROVIDER}/listMethods", headers=hub.headers())
    assert meta.status_code == 200
    text = (await hub.client.get("/metrics", headers={"Authorization": f"Bearer {OPERATOR}"})).text
    assert "svc" not in text and "VN/GOV/X" not in text and "nothing" not in text
    unauthorized = 'client="-",fault_code="Client.Unauthorized",provider="-",service="-"'
    assert f"hub_exchanges_total{{{unauthorized}}} 20.0" in text
    unknown = f'client="{CLIENT}",fault_code="Client.UnknownService",provider="-",service="-"'
    assert f"hub_exchanges_total{{{unknown}}} 20.0" in text
    # Registered services and metaservices keep their names.
    assert f'service="{PROVIDER}/citizen-lookup"' in text
    assert f'service="{PROVIDER}/listMethods"' in text
