"""Mutual TLS: a client certificate registered for a subsystem stands in for its API key.

uvicorn checks the certificate against ``--ssl-ca-certs`` during the handshake but does not
hand it to the application, so ``hub serve`` runs uvicorn's httptools protocol extended to
put the peer certificate in the request scope, as the ASGI TLS extension describes
(``scope["extensions"]["tls"]["client_cert_chain"]``, PEM). The gateway then maps the
certificate's SHA-256 fingerprint to the subsystem registered with it (``cert_sha256``).
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Callable
from typing import Any

from hub.core import errors
from hub.gateway import checks
from hub.gateway.checks import refuse_disabled
from hub.gateway.cycles import EXTENSION
from hub.gateway.protocol import HubHttpProtocol
from hub.gateway.records import Exchange
from hub.registry.cache import RegistryCache


def tls_extension(transport: Any) -> dict[str, Any] | None:
    """The ASGI TLS extension of a connection, or None when it is not TLS."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    cipher = ssl_object.cipher()
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": None,
        "cipher_suite": None,
        # Not part of the extension: the fingerprint, so it is hashed once per connection.
        "client_cert_sha256": hashlib.sha256(der).hexdigest() if der else None,
        "cipher": cipher[0] if cipher else None,
    }


class TLSHttpToolsProtocol(HubHttpProtocol):
    """The hub's httptools protocol, adding the peer certificate to each request's scope."""

    _tls: dict[str, Any] | None = None
    # The gateway reads the certificate from the ASGI scope, so its requests keep the cycle.
    answers_gateway = False

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._tls = tls_extension(transport)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls is not None:
            self.scope["extensions"] = {"tls": self._tls, EXTENSION: {}}  # type: ignore[dict-item]


def peer_authenticator(
    registry: RegistryCache,
) -> Callable[[dict, dict[str, str], Exchange], str | None]:
    """The gateway's mTLS check: the client a request's certificate proves, if any.

    Only when the request carries no API key (a key, when sent, is checked as usual) and
    the certificate is registered for exactly the subsystem named in X-Road-Client. A
    certificate that proves nothing is refused saying why (the key check would say "no API
    key" to a client that sent its certificate, also when X-Road-Client names no registered
    subsystem), and a disabled client's as its key is. The exchange gets the client it
    claimed (said again in the answer as the key check does) and the one its certificate
    proved (the log's client), as far as known.
    """

    def authenticate(scope: dict, headers: dict[str, str], ex: Exchange) -> str | None:
        tls = scope.get("extensions", {}).get("tls")
        if not tls or "authorization" in headers:
            return None
        fingerprint = tls.get("client_cert_sha256")
        claimed = headers.get("x-road-client")
        snap = registry.snapshot
        if not fingerprint or claimed is None:
            return None  # the key check says what to send
        owner = snap.certs.get(fingerprint)
        if claimed not in snap.subsystems:
            if owner is None:
                return None  # the key check says what is wrong with the id
            # A registered certificate and an id no one registered (a typo, most often):
            # what is wrong with the id's form first, as the key check says it, then whose
            # the certificate is rather than "no API key".
            try:
                checks.authenticate(ex, headers, snap, "")
            except errors.BadRequest:
                raise
            except errors.Unauthorized:
                pass
        ex.claimed = claimed
        if owner is None:
            raise errors.Unauthorized(
                f"no API key, and the client certificate (SHA-256 {fingerprint[:16]}...) is "
                "registered for no subsystem: ask the hub's operator to register it "
                "(cert_sha256), or send 'Authorization: Bearer <api key of your client>'"
            )
        if owner != claimed:
            raise errors.Unauthorized(
                f"no API key, and the client certificate is registered for {owner}, not for "
                f"{claimed}: send X-Road-Client: {owner}, or "
                "'Authorization: Bearer <api key of your client>'"
            )
        ex.client = owner  # proved: the log counts its refusal under it, as for its key
        if not snap.subsystems[owner][2]:
            refuse_disabled(owner, snap)
        return owner

    return authenticate
