"""The exchange end to end: forwarding, headers, every error code, and its log record."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import unicodedata

import pytest

from tests.gateway.conftest import CITIZEN, CLIENT, OTHER, PROVIDER, Hub

PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-0001"}
LOOKUP = f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}"


async def test_granted_exchange_returns_the_answer_with_xroad_headers(hub: Hub) -> None:
    resp = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE, **{"X-Road-Id": "msg-1"}))
    assert resp.status_code == 200
    assert resp.json() == {"id": CITIZEN, "full_name": "Nguyễn Văn An"}
    assert resp.headers["X-Road-Id"] == "msg-1"
    assert resp.headers["X-Road-Client"] == CLIENT
    assert resp.headers["X-Road-Service"] == f"{PROVIDER}/citizen-lookup"
    assert (
        resp.headers["X-Road-Request-Hash"]
        == base64.b64encode(hashlib.sha512(b"").digest()).decode()
    )
    assert float(resp.headers["X-Hub-Latency"]) >= 0
    assert float(resp.headers["X-Hub-Upstream-Latency"]) > 0
    assert "X-Road-Error" not in resp.headers
    # The provider saw the purpose and identity, not the key.
    seen = hub.provider.state.seen[-1]["headers"]
    assert seen["x-road-client"] == CLIENT and seen["x-road-userid"] == "officer-01"
    assert "authorization" not in seen


async def test_provider_no_data_is_passed_through_unchanged(hub: Hub) -> None:
    resp = await hub.client.get(
        f"/r1/{PROVIDER}/citizen-lookup/citizens/079203009999", headers=hub.headers(**PURPOSE)
    )
    assert resp.status_code == 404
    assert resp.json()["type"] == "NotFound"
    assert "X-Road-Error" not in resp.headers
    (rec,) = await hub.records()
    assert rec["status_code"] == 404 and rec["fault_code"] is None and not rec["succeeded"]


ERROR_CASES = [
    # (name, method, path, headers(hub) -> dict, body, status, code)
    (
        "malformed id",
        "GET",
        "/r1/VN/GOV/BCA/pop$/citizen-lookup/x",
        "ok",
        None,
        400,
        "Client.BadRequest",
    ),
    (
        "unknown instance",
        "GET",
        "/r1/XX/GOV/BCA/population/citizen-lookup/x",
        "ok",
        None,
        400,
        "Client.BadRequest",
    ),
    ("short path", "GET", "/r1/VN/GOV/BCA", "ok", None, 400, "Client.BadRequest"),
    ("missing purpose", "GET", LOOKUP, "ok", None, 400, "Client.MissingPurpose"),
    ("no key", "GET", LOOKUP, "nokey", None, 401, "Client.Unauthorized"),
    ("unknown key", "GET", LOOKUP, "badkey", None, 401, "Client.Unauthorized"),
    ("key of another client", "GET", LOOKUP, "otherkey", None, 403, "Client.AccessDenied"),
    (
        "not granted",
        "GET",
        f"/r1/{PROVIDER}/ungranted/citizens/{CITIZEN}",
        "ok",
        None,
        403,
        "Client.AccessDenied",
    ),
    (
        "endpoint not offered",
        "GET",
        f"/r1/{PROVIDER}/citizen-lookup/households/1",
        "purpose",
        None,
        403,
        "Client.AccessDenied",
    ),
    (
        "unknown service",
        "GET",
        f"/r1/{PROVIDER}/nothing/x",
        "ok",
        None,
        404,
        "Client.UnknownService",
    ),
    (
        "too large",
        "POST",
        f"/r1/{PROVIDER}/echo/echo",
        "ok",
        b'{"id": "' + b"x" * 300 + b'"}',
        413,
        "Client.PayloadTooLarge",
    ),
    (
        "schema",
        "POST",
        f"/r1/{PROVIDER}/echo/echo",
        "ok",
        b'{"id": 5}',
        422,
        "Client.InvalidPayload",
    ),
    ("not json", "POST", f"/r1/{PROVIDER}/echo/echo", "ok", b"{nope", 400, "Client.BadRequest"),
    (
        "disabled",
        "GET",
        f"/r1/{PROVIDER}/closed/citizens/1",
        "ok",
        None,
        503,
        "Server.ServiceDisabled",
    ),
    (
        "unreachable",
        "GET",
        f"/r1/{PROVIDER}/unreachable/x",
        "ok",
        None,
        502,
        "Server.ServiceFailed",
    ),
    ("malformed answer", "GET", f"/r1/{PROVIDER}/bad/bad", "ok", None, 502, "Server.ServiceFailed"),
    ("timeout", "GET", f"/r1/{PROVIDER}/slow/slow", "ok", None, 504, "Server.ServiceTimeout"),
]


async def test_a_timeout_and_an_unreachable_provider_are_named_in_the_message(hub: Hub) -> None:
    # "the provider did not answer ..." alone, in a replay's report, said not which.
    slow = await hub.client.get(f"/r1/{PROVIDER}/slow/slow", headers=hub.headers())
    gone = await hub.client.get(f"/r1/{PROVIDER}/unreachable/x", headers=hub.headers())
    assert slow.status_code == 504 and gone.status_code == 502
    assert slow.json()["message"].startswith(
        f"provider {PROVIDER} did not answer within the service timeout of 0.3 s"
    ), slow.text
    assert gone.json()["message"].startswith(
        f"provider {PROVIDER} could not be reached or broke off its answer: "
    ), gone.text


def _headers(hub: Hub, kind: str) -> dict[str, str]:
    if kind == "nokey":
        return {"X-Road-Client": CLIENT}
    if kind == "badkey":
        return {"X-Road-Client": CLIENT, "Authorization": "Bearer hub_000000000000_nothing"}
    if kind == "otherkey":
        return {"X-Road-Client": CLIENT, "Authorization": f"Bearer {hub.keys[OTHER]}", **PURPOSE}
    if kind == "purpose":
        return hub.headers(**PURPOSE)
    return hub.headers()


@pytest.mark.parametrize(
    ("method", "path", "kind", "body", "status", "code"),
    [c[1:] for c in ERROR_CASES],
    ids=[c[0] for c in ERROR_CASES],
)
async def test_hub_errors_carry_code_status_and_body_and_are_logged(
    hub: Hub, method: str, path: str, kind: str, body: bytes | None, status: int, code: str
) -> None:
    headers = _headers(hub, kind)
    if body is not None:
        headers["Content-Type"] = "application/json"
    resp = await hub.client.request(method, path, headers=headers, content=body)
    assert resp.status_code == status, resp.text
    assert resp.headers["X-Road-Error"] == code
    assert "Date" in resp.headers  # the hub's own answer
    # RFC 9110 15.5.2: a 401 names the scheme that lets a caller in; no other refusal does.
    assert resp.headers.get("WWW-Authenticate") == ("Bearer" if status == 401 else None)
    payload = resp.json()
    assert payload["type"] == code
    assert payload["detail"] == resp.headers["X-Road-Request-Id"]
    assert len(payload["message"]) > 10
    (rec,) = await hub.records()
    assert rec["fault_code"] == code
    assert rec["status_code"] == status
    assert rec["succeeded"] is False
    assert rec["request_id"] == resp.headers["X-Road-Request-Id"]


async def test_a_key_of_another_client_names_its_client(hub: Hub) -> None:
    # The holder of a key can learn its client from allowedMethods anyway; naming it here
    # saves a connector developer a mistyped X-Road-Client hunt.
    resp = await hub.client.get(LOOKUP, headers=_headers(hub, "otherkey"))
    assert resp.status_code == 403, resp.text
    assert resp.json()["message"] == (
        f"this API key belongs to {OTHER}, not to {CLIENT}: "
        f"send X-Road-Client: {OTHER}, or the API key of {CLIENT}"
    )


async def test_rate_limited_sets_retry_after(hub: Hub) -> None:
    async def quota(client: str) -> float | None:
        return 2.5

    hub.app.state.gateway.quota = quota
    resp = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    assert resp.status_code == 429
    assert resp.headers["X-Road-Error"] == "Client.RateLimited"
    assert resp.headers["Retry-After"] == "3"
    assert "Date" in resp.headers  # Retry-After had cost it its Date


def _stop_log_probe(hub: Hub) -> None:
    for task in hub.app.state.tasks:
        if task.get_name() == "log-probe":
            task.cancel()


async def test_logging_failure_refuses_the_exchange(hub: Hub) -> None:
    _stop_log_probe(hub)  # recovery comes from /readyz below, not from the probe's timing
    await hub.app.state.writer.engine.dispose()
    seen = hub.provider.state.seen

    async def broken(conn, records):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    hub.app.state.writer.hooks.append(broken)
    resp = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    assert resp.status_code == 503
    assert resp.headers["X-Road-Error"] == "Server.LoggingFailed"
    assert "the provider may have carried out the request" in resp.json()["message"]
    assert len(seen) == 1
    # The log's last write failed: the next exchanges are refused before the provider.
    hub.app.state.writer.hooks.remove(broken)
    resp = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    assert resp.status_code == 503 and resp.headers["X-Road-Error"] == "Server.LoggingFailed"
    assert "refused before it reached the provider" in resp.json()["message"]
    assert len(seen) == 1 and await hub.records() == []
    # A probe that finds the database taking writes lets them through again.
    assert (await hub.client.get("/readyz")).status_code == 200
    resp = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    assert resp.status_code == 200
    assert len(seen) == 2 and len(await hub.records()) == 1


async def test_the_log_probe_lets_exchanges_through_by_itself(hub: Hub) -> None:
    await hub.app.state.writer.engine.dispose()

    async def broken(conn, records):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    hub.app.state.writer.hooks.append(broken)
    assert (await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))).status_code == 503
    hub.app.state.writer.hooks.remove(broken)
    for _ in range(100):  # the probe runs every 0.5 s; no /readyz is asked
        resp = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
        if resp.status_code == 200:
            break
        await asyncio.sleep(0.1)
    assert resp.status_code == 200
    assert len(await hub.records()) == 1


async def test_a_stuck_log_refuses_exchanges_before_the_provider(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hub.txlog.writer as writer_module

    monkeypatch.setattr(writer_module, "STALL_S", 0.05)
    writer = hub.app.state.writer
    seen = hub.provider.state.seen
    entered, release = asyncio.Event(), asyncio.Event()

    async def stuck(conn, records):  # type: ignore[no-untyped-def]
        entered.set()
        await release.wait()  # a lock another process holds

    writer.hooks.append(stuck)
    first = asyncio.create_task(hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE)))
    await entered.wait()
    assert writer.busy_since
    await asyncio.sleep(0.1)  # past STALL_S
    resp = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    assert resp.status_code == 503 and resp.headers["X-Road-Error"] == "Server.LoggingFailed"
    assert resp.json()["message"].startswith("the transaction log's current write has waited")
    assert len(seen) == 1  # only the first reached the provider
    release.set()
    assert (await first).status_code == 200
    writer.hooks.remove(stuck)
    assert (await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))).status_code == 200
    assert len(seen) == 2 and len(await hub.records()) == 2


async def test_readiness_says_not_ready_while_a_stuck_log_refuses_exchanges(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load balancer asks /readyz: it said ready while every exchange got 503."""
    import hub.txlog.writer as writer_module

    monkeypatch.setattr(writer_module, "STALL_S", 0.05)
    writer = hub.app.state.writer
    entered, release = asyncio.Event(), asyncio.Event()

    async def stuck(conn, records):  # type: ignore[no-untyped-def]
        entered.set()
        await release.wait()

    writer.hooks.append(stuck)
    first = asyncio.create_task(hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE)))
    try:
        await entered.wait()
        await asyncio.sleep(0.1)  # past STALL_S
        refused = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
        assert refused.status_code == 503
        ready = await hub.client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["log_writer"] is False
    finally:
        release.set()
    assert (await first).status_code == 200
    writer.hooks.remove(stuck)
    assert (await hub.client.get("/readyz")).status_code == 200


async def test_record_fields_and_pseudonymised_path(hub: Hub) -> None:
    resp = await hub.client.get(
        LOOKUP + "?name=Nguyen&limit=5", headers=hub.headers(**PURPOSE, **{"X-Road-Id": "m-9"})
    )
    assert resp.status_code == 200
    (rec,) = await hub.records()
    assert rec["id"] == "m-9"
    assert rec["client"] == CLIENT
    assert rec["service"] == f"{PROVIDER}/citizen-lookup"
    assert rec["provider"] == PROVIDER
    assert rec["method"] == "GET"
    assert CITIZEN not in rec["path"] and "Nguyen" not in rec["path"]
    assert rec["path"].startswith("/citizens/~") and "limit=5" in rec["path"]
    assert rec["user_id"] == "officer-01" and rec["issue"] == "HS-0001"
    assert rec["succeeded"] is True
    assert rec["response_bytes"] == len(resp.content)
    assert rec["total_ms"] >= rec["upstream_ms"] > 0
    assert rec["response_hash"] == base64.b64encode(hashlib.sha512(resp.content).digest()).decode()
    assert rec["request_body"] is None and rec["response_body"] is None


async def test_body_is_forwarded_and_hashed(hub: Hub) -> None:
    body = b'{"id": "abc"}'
    resp = await hub.client.post(
        f"/r1/{PROVIDER}/echo/echo",
        headers={**hub.headers(), "Content-Type": "application/json"},
        content=body,
    )
    assert resp.status_code == 201 and resp.content == body
    assert (
        resp.headers["X-Road-Request-Hash"]
        == base64.b64encode(hashlib.sha512(body).digest()).decode()
    )
    (rec,) = await hub.records()
    assert rec["request_bytes"] == len(body)


@pytest.mark.parametrize(
    "path",
    [
        "/files/..%2f..%2fetc%2fpasswd",
        "/files/%2e%2e/secret",
        "/files/..",
        "/files/a%5c..%5cb",
        "/files/%2E%2E",
    ],
)
async def test_traversal_never_reaches_the_provider(hub: Hub, path: str) -> None:
    resp = await hub.client.get(f"/r1/{PROVIDER}/files{path}", headers=hub.headers())
    assert resp.status_code in (400, 403), resp.text
    assert resp.headers["X-Road-Error"] in ("Client.BadRequest", "Client.AccessDenied")


@pytest.mark.parametrize(
    ("path", "words"),
    [
        # Overlong UTF-8 for "." and "/": decoders that accept it (old IIS, some Java) read
        # "../" where the hub's checks saw neither.
        ("/files/%c0%ae%c0%ae/secret", "overlong UTF-8"),
        ("/files/%e0%80%ae%e0%80%ae/secret", "overlong UTF-8"),
        ("/files/..%c0%afsecret", "overlong UTF-8"),
        ("/files/%C0%AE%C0%AE%C0%AFsecret", "overlong UTF-8"),
        # Double-encoded: a provider (or a proxy before it) that decodes twice reads "../".
        ("/files/%252e%252e/secret", "encoded twice"),
        ("/files/..%252fsecret", "encoded twice"),
        ("/files/%25252e%25252e/secret", "encoded twice"),
        # A "%" that starts no escape: "%2%65" and "%%32%65" are "%2e" once decoded.
        ("/files/%2%65%2%65/secret", "two hex digits"),
        ("/files/%%32%65%%32%65/secret", "two hex digits"),
    ],
)
async def test_encoded_traversal_spellings_are_refused(hub: Hub, path: str, words: str) -> None:
    resp = await hub.client.get(f"/r1/{PROVIDER}/answers{path}", headers=hub.headers())
    assert resp.status_code == 400, resp.text
    assert resp.headers["X-Road-Error"] == "Client.BadRequest"
    assert words in resp.json()["message"]
    assert hub.provider.state.seen == []
    (rec,) = await hub.records()
    assert rec["fault_code"] == "Client.BadRequest"


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/files/Nguy%E1%BB%85n%20V%C4%83n%20An", "Nguyễn Văn An"),
        ("/files/%C3%80-%C3%A1", "À-á"),  # "À": a two-byte character, not an overlong one
        ("/files/50%25", "50%"),  # a literal "%"
        ("/files/50%25-off", "50%-off"),
        ("/files/%2541", "%41"),  # "%" then "41": no dot, slash, backslash or NUL
    ],
)
async def test_percent_encoded_names_still_pass(hub: Hub, path: str, name: str) -> None:
    resp = await hub.client.get(f"/r1/{PROVIDER}/files{path}", headers=hub.headers())
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"name": name, "raw": path}


async def test_a_query_is_forwarded_as_sent(hub: Hub) -> None:
    # The query is the provider's data, not a path: a literal "%" (%25) and a Vietnamese
    # name in UTF-8 go on unchanged.
    query = "name=Nguy%E1%BB%85n%20V%C4%83n%20An&discount=50%25&q=%252e"
    resp = await hub.client.get(
        f"/r1/{PROVIDER}/people/people?{query}", headers=hub.headers(**PURPOSE)
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"query": query}


async def test_hop_by_hop_headers_are_not_forwarded(hub: Hub) -> None:
    headers = {
        **hub.headers(**PURPOSE),
        "Connection": "keep-alive, X-Secret",
        "X-Secret": "for this hop only",
        "Proxy-Authorization": "Basic abc",
        # Not in any standard, but sent by old clients; RFC 9110 7.6.1 names it for removal.
        "Proxy-Connection": "keep-alive",
        "X-Custom": "kept",
    }
    resp = await hub.client.get(LOOKUP, headers=headers)
    assert resp.status_code == 200
    seen = hub.provider.state.seen[-1]["headers"]
    assert "proxy-authorization" not in seen and "x-secret" not in seen
    assert "proxy-connection" not in seen
    assert seen["x-custom"] == "kept"


async def test_metaservices_answer_in_xroad_shapes(hub: Hub) -> None:
    resp = await hub.client.get("/listClients")
    members = resp.json()["member"]
    sub = next(m for m in members if m["id"].get("subsystem_code") == "population")
    assert sub["id"]["object_type"] == "SUBSYSTEM" and sub["subsystem_name"] == "Dân cư"
    assert any(m["id"]["object_type"] == "MEMBER" and m["name"] == "Bộ Công an" for m in members)

    resp = await hub.client.get(f"/r1/{PROVIDER}/listMethods", headers=hub.headers())
    codes = {s["service_code"] for s in resp.json()["service"]}
    assert {"citizen-lookup", "ungranted", "echo"} <= codes
    lookup = next(s for s in resp.json()["service"] if s["service_code"] == "citizen-lookup")
    assert lookup["endpoint_list"] == [{"method": "GET", "path": "/citizens/{id}"}]
    assert lookup["object_type"] == "SERVICE" and lookup["xroad_instance"] == "VN"

    resp = await hub.client.get(f"/r1/{PROVIDER}/allowedMethods", headers=hub.headers())
    allowed = {s["service_code"] for s in resp.json()["service"]}
    assert "ungranted" not in allowed and "citizen-lookup" in allowed
    resp = await hub.client.get(f"/r1/{PROVIDER}/allowedMethods", headers=hub.headers(OTHER))
    assert resp.json() == {"service": []}

    resp = await hub.client.get(
        f"/r1/{PROVIDER}/getOpenAPI?serviceCode=citizen-lookup", headers=hub.headers()
    )
    assert resp.status_code == 200
    # Cut to the service's own endpoint, though the provider names its parameter otherwise.
    assert list(resp.json()["paths"]) == ["/citizens/{cid}"]
    meta = [r for r in await hub.records() if r["service"].endswith("/getOpenAPI")]
    assert meta[0]["upstream_ms"] is not None and meta[0]["succeeded"]


async def test_revoked_key_is_refused_at_once(hub: Hub) -> None:
    admin = {"Authorization": "Bearer admin-token-0123456789"}
    keys = (await hub.client.get("/admin/keys", params={"client": CLIENT}, headers=admin)).json()
    resp = await hub.client.delete(f"/admin/keys/{keys[0]['id']}", headers=admin)
    assert resp.status_code == 204
    resp = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    assert resp.status_code == 401


async def test_r1_without_a_slash_is_the_gateways_bad_request(hub: Hub) -> None:
    r = await hub.client.get("/r1", headers=hub.headers())
    assert r.status_code == 400 and r.headers["X-Road-Error"] == "Client.BadRequest"
    assert "/r1/INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE" in r.json()["message"]


async def test_an_empty_purpose_header_is_a_missing_purpose(hub: Hub) -> None:
    lookup = f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}"
    for empty in ({"X-Road-UserId": "", "X-Road-Issue": "HS-1"},
                  {"X-Road-UserId": "officer-01", "X-Road-Issue": ""}):  # fmt: skip
        r = await hub.client.get(lookup, headers=hub.headers(**empty))
        assert r.status_code == 400 and r.headers["X-Road-Error"] == "Client.MissingPurpose"


async def test_a_bad_purpose_header_is_named_as_the_client_writes_it(hub: Hub) -> None:
    # The refusal said "x-road-userid must be ...", the ASGI form, where X-Road-Id is named
    # as written.
    for name in ("X-Road-UserId", "X-Road-Issue"):
        r = await hub.client.get(LOOKUP, headers=hub.headers(**(PURPOSE | {name: "a" * 301})))
        assert r.status_code == 400 and r.headers["X-Road-Error"] == "Client.BadRequest"
        assert r.json()["message"] == f"{name} must be 1-300 printable ASCII characters"


async def test_a_purpose_header_in_vietnamese_is_refused_with_what_to_send(hub: Hub) -> None:
    # An officer's name or a case's title typed with diacritics, as clients send it (UTF-8):
    # the refusal said only "printable ASCII", not what the same text is in ASCII.
    sent = {"X-Road-UserId": "Nguyễn Văn Ả", "X-Road-Issue": "Hồ sơ Đất đai 12"}
    ascii_ = {"X-Road-UserId": "Nguyen Van A", "X-Road-Issue": "Ho so Dat dai 12"}
    for name, value in sent.items():
        headers: dict[str, str | bytes] = dict(hub.headers(**PURPOSE))
        headers[name] = value.encode()  # as clients send it: UTF-8
        r = await hub.client.get(LOOKUP, headers=headers)
        assert r.status_code == 400 and r.headers["X-Road-Error"] == "Client.BadRequest"
        assert r.json()["message"] == (
            f"{name} must be 1-300 printable ASCII characters: letters with diacritics "
            f"cannot be sent in a header; send {ascii_[name]!r}"
        )
        headers[name] = unicodedata.normalize("NFD", value).encode()
        r = await hub.client.get(LOOKUP, headers=headers)
        assert r.status_code == 400
        assert r.json()["message"].endswith(f"send {ascii_[name]!r}")


async def test_the_openapi_document_follows_a_registry_change_at_once(hub: Hub) -> None:
    url = f"/r1/{PROVIDER}/getOpenAPI?serviceCode=citizen-lookup"
    first = await hub.client.get(url, headers=hub.headers())
    assert list(first.json()["paths"]) == ["/citizens/{cid}"]
    admin = {"Authorization": "Bearer admin-token-0123456789"}
    endpoints = [{"method": "GET", "path": "/citizens/{id}"}, {"method": "GET", "path": "/people"}]
    r = await hub.client.patch(
        f"/admin/services/{PROVIDER}/citizen-lookup", json={"endpoints": endpoints}, headers=admin
    )
    assert r.status_code == 200, r.text
    again = await hub.client.get(url, headers=hub.headers())  # within the cache's 60 s
    assert sorted(again.json()["paths"]) == ["/citizens/{cid}", "/people"]


async def test_get_openapi_refuses_a_service_code_that_is_no_identifier(hub: Hub) -> None:
    url = f"/r1/{PROVIDER}/getOpenAPI"
    for query in ("serviceCode=a%2Fb", "serviceCode=a%20b", "serviceCode=x&serviceCode=y"):
        r = await hub.client.get(f"{url}?{query}", headers=hub.headers())
        assert r.status_code == 400, (query, r.text)
        assert r.headers["X-Road-Error"] == "Client.BadRequest"
        assert "serviceCode" in r.json()["message"]


async def test_get_openapi_of_a_service_its_provider_does_not_describe_says_so(hub: Hub) -> None:
    # The provider serves /sized but leaves it out of its document: cut to the service, the
    # document had no operation left, and the hub answered 200 with empty paths.
    admin = {"Authorization": "Bearer admin-token-0123456789"}
    service = {"id": f"{PROVIDER}/sized", "endpoints": [{"method": "GET", "path": "/sized"}]}
    r = await hub.client.post("/admin/services", json=service, headers=admin)
    assert r.status_code == 201, r.text
    r = await hub.client.get(f"/r1/{PROVIDER}/getOpenAPI?serviceCode=sized", headers=hub.headers())
    assert r.status_code == 502 and r.headers["X-Road-Error"] == "Server.ServiceFailed"
    assert "GET /sized" in r.json()["message"]


async def test_metaservices_answer_get_only(hub: Hub) -> None:
    # A DELETE of allowedMethods answered the list, as if it were a GET.
    for method, meta in (("POST", "listMethods"), ("DELETE", "allowedMethods")):
        r = await hub.client.request(method, f"/r1/{PROVIDER}/{meta}", headers=hub.headers())
        assert r.status_code == 400 and r.headers["X-Road-Error"] == "Client.BadRequest"
        assert f"{meta} answers GET" in r.json()["message"]
    r = await hub.client.head(f"/r1/{PROVIDER}/listMethods", headers=hub.headers())
    assert r.status_code == 200
    # listClients too, in the same shape (it was FastAPI's {"detail": "Method Not Allowed"}).
    r = await hub.client.post("/listClients")
    assert r.status_code == 400 and r.headers["X-Road-Error"] == "Client.BadRequest"
    assert r.json()["message"] == "listClients answers GET and HEAD only (got POST)"
    assert r.json()["type"] == "Client.BadRequest" and r.json()["detail"]


async def test_list_clients_answers_head_and_refuses_options_as_the_others(hub: Hub) -> None:
    # HEAD was FastAPI's 405 {"detail": "Method Not Allowed"}, and so was OPTIONS, while
    # the /r1 metaservices answer HEAD and refuse other methods in X-Road's shape.
    length = len((await hub.client.get("/listClients")).content)
    r = await hub.client.head("/listClients")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.headers["content-length"] == str(length)
    r = await hub.client.options("/listClients")
    assert r.status_code == 400 and r.headers["X-Road-Error"] == "Client.BadRequest"
    assert r.json()["message"] == "listClients answers GET and HEAD only (got OPTIONS)"


async def test_a_path_after_a_metaservice_is_said_to_be_one(hub: Hub) -> None:
    # ".../listMethods/" read "there is no service .../listMethods" and nothing more.
    r = await hub.client.get(f"/r1/{PROVIDER}/listMethods/", headers=hub.headers())
    assert r.status_code == 404 and r.headers["X-Road-Error"] == "Client.UnknownService"
    assert r.json()["message"] == (
        f"there is no service {PROVIDER}/listMethods; the metaservice listMethods takes no "
        f"path after it: GET /r1/{PROVIDER}/listMethods"
    )
