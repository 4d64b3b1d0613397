"""Population subscriptions: events POSTed to the subscriber's own service through the hub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import connectors
from connectors.kit.testing import FakeHub, open_client, serve
from connectors.population.dataset import citizen_at

SEED, SIZE = 5, 10_000
KEY = "population-test-key"
BUSINESS = "VN/GOV/BTC/business-registry"
EVENTS = f"{BUSINESS}/citizen-events"
AS_BUSINESS = {"X-Road-Client": BUSINESS}
PURPOSE = {"X-Road-UserId": "officer-btp-02", "X-Road-Issue": "KT-2025-0001"}
FAST = (0.01, 0.01, 0.01, 0.01)  # the retries' waits, shortened for the tests


def adult(start: int = 0) -> dict[str, Any]:
    for k in range(start, SIZE):
        person = citizen_at(SEED, SIZE, k)
        if person["date_of_birth"] < "1990-01-01":
            return person
    raise AssertionError("no adult")


def death(person: dict[str, Any]) -> dict[str, Any]:
    return {"id": person["id"], "date_of_death": "2025-10-30", "place_of_death": "Hà Nội"}


class Flaky:
    """A receiving service that answers ``statuses`` in turn, then 200 for good."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.bodies: list[Any] = []
        self.app = Starlette(routes=[Route("/events/citizens", self._handle, methods=["POST"])])

    async def _handle(self, request: Request) -> JSONResponse:
        self.bodies.append(await request.json())
        status = self.statuses.pop(0) if self.statuses else 200
        return JSONResponse({"type": "Unavailable", "message": "down"}, status_code=status)


@pytest.fixture
def business() -> FastAPI:
    return connectors.get("business").create_app(seed=SEED, size=SIZE)


@pytest.fixture
def hub(business: FastAPI) -> Iterator[tuple[FakeHub, str]]:
    fake = FakeHub(seed=SEED, size=SIZE, upstreams={EVENTS: business})
    with serve(fake.app) as url:
        yield fake, url


@asynccontextmanager
async def population(url: str | None) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = connectors.get("population").create_app(seed=SEED, size=SIZE, hub_url=url, client_key=KEY)
    app.state.subscriptions.retry_delays = FAST
    async with open_client(app) as client:
        yield app, client


async def subscribe(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    answer = await client.post(
        "/subscriptions", json={"service": EVENTS, **body}, headers=AS_BUSINESS
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def deliveries(client: httpx.AsyncClient) -> dict[str, Any]:
    [sub] = (await client.get("/subscriptions", headers=AS_BUSINESS)).json()["items"]
    return sub["deliveries"]


async def test_a_death_is_posted_to_the_subscriber_through_the_hub(
    hub: tuple[FakeHub, str], business: FastAPI
) -> None:
    fake, url = hub
    person = adult()
    async with population(url) as (app, client):
        sub = await subscribe(client, events=["death"])
        assert sub["subscriber"] == BUSINESS and sub["events"] == ["death"]
        assert sub["path"] == "/events/citizens"
        written = await client.post("/deaths", json=death(person), headers=PURPOSE)
        assert written.status_code == 200, written.text
        await app.state.subscriptions.wait()

        [call] = fake.calls(EVENTS)
        assert call.method == "POST" and call.path == f"/r1/{EVENTS}/events/citizens"
        # Population calls as a client of the hub: its own identity and key, and the
        # officer and dossier of the registration, so the log ties the two together.
        assert call.headers["x-road-client"] == "VN/GOV/BCA/population"
        assert call.headers["authorization"] == f"Bearer {KEY}"
        assert call.headers["x-road-userid"] == "officer-btp-02"
        assert call.headers["x-road-issue"] == "KT-2025-0001"
        assert call.body["event"] == "death" and call.body["citizen_id"] == person["id"]
        assert call.body["subscription"] == sub["id"] and call.body["seq"] >= 1
        assert (await deliveries(client)) == {
            "delivered": 1,
            "failed": 0,
            "pending": 0,
            "last_error": None,
            "last_error_at": None,
        }

    transport = httpx.ASGITransport(app=business)
    async with httpx.AsyncClient(transport=transport, base_url="http://business") as reader:
        got = (await reader.get("/events/citizens", params={"citizen_id": person["id"]})).json()
        assert [(e["event"], e["sender"]) for e in got["items"]] == [
            ("death", "VN/GOV/BCA/population")
        ]
        # A resend of the same change (its answer lost on the way back) is recorded once.
        again = await reader.post("/events/citizens", json=call.body)
        assert again.status_code == 200
        assert len((await reader.get("/events/citizens")).json()["items"]) == 1


async def test_a_failed_delivery_is_tried_again() -> None:
    flaky = Flaky(503, 502)
    fake = FakeHub(seed=SEED, size=SIZE, upstreams={EVENTS: flaky.app})
    with serve(fake.app) as url:
        async with population(url) as (app, client):
            await subscribe(client, events=["death"])
            await client.post("/deaths", json=death(adult()), headers=PURPOSE)
            await app.state.subscriptions.wait()
            counts = await deliveries(client)
    assert len(flaky.bodies) == 3 and flaky.bodies[0] == flaky.bodies[2]
    assert counts["delivered"] == 1 and counts["failed"] == 0 and counts["pending"] == 0
    assert "HTTP 502" in counts["last_error"]  # the last failure stays visible


async def test_a_delivery_is_given_up_after_five_tries() -> None:
    flaky = Flaky(*[503] * 10)
    fake = FakeHub(seed=SEED, size=SIZE, upstreams={EVENTS: flaky.app})
    with serve(fake.app) as url:
        async with population(url) as (app, client):
            await subscribe(client, events=["death"])
            written = await client.post("/deaths", json=death(adult()), headers=PURPOSE)
            assert written.status_code == 200  # the write never waits for its subscribers
            await app.state.subscriptions.wait()
            counts = await deliveries(client)
    assert len(flaky.bodies) == 5
    assert counts["delivered"] == 0 and counts["failed"] == 1 and counts["pending"] == 0
    assert f"{EVENTS}: the subscriber answered HTTP 503" in counts["last_error"]


async def test_a_hub_refusal_is_given_up_at_once(hub: tuple[FakeHub, str]) -> None:
    fake, url = hub
    fake.refuse(EVENTS, 403, "Client.AccessDenied")
    async with population(url) as (app, client):
        await subscribe(client, events=["death"])
        await client.post("/deaths", json=death(adult()), headers=PURPOSE)
        await app.state.subscriptions.wait()
        counts = await deliveries(client)
    assert len(fake.calls(EVENTS)) == 1  # not granted: sending it again would not mend it
    assert counts["failed"] == 1
    assert "the hub refused it (Client.AccessDenied) HTTP 403" in counts["last_error"]


async def test_an_unreachable_hub_is_tried_again_then_given_up() -> None:
    with serve(FakeHub(seed=SEED, size=SIZE).app) as url:
        pass  # stopped: its port answers nothing now
    async with population(url) as (app, client):
        await subscribe(client, events=["death"])
        await client.post("/deaths", json=death(adult()), headers=PURPOSE)
        await app.state.subscriptions.wait()
        counts = await deliveries(client)
    assert counts["failed"] == 1
    assert "the hub could not be reached" in counts["last_error"]


async def test_a_mock_without_a_hub_refuses_subscriptions() -> None:
    async with population(None) as (_, client):
        answer = await client.post("/subscriptions", json={"service": EVENTS}, headers=AS_BUSINESS)
        assert answer.status_code == 409
        assert answer.json()["type"] == "Conflict"
        assert "started without a hub" in answer.json()["message"]
        assert (await client.get("/subscriptions", headers=AS_BUSINESS)).json() == {"items": []}


async def test_only_the_events_asked_for_are_sent(hub: tuple[FakeHub, str]) -> None:
    fake, url = hub
    mother = next(
        p
        for k in range(SIZE)
        if (p := citizen_at(SEED, SIZE, k))["sex"] == "female"
        and "1985-01-01" < p["date_of_birth"] < "1995-01-01"
    )
    async with population(url) as (app, client):
        await subscribe(client, events=["birth"])
        await client.post("/deaths", json=death(adult()), headers=PURPOSE)
        await app.state.subscriptions.wait()
        assert fake.calls(EVENTS) == []
        birth = {"full_name": "Nguyễn Thị Mai", "date_of_birth": "2025-01-02", "sex": "female"}
        born = await client.post("/births", json={**birth, "mother_id": mother["id"]})
        assert born.status_code == 201, born.text
        await app.state.subscriptions.wait()
        [call] = fake.calls(EVENTS)
        assert call.body["event"] == "birth" and call.body["citizen_id"] == born.json()["id"]
        # Without the registration's officer and dossier, the subscription stands for them.
        assert call.headers["x-road-userid"] == "VN/GOV/BCA/population"
        assert call.headers["x-road-issue"] == call.body["subscription"]


async def test_subscriptions_belong_to_their_subscriber(hub: tuple[FakeHub, str]) -> None:
    _, url = hub
    async with population(url) as (_, client):
        anonymous = await client.post("/subscriptions", json={"service": EVENTS})
        assert anonymous.status_code == 422
        assert "no X-Road-Client header" in anonymous.json()["message"]
        other = {"service": "VN/GOV/BTP/civil-status/citizen-events"}
        theirs = await client.post("/subscriptions", json=other, headers=AS_BUSINESS)
        assert theirs.status_code == 422
        assert "is not one of VN/GOV/BTC/business-registry's" in theirs.json()["message"]
        wrong = await client.post(
            "/subscriptions", json={"service": EVENTS, "events": ["marriage"]}, headers=AS_BUSINESS
        )
        assert wrong.status_code == 422

        sub = await subscribe(client)
        assert sub["events"] == ["birth", "death", "residence"]  # all by default
        land = {"X-Road-Client": "VN/GOV/BNNMT/land-registry"}
        assert (await client.get("/subscriptions", headers=land)).json() == {"items": []}
        assert (await client.delete(f"/subscriptions/{sub['id']}", headers=land)).status_code == 404
        gone = await client.delete(f"/subscriptions/{sub['id']}", headers=AS_BUSINESS)
        assert gone.status_code == 200 and gone.json()["id"] == sub["id"]
        assert (await client.get("/subscriptions", headers=AS_BUSINESS)).json() == {"items": []}

        await subscribe(client)
        assert (await client.post("/__reset")).status_code == 200  # a reset drops them
        assert (await client.get("/subscriptions", headers=AS_BUSINESS)).json() == {"items": []}


async def test_a_path_or_service_with_dot_segments_is_refused(hub: tuple[FakeHub, str]) -> None:
    # The hub client resolves "..", so such a path would point the notifications at a
    # service other than the one named (another subsystem's, even): refused, as any other's.
    _, url = hub
    async with population(url) as (_, client):
        for body in (
            {"service": f"{BUSINESS}/nothing", "path": "/../citizen-events/events/citizens"},
            {"service": f"{BUSINESS}/..", "path": "/events/citizens"},
            {"service": EVENTS, "path": "/events/./citizens"},
        ):
            answer = await client.post("/subscriptions", json=body, headers=AS_BUSINESS)
            assert answer.status_code == 422, body
            assert "'.' or '..'" in answer.json()["message"]
        assert (await client.get("/subscriptions", headers=AS_BUSINESS)).json() == {"items": []}


class Counting:
    """A receiving service that keeps how many notifications it held at once, at most."""

    def __init__(self) -> None:
        self.now = self.most = self.received = 0
        self.app = Starlette(routes=[Route("/events/citizens", self._handle, methods=["POST"])])

    async def _handle(self, request: Request) -> JSONResponse:
        self.now += 1  # one event loop (the test server's thread): no lock needed
        self.most, self.received = max(self.most, self.now), self.received + 1
        await asyncio.sleep(0.01)  # an answer takes a moment, so calls under way overlap
        self.now -= 1
        return JSONResponse({})


async def test_a_write_to_many_subscriptions_sends_a_few_at_a_time() -> None:
    # Thousands of deliveries started at once queued in the HTTP client's pool, whose
    # book-keeping grows with the queue: the mock spent its CPU there and answered nothing.
    counting = Counting()
    fake = FakeHub(seed=SEED, size=SIZE, upstreams={EVENTS: counting.app})
    with serve(fake.app) as url:
        async with population(url) as (app, client):
            app.state.subscriptions.in_flight = 4
            for _ in range(40):
                await subscribe(client, events=["death"])
            written = await client.post("/deaths", json=death(adult()), headers=PURPOSE)
            assert written.status_code == 200
            await app.state.subscriptions.wait()
            items = (await client.get("/subscriptions", headers=AS_BUSINESS)).json()["items"]
    assert counting.received == 40
    assert sum(sub["deliveries"]["delivered"] for sub in items) == 40
    assert counting.most <= 4


async def test_a_subscriber_holds_a_bounded_number_of_subscriptions(
    hub: tuple[FakeHub, str],
) -> None:
    # Each write fans out to every subscription: a subscriber looping on subscribe (never
    # unsubscribing) grew the work of every later write without end.
    _, url = hub
    async with population(url) as (app, client):
        app.state.subscriptions.max_per_subscriber = 3
        for _ in range(3):
            await subscribe(client)
        answer = await client.post("/subscriptions", json={"service": EVENTS}, headers=AS_BUSINESS)
        assert answer.status_code == 409, answer.text
        assert answer.json()["message"] == (
            f"{BUSINESS} has 3 subscriptions already, as many as a subscriber may hold: "
            "delete one it no longer needs (DELETE /subscriptions/{id}; GET /subscriptions "
            "lists them)"
        )
        [first, *_] = (await client.get("/subscriptions", headers=AS_BUSINESS)).json()["items"]
        deleted = await client.delete(f"/subscriptions/{first['id']}", headers=AS_BUSINESS)
        assert deleted.status_code == 200, deleted.text
        await subscribe(client)
