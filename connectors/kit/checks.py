"""Identity checks a connector makes through the hub, under its own client identity.

The business and land registries use them (and any connector may): ``verify_citizen`` asks
population ``citizen-verify``, ``lookup_enterprise`` asks business ``enterprise-lookup``. Both
answer a yes/no (or the record) and turn the hub's own refusals (any answer carrying
``X-Road-Error``: no key, not granted, provider down...) into ``UpstreamError`` (502), so an
applicant can tell "your data does not match" (422) from "we could not check" (502).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from starlette.requests import Request

from connectors.kit import HubClient, UpstreamError

CITIZEN_VERIFY = "VN/GOV/BCA/population/citizen-verify"
ENTERPRISE_LOOKUP = "VN/GOV/BTC/business-registry/enterprise-lookup"


def _refused(hub: HubClient, service_id: str, response: httpx.Response) -> UpstreamError:
    fault = response.headers.get("X-Road-Error")
    try:
        said = response.json().get("message", "")
    except ValueError:
        said = response.text[:200]
    what = f"the hub refused the call ({fault})" if fault else "the provider failed"
    if fault == "Client.Unauthorized" and not hub.client_key:
        # The hub's sentence tells a client what to send; whoever started the mock needs this.
        said += (
            f" ({hub.client_id} was started without an API key: give it --client-key or "
            f"HUB_MOCK_CLIENT_KEY (hub keys issue {hub.client_id}))"
        )
    return UpstreamError(
        f"could not call {service_id}: {what}, HTTP {response.status_code}: {said}"
    )


async def verify_citizen(
    hub: HubClient,
    incoming: Request,
    *,
    citizen_id: str,
    full_name: str,
    date_of_birth: dt.date | None = None,
) -> bool:
    """Whether the population database knows a citizen with this ID and name (and birth date)."""
    body: dict[str, Any] = {"id": citizen_id, "full_name": full_name}
    if date_of_birth is not None:
        body["date_of_birth"] = date_of_birth.isoformat()
    response = await hub.call(
        CITIZEN_VERIFY, "POST", "/citizens/verify", json=body, incoming=incoming
    )
    if response.status_code == 404 and "X-Road-Error" not in response.headers:
        return False  # the provider's own "no data"
    if response.status_code != 200 or "X-Road-Error" in response.headers:
        raise _refused(hub, CITIZEN_VERIFY, response)
    try:
        match = response.json()["match"]
    except (ValueError, KeyError, TypeError) as exc:
        raise UpstreamError(f"{CITIZEN_VERIFY} answered without a 'match' field") from exc
    return match is True


async def lookup_enterprise(
    hub: HubClient, incoming: Request, *, code: str
) -> dict[str, Any] | None:
    """The business registry's record of an enterprise, or None when it has none."""
    response = await hub.call(ENTERPRISE_LOOKUP, "GET", f"/enterprises/{code}", incoming=incoming)
    if response.status_code in (400, 404) and "X-Road-Error" not in response.headers:
        return None  # no such enterprise, or not even a well-formed code
    if response.status_code != 200 or "X-Road-Error" in response.headers:
        raise _refused(hub, ENTERPRISE_LOOKUP, response)
    try:
        record = response.json()
    except ValueError as exc:
        raise UpstreamError(f"{ENTERPRISE_LOOKUP} answered with a malformed body") from exc
    if not isinstance(record, dict):
        raise UpstreamError(f"{ENTERPRISE_LOOKUP} answered with a malformed body")
    return record
