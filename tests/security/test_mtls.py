"""Mutual TLS on a real `hub serve`: a registered client certificate stands in for the key."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from tests.reliability.fakes import CLIENT, LOOKUP, OTHER, PURPOSE, FaultyProvider, registry_doc
from tests.reliability.procs import apply_registry, hub_env, hub_process, issue_key
from tests.security.certs import CA, client_context
from tests.support import serve

pytestmark = pytest.mark.slow


async def test_a_registered_client_certificate_authenticates_its_subsystem(
    tmp_path: Path,
) -> None:
    ca = CA(tmp_path)
    server_crt, server_key, _ = ca.issue("server", "127.0.0.1", server=True)
    client_crt, client_key, fingerprint = ca.issue("civil-status", CLIENT)
    other_crt, other_key, _ = ca.issue("stranger", "VN/GOV/BTP/stranger")
    env = hub_env(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    tls_args = ("--ssl-certfile", str(server_crt), "--ssl-keyfile", str(server_key),
                "--ssl-ca-certs", str(ca.path))  # fmt: skip
    mtls = client_context(ca.path, client_crt, client_key)
    cert_only = {"X-Road-Client": CLIENT, **PURPOSE}
    async with serve(FaultyProvider()) as base_url:
        doc = registry_doc(base_url)
        doc["subsystems"][1]["cert_sha256"] = ":".join(  # as openssl prints it
            fingerprint[i : i + 2].upper() for i in range(0, 64, 2)
        )
        await apply_registry(env, doc, tmp_path)
        async with hub_process(env, tmp_path, *tls_args, verify=mtls, scheme="https") as hub:
            async with httpx.AsyncClient(verify=mtls) as http:
                # No API key: the certificate proves the client.
                resp = await http.get(hub.url + LOOKUP, headers=cert_only)
                assert resp.status_code == 200, resp.text
                assert resp.headers["X-Road-Client"] == CLIENT
                # The certificate proves only its own subsystem.
                resp = await http.get(hub.url + LOOKUP, headers={"X-Road-Client": OTHER, **PURPOSE})
                assert resp.status_code == 401
                # A key, when sent, is checked as usual, certificate or not.
                bad = {"X-Road-Client": CLIENT, "Authorization": "Bearer hub_0123456789ab_nope"}
                resp = await http.get(hub.url + LOOKUP, headers={**bad, **PURPOSE})
                assert resp.status_code == 401
                key = await issue_key(hub.url, CLIENT, verify=mtls)
                ok = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {key}", **PURPOSE}
                assert (await http.get(hub.url + LOOKUP, headers=ok)).status_code == 200

            # A certificate from the same CA that no subsystem registered proves nothing.
            stranger = client_context(ca.path, other_crt, other_key)
            async with httpx.AsyncClient(verify=stranger) as http:
                resp = await http.get(hub.url + LOOKUP, headers=cert_only)
                assert resp.status_code == 401
            # Without a client certificate the TLS session fails (with TLS 1.3 the server
            # refuses it just after the handshake, so the client sees the connection drop).
            refused = (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, ssl.SSLError)
            async with httpx.AsyncClient(verify=client_context(ca.path)) as http:
                with pytest.raises(refused):
                    await http.get(hub.url + "/healthz")
