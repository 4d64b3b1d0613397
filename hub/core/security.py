"""API keys, admin tokens and pseudonyms: random secrets, stored only as keyed hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

KEY_PREFIX_LEN = 12


def new_api_key() -> str:
    """A fresh key: ``hub_<12-char lookup prefix>_<secret>``; only its hash is kept."""
    return f"hub_{secrets.token_hex(KEY_PREFIX_LEN // 2)}_{secrets.token_urlsafe(24)}"


def demo_api_key(secret: str, client: str) -> str:
    """The demo key of a client: derived from the server secret so it can be printed again."""
    digest = hmac.new(secret.encode(), f"demo-key:{client}".encode(), hashlib.sha256).digest()
    prefix = digest[:6].hex()
    body = base64.urlsafe_b64encode(digest[6:30]).decode().rstrip("=")
    return f"hub_{prefix}_{body}"


def key_prefix(key: str) -> str | None:
    """The lookup prefix of a well-formed key, or None."""
    parts = key.split("_")
    if len(parts) < 3 or parts[0] != "hub" or len(parts[1]) != KEY_PREFIX_LEN:
        return None
    return parts[1]


def hash_key(secret: str, key: str) -> str:
    # HMAC-SHA256 rather than a slow password hash: keys carry 190 bits of randomness, so
    # brute force is already hopeless, and the hash is checked on every exchange.
    return hmac.digest(secret.encode(), key.encode(), "sha256").hex()


def key_matches(secret: str, key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(secret, key), stored_hash)


def token_matches(given: str | None, expected: str) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def pseudonym(secret: str, value: str) -> str:
    """Keyed hash of a personal identifier: groupable and searchable, not reversible."""
    # hmac.digest: OpenSSL's one-shot HMAC, without an HMAC object per call (both this
    # and hash_key run on every exchange).
    digest = hmac.digest(secret.encode(), f"pii:{value}".encode(), "sha256")
    return "~" + base64.urlsafe_b64encode(digest[:12]).decode()
