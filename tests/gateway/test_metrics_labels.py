"""/metrics labels are registered ids: what a refused caller sends cannot grow the series."""

from __future__ import annotations

import re
from collections import Counter

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
    # A service the registry does not hold, of a provider it holds: that provider's.
    unknown = f'client="{CLIENT}",fault_code="Client.UnknownService",provider="{PROVIDER}",'
    unknown += 'service="-"'
    assert f"hub_exchanges_total{{{unknown}}} 20.0" in text
    # Registered services and metaservices keep their names.
    assert f'service="{PROVIDER}/citizen-lookup"' in text
    assert f'service="{PROVIDER}/listMethods"' in text


async def test_metrics_count_each_provider_as_the_api_does(hub: Hub) -> None:
    """sum by (provider) of /metrics equals /api/stats/top?by=provider, refusals included.

    An unknown service of a registered provider was counted under provider "-" in /metrics
    and under the provider in the API, so the two disagreed on the provider's traffic.
    """
    await hub.client.get(f"/r1/{PROVIDER}/no-such-service/x", headers=hub.headers())  # 404
    await hub.client.get(f"/r1/{PROVIDER}/no-such-service/y", headers=hub.headers())  # 404
    await hub.client.get("/r1/VN/GOV/NONE/ghost/svc/z", headers=hub.headers())  # 404, none
    await hub.client.get(f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}")  # 401
    ok = await hub.client.get(
        f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}", headers=hub.headers(**PURPOSE)
    )
    assert ok.status_code == 200
    auth = {"Authorization": f"Bearer {OPERATOR}"}
    top = await hub.client.get("/api/stats/top", params={"by": "provider"}, headers=auth)
    api = {row["key"] or "-": row["count"] for row in top.json()["rows"]}
    assert api == {PROVIDER: 4, "-": 1}
    text = (await hub.client.get("/metrics")).text
    counted: Counter[str] = Counter()
    for labels, value in re.findall(r"^hub_exchanges_total\{(.*)\} (\S+)$", text, re.M):
        counted[dict(re.findall(r'(\w+)="([^"]*)"', labels))["provider"]] += int(float(value))
    assert dict(counted) == api
    req = re.findall(r'^hub_request_bytes_total\{.*provider="([^"]*)".*\} (\S+)$', text, re.M)
    assert {provider for provider, _ in req} == set(api)  # the bytes' series too
