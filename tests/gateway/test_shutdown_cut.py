"""An exchange cut short by the hub's stop still leaves its record, as a timeout."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.gateway.conftest import CITIZEN, PROVIDER, Hub

PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-0001"}
LOOKUP = f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}"


async def test_an_exchange_cancelled_at_the_stop_deadline_is_recorded(hub: Hub) -> None:
    # uvicorn cancels the exchanges still in flight when its graceful stop (30 s) runs out,
    # before the log writer's last flush. A service's timeout may be up to 600 s: an
    # exchange already at its provider (which may carry it out) then left no record at all.
    gateway = hub.app.state.gateway
    reached = asyncio.Event()

    async def hung(*args: Any, **kwargs: Any) -> Any:
        reached.set()
        await asyncio.Event().wait()

    gateway.forwarder.send_head = hung
    raw = [(k.lower().encode(), v.encode()) for k, v in hub.headers(**PURPOSE).items()]
    task = asyncio.create_task(gateway.exchange("GET", LOOKUP, "", raw, body=b""))
    await asyncio.wait_for(reached.wait(), 10)
    task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
    message = await asyncio.wait_for(task, 10)

    assert message["status"] == 504
    (rec,) = await hub.records()
    assert rec["fault_code"] == "Server.ServiceTimeout"
    assert rec["status_code"] == 504
    assert rec["request_id"] == message_request_id(message)
    assert b"the hub stopped" in message["body"]
    assert b"may have carried out the request" in message["body"]


def message_request_id(message: dict[str, Any]) -> str:
    head = message["head"].decode("latin-1")
    (line,) = [h for h in head.split("\r\n") if h.lower().startswith("x-road-request-id:")]
    return line.split(":", 1)[1].strip()
