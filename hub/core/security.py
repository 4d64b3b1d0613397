"""API keys, admin tokens and pseudonyms: random secrets, stored only as keyed hashes."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import secrets
import unicodedata
from typing import Any

KEY_PREFIX_LEN = 12
# The secret part of a hub API key (hub_<12 hex>_<secret>, new_api_key) sent by mistake in a
# URL (`?api_key=...`) or another header: the log and the hub's refusals keep the key's public
# prefix, not its secret. Also written with encoded underscores (hub%5F..., or encoded twice:
# hub%255F...) or in capitals (HUB_...): its secret is the same.
API_KEY = re.compile(
    r"(hub(?:_|%(?:25)?5f)[0-9a-f]{12}(?:_|%(?:25)?5f))(?:[a-z0-9_-]|%[0-9a-f]{2})+", re.IGNORECASE
)


def without_key_secrets(text: str) -> str:
    """``text`` with the secret of every API key in it replaced by ``~``: ``hub_<prefix>_~``."""
    return API_KEY.sub(r"\1~", text) if "hub" in text.lower() else text


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


@functools.lru_cache(maxsize=4)
def secret_id(secret: str) -> str:
    """What tells one server secret from another, kept beside each key's hash: 16 hex
    characters of an HMAC under the secret, which say nothing of the secret itself.

    A key hashed under another secret than the hub's can never match; with this the hub
    says so (at start, in its log, in key listings) instead of a silent 401 per call.
    """
    return hmac.digest(secret.encode(), b"hub-secret-id", "sha256").hex()[:16]


def key_matches(secret: str, key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(secret, key), stored_hash)


def token_matches(given: str | None, expected: str) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def pseudonym(secret: str, value: str) -> str:
    """Keyed hash of a personal identifier: groupable and searchable, not reversible.

    Text beyond ASCII is hashed in Unicode NFC: "Nguyễn" sent decomposed (NFD), as some
    systems send it, is the same name and gets the same pseudonym. ASCII (ID numbers) is
    hashed as it is.
    """
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)
    digest = hmac_sha256(secret, f"pii:{value}".encode())
    return "~" + base64.urlsafe_b64encode(digest[:12]).decode()


def hmac_sha256(secret: str, data: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104) of ``data`` under ``secret``: the same bytes as hmac.digest.

    The key's two padded blocks are hashed once per secret and their SHA-256 states copied
    per call: 1.15 us against 2.86 us for OpenSSL's one-shot hmac.digest, which sets the
    key up every time (timeit, Python 3.11). The log pseudonymises each personal-data
    exchange's path with it (bench/profile_notes.md, sixth round).
    """
    inner, outer = _padded_key(secret)
    digest = inner.copy()
    digest.update(data)
    out = outer.copy()
    out.update(digest.digest())
    return out.digest()


@functools.lru_cache(maxsize=16)
def _padded_key(secret: str) -> tuple[Any, Any]:
    key = secret.encode()
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))


_BLOCK = hashlib.sha256().block_size
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))
