"""Request signing for Binance's three key types: HMAC-SHA256, RSA (PKCS#1 v1.5, SHA-256), Ed25519.

REST signs the exact query string followed by the body (rest-api.md §SIGNED endpoints); the WebSocket
API signs its params sorted by name (web-socket-api.md). Signers keep their key private: their repr,
str and pickled form never contain it. HMAC is the hot path: the keyed state is computed once and
copied per request.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Protocol
from urllib.parse import quote

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

_SHA256_BLOCK = 64  # bytes: SHA-256's block size, HMAC's key length (RFC 2104)
_IPAD = bytes(x ^ 0x36 for x in range(256))  # byte-wise XOR with HMAC's inner pad, as a table
_OPAD = bytes(x ^ 0x5C for x in range(256))  # ... and with its outer pad


class SigningKeyError(ValueError):
    """A key that cannot be used for signing (wrong format, wrong type, bad password)."""


class Signer(Protocol):
    """Turns a payload into the value of Binance's `signature` parameter (already URL-safe)."""

    key_type: str

    def sign(self, payload: bytes) -> str: ...


class HmacSigner:
    """HMAC-SHA256 with the API secret, hex output.

    HMAC as RFC 2104 defines it, on hashlib's SHA-256: the inner and outer hashes are keyed once
    (the key padded to SHA-256's 64-byte block, or hashed first when longer) and copied per
    request. The same digest as `hmac.new(secret, payload, sha256)` (tests/transport/
    test_signing.py checks Binance's documented signature and random keys), with no Python frames
    of the hmac module on the way: every order is signed.
    """

    __slots__ = ("_inner", "_outer")
    key_type = "HMAC"

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        if not raw:
            raise SigningKeyError("the API secret is empty")
        if len(raw) > _SHA256_BLOCK:
            raw = hashlib.sha256(raw).digest()
        raw = raw.ljust(_SHA256_BLOCK, b"\0")
        self._inner = hashlib.sha256(raw.translate(_IPAD))
        self._outer = hashlib.sha256(raw.translate(_OPAD))

    def sign(self, payload: bytes) -> str:
        inner = self._inner.copy()
        inner.update(payload)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def __repr__(self) -> str:
        return "HmacSigner(secret=<redacted>)"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("signers hold secrets and are not picklable")


class Ed25519Signer:
    """Ed25519 (Binance's recommended key type): base64 signature, percent-encoded."""

    __slots__ = ("_key",)
    key_type = "ED25519"

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key

    def sign(self, payload: bytes) -> str:
        return quote(base64.b64encode(self._key.sign(payload)).decode(), safe="")

    def __repr__(self) -> str:
        return "Ed25519Signer(private_key=<redacted>)"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("signers hold secrets and are not picklable")


class RsaSigner:
    """RSASSA-PKCS1-v1_5 with SHA-256: base64 signature, percent-encoded."""

    __slots__ = ("_key",)
    key_type = "RSA"

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key

    def sign(self, payload: bytes) -> str:
        raw = self._key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
        return quote(base64.b64encode(raw).decode(), safe="")

    def __repr__(self) -> str:
        return "RsaSigner(private_key=<redacted>)"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("signers hold secrets and are not picklable")


def load_signer(
    *,
    secret: str | bytes | None = None,
    private_key: str | bytes | None = None,
    password: str | bytes | None = None,
) -> HmacSigner | Ed25519Signer | RsaSigner:
    """A signer from an HMAC secret or a PEM private key (Ed25519 or RSA, PKCS#8)."""
    if (secret is None) == (private_key is None):
        raise SigningKeyError(
            "give exactly one of secret= (HMAC) or private_key= (Ed25519/RSA PEM)"
        )
    if secret is not None:
        return HmacSigner(secret)
    assert private_key is not None
    pem = private_key.encode() if isinstance(private_key, str) else private_key
    pw = password.encode() if isinstance(password, str) else password
    try:
        key = serialization.load_pem_private_key(pem, password=pw)
    except (ValueError, TypeError):
        # `from None`: the library's message may quote key material; ours never does.
        raise SigningKeyError(
            "the private key is not a readable PEM key (or the password is wrong)"
        ) from None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return Ed25519Signer(key)
    if isinstance(key, rsa.RSAPrivateKey):
        return RsaSigner(key)
    raise SigningKeyError(f"unsupported key type {type(key).__name__}: use Ed25519 or RSA")


def rest_payload(query: str, body: str = "") -> bytes:
    """What REST signs: the query string then the body, concatenated without a separator."""
    return (query + body).encode()


def ws_payload(params: dict[str, object]) -> bytes:
    """What the WebSocket API signs: every param but `signature`, sorted by name, as k=v&... UTF-8."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature").encode()
