"""The gateway's in-memory key check, including the keys it has already verified."""

from __future__ import annotations

from datetime import datetime, timedelta

from hub.core import security
from hub.registry.cache import KeyEntry, Snapshot

SECRET = "s" * 32
NOW = datetime(2026, 1, 1, 12, 0)


def snapshot(key: str, *, revoked: bool = False, expires_at: datetime | None = None) -> Snapshot:
    entry = KeyEntry("VN/GOV/BTP/civil-status", security.hash_key(SECRET, key), expires_at, revoked)
    prefix = security.key_prefix(key)
    assert prefix is not None
    return Snapshot(version=1, keys={prefix: entry})


def test_a_verified_key_is_remembered_and_still_checked_for_expiry() -> None:
    key = security.new_api_key()
    snap = snapshot(key, expires_at=NOW + timedelta(hours=1))
    assert snap.authenticate(SECRET, key, NOW) == "VN/GOV/BTP/civil-status"
    assert len(snap.verified) == 1
    assert key.encode() not in b"".join(snap.verified)  # a digest, not the key
    assert snap.authenticate(SECRET, key, NOW) == "VN/GOV/BTP/civil-status"
    assert snap.authenticate(SECRET, key, NOW + timedelta(hours=2)) is None


def test_a_remembered_key_is_still_checked_for_revocation() -> None:
    key = security.new_api_key()
    snap = snapshot(key)
    assert snap.authenticate(SECRET, key, NOW) == "VN/GOV/BTP/civil-status"
    (entry,) = snap.keys.values()
    entry.revoked = True
    assert snap.authenticate(SECRET, key, NOW) is None


def test_a_wrong_key_with_a_known_prefix_is_refused_and_not_remembered() -> None:
    key = security.new_api_key()
    snap = snapshot(key)
    forged = key[: key.rindex("_") + 1] + "x" * 32
    assert snap.authenticate(SECRET, forged, NOW) is None
    assert snap.verified == {}
    assert snap.authenticate(SECRET, key, NOW) == "VN/GOV/BTP/civil-status"
    assert snap.authenticate(SECRET, forged, NOW) is None


def test_a_revoked_key_is_refused_by_the_next_snapshot() -> None:
    key = security.new_api_key()
    old = snapshot(key)
    assert old.authenticate(SECRET, key, NOW) == "VN/GOV/BTP/civil-status"
    new = snapshot(key, revoked=True)  # what the registry reload builds after a revocation
    assert new.authenticate(SECRET, key, NOW) is None
    assert new.authenticate(SECRET, key, NOW) is None


def test_malformed_keys_are_refused() -> None:
    snap = snapshot(security.new_api_key())
    for key in ("", "hub_", "nothub_0123456789ab_x", "hub_short_x"):
        assert snap.authenticate(SECRET, key, NOW) is None
    assert snap.verified == {}


def test_only_a_key_that_matched_is_said_to_have_ended_and_named_by_its_owner() -> None:
    key = security.new_api_key()
    snap = snapshot(key, revoked=True)
    forged = key[: key.rindex("_") + 1] + "x" * 32
    # A forged key with a real prefix proves nothing: no owner, no reason.
    assert snap.authenticate(SECRET, forged, NOW) is None
    assert snap.ended(forged, NOW) is None
    assert snap.authenticate(SECRET, key, NOW) is None
    assert snap.ended(key, NOW) == (
        "VN/GOV/BTP/civil-status",
        "this API key was revoked; ask the hub's operators for a new one",
    )
    later = snapshot(key, expires_at=NOW)
    assert later.authenticate(SECRET, key, NOW) is None
    client, why = later.ended(key, NOW) or ("", "")
    assert client == "VN/GOV/BTP/civil-status"
    assert why.startswith("this API key expired at 2026-01-01 12:00:00 UTC"), why
