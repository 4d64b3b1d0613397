"""Points of X-Road's Message Protocol for REST (PR-REST) and its metadata protocol
(PR-META, PR-MREST) that the product spec leaves to them: headers that name the hosts at
either end are not passed on, a refused request keeps its X-Road-Id, and listClients
answers for the instance it is asked about."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.routing import Route

from tests.gateway.conftest import PROVIDER, Hub

ANSWERS = f"/r1/{PROVIDER}/answers"


async def test_user_agent_and_server_do_not_cross_the_hub(hub: Hub) -> None:
    # PR-REST 4.3, "Filtered headers": Host, User-Agent and Server can name the hosts at
    # either end, so the hub sends its own Host and neither of the others.
    resp = await hub.client.get(
        f"/r1/{PROVIDER}/people/people",
        headers=hub.headers(
            **{"User-Agent": "intranet-app/2.1 (host ws-17.btp.local)", "X-Custom": "kept"},
            **{"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-0001"},
        ),
    )
    assert resp.status_code == 200, resp.text
    seen = hub.provider.state.seen[-1]["headers"]
    assert "user-agent" not in seen and seen["x-custom"] == "kept"

    resp = await hub.client.get(f"{ANSWERS}/hostile", headers=hub.headers())
    assert resp.status_code == 200
    assert "server" not in resp.headers and resp.headers["x-kept"] == "yes"


async def test_a_refused_path_keeps_the_clients_x_road_id(hub: Hub) -> None:
    resp = await hub.client.get(
        f"/r1/{PROVIDER}/bad%20code/x", headers=hub.headers(**{"X-Road-Id": "msg-42"})
    )
    assert resp.status_code == 400 and resp.headers["x-road-error"] == "Client.BadRequest"
    assert resp.headers["x-road-id"] == "msg-42"
    assert (await hub.records())[-1]["id"] == "msg-42"


async def test_list_clients_answers_for_the_instance_asked(hub: Hub) -> None:
    everyone = (await hub.client.get("/listClients")).json()["member"]
    assert everyone
    same = await hub.client.get("/listClients", params={"xRoadInstance": "VN"})
    assert same.json()["member"] == everyone
    other = await hub.client.get("/listClients", params={"xRoadInstance": "FI"})
    assert other.status_code == 200 and other.json() == {"member": []}
    bad = await hub.client.get("/listClients", params={"xRoadInstance": "V N"})
    assert bad.status_code == 400 and bad.headers["x-road-error"] == "Client.BadRequest"
    assert "xRoadInstance" in bad.json()["message"]


async def test_get_openapi_refuses_a_document_that_is_no_openapi(hub: Hub) -> None:
    # The fake provider's /openapi.json is FastAPI's own, a real document: put before it
    # JSON that describes nothing (a provider's health answer served at that path).
    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    provider: FastAPI = hub.provider
    provider.router.routes.insert(0, Route("/openapi.json", health))
    resp = await hub.client.get(
        f"/r1/{PROVIDER}/getOpenAPI", params={"serviceCode": "answers"}, headers=hub.headers()
    )
    assert resp.status_code == 502, resp.text
    assert resp.headers["x-road-error"] == "Server.ServiceFailed"
    assert "not an OpenAPI document" in resp.json()["message"]


async def test_a_metaservice_answer_names_the_metaservice_called(hub: Hub) -> None:
    # PR-MREST: listMethods is called as a service whose code is "listMethods", and
    # X-Road-Service names the service called, as the exchange's record does.
    resp = await hub.client.get(f"/r1/{PROVIDER}/listMethods", headers=hub.headers())
    assert resp.status_code == 200
    assert resp.headers["x-road-service"] == f"{PROVIDER}/listMethods"
    assert (await hub.records())[-1]["service"] == f"{PROVIDER}/listMethods"
