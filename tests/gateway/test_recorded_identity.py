"""The log names a client, service and provider only as the hub established them.

A caller without a key named any client it liked in X-Road-Client, and any provider or
service in its path: the log, the sharing matrix and the statistics (kept for ever) counted
its refused exchanges there, so anyone could forge who shared with whom.
"""

from __future__ import annotations

from tests.gateway.conftest import CITIZEN, CLIENT, OTHER, PROVIDER, Hub
from tests.stats.conftest import AUTH
from tests.support import ADMIN

LOOKUP = f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}"
PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-1"}


async def test_refused_callers_are_recorded_as_the_hub_knows_them(hub: Hub) -> None:
    calls = [
        (LOOKUP, {"X-Road-Client": "VN/GOV/FAKE/exfil", **PURPOSE}),  # no key, a made-up client
        (LOOKUP, {"X-Road-Client": CLIENT, **PURPOSE}),  # no key, a real client's name
        (LOOKUP, {**hub.headers(OTHER), "X-Road-Client": CLIENT, **PURPOSE}),  # OTHER's key
        ("/r1/VN/GOV/NOT-REAL/ghost/svc-1/x", hub.headers()),  # a provider that is not
        (f"/r1/{PROVIDER}/no-such-service/x", hub.headers()),  # a service that is not
        ("/r1/VN/GOV/NOT-REAL/ghost/listMethods", hub.headers()),
    ]
    statuses = []
    for path, headers in calls:
        resp = await hub.client.get(path, headers=headers)
        statuses.append(resp.status_code)
        # The answer still echoes the client the caller named.
        assert resp.headers["X-Road-Client"] == headers["X-Road-Client"]
    assert statuses == [401, 401, 403, 404, 404, 404]
    recorded = [(r["client"], r["service"], r["provider"]) for r in await hub.records()]
    lookup = f"{PROVIDER}/citizen-lookup"
    assert recorded == [
        ("", lookup, PROVIDER),  # refused before anyone was known
        ("", lookup, PROVIDER),
        (OTHER, lookup, PROVIDER),  # the key's owner sent it, claiming to be CLIENT
        (CLIENT, "", ""),
        (CLIENT, "", PROVIDER),
        (CLIENT, "", ""),
    ]
    matrix = (await hub.client.get("/api/stats/matrix", headers=AUTH)).json()
    assert "VN/GOV/FAKE/exfil" not in matrix["clients"]
    assert not any("NOT-REAL" in p for p in matrix["providers"])
    top = (await hub.client.get("/api/stats/top", params={"by": "service"}, headers=AUTH)).json()
    assert not any("svc-1" in str(row) or "no-such" in str(row) for row in top["rows"])


async def test_a_refused_personal_path_is_pseudonymised_whatever_its_value(hub: Hub) -> None:
    # Only 9- and 12-digit numbers were caught outside a matched template: a 10-digit tax
    # code, a passport number or a name in the path of a refused request went in clear.
    secret_values = ["8012345678", "B1234567", "Nguyen-Van-A"]
    for value in secret_values:
        no_key = {"X-Road-Client": CLIENT, **PURPOSE}
        assert (await hub.client.get(f"/r1/{PROVIDER}/citizen-lookup/citizens/{value}",
                                     headers=no_key)).status_code == 401  # fmt: skip
        not_offered = f"/r1/{PROVIDER}/citizen-lookup/other/{value}"
        assert (
            await hub.client.get(not_offered, headers=hub.headers(**PURPOSE))
        ).status_code == 403
        unknown = f"/r1/{PROVIDER}/no-such-service/citizens/{value}"
        assert (await hub.client.get(unknown, headers=hub.headers(**PURPOSE))).status_code == 404
    paths = [r["path"] for r in await hub.records()]
    assert len(paths) == 9
    assert not [p for p in paths if any(v in p for v in secret_values)], paths
    # Resource names stay readable; the same value gets the same pseudonym.
    assert all(p.startswith(("/citizens/~", "/other/~")) for p in paths), paths
    assert len({p.rsplit("/", 1)[1] for p in paths}) == len(secret_values)


async def test_a_refusal_before_the_headers_were_read_names_no_client(hub: Hub) -> None:
    # Headers too large to read: the answer carried "x-road-client: " and
    # "x-road-service: " empty, where other refusals echo what the caller sent.
    headers = {**hub.headers(**PURPOSE), "X-Big": "a" * 20_000}
    resp = await hub.client.get(LOOKUP, headers=headers)
    assert resp.status_code == 431 and resp.headers["X-Road-Error"] == "Client.HeadersTooLarge"
    assert "X-Road-Client" not in resp.headers and "X-Road-Service" not in resp.headers
    assert resp.headers["X-Road-Request-Id"]


async def test_a_request_with_over_a_hundred_header_fields_is_refused(hub: Hub) -> None:
    # Within the byte limit, 2,000 tiny fields went on to the provider one by one; answers
    # are held to the same 100 fields (Apache's LimitRequestFields).
    many = {f"x-{i}": "1" for i in range(2000)}
    resp = await hub.client.get(LOOKUP, headers={**hub.headers(**PURPOSE), **many})
    assert resp.status_code == 431 and resp.headers["X-Road-Error"] == "Client.HeadersTooLarge"
    assert "100 header fields" in resp.json()["message"]
    assert [r["fault_code"] for r in await hub.records()] == ["Client.HeadersTooLarge"]
    ok = {f"x-{i}": "1" for i in range(90)}
    assert (
        await hub.client.get(LOOKUP, headers={**hub.headers(**PURPOSE), **ok})
    ).status_code == 200


async def test_a_revoked_or_expired_key_is_recorded_under_its_owner(hub: Hub) -> None:
    # The log said "(not identified)" for a key the hub knows, revoked or rotated out: an
    # operator could not see which client still sends it, nor the client why it failed.
    admin = {"Authorization": f"Bearer {ADMIN}"}
    listed = (await hub.client.get("/admin/keys", params={"client": CLIENT}, headers=admin)).json()
    r = await hub.client.post(f"/admin/keys/{listed[0]['id']}/rotate", json={"grace_seconds": 0},
                              headers=admin)  # fmt: skip
    assert r.status_code == 201, r.text
    expired = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    hub.keys[CLIENT] = r.json()["api_key"]
    assert (await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))).status_code == 200
    r = await hub.client.delete(f"/admin/keys/{r.json()['id']}", headers=admin)
    assert r.status_code == 204, r.text
    revoked = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    assert (expired.status_code, revoked.status_code) == (401, 401)
    assert expired.headers["X-Road-Error"] == revoked.headers["X-Road-Error"]
    assert expired.headers["X-Road-Error"] == "Client.Unauthorized"
    assert expired.json()["message"].startswith("this API key expired at 20"), expired.text
    assert "use the key that replaced it" in expired.json()["message"], expired.text
    assert revoked.json()["message"] == (
        "this API key was revoked; ask the hub's operators for a new one"
    )
    recorded = [(r["client"], r["status_code"], r["fault_code"]) for r in await hub.records()]
    assert recorded == [
        (CLIENT, 401, "Client.Unauthorized"),
        (CLIENT, 200, None),
        (CLIENT, 401, "Client.Unauthorized"),
    ]
