"""Names and shapes the product spec fixes (its section 5) that no other test pins: the
table of fault codes, the generated X-Road-Id, Server.InternalError, and the exact X-Road
JSON of the metaservices."""

from __future__ import annotations

import pytest

from hub.core import errors
from tests.gateway.conftest import PROVIDER, Hub

LOOKUP = f"/r1/{PROVIDER}/citizen-lookup/citizens/079203001234"
PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-0001"}

# SPEC section 5, "Errors made by the hub": code -> HTTP status.
SPEC_CODES = {
    "Client.BadRequest": 400,
    "Client.MissingPurpose": 400,
    "Client.Unauthorized": 401,
    "Client.AccessDenied": 403,
    "Client.UnknownService": 404,
    "Client.PayloadTooLarge": 413,
    "Client.InvalidPayload": 422,
    "Client.RateLimited": 429,
    "Server.ServiceDisabled": 503,
    "Server.ServiceUnavailable": 503,
    "Server.ServiceFailed": 502,
    "Server.ServiceTimeout": 504,
    "Server.LoggingFailed": 503,
    "Server.InternalError": 500,
}


def test_every_fault_code_of_the_spec_has_its_status() -> None:
    made = {e.code: e.status for e in errors.ALL_ERRORS}
    assert {code: made.get(code) for code in SPEC_CODES} == SPEC_CODES


async def test_an_x_road_id_is_generated_when_absent_and_each_request_has_its_own_id(
    hub: Hub,
) -> None:
    first = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    second = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    assert first.status_code == second.status_code == 200
    assert first.headers["X-Road-Id"] and second.headers["X-Road-Id"]
    assert first.headers["X-Road-Id"] != second.headers["X-Road-Id"]
    # The client's own X-Road-Id, sent twice, is kept; the request ids still differ.
    sent = {"X-Road-Id": "dossier-7", **PURPOSE}
    again = [await hub.client.get(LOOKUP, headers=hub.headers(**sent)) for _ in range(2)]
    assert [r.headers["X-Road-Id"] for r in again] == ["dossier-7", "dossier-7"]
    ids = {r.headers["X-Road-Request-Id"] for r in (first, second, *again)}
    assert len(ids) == 4
    records = await hub.records()
    assert [r["id"] for r in records[:2]] == [
        first.headers["X-Road-Id"],
        second.headers["X-Road-Id"],
    ]
    assert {r["request_id"] for r in records} == ids


async def test_a_bug_in_the_hub_is_server_internal_error_in_the_error_shape(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(hub.app.state.gateway.forwarder, "send_head", broken)
    resp = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    assert resp.status_code == 500
    assert resp.headers["X-Road-Error"] == "Server.InternalError"
    body = resp.json()
    assert set(body) == {"type", "message", "detail"}
    assert body["type"] == "Server.InternalError"
    assert body["detail"] == resp.headers["X-Road-Request-Id"]
    assert "a bug" not in body["message"]  # the hub's insides stay in its own log
    (rec,) = await hub.records()
    assert rec["fault_code"] == "Server.InternalError" and rec["status_code"] == 500


async def test_list_clients_gives_subsystem_fields_to_subsystems_only(hub: Hub) -> None:
    members = (await hub.client.get("/listClients")).json()["member"]
    bca = [m for m in members if m["id"]["member_code"] == "BCA"]
    assert {"id": {"object_type": "MEMBER", "xroad_instance": "VN", "member_class": "GOV",
                   "member_code": "BCA"}, "name": "Bộ Công an"} in bca  # fmt: skip
    assert {"id": {"object_type": "SUBSYSTEM", "xroad_instance": "VN", "member_class": "GOV",
                   "member_code": "BCA", "subsystem_code": "population"},
            "name": "Bộ Công an", "subsystem_name": "Dân cư"} in bca  # fmt: skip
    for m in members:
        subsystem = m["id"]["object_type"] == "SUBSYSTEM"
        assert ("subsystem_code" in m["id"]) is subsystem, m
        assert ("subsystem_name" in m) is subsystem, m


async def test_list_and_allowed_methods_answer_xroads_service_entries(hub: Hub) -> None:
    listed = await hub.client.get(f"/r1/{PROVIDER}/listMethods", headers=hub.headers())
    allowed = await hub.client.get(f"/r1/{PROVIDER}/allowedMethods", headers=hub.headers())
    keys = {"object_type", "xroad_instance", "member_class", "member_code", "subsystem_code",
            "service_code", "service_type", "endpoint_list"}  # fmt: skip
    for resp in (listed, allowed):
        assert resp.status_code == 200 and list(resp.json()) == ["service"]
        for entry in resp.json()["service"]:
            assert set(entry) == keys, entry
            assert entry["object_type"] == "SERVICE"
            assert entry["service_type"] in ("REST", "OPENAPI")
            assert all(set(e) == {"method", "path"} for e in entry["endpoint_list"])
    lookup = next(s for s in listed.json()["service"] if s["service_code"] == "citizen-lookup")
    assert lookup == {
        "object_type": "SERVICE",
        "xroad_instance": "VN",
        "member_class": "GOV",
        "member_code": "BCA",
        "subsystem_code": "population",
        "service_code": "citizen-lookup",
        "service_type": "REST",
        "endpoint_list": [{"method": "GET", "path": "/citizens/{id}"}],
    }
    # What the caller may call: granted, and not disabled ("closed" answers 503).
    assert {s["service_code"] for s in allowed.json()["service"]} == (
        {s["service_code"] for s in listed.json()["service"]} - {"ungranted", "closed"}
    )


async def test_a_list_clients_refusal_carries_the_request_id_its_detail_names(hub: Hub) -> None:
    resp = await hub.client.post("/listClients")
    assert resp.status_code == 400 and resp.headers["X-Road-Error"] == "Client.BadRequest"
    assert resp.json()["detail"] == resp.headers["X-Road-Request-Id"]
    resp = await hub.client.get("/listClients", params={"xRoadInstance": "V N"})
    assert resp.status_code == 400
    assert resp.json()["detail"] == resp.headers["X-Road-Request-Id"]


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "POST"])
async def test_list_clients_refuses_every_other_method_in_the_error_shape(
    hub: Hub, method: str
) -> None:
    # TRACE (and any method outside a fixed list) got FastAPI's 405 {"detail": ...}.
    resp = await hub.client.request(method, "/listClients")
    assert resp.status_code == 400, resp.text
    assert resp.headers["X-Road-Error"] == "Client.BadRequest"
    assert resp.json()["message"] == f"listClients answers GET and HEAD only (got {method})"
    get = await hub.client.get("/listClients")
    assert get.status_code == 200 and "member" in get.json()
