"""Calls from a connector to other agencies through the hub, with its own client identity.

``HubClient.call("VN/GOV/BCA/population/citizen-verify", "POST", "/citizens/verify",
json=..., incoming=request)`` sends ``{hub_url}/r1/{service id}{path}`` with ``X-Road-Client``
(the connector's subsystem id), ``Authorization: Bearer <client_key>``, and the incoming
request's ``X-Road-UserId`` / ``X-Road-Issue`` so the officer and case follow the exchange.
The ``httpx.AsyncClient`` is opened in the app's lifespan (``async with hub``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import httpx
from starlette.requests import Request

from connectors.kit.errors import UpstreamError

PROPAGATED = ("X-Road-UserId", "X-Road-Issue")


class HubClient:
    """The connector's client side: one per app, configured from ``hub_url``/``client_key``."""

    def __init__(
        self,
        *,
        client_id: str,
        hub_url: str | None = None,
        client_key: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.client_id = client_id
        self.hub_url = hub_url.rstrip("/") if hub_url else None
        self.client_key = client_key
        self.timeout_s = timeout_s
        self.transport = transport
        self._http: httpx.AsyncClient | None = None

    @property
    def configured(self) -> bool:
        return self.hub_url is not None

    async def __aenter__(self) -> HubClient:
        if self.hub_url is not None:
            self._http = httpx.AsyncClient(
                base_url=self.hub_url, timeout=self.timeout_s, transport=self.transport
            )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def call(
        self,
        service_id: str,
        method: str,
        path: str,
        *,
        incoming: Request | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Call ``service_id`` through the hub; raise ``UpstreamError`` if it cannot be reached.

        The answer is returned whatever its status: a 404 "no data" or a 403 from the hub are
        for the caller to interpret. ``headers`` are sent too (the X-Road-UserId and
        X-Road-Issue of a call made with no incoming request, say), under the connector's own
        X-Road-Client and key, which they cannot replace.
        """
        if self._http is None:
            raise UpstreamError(
                f"{self.client_id} is not connected to a hub (start it with --hub-url), "
                f"so it cannot call {service_id}"
            )
        sent = httpx.Headers(headers)  # case-insensitive: ours replace any spelling
        sent["X-Road-Client"] = self.client_id
        if self.client_key:
            sent["Authorization"] = f"Bearer {self.client_key}"
        if incoming is not None:
            sent.update({h: incoming.headers[h] for h in PROPAGATED if h in incoming.headers})
        try:
            return await self._http.request(
                method, f"/r1/{service_id}{path}", json=json, params=params, headers=sent
            )
        except httpx.HTTPError as exc:
            raise UpstreamError(f"the hub could not be reached for {service_id}: {exc}") from exc
