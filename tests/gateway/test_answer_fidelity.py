"""What the client gets back is the provider's answer, and what only the hub may say is the
hub's; what the log keeps of a personal-data request names nobody; an identity header sent
twice is refused."""

from __future__ import annotations

import pytest

from tests.gateway.conftest import CITIZEN, PROVIDER, Hub

PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-0001"}
ANSWERS = f"/r1/{PROVIDER}/answers"


async def test_a_provider_cannot_set_the_hubs_headers(hub: Hub) -> None:
    resp = await hub.client.get(f"{ANSWERS}/hostile", headers=hub.headers())
    assert resp.status_code == 200
    # One value each, the hub's: a provider's copy stood beside it, first.
    assert resp.headers.get_list("x-road-client") == ["VN/GOV/BTP/civil-status"]
    assert resp.headers.get_list("x-road-id") == [resp.headers["x-road-request-id"]]
    assert "x-road-error" not in resp.headers
    assert len(resp.headers.get_list("x-hub-latency")) == 1
    assert float(resp.headers["x-hub-latency"]) < 999
    # A header the provider named in Connection is its hop's; the others pass.
    assert "x-secret-hop" not in resp.headers and resp.headers["x-kept"] == "yes"


@pytest.mark.parametrize("code", [204, 304])
async def test_no_body_status_gets_no_invented_type_or_length(hub: Hub, code: int) -> None:
    resp = await hub.client.get(f"{ANSWERS}/status/{code}", headers=hub.headers())
    assert resp.status_code == code and resp.content == b""
    assert "content-type" not in resp.headers and "content-length" not in resp.headers


async def test_an_answer_without_a_content_type_gets_none(hub: Hub) -> None:
    resp = await hub.client.get(f"{ANSWERS}/raw", headers=hub.headers())
    assert resp.content == b"plain bytes" and "content-type" not in resp.headers
    assert resp.headers["content-length"] == str(len(b"plain bytes"))


async def test_head_answers_with_the_length_of_the_get(hub: Hub) -> None:
    resp = await hub.client.head(f"{ANSWERS}/sized", headers=hub.headers())
    assert resp.status_code == 200 and resp.content == b""
    assert resp.headers["content-length"] == "249"
    assert resp.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "target",
    [
        f"/people?{CITIZEN}=1",  # an ID number as a parameter's name
        f"/people?limit={CITIZEN}&cursor={CITIZEN}",  # in the values of safe parameters
        f"/people?limit=5;id={CITIZEN}",
    ],
)
async def test_an_id_number_anywhere_in_the_query_is_not_logged(hub: Hub, target: str) -> None:
    resp = await hub.client.get(f"/r1/{PROVIDER}/people{target}", headers=hub.headers(**PURPOSE))
    assert resp.status_code == 200
    assert CITIZEN in resp.json()["query"]  # the provider got the query as it was sent
    (rec,) = await hub.records()
    assert CITIZEN not in rec["path"], rec["path"]


async def test_a_percent_encoded_id_gets_the_pseudonym_of_the_digits(hub: Hub) -> None:
    encoded = "".join(f"%{ord(c):02X}" for c in CITIZEN[:3]) + CITIZEN[3:]
    lookup = f"/r1/{PROVIDER}/citizen-lookup/citizens/"
    for path in (CITIZEN, encoded):
        resp = await hub.client.get(lookup + path, headers=hub.headers(**PURPOSE))
        assert resp.status_code == 200, resp.text
    plain, coded = await hub.records()
    assert plain["path"] == coded["path"] and CITIZEN not in coded["path"]


@pytest.mark.parametrize(
    "name", ["Authorization", "X-Road-Client", "X-Road-Id", "X-Road-UserId", "X-Road-Issue"]
)
async def test_an_identity_header_sent_twice_is_refused(hub: Hub, name: str) -> None:
    headers = [*hub.headers(**PURPOSE, **{"X-Road-Id": "first"}).items(), (name, "second")]
    resp = await hub.client.get(
        f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}", headers=headers
    )
    assert resp.status_code == 400 and resp.headers["X-Road-Error"] == "Client.BadRequest"
    assert f"the {name} header is sent more than once" in resp.json()["message"]
    assert hub.provider.state.seen == []  # refused before anything was forwarded
    (rec,) = await hub.records()
    assert rec["status_code"] == 400


async def test_no_body_for_a_service_with_a_schema_says_one_is_needed(hub: Hub) -> None:
    resp = await hub.client.post(f"/r1/{PROVIDER}/echo/echo", headers=hub.headers())
    assert resp.status_code == 422 and resp.headers["X-Road-Error"] == "Client.InvalidPayload"
    # It said "at (body): None is not of type 'object'".
    assert resp.json()["message"] == (
        f"the request has no body; {PROVIDER}/echo takes a JSON body that matches its "
        "request schema"
    )


async def test_a_request_target_over_the_limit_is_the_clients_fault(hub: Hub) -> None:
    long_query = "q=" + "x" * 9000
    resp = await hub.client.get(f"{ANSWERS}/raw?{long_query}", headers=hub.headers())
    # It went to the provider, whose refusal came back as Server.ServiceFailed.
    assert resp.status_code == 400 and resp.headers["X-Road-Error"] == "Client.BadRequest"
    assert "the limit is 8192" in resp.json()["message"]
    (rec,) = await hub.records()
    assert rec["status_code"] == 400 and len(rec["path"]) <= 2000
