"""The checks of an exchange before it is forwarded, in the order X-Road applies them.

Each raises the ``HubError`` whose X-Road code and sentence the client gets (hub/core/errors.py);
the handler (hub/gateway/handler.py) runs them and records whatever they refuse.
"""

from __future__ import annotations

import difflib
import logging
from typing import NoReturn

from hub.core import errors
from hub.core.hints import did_you_mean
from hub.core.ids import XROAD_ID, check_parts
from hub.core.limits import SAFE_HEADER, header_hint
from hub.gateway import paths
from hub.gateway.records import Exchange
from hub.registry.cache import ServiceEntry, Snapshot

log = logging.getLogger(__name__)
# Headers a request may carry once only, by their lower-case names.
SINGLE_HEADERS = {
    h.lower(): h
    for h in (
        "Authorization",
        "X-Road-Client",
        "X-Road-Id",
        "X-Road-UserId",
        "X-Road-Issue",
        "Content-Type",
    )
}
# Header fields a request may carry, as providers' answers may (client.HEADERS_MAX, Apache's
# LimitRequestFields): within the byte limit, thousands of tiny fields went on one by one.
FIELDS_MAX = 100


def read_headers(raw_headers: list[tuple[bytes, bytes]], limit: int) -> dict[str, str]:
    """The request's headers by lower-case name, each single one once, within ``limit`` bytes."""
    if len(raw_headers) > FIELDS_MAX:
        raise errors.HeadersTooLarge(
            f"the request carries {len(raw_headers)} header fields, over the limit of {FIELDS_MAX} "
            "header fields; send fewer"
        )
    size = 0
    out: dict[str, str] = {}
    for name, value in raw_headers:
        size += len(name) + len(value)
        # ASGI promises lower-case header names, so no .lower() here.
        key = name.decode("latin-1")
        if key in out and key in SINGLE_HEADERS:
            # Which one counts would be the hub's guess: the key that authenticates, the
            # client it speaks for, the officer the log names.
            raise errors.BadRequest(
                f"the {SINGLE_HEADERS[key]} header is sent more than once; send it once"
            )
        # The whitespace around a value is not part of it (RFC 9110 5.5), and not every
        # client trims it: "VN/GOV/BTP/civil-status " is the client it names.
        out[key] = value.decode("latin-1").strip(" \t")
    if size > limit:
        raise errors.HeadersTooLarge(f"request headers total {size} bytes; the limit is {limit}")
    return out


def read_purpose(ex: Exchange, headers: dict[str, str]) -> None:
    """The X-Road-Id, X-Road-UserId and X-Road-Issue the client sent, checked, onto ``ex``."""
    xid = headers.get("x-road-id")
    if xid is not None:
        # fullmatch, not match: "$" also matches before a final line break.
        if not XROAD_ID.fullmatch(xid):
            raise errors.BadRequest(
                "X-Road-Id must be 1-200 characters of letters, digits and ._:@/+=-"
            )
        ex.xroad_id = xid
    for attr, name in (("user_id", "x-road-userid"), ("issue", "x-road-issue")):
        value = headers.get(name)
        if value:  # an empty one says as little as none: MissingPurpose where it is needed
            if not SAFE_HEADER.fullmatch(value):
                raise errors.BadRequest(
                    f"{SINGLE_HEADERS[name]} must be 1-300 printable ASCII characters"
                    + header_hint(value)
                )
            setattr(ex, attr, value)


class UnknownKey(errors.Unauthorized):
    """An API key the snapshot holds no entry for: perhaps one issued since it was loaded."""


def authenticate(ex: Exchange, headers: dict[str, str], snap: Snapshot, secret: str) -> str:
    """The client the request speaks for, once its API key proves it."""
    client = headers.get("x-road-client")
    if not client:
        raise errors.BadRequest(
            "the X-Road-Client header is missing: set it to your subsystem id, e.g. "
            "VN/GOV/BTP/civil-status"
        )
    if not client.isascii():
        raise errors.BadRequest(
            f"X-Road-Client {_sent(client)[:100]!r} must be ASCII: an id is letters, digits "
            "and .-_ parts"
        )
    parts = client.split("/")
    if len(parts) != 4:
        if len(parts) == 3 and all(parts):
            # PR-REST lets a member alone be the client; here a client is always a subsystem.
            raise errors.BadRequest(
                f"X-Road-Client {client[:100]!r} names a member: the hub's clients are "
                f"subsystems, send {client[:100]}/SUBSYSTEM with the subsystem the API key was "
                "issued to"
            )
        raise errors.BadRequest(
            f"X-Road-Client {client[:100]!r} must be INSTANCE/CLASS/MEMBER/SUBSYSTEM"
        )
    if client not in snap.subsystems:
        # Registered ids were checked when registered; only strangers need the regexes.
        try:
            check_parts(parts, "client", client)
        except ValueError as exc:
            raise errors.BadRequest(str(exc)) from None
    ex.claimed = client
    auth = headers.get("authorization", "")
    scheme, _, key = auth.partition(" ")
    if not auth:
        raise errors.Unauthorized(
            "no API key: send 'Authorization: Bearer <api key of your client>'"
        )
    if scheme.lower() != "bearer" or not key.strip():
        raise errors.Unauthorized("the Authorization header must be 'Bearer <api key>'")
    owner = snap.authenticate(secret, key.strip(), ex.started)
    if owner is None:
        ended = snap.ended(key.strip(), ex.started)
        if ended is None:
            _foreign_secret(snap, secret, key.strip())
            raise UnknownKey("the API key is unknown, expired or revoked")
        # A key the registry holds: the log names its owner, as for another client's key.
        ex.client, why = ended
        raise errors.Unauthorized(why)
    # From here the sender is known: the key's owner. An unauthenticated caller named
    # any client it liked, and the log and its statistics counted its exchange there.
    ex.client = owner
    if owner != client:
        # Naming the owner tells the key's holder nothing allowedMethods would not.
        raise errors.AccessDenied(
            f"this API key belongs to {owner}, not to {client}: "
            f"send X-Road-Client: {owner}, or the API key of {client}"
        )
    subsystem = snap.subsystems.get(client)
    if subsystem is not None and not subsystem[2]:
        refuse_disabled(client, snap)
    return client


_WARNED: set[str] = set()  # prefixes said once each per process


def _foreign_secret(snap: Snapshot, secret: str, key: str) -> None:
    """Tell the operators, once a key, when a refused key is registered under another
    HUB_SECRET_KEY: its sender gets the same 401 as for any unknown key."""
    found = snap.foreign_key(secret, key)
    if found is None or len(_WARNED) >= 1000:
        return
    prefix, entry = found
    if prefix not in _WARNED:
        _WARNED.add(prefix)
        log.warning(
            "refused an API key of %s (prefix %s): it was hashed under another HUB_SECRET_KEY "
            "than this hub's, so no call with it can pass; run the hub with the secret the "
            "keys were made with, or issue new keys",
            entry.client,
            prefix,
        )


def _nearest(service_id: str, snap: Snapshot) -> str:
    """What a service id no service has was meant to be: " (did you mean ...?)", or why none.

    Only a refusal runs it. The codes are no secret from a client with a key: listMethods
    lists them (X-Road's metaservice).
    """
    provider, _, code = service_id.rpartition("/")
    if provider not in snap.subsystems:
        return f": no subsystem {provider} is registered{did_you_mean(provider, snap.subsystems)}"
    prefix = provider + "/"
    codes = [sid[len(prefix) :] for sid in snap.services if sid.startswith(prefix)]
    close = difflib.get_close_matches(code, codes, n=1)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


def refuse_disabled(client: str, snap: Snapshot) -> NoReturn:
    """Refuse a disabled client, as X-Road does, whether its key or its certificate proved it."""
    member = snap.off_member(client)
    if member is not None:
        raise errors.AccessDenied(
            f"member {member} is disabled by an operator, and with it client {client}"
        )
    raise errors.AccessDenied(f"client {client} is disabled by an operator")


def authorize(ex: Exchange, client: str, snap: Snapshot) -> ServiceEntry:
    """The service the request names, once ``client`` may call it as asked."""
    assert ex.target is not None
    service = snap.services.get(ex.target.service_id)
    if service is None:
        code = ex.target.service_id.rpartition("/")[2]
        if code in paths.METASERVICES:  # ".../listMethods/": a path after a metaservice
            raise errors.UnknownService(
                f"there is no service {ex.target.service_id}; the metaservice {code} takes "
                f"no path after it: GET /r1/{ex.target.provider}/{code}"
            )
        raise errors.UnknownService(
            f"there is no service {ex.target.service_id}{_nearest(ex.target.service_id, snap)}"
        )
    ex.service = service
    if service.problem is not None:
        raise errors.ServiceUnavailable(service.problem)
    if not service.enabled:
        member = snap.off_member(service.provider)
        if member is not None:
            raise errors.ServiceDisabled(
                f"member {member} is disabled by an operator, and with it service {service.id}"
            )
        provider = snap.subsystems.get(service.provider)
        if provider is not None and not provider[2]:
            raise errors.ServiceDisabled(
                f"subsystem {service.provider} is disabled by an operator, and with it "
                f"service {service.id}"
            )
        raise errors.ServiceDisabled(f"service {service.id} is disabled by an operator")
    if (client, service.id) not in snap.grants:
        if (client, service.id) in snap.disabled_grants:
            raise errors.AccessDenied(
                f"client {client}'s grant to call {service.id} is disabled by an operator"
            )
        raise errors.AccessDenied(
            f"client {client} is not permitted to call {service.id}; ask its provider for a grant"
        )
    ok, params = service.match(ex.method, ex.target.path)
    if not ok:
        served = ", ".join(f"{e['method']} {e['path']}" for e in service.endpoints)
        raise errors.AccessDenied(
            f"service {service.id} does not offer {ex.method} {ex.target.path[:200]}; "
            f"it offers {served}"
        )
    ex.params = params
    if service.shadows:
        owner = service.claimed_by(ex.method, ex.target.path)
        if owner is not None:
            raise errors.AccessDenied(
                f"{ex.target.path[:200]} is served by {owner}, not by {service.id}: "
                "call that service (its grant is its own)"
            )
    if service.personal_data and not (ex.user_id and ex.issue):
        raise errors.MissingPurpose(_purpose_missing(service.id, ex))
    if not service.base_url:
        raise errors.ServiceFailed(f"provider {service.provider} has no base URL")
    return service


def _purpose_missing(service: str, ex: Exchange) -> str:
    """Which of the purpose headers a personal-data service needs were not sent (or empty)."""
    missing = [
        name
        for name, value in (("X-Road-UserId", ex.user_id), ("X-Road-Issue", ex.issue))
        if not value
    ]
    verb = "are" if len(missing) > 1 else "is"
    return (
        f"{service} serves personal data, so it needs X-Road-UserId (the officer asking) and "
        f"X-Road-Issue (the case or dossier the request serves): {' and '.join(missing)} "
        f"{verb} missing"
    )


def _sent(value: str) -> str:
    """A header value as the client wrote it: its UTF-8 bytes, not their Latin-1 reading."""
    return value.encode("latin-1").decode("utf-8", "replace")
