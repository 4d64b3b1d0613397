"""Ed25519 signatures over committed log batches, so a database administrator cannot
rewrite history and recompute the hash chain."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import nacl.signing
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class Signer:
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self.public_key = private_key.public_key()
        self.key_id = key_id(self.public_key)
        # The same key through libsodium: Ed25519 signatures are deterministic, so the
        # bytes are the ones cryptography would give (a test holds them equal), in 28
        # against 47 us (timeit). The log writer signs every batch in its commit.
        raw, no_password = serialization.Encoding.Raw, serialization.NoEncryption()
        seed = private_key.private_bytes(raw, serialization.PrivateFormat.Raw, no_password)
        self._sign = nacl.signing.SigningKey(seed).sign

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self._sign(message).signature).decode()

    @classmethod
    def from_file(cls, path: str | Path, *, create: bool) -> Signer:
        """Load the PEM private key; make one (mode 0600) when allowed and missing."""
        path = Path(path)
        if not path.exists():
            if not create:
                raise FileNotFoundError(f"signing key {path} does not exist")
            path.parent.mkdir(parents=True, exist_ok=True)
            key = Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            path.touch(mode=0o600)
            path.write_bytes(pem)
            return cls(key)
        loaded = _load_private(path.read_bytes(), path)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(loaded)

    def public_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()


def _load_private(pem: bytes, path: Path | None = None) -> object:
    try:
        return serialization.load_pem_private_key(pem, password=None)
    except TypeError as exc:  # a key protected by a password: the hub has none to give
        where = f"{path}: " if path else ""
        raise ValueError(f"{where}{exc}; give it unencrypted") from exc


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """A public key from PEM; a private key's PEM gives its public half."""
    if b"PRIVATE" in pem:
        private = _load_private(pem)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 key")
        return private.public_key()
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def verify(public_key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        # Only the text the signer wrote: b64decode also takes other spellings of the same
        # bytes (the unused bits of the last character), so a changed signature still held.
        if base64.b64encode(raw).decode() != signature:
            return False
        public_key.verify(raw, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, in hex: the key id is its first 16 characters."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as PEM (SubjectPublicKeyInfo), as ``--public-key`` takes it."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
