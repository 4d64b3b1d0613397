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


def _serve_openapi(hub: Hub, doc: dict) -> None:
    """Put ``doc`` before the fake provider's own /openapi.json (FastAPI's)."""

    async def openapi(_request: Request) -> JSONResponse:
        return JSONResponse(doc)

    provider: FastAPI = hub.provider
    provider.router.routes.insert(0, Route("/openapi.json", openapi))


async def test_get_openapi_does_not_show_the_providers_address(hub: Hub) -> None:
    # PR-MREST getOpenAPI (X-Road's Openapi3Anonymiser): a server URL keeps its path only, so
    # the document neither names the provider's host nor leads a generated client around
    # the hub; under the service's base URL, the path below it (what follows /r1/{service}).
    base_url = hub.app.state.registry.snapshot.subsystems[PROVIDER][1]
    _serve_openapi(
        hub,
        {
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "servers": [
                {"url": f"{base_url}/v1", "description": "this one"},
                {"url": "https://db-01.bca.internal:8443/population"},
                {"url": "http://{host}:8080/x", "variables": {"host": {"default": "10.0.0.5"}}},
                {"url": "/relative"},
            ],
            "paths": {
                "/anything": {
                    "servers": [{"url": "http://10.0.0.6:9000/p"}],
                    "get": {
                        "servers": [{"url": "http://10.0.0.7:9000/o"}],
                        "responses": {"200": {"description": "ok"}},
                    },
                }
            },
        },
    )
    resp = await hub.client.get(
        f"/r1/{PROVIDER}/getOpenAPI", params={"serviceCode": "answers"}, headers=hub.headers()
    )
    assert resp.status_code == 200, resp.text
    servers = resp.json()["servers"]
    assert [s["url"] for s in servers] == ["/v1", "/population", "/x", "/relative"]
    assert servers[0]["description"] == "this one" and "variables" not in servers[2]
    item = resp.json()["paths"]["/anything"]
    assert item["servers"] == [{"url": "/p"}] and item["get"]["servers"] == [{"url": "/o"}]
    for leak in (base_url, "db-01.bca.internal", "10.0.0.", "{host}"):
        assert leak not in resp.text


async def test_get_openapi_takes_service_code_in_any_case(hub: Hub) -> None:
    # X-Road's getOpenAPI reads the query parameter serviceCode case-insensitively.
    for name in ("servicecode", "ServiceCode"):
        resp = await hub.client.get(
            f"/r1/{PROVIDER}/getOpenAPI", params={name: "citizen-lookup"}, headers=hub.headers()
        )
        assert resp.status_code == 200, resp.text
        assert "/citizens/{cid}" in resp.json()["paths"]
    both = await hub.client.get(
        f"/r1/{PROVIDER}/getOpenAPI?serviceCode=citizen-lookup&servicecode=echo",
        headers=hub.headers(),
    )
    assert both.status_code == 400 and "one serviceCode" in both.json()["message"]


async def test_list_clients_answers_xml_to_a_client_that_asks_for_it(hub: Hub) -> None:
    # PR-META 2: listClients answers the clientList XML element unless JSON is asked for.
    # The hub answers JSON by default (the product spec's shape); XML when the Accept header
    # prefers it, as an X-Road client written for the XML answer sends.
    import xml.etree.ElementTree as ET

    members = (await hub.client.get("/listClients")).json()["member"]
    for accept in ("text/xml", "application/xml", "application/json;q=0.5, text/xml"):
        resp = await hub.client.get("/listClients", headers={"Accept": accept})
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "text/xml; charset=utf-8"
        assert "accept" in resp.headers["vary"].lower()
        root = ET.fromstring(resp.content)
        ns = {"xrd": "http://x-road.eu/xsd/xroad.xsd", "id": "http://x-road.eu/xsd/identifiers"}
        assert root.tag == "{http://x-road.eu/xsd/xroad.xsd}clientList"
        got = root.findall("xrd:member", ns)
        assert len(got) == len(members)
        for element, member in zip(got, members, strict=True):
            ident = element.find("xrd:id", ns)
            assert ident is not None
            kind = ident.get("{http://x-road.eu/xsd/identifiers}objectType")
            assert kind == member["id"]["object_type"]
            assert ident.findtext("id:xRoadInstance", namespaces=ns) == "VN"
            assert ident.findtext("id:memberCode", namespaces=ns) == member["id"]["member_code"]
            if kind == "SUBSYSTEM":
                code = ident.findtext("id:subsystemCode", namespaces=ns)
                assert code == member["id"]["subsystem_code"]
            assert element.findtext("xrd:name", namespaces=ns) == member["name"]
            assert element.findtext("xrd:subsystemName", namespaces=ns) == member.get(
                "subsystem_name"
            )
    assert "Bộ Công an" in resp.content.decode("utf-8")
    for accept in ("application/json", "*/*", "text/xml;q=0.1, application/json"):
        resp = await hub.client.get("/listClients", headers={"Accept": accept})
        assert resp.headers["content-type"] == "application/json"
        assert resp.json()["member"] == members
    head = await hub.client.head("/listClients", headers={"Accept": "text/xml"})
    assert head.headers["content-type"] == "text/xml; charset=utf-8"


async def test_metaservices_called_where_x_road_serves_them_elsewhere_say_where(hub: Hub) -> None:
    # X-Road's listClients is the security server's /listClients, outside /r1, and the /r1
    # metaservices are called on a subsystem (X-Road also lets a member alone provide).
    cases = {
        "/r1/listClients": "listClients is served at /listClients, outside /r1",
        "/r1/VN/listClients": "listClients is served at /listClients, outside /r1",
        "/r1/VN/GOV/BCA/listMethods": "/r1/VN/GOV/BCA/SUBSYSTEM/listMethods",
        "/r1/VN/GOV/BCA/getOpenAPI": "/r1/VN/GOV/BCA/SUBSYSTEM/getOpenAPI",
    }
    for path, hint in cases.items():
        resp = await hub.client.get(path, headers=hub.headers())
        assert resp.status_code == 400 and resp.headers["x-road-error"] == "Client.BadRequest"
        assert hint in resp.json()["message"], resp.text


async def test_a_member_as_client_is_told_to_name_its_subsystem(hub: Hub) -> None:
    # PR-REST lets X-Road-Client name a member alone; here every client is a subsystem.
    resp = await hub.client.get(
        f"/r1/{PROVIDER}/listMethods", headers=hub.headers(**{"X-Road-Client": "VN/GOV/BTP"})
    )
    assert resp.status_code == 400 and resp.headers["x-road-error"] == "Client.BadRequest"
    message = resp.json()["message"]
    assert "names a member" in message and "VN/GOV/BTP/SUBSYSTEM" in message


async def test_get_openapi_says_a_service_code_has_no_version(hub: Hub) -> None:
    # X-Road's SOAP services have a version (getWsdl's serviceVersion, ids ending /v1); its
    # REST services, and the hub's, have none: the code alone names the service.
    for code in ("citizen-lookup/v1", f"{PROVIDER}/citizen-lookup/v1"):
        resp = await hub.client.get(
            f"/r1/{PROVIDER}/getOpenAPI", params={"serviceCode": code}, headers=hub.headers()
        )
        assert resp.status_code == 400 and resp.headers["x-road-error"] == "Client.BadRequest"
        message = resp.json()["message"]
        assert "no version" in message and "serviceCode=citizen-lookup" in message, message
