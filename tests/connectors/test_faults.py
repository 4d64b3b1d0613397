"""Each fault kind, seen by an HTTP client of a real uvicorn server on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

import connectors
from connectors.kit import FaultConfig
from connectors.kit.faults import Faults
from connectors.population.dataset import DEFAULT_SIZE, citizen_at
from tests.support import free_port

PERSON = citizen_at(42, DEFAULT_SIZE, 0)
VERIFY = {"id": PERSON["id"], "full_name": PERSON["full_name"]}


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[tuple[httpx.AsyncClient, uvicorn.Server]]:
    """The population mock served by uvicorn, and a client of it with a short timeout."""
    port = free_port()
    app = connectors.get("population").create_app(seed=42)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="critical", ws="none",
        timeout_graceful_shutdown=1,
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    # uvicorn offers no event to await: poll, for up to 30 s on a busy machine.
    deadline = time.monotonic() + 30
    while not server.started:
        assert not task.done(), task.exception()
        assert time.monotonic() < deadline, "the mock did not start within 30 s"
        await asyncio.sleep(0.01)
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=2.0) as client:
        yield client, server
    server.should_exit = True
    await task


@pytest.fixture
async def mock() -> AsyncIterator[httpx.AsyncClient]:
    async with serving() as (client, _server):
        yield client


async def put(client: httpx.AsyncClient, faults: dict) -> None:
    answer = await client.put("/__faults", json=faults)
    assert answer.status_code == 200, answer.text


async def test_latency_with_jitter(mock: httpx.AsyncClient) -> None:
    await put(mock, {"latency_ms": 300, "jitter_ms": 100})
    started = time.perf_counter()
    answer = await mock.get(f"/citizens/{PERSON['id']}")
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200 and 0.3 <= elapsed < 1.5
    # Control routes are never faulted: with a latency of minutes the health check answers
    # within the client's timeout all the same (a faulted one would raise ReadTimeout).
    await put(mock, {"latency_ms": 600_000})
    assert (await mock.get("/__health", timeout=30)).status_code == 200


async def test_latency_hands_the_body_on(mock: httpx.AsyncClient) -> None:
    # The body is read while the delay watches for the client leaving; the app still gets it.
    await put(mock, {"latency_ms": 200})
    body = {"id": PERSON["id"], "full_name": PERSON["full_name"]}
    answer = await mock.post("/citizens/verify", json=body)
    assert answer.status_code == 200 and answer.json() == {"match": True}
    body["full_name"] = "Someone Else"
    assert (await mock.post("/citizens/verify", json=body)).json() == {"match": False}


async def test_a_client_that_stops_waiting_ends_the_delay() -> None:
    # The hub gives up on a slow provider at its service timeout and closes the connection;
    # the mock's request slept out the whole latency all the same (and one stopped
    # meanwhile logged the sleep's cancellation as a traceback).
    async with serving() as (client, server):
        await put(client, {"latency_ms": 30_000})
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"/citizens/{PERSON['id']}", timeout=0.3)
        # The server sees the connection closed and cancels the request: at once on an idle
        # machine, later on a busy one; before the 30 s latency would have ended it.
        deadline = time.monotonic() + 20
        while server.server_state.tasks:
            assert time.monotonic() < deadline, "the abandoned request is still held"
            await asyncio.sleep(0.01)
        await put(client, {})


async def test_error_with_chosen_status_then_cleared(mock: httpx.AsyncClient) -> None:
    await put(mock, {"error_rate": 1, "error_status": 503})
    answer = await mock.get(f"/citizens/{PERSON['id']}")
    assert answer.status_code == 503 and answer.json()["type"] == "InjectedFault"
    assert (await mock.delete("/__faults")).json()["error_rate"] == 0
    assert (await mock.get(f"/citizens/{PERSON['id']}")).status_code == 200


async def test_timeout_never_answers(mock: httpx.AsyncClient) -> None:
    await put(mock, {"timeout_rate": 1})
    with pytest.raises(httpx.ReadTimeout):
        await mock.get(f"/citizens/{PERSON['id']}", timeout=0.5)
    await put(mock, {})
    assert (await mock.get(f"/citizens/{PERSON['id']}")).status_code == 200


async def test_reset_drops_the_connection(mock: httpx.AsyncClient) -> None:
    await put(mock, {"reset_rate": 1})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        await mock.post("/citizens/verify", json=VERIFY)


async def test_reset_is_a_reset_not_an_orderly_close() -> None:
    # The connection was closed with a FIN, so clients read an empty answer ("Empty reply
    # from server") instead of the "connection reset by peer" a crashed provider gives.
    async with serving() as (client, server):
        await put(client, {"reset_rate": 1})
        port = server.config.port
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /citizens/{PERSON['id']} HTTP/1.1\r\nHost: mock\r\n\r\n".encode())
        await writer.drain()
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(), 2)
        writer.close()


async def test_malformed_body_is_labelled_json_but_is_not(mock: httpx.AsyncClient) -> None:
    await put(mock, {"malformed_rate": 1})
    answer = await mock.get(f"/citizens/{PERSON['id']}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert PERSON["id"] in answer.text
    with pytest.raises(ValueError):
        answer.json()


async def test_malformed_leaves_an_answer_without_a_body_as_it_is(
    mock: httpx.AsyncClient,
) -> None:
    # A 204 stub went out with content-length: 2 and '{"' after it, which a client read as
    # the start of its next answer on the connection ("illegal status line").
    stubs = [
        {"method": "GET", "path": "/v2/empty", "status": 204, "headers": {"X-Case": "a"}},
        {"method": "GET", "path": "/v2/same", "status": 304, "headers": {"ETag": '"v1"'}},
        {"method": "GET", "path": "/v2/next", "text": "after"},
    ]
    assert (await mock.put("/__stubs", json=stubs)).status_code == 200
    await put(mock, {"malformed_rate": 1})
    for path, status in (("/v2/empty", 204), ("/v2/same", 304)):
        answer = await mock.get(path)  # then another call on the same connection
        assert answer.status_code == status and answer.content == b""
        assert "content-length" not in answer.headers
        assert "content-type" not in answer.headers
        assert (await mock.get("/v2/next")).status_code == 200
    assert (await mock.get("/v2/empty")).headers["x-case"] == "a"


async def test_per_service_faults_hit_only_that_service(mock: httpx.AsyncClient) -> None:
    await put(mock, {"services": {"citizen-verify": {"error_rate": 1, "error_status": 502}}})
    assert (await mock.post("/citizens/verify", json=VERIFY)).status_code == 502
    assert (await mock.get(f"/citizens/{PERSON['id']}")).status_code == 200
    # /citizens/changes is its own service, not citizen-lookup of id "changes"
    await put(mock, {"services": {"citizen-lookup": {"error_rate": 1}}})
    assert (await mock.get("/citizens/changes")).status_code == 200


async def test_invalid_fault_settings_are_refused(mock: httpx.AsyncClient) -> None:
    assert (await mock.put("/__faults", json={"error_rate": 2})).status_code == 422
    assert (
        await mock.put("/__faults", json={"error_rate": 0.6, "reset_rate": 0.6})
    ).status_code == 422
    assert (await mock.put("/__faults", json={"eror_rate": 0.1})).status_code == 422


async def test_not_a_number_is_refused_by_name(mock: httpx.AsyncClient) -> None:
    # JSON has no NaN, but Python's json (and so curl users' tools) write it; it was a 500.
    for field, value in (
        ("latency_ms", "NaN"),
        ("error_rate", "Infinity"),
        ("jitter_ms", "-Infinity"),
    ):
        body = f'{{"{field}": {value}}}'
        answer = await mock.put(
            "/__faults", content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 422 and field in answer.text, answer.text
    assert (await mock.get("/__faults")).json()["latency_ms"] == 0


async def test_delete_clears_what_put_of_nothing_clears(mock: httpx.AsyncClient) -> None:
    await put(mock, {"seed": 7, "latency_ms": 5})
    deleted = (await mock.delete("/__faults")).json()
    await put(mock, {"seed": 7, "latency_ms": 5})
    assert deleted == (await mock.put("/__faults", json={})).json()
    assert deleted["seed"] is None and deleted["latency_ms"] == 0


async def test_reset_restores_the_starting_faults(mock: httpx.AsyncClient) -> None:
    await put(mock, {"error_rate": 1})
    await mock.post("/__reset")
    assert (await mock.get("/__faults")).json()["error_rate"] == 0


def test_same_seed_same_fault_sequence() -> None:
    config = FaultConfig(error_rate=0.3, malformed_rate=0.2, jitter_ms=50, seed=9)

    def run() -> list[tuple[float, str | None]]:
        faults = Faults(config)
        return [faults.decide("citizen-lookup")[:2] for _ in range(200)]

    first = run()
    assert first == run()
    kinds = [kind for _, kind in first]
    assert 30 < kinds.count("error") < 90 and 15 < kinds.count("malformed") < 65
    assert kinds != [
        k
        for _, k in [
            Faults(config.model_copy(update={"seed": 10})).decide(None)[:2] for _ in range(200)
        ]
    ]


async def test_fault_settings_read_back_as_they_were_given() -> None:
    app = connectors.get("insurance").create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as mock:
        given = {"error_rate": 0.4, "services": {"card-lookup": {"timeout_rate": 0.5}}}
        await put(mock, given)
        shown = (await mock.get("/__faults")).json()
        # Only what the service overrides: PUT back, the global error rate still applies to it.
        assert shown["services"] == {"card-lookup": {"timeout_rate": 0.5}}
        await put(mock, shown)
        assert app.faults.config.for_service("card-lookup").error_rate == 0.4  # type: ignore[attr-defined]

        # Each part fits one draw, together they do not: refused, not a 500 on every call.
        too_much = {"error_rate": 0.6, "services": {"card-lookup": {"timeout_rate": 0.5}}}
        refused = await mock.put("/__faults", json=too_much)
        assert refused.status_code == 422 and "services.card-lookup" in refused.text
        typo = await mock.put("/__faults", json={"services": {"card-lokup": {"error_rate": 1}}})
        assert typo.status_code == 422
        assert "no service card-lokup" in typo.json()["message"]
        # The same type as the sum refused above: both are fields of the request to fix.
        assert typo.json()["type"] == refused.json()["type"] == "InvalidRequest"
        assert "card-lookup" in typo.json()["message"]
        assert (await mock.get("/__faults")).json() == shown
