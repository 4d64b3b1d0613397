"""What a refusal says and carries: the entry that is off, the value as sent, a Date."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from tests.gateway.conftest import CITIZEN, CLIENT, PROVIDER, Hub
from tests.support import ADMIN

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-0001"}
LOOKUP = f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}"


async def test_a_disabled_provider_subsystem_is_named_as_what_is_off(hub: Hub) -> None:
    r = await hub.client.patch(f"/admin/subsystems/{PROVIDER}", json={"enabled": False},
                               headers=ADMIN_H)  # fmt: skip
    assert r.status_code == 200, r.text
    r = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    assert r.status_code == 503 and r.headers["X-Road-Error"] == "Server.ServiceDisabled"
    assert r.json()["message"] == (
        f"subsystem {PROVIDER} is disabled by an operator, and with it service "
        f"{PROVIDER}/citizen-lookup"
    )


async def test_whitespace_around_a_header_value_is_not_part_of_it(hub: Hub) -> None:
    headers = hub.headers(**PURPOSE) | {"X-Road-Client": f"{CLIENT} \t"}
    r = await hub.client.get(LOOKUP, headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["X-Road-Client"] == CLIENT


async def test_a_client_id_outside_ascii_is_quoted_as_it_was_sent(hub: Hub) -> None:
    headers = hub.headers(**PURPOSE) | {"X-Road-Client": "VN/GOV/BTP/hộ-tịch".encode()}
    r = await hub.client.get(LOOKUP, headers=headers)
    assert r.status_code == 400 and r.headers["X-Road-Error"] == "Client.BadRequest"
    assert r.json()["message"].startswith("X-Road-Client 'VN/GOV/BTP/hộ-tịch' must be ASCII")


async def test_every_answer_has_one_date(hub: Hub) -> None:
    refused = await hub.client.get(LOOKUP, headers=hub.headers())  # no purpose headers
    meta = await hub.client.get(f"/r1/{PROVIDER}/listMethods", headers=hub.headers())
    forwarded = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    assert (refused.status_code, meta.status_code, forwarded.status_code) == (400, 200, 200)
    for r in (refused, meta, forwarded):
        dates = r.headers.get_list("date")
        assert len(dates) == 1, r.headers
        assert parsedate_to_datetime(dates[0]).tzinfo is not None


async def test_a_path_outside_every_route_says_where_exchanges_go(hub: Hub) -> None:
    # A provider's path without /r1, or /R1: FastAPI's bare {"detail": "Not Found"} said
    # nothing of the protocol's prefix.
    for path in (LOOKUP.replace("/r1/", "/R1/"), LOOKUP.removeprefix("/r1")):
        r = await hub.client.get(path, headers=hub.headers(**PURPOSE))
        assert r.status_code == 404, r.text
        said = r.json()["detail"]
        assert said.startswith(f"nothing is served at {path}: "), said
        assert "/r1/INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE/" in said and "/docs" in said
    r = await hub.client.get("/admin/nothing", headers=ADMIN_H)
    assert r.status_code == 404 and r.json()["detail"] == (
        "nothing is served at /admin/nothing: /docs lists the routes of the admin and operator API"
    )
    # A 404 of a route's own keeps its message.
    r = await hub.client.get("/admin/members/VN/GOV/NOBODY", headers=ADMIN_H)
    assert r.status_code == 404 and "nothing is served" not in r.json()["detail"], r.text
