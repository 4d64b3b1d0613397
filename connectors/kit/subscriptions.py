"""Subscriptions: a mock notifies its subscribers' own services of changes, through the hub.

The X-Road way to push: the provider, as a client of the hub with its own identity and key
(``HubClient``), calls a service the subscriber provides, so each notification is checked,
granted and logged like any exchange. A subscription names that service (its id and the
path events are POSTed to) and the events wanted; its owner is the ``X-Road-Client`` the hub
forwarded, and a subscriber may only name a service of its own subsystem (else any client
could have the provider flood another's service).

``publish(event)`` starts one delivery per matching subscription in the background and
returns at once, so a write never waits for its subscribers. A delivery tries up to ``1 +
len(retry_delays)`` times, waiting those delays between tries (2, 4, 8 and 16 s: about 30 s
in all) while the hub or the subscriber fails (a 5xx, 408, 429, or no answer); a 4xx other
than those is the request's own fault, which sending it again would not mend, so it is given
up at once. At most ``in_flight`` (16) are sent at once, the others waiting their turn, so a
write fanning out to thousands leaves the mock free to answer. Each subscription counts its
deliveries (delivered, failed, pending) and keeps the last error. Subscriptions live in one
of the dataset's overlays, so ``/__reset`` drops them and a state file keeps them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.kit.errors import ConflictError, NotFoundError, UnprocessableError, UpstreamError
from connectors.kit.hub import HubClient
from connectors.kit.state import Overlay

Record = dict[str, Any]
RETRY_DELAYS = (2.0, 4.0, 8.0, 16.0)
# Each write fans out to every subscription wanting it: a subscriber that subscribes in a
# loop and never unsubscribes would grow every later write's work without end.
MAX_PER_SUBSCRIBER = 1000
# Deliveries sent at once; the others wait their turn. Thousands started together would
# queue in the HTTP client's pool, whose book-keeping grows with its queue: the mock spent
# its CPU there, answered nothing (not even /health), and its calls timed out in the queue.
IN_FLIGHT = 16
# Worth sending again: the hub or the subscriber may be back (timeouts, quotas, failures).
_RETRIED = frozenset({408, 429})
_PURPOSE = ("X-Road-UserId", "X-Road-Issue")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class Subscriptions:
    """The subscriptions of one mock, and the delivery of its events to them."""

    def __init__(
        self,
        overlay: Overlay[str, Record],
        *,
        hub: HubClient,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self.overlay = overlay
        self.hub = hub
        self.retry_delays = tuple(retry_delays)
        self.in_flight = in_flight
        self.max_per_subscriber = MAX_PER_SUBSCRIBER
        self._slots: asyncio.Semaphore | None = None  # made at the first delivery
        self._tasks: set[asyncio.Task[None]] = set()
        # A state file may hold deliveries that were pending when the mock stopped: lost.
        for sub_id, sub in list(overlay.items()):
            pending = sub["deliveries"]["pending"]
            if pending:
                self._count(sub_id, pending=-pending, failed=pending, error="the mock stopped")

    # Managing (the services' answers)

    def subscribe(
        self, *, owner: str | None, service: str, path: str, events: Sequence[str]
    ) -> Record:
        owner = self._owner(owner)
        if not self.hub.configured:
            raise ConflictError(
                f"this mock was started without a hub (--hub-url), so it could not deliver "
                f"events to {service}: start it with one (hub up does) to take subscriptions"
            )
        if not service.startswith(f"{owner}/"):
            raise UnprocessableError(
                f"service {service} is not one of {owner}'s: events go to a service your own "
                f"subsystem provides ({owner}/<code>)"
            )
        # The hub client resolves dot segments, so "/../x" would send the events to a service
        # other than the one named above (another subsystem's, even).
        if {".", ".."} & {*service.split("/"), *path.split("/")}:
            raise UnprocessableError(
                f"service {service} with path {path} has a '.' or '..' segment, which would "
                f"send the events elsewhere: name the service and path as they are"
            )
        held = sum(1 for sub in self.overlay.values() if sub["subscriber"] == owner)
        if held >= self.max_per_subscriber:
            raise ConflictError(
                f"{owner} has {held:,} subscriptions already, as many as a subscriber may "
                "hold: delete one it no longer needs (DELETE /subscriptions/{id}; GET "
                "/subscriptions lists them)"
            )
        sub: Record = {
            "id": f"sub-{uuid.uuid4().hex[:12]}",
            "subscriber": owner,
            "service": service,
            "path": path,
            "events": list(dict.fromkeys(events)),
            "created_at": _now(),
            "deliveries": {
                "delivered": 0,
                "failed": 0,
                "pending": 0,
                "last_error": None,
                "last_error_at": None,
            },
        }
        self.overlay[sub["id"]] = sub
        return sub

    def mine(self, owner: str | None) -> list[Record]:
        owner = self._owner(owner)
        return [sub for sub in self.overlay.values() if sub["subscriber"] == owner]

    def cancel(self, owner: str | None, sub_id: str) -> Record:
        """Drop a subscription of ``owner``'s; deliveries under way still run their course."""
        owner = self._owner(owner)
        sub = self.overlay.get(sub_id)
        if sub is None or sub["subscriber"] != owner:
            # Another's subscription is "no data" too: its id tells nothing.
            raise NotFoundError(f"{owner} has no subscription {sub_id}")
        del self.overlay[sub_id]
        return dict(sub)

    @staticmethod
    def _owner(owner: str | None) -> str:
        if not owner:
            raise UnprocessableError(
                "no X-Road-Client header: a subscription belongs to the subsystem that asks "
                "for it, which the hub names; call this service through the hub"
            )
        return owner

    # Delivering

    def publish(self, event: Record, *, purpose: Mapping[str, str] | None = None) -> int:
        """Deliver ``event`` (its ``event`` field is the kind) to every subscription wanting
        it, in the background; how many deliveries were started.

        ``purpose`` is the X-Road-UserId and X-Road-Issue of the write that made the event,
        sent on so that the log ties each notification to it; a subscription's id stands
        for them when the write had none.
        """
        started = 0
        for sub in list(self.overlay.values()):
            if event["event"] not in sub["events"]:
                continue
            headers = {
                "X-Road-UserId": self.hub.client_id,
                "X-Road-Issue": sub["id"],
                **{h: v for h, v in (purpose or {}).items() if h in _PURPOSE and v},
            }
            self._count(sub["id"], pending=1)
            task = asyncio.get_running_loop().create_task(
                self._deliver(sub, {**event, "subscription": sub["id"]}, headers)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def _deliver(self, sub: Record, body: Record, headers: dict[str, str]) -> None:
        delivered = False
        try:
            for delay in (*self.retry_delays, None):
                error, again = await self._try(sub, body, headers)
                if not error:
                    delivered = True
                    return
                self._count(sub["id"], error=error)  # each failure shows, retried or not
                if not again or delay is None:
                    return
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self._count(sub["id"], error="the mock stopped before the event was delivered")
            raise
        finally:
            if delivered:
                self._count(sub["id"], pending=-1, delivered=1)
            else:
                self._count(sub["id"], pending=-1, failed=1)

    async def _try(self, sub: Record, body: Record, headers: dict[str, str]) -> tuple[str, bool]:
        """("", _) when delivered, else the error and whether to try again."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.in_flight)
        try:
            async with self._slots:
                answer = await self.hub.call(
                    sub["service"], "POST", sub["path"], json=body, headers=headers
                )
        except UpstreamError as exc:
            return exc.message, True
        if 200 <= answer.status_code < 300:
            return "", False
        fault = answer.headers.get("X-Road-Error")
        said = answer.text[:300]
        who = f"the hub refused it ({fault})" if fault else "the subscriber answered"
        error = f"{sub['service']}: {who} HTTP {answer.status_code}: {said}"
        return error, answer.status_code >= 500 or answer.status_code in _RETRIED

    def _count(self, sub_id: str, *, error: str | None = None, **changes: int) -> None:
        sub = self.overlay.get(sub_id)
        if sub is None:  # cancelled, or reset, while its deliveries ran
            return
        counts = dict(sub["deliveries"])
        for name, change in changes.items():
            counts[name] += change
        if error is not None:
            counts["last_error"], counts["last_error_at"] = error, _now()
        self.overlay[sub_id] = {**sub, "deliveries": counts}  # set again: kept in the file

    async def wait(self) -> None:
        """Wait for the deliveries under way (tests, and a clean stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop the deliveries under way (the app is shutting down); each counts as failed."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
