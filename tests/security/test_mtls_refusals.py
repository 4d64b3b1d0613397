"""What a client presenting a certificate without an API key is told when it proves nothing.

The certificate path of the gateway (hub/reliability/mtls.py), without TLS: the scope holds
the fingerprint as the hub's protocol puts it there. The handshake itself is in test_mtls.py.
"""

from __future__ import annotations

import pytest

from hub.core import errors
from hub.gateway.records import Exchange
from hub.registry.cache import RegistryCache, Snapshot
from hub.reliability.mtls import peer_authenticator

CLIENT = "VN/GOV/BTP/civil-status"
OTHER = "VN/LOC/79/one-stop-portal"
CERT = "17dedc9e8fdbe0f1d1695a37e4def467bb50b7b1b4b4fb100045294b513f8453"
STRANGER = "ab" * 32


def authenticator(*, enabled: bool = True, member_off: bool = False):  # type: ignore[no-untyped-def]
    registry = RegistryCache(sessions=None)  # type: ignore[arg-type]
    registry.snapshot = Snapshot(
        subsystems={CLIENT: ("civil status", None, enabled and not member_off),
                    OTHER: ("portal", None, True)},
        disabled_members=frozenset({"VN/GOV/BTP"} if member_off else ()),
        certs={CERT: CLIENT},
    )  # fmt: skip
    return peer_authenticator(registry)


def scope(fingerprint: str | None) -> dict:
    return {"extensions": {"tls": {"client_cert_sha256": fingerprint}}}


def test_a_registered_certificate_proves_its_subsystem() -> None:
    assert authenticator()(scope(CERT), {"x-road-client": CLIENT}, Exchange("GET")) == CLIENT


def test_an_api_key_or_no_certificate_goes_the_usual_way() -> None:
    auth = authenticator()
    assert (
        auth(scope(CERT), {"x-road-client": OTHER, "authorization": "Bearer k"}, Exchange("GET"))
        is None
    )
    assert auth(scope(None), {"x-road-client": CLIENT}, Exchange("GET")) is None
    assert auth({}, {"x-road-client": CLIENT}, Exchange("GET")) is None
    assert (
        auth(scope(CERT), {}, Exchange("GET")) is None
    )  # the missing X-Road-Client is said as usual
    # So is what is wrong with an id no one registered (its form, or that no key came).
    assert auth(scope(STRANGER), {"x-road-client": "VN/GOV/BTP/nobody"}, Exchange("GET")) is None


def test_a_certificate_of_another_subsystem_says_whose_it_is() -> None:
    with pytest.raises(errors.Unauthorized) as refused:
        authenticator()(scope(CERT), {"x-road-client": OTHER}, ex := Exchange("GET"))
    message = refused.value.message
    assert f"registered for {CLIENT}, not for {OTHER}" in message
    assert "Authorization: Bearer" in message
    # Said again in the answer, as for a bad key; the certificate proved no client to log.
    assert (ex.claimed, ex.client) == (OTHER, "")


def test_a_certificate_with_an_unregistered_client_id_says_whose_it_is() -> None:
    # A typo in X-Road-Client was told "no API key", as if the certificate had not come.
    typo = "VN/GOV/BTP/civil-statu"
    with pytest.raises(errors.Unauthorized) as refused:
        authenticator()(scope(CERT), {"x-road-client": typo}, ex := Exchange("GET"))
    message = refused.value.message
    assert f"registered for {CLIENT}, not for {typo}" in message
    assert f"send X-Road-Client: {CLIENT}" in message
    assert (ex.claimed, ex.client) == (typo, "")
    # An id of the wrong form is still said to be so, as without a certificate.
    with pytest.raises(errors.BadRequest, match="must be INSTANCE/CLASS/MEMBER/SUBSYSTEM"):
        authenticator()(scope(CERT), {"x-road-client": "VN/GOV"}, Exchange("GET"))


def test_an_unregistered_certificate_says_so() -> None:
    with pytest.raises(errors.Unauthorized) as refused:
        authenticator()(scope(STRANGER), {"x-road-client": CLIENT}, Exchange("GET"))
    message = refused.value.message
    assert "registered for no subsystem" in message and STRANGER[:16] in message
    assert "cert_sha256" in message


@pytest.mark.parametrize(
    ("member_off", "said"),
    [(False, f"client {CLIENT} is disabled by an operator"),
     (True, f"member VN/GOV/BTP is disabled by an operator, and with it client {CLIENT}")],
)  # fmt: skip
def test_a_disabled_clients_certificate_is_refused_as_its_key_would_be(
    member_off: bool, said: str
) -> None:
    # Its key gets 403 Client.AccessDenied naming the switch; its certificate said 401 "no
    # API key", as if it had never been registered.
    with pytest.raises(errors.AccessDenied) as refused:
        check = authenticator(enabled=False, member_off=member_off)
        check(scope(CERT), {"x-road-client": CLIENT}, ex := Exchange("GET"))
    assert refused.value.message == said
    # Proved by its certificate: logged under it, as its key's refusal is (it was logged
    # under no client).
    assert (ex.claimed, ex.client) == (CLIENT, CLIENT)
