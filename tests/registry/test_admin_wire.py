"""What the admin API takes and how it answers: JSON or YAML bodies (and what to send
instead), grants named in the query, filters, one entry at a time, key expiry, UTC times."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.support import ADMIN, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
FORM = {**ADMIN_H, "Content-Type": "application/x-www-form-urlencoded"}
YAML_H = {**ADMIN_H, "Content-Type": "application/yaml"}
DOC = """\
members:
  - id: VN/GOV/BCA
    name: Bộ Công an
subsystems:
  - id: VN/GOV/BCA/population
    base_url: http://127.0.0.1:9
  - id: VN/GOV/BCA/other
  - id: VN/GOV/BCA/client
services:
  - id: VN/GOV/BCA/population/citizen-lookup
    endpoints: [{method: GET, path: "/citizens/{id}"}]
  - id: VN/GOV/BCA/population/citizen-search
  - id: VN/GOV/BCA/other/thing
grants:
  - client: VN/GOV/BCA/client
    service: VN/GOV/BCA/population/citizen-lookup
  - client: VN/GOV/BCA/client
    service: VN/GOV/BCA/population/citizen-search
  - client: VN/GOV/BCA/other
    service: VN/GOV/BCA/population/citizen-lookup
"""


async def _load(c: httpx.AsyncClient) -> None:
    r = await c.put("/admin/registry", content=DOC.encode(), headers=YAML_H)
    assert r.status_code == 200 and r.json()["created"] == 10, r.text


async def test_a_body_not_sent_as_json_says_to_send_json(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        body = b'{"id": "VN/GOV/BCA", "name": "B"}'  # curl -d without -H: a "form"
        r = await c.post("/admin/members", content=body, headers=FORM)
        assert r.status_code == 415, r.text
        assert r.json()["detail"] == (
            "send the body as JSON with the header 'Content-Type: application/json' (curl -d "
            "alone sends it as a form: add -H 'content-type: application/json'); it came as "
            "application/x-www-form-urlencoded"
        )
        r = await c.post("/admin/members", content=body, headers=ADMIN_H)
        assert r.status_code == 415 and "it came with no Content-Type" in r.text
        r = await c.post("/admin/members", headers=ADMIN_H)
        assert r.status_code == 422
        assert r.json()["detail"].startswith("this needs a body: send the body as JSON")
        r = await c.put("/admin/registry", content=DOC.encode(), headers=FORM)
        assert r.status_code == 415 and "YAML goes with 'Content-Type: application/yaml'" in r.text
        assert (await c.get("/admin/members", headers=ADMIN_H)).json() == []


async def test_put_registry_takes_the_yaml_get_gives(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
        exported = (await c.get("/admin/registry?format=yaml", headers=ADMIN_H)).text
        r = await c.put("/admin/registry", content=exported.encode(), headers=YAML_H)
        assert r.json()["changes"] == [] and r.json()["unchanged"] == 10, r.text
        # A partial entry in YAML keeps the rest, as from a file.
        partial = "services:\n  - id: VN/GOV/BCA/population/citizen-lookup\n    timeout_ms: 99\n"
        r = await c.put("/admin/registry", content=partial.encode(), headers=YAML_H)
        assert r.json()["changes"] == [
            "update service VN/GOV/BCA/population/citizen-lookup: timeout_ms"
        ]
        one = await c.get("/admin/services/VN/GOV/BCA/population/citizen-lookup", headers=ADMIN_H)
        assert one.json()["endpoints"] == [{"method": "GET", "path": "/citizens/{id}"}]

        bad = DOC.replace("    name: Bộ Công an", "    nam: Bộ Công an")
        r = await c.put("/admin/registry", content=bad.encode(), headers=YAML_H)
        assert (
            r.status_code == 422
            and r.json()["detail"]
            == "body:3: members[0].nam: unknown key 'nam' (did you mean "
            "'name'?); allowed: id, name, enabled"
        )
        r = await c.put("/admin/registry", content=DOC.encode("utf-16"), headers=YAML_H)
        assert r.status_code == 400
        assert r.json()["detail"] == "body: not UTF-8 (byte 0xff at line 1); send it as UTF-8"
        dangling = "grants:\n  - client: VN/GOV/BCA/nobody\n    service: VN/GOV/BCA/other/thing\n"
        r = await c.put("/admin/registry", content=dangling.encode(), headers=YAML_H)
        assert r.status_code == 422 and r.json()["detail"].startswith("body:2: grants[0]: ")
        openapi = (await c.get("/openapi.json")).json()
        content = openapi["paths"]["/admin/registry"]["put"]["requestBody"]["content"]
        assert {"application/json", "application/yaml"} <= content.keys()


async def test_yaml_sent_on_one_line_says_to_keep_its_line_breaks(
    db_url: str, tmp_path: Path
) -> None:
    # `curl -d @permits.yaml` drops the file's line breaks, which leaves YAML unreadable.
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        flat = DOC.replace("\n", "").encode()
        r = await c.put("/admin/registry", content=flat, headers=YAML_H)
        assert r.status_code == 400, r.text
        assert r.json()["detail"].startswith("body:1: not valid YAML: ")
        assert r.json()["detail"].endswith(
            "; the body came as one line: curl -d @FILE drops a file's line breaks, "
            "send it with --data-binary @FILE"
        )
        # Nor what to do about a file's lines, which the body lost.
        flat = b"members: []grants: []"
        r = await c.put("/admin/registry", content=flat, headers=YAML_H)
        assert r.json()["detail"] == (
            "body:1: not valid YAML: expected <block end>, but found '<scalar>'; the body came "
            "as one line: curl -d @FILE drops a file's line breaks, send it with --data-binary "
            "@FILE"
        )
        # A YAML body of several lines with a mistake of its own gets no such hint.
        r = await c.put("/admin/registry", content=b"members:\n  - {id: [\n", headers=YAML_H)
        assert r.status_code == 400 and "--data-binary" not in r.text
        assert (await c.get("/admin/members", headers=ADMIN_H)).json() == []


async def test_a_grant_is_deleted_by_query_too(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
        lookup = "VN/GOV/BCA/population/citizen-lookup"
        r = await c.delete("/admin/grants", headers=ADMIN_H)
        assert r.status_code == 400 and r.json()["detail"].startswith("which grant? give ?client=")
        r = await c.delete("/admin/grants", params={"client": "VN/GOV/BCA/client"}, headers=ADMIN_H)
        assert r.status_code == 400
        assert r.json()["detail"].startswith("the query gives a client but no service")
        r = await c.delete(
            "/admin/grants",
            params={"client": "VN/GOV/BCA/client", "service": lookup},
            headers=ADMIN_H,
        )
        assert r.status_code == 204, r.text
        left = (await c.get("/admin/grants", params={"service": lookup}, headers=ADMIN_H)).json()
        assert left == [{"client": "VN/GOV/BCA/other", "service": lookup, "enabled": True}]


async def test_lists_filter_and_one_entry_is_read_by_its_id(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)

        async def ids(path: str, **params: str) -> list[str]:
            r = await c.get(path, params=params, headers=ADMIN_H)
            assert r.status_code == 200, r.text
            return [item.get("id") or f"{item['client']} {item['service']}" for item in r.json()]

        assert await ids("/admin/services", subsystem="VN/GOV/BCA/other") == [
            "VN/GOV/BCA/other/thing"
        ]
        assert await ids("/admin/services", subsystem="VN/GOV/BCA/nobody") == []
        assert len(await ids("/admin/services")) == 3
        assert await ids("/admin/subsystems", member="VN/GOV/BCA") == [
            "VN/GOV/BCA/client",
            "VN/GOV/BCA/other",
            "VN/GOV/BCA/population",
        ]
        assert await ids("/admin/subsystems", member="VN/GOV/BTP") == []
        assert await ids("/admin/grants", client="VN/GOV/BCA/client") == [
            "VN/GOV/BCA/client VN/GOV/BCA/population/citizen-lookup",
            "VN/GOV/BCA/client VN/GOV/BCA/population/citizen-search",
        ]
        assert (
            await ids("/admin/grants", client="VN/GOV/BCA/client", service="VN/GOV/BCA/other/thing")
            == []
        )
        r = await c.get("/admin/services", params={"subsytem": "x"}, headers=ADMIN_H)
        assert r.status_code == 400
        assert r.json()["detail"] == "unknown query parameter 'subsytem'; this takes: subsystem"

        r = await c.get("/admin/members/VN/GOV/BCA", headers=ADMIN_H)
        assert r.json() == {"id": "VN/GOV/BCA", "name": "Bộ Công an", "enabled": True}
        r = await c.get("/admin/subsystems/VN/GOV/BCA/population", headers=ADMIN_H)
        assert r.status_code == 200 and r.json()["base_url"] == "http://127.0.0.1:9"
        r = await c.get("/admin/services/VN/GOV/BCA/other/thing", headers=ADMIN_H)
        assert r.status_code == 200 and r.json()["id"] == "VN/GOV/BCA/other/thing"
        for path, said in (
            ("/admin/members/VN/GOV/NONE", "no such member VN/GOV/NONE"),
            ("/admin/subsystems/VN/GOV/BCA/none", "no such subsystem VN/GOV/BCA/none"),
            ("/admin/services/VN/GOV/BCA/other/none", "no such service VN/GOV/BCA/other/none"),
        ):
            r = await c.get(path, headers=ADMIN_H)
            assert r.status_code == 404 and r.json()["detail"].startswith(said), r.text


async def test_keys_take_an_expiry_and_answer_in_utc(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
        client = "VN/GOV/BCA/client"
        r = await c.post("/admin/keys", json={"client": client}, headers=ADMIN_H)
        assert r.status_code == 201 and r.json()["expires_at"] is None
        created = r.json()["created_at"]
        assert created.endswith("Z"), created
        assert abs(datetime.fromisoformat(created) - datetime.now(UTC)) < timedelta(minutes=1)

        # In Hà Nội's zone, it is stored and answered in UTC.
        r = await c.post(
            "/admin/keys",
            json={"client": client, "expires_at": "2099-01-01T07:00:00+07:00"},
            headers=ADMIN_H,
        )
        assert r.status_code == 201 and r.json()["expires_at"] == "2099-01-01T00:00:00Z", r.text
        r = await c.post(
            "/admin/keys",
            json={"client": client, "expires_at": "2099-01-01T07:00:00"},
            headers=ADMIN_H,
        )
        assert r.json()["expires_at"] == "2099-01-01T07:00:00Z"  # no zone: UTC
        listed = (await c.get("/admin/keys", params={"client": client}, headers=ADMIN_H)).json()
        assert [k["expires_at"] for k in listed] == [
            None,
            "2099-01-01T00:00:00Z",
            "2099-01-01T07:00:00Z",
        ]

        r = await c.post(
            "/admin/keys",
            json={"client": client, "expires_at": "2020-01-01T00:00:00Z"},
            headers=ADMIN_H,
        )
        assert r.status_code == 422
        assert "expires_at 2020-01-01T00:00:00Z is not in the future: give a later time" in r.text
        assert "Value error" not in r.text
        for edge, said in (  # were 500s
            ("9999-12-31T23:59:59-14:00", "past the years a time can hold in UTC; give an ear"),
            # Before the year 1 in UTC: it asked for an earlier time.
            ("0001-01-01T00:00:00+01:00", "is not in the future: give a later time"),
        ):
            r = await c.post(
                "/admin/keys", json={"client": client, "expires_at": edge}, headers=ADMIN_H
            )
            assert r.status_code == 422 and said in r.text, r.text
        revoked = await c.delete(f"/admin/keys/{listed[0]['id']}", headers=ADMIN_H)
        assert revoked.status_code == 204
        listed = (await c.get("/admin/keys", params={"client": client}, headers=ADMIN_H)).json()
        assert listed[0]["revoked_at"].endswith("Z")


async def test_a_key_past_its_expiry_is_refused_at_the_gateway(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (app, c):
        await _load(c)
        # Whole seconds, as the hub keeps them: now + 1 s cut to its second left as little
        # as a few ms before the key's end, and a loaded machine took longer to issue it.
        soon = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0).isoformat()
        r = await c.post(
            "/admin/keys", json={"client": "VN/GOV/BCA/client", "expires_at": soon}, headers=ADMIN_H
        )
        assert r.status_code == 201, r.text
        headers = {
            "X-Road-Client": "VN/GOV/BCA/client",
            "Authorization": f"Bearer {r.json()['api_key']}",
        }
        url = "/r1/VN/GOV/BCA/population/citizen-lookup/citizens/1"
        first = await c.get(url, headers=headers)
        assert first.headers.get("X-Road-Error") != "Client.Unauthorized"  # it works until then
        expires = datetime.fromisoformat(r.json()["expires_at"])
        while datetime.now(UTC) <= expires:
            await app.state.registry.refresh(force=True)
            await asyncio.sleep(0.05)
        r = await c.get(url, headers=headers)
        assert r.headers["X-Road-Error"] == "Client.Unauthorized", r.text


async def test_a_delete_answers_204_with_no_body_and_no_content_type(
    db_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
        r = await c.post("/admin/keys", json={"client": "VN/GOV/BCA/client"}, headers=ADMIN_H)
        assert r.status_code == 201, r.text
        grant = {"client": "VN/GOV/BCA/other", "service": "VN/GOV/BCA/population/citizen-lookup"}
        deletes: list[tuple[str, dict[str, Any]]] = [
            ("/admin/grants", {"json": grant}),
            (f"/admin/keys/{r.json()['id']}", {}),
            ("/admin/services/VN/GOV/BCA/other/thing", {}),
            ("/admin/subsystems/VN/GOV/BCA/other", {}),
            ("/admin/members/VN/GOV/BCA", {}),
        ]
        for url, body in deletes:
            r = await c.request("DELETE", url, headers=ADMIN_H, **body)
            assert r.status_code == 204, (url, r.text)
            assert r.content == b""
            assert "content-type" not in r.headers, (url, r.headers)
