"""SIGNED request security as Binance documents it (rest-api.md §SIGNED Endpoint security).

- The key travels in `X-MBX-APIKEY`: absent or malformed -> -2014, unknown -> -2015 (HTTP 401).
- The signature covers the query string concatenated with the body, as sent, minus `signature`:
  HMAC-SHA256 hex (not case-sensitive), RSA PKCS#1 v1.5 SHA-256 or Ed25519, both base64. Wrong
  -> -1022.
- Timing: `timestamp` in ms or µs, `recvWindow` in ms with up to three decimals (default 5000,
  at most 60000). Reject when `timestamp >= serverTime + 1000 ms` ("... 1000ms ahead ...") or when
  `serverTime - timestamp > recvWindow` ("... outside of the recvWindow."); the second check is
  repeated just before the matching engine.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from .config import AccountSpec, KeySpec
from .errors import SimError, mandatory
from .numbers import parse_int
from .params import Params, signed_payload

_KEY_FORMAT = re.compile(r"[A-Za-z0-9]{1,128}\Z")
_RECV_WINDOW = re.compile(r"([0-9]{1,10})(?:\.([0-9]+))?\Z")
MAX_RECV_WINDOW_MS = 60000
DEFAULT_RECV_WINDOW_US = 5_000_000
# A timestamp this large in ms would be after year 5000: it is in µs.
_MICROS_THRESHOLD = 10**14


class _Verifier:
    """Checks one key's signatures; the secret stays inside and out of any repr."""

    __slots__ = ("_hmac", "_pub", "kind")

    def __init__(self, spec: KeySpec) -> None:
        self.kind = spec.kind
        self._hmac = spec.secret.encode() if spec.kind == "HMAC" else b""
        self._pub: Ed25519PublicKey | RSAPublicKey | None = None
        if spec.kind != "HMAC":
            key = serialization.load_pem_public_key(spec.public_key_pem.encode())
            if spec.kind == "ED25519" and not isinstance(key, Ed25519PublicKey):
                raise ValueError(f"key {spec.api_key[:8]}...: not an Ed25519 public key")
            if spec.kind == "RSA" and not isinstance(key, RSAPublicKey):
                raise ValueError(f"key {spec.api_key[:8]}...: not an RSA public key")
            self._pub = key  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<verifier {self.kind}>"

    def verify(self, payload: bytes, signature: str) -> bool:
        if self.kind == "HMAC":
            expected = hmac.new(self._hmac, payload, hashlib.sha256).hexdigest().encode()
            # Bytes: compare_digest raises TypeError on a non-ASCII str, and any such
            # signature is simply wrong (-1022), never a server error.
            sent = signature.lower().encode("utf-8", "replace")
            return hmac.compare_digest(expected, sent)
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            return False
        try:
            if isinstance(self._pub, Ed25519PublicKey):
                self._pub.verify(raw, payload)
            elif isinstance(self._pub, RSAPublicKey):
                self._pub.verify(raw, payload, padding.PKCS1v15(), hashes.SHA256())
            return True
        except InvalidSignature:
            return False


@dataclass(frozen=True, slots=True)
class Principal:
    """Who sent a request: the account name and the kind of key used."""

    account: str
    key_kind: str


class KeyRing:
    """All API keys of all accounts."""

    def __init__(self, accounts: tuple[AccountSpec, ...]) -> None:
        self._keys: dict[str, tuple[Principal, _Verifier]] = {}
        for account in accounts:
            for key in account.keys:
                self._keys[key.api_key] = (Principal(account.name, key.kind), _Verifier(key))

    def identify(self, api_key: str | None) -> tuple[Principal, _Verifier]:
        """The key's owner; -2014 for a missing or malformed key, -2015 for an unknown one."""
        if not api_key or _KEY_FORMAT.match(api_key) is None:
            raise SimError.of(-2014)
        found = self._keys.get(api_key)
        if found is None:
            raise SimError.of(-2015)
        return found


@dataclass(frozen=True, slots=True)
class Timing:
    """A signed request's timestamp and window in µs, kept for the check before the engine."""

    timestamp_us: int
    recv_window_us: int

    def expired(self, now_us: int) -> bool:
        return now_us - self.timestamp_us > self.recv_window_us


def parse_timing(params: Params) -> Timing:
    """Read `timestamp` and `recvWindow` with Binance's validation."""
    ts_text = params.raw("timestamp", required=True)
    assert ts_text is not None
    ts = parse_int(ts_text, "timestamp")
    ts_us = ts if ts >= _MICROS_THRESHOLD else ts * 1000
    rw_text = params.raw("recvWindow")
    if rw_text is None:
        return Timing(ts_us, DEFAULT_RECV_WINDOW_US)
    m = _RECV_WINDOW.match(rw_text)
    if m is None:
        raise mandatory("recvWindow")
    whole, frac = m.group(1), (m.group(2) or "")
    if len(frac.rstrip("0")) > 3:
        raise SimError.of(-1111, 0, "recvWindow")
    rw_us = int(whole) * 1000 + int(frac[:3].ljust(3, "0") or "0")
    if rw_us > MAX_RECV_WINDOW_MS * 1000:
        raise SimError.of(-1102, 5, "recvWindow", MAX_RECV_WINDOW_MS)
    return Timing(ts_us, rw_us)


def check_timing(timing: Timing, now_us: int) -> None:
    """The receipt-time check of Binance's timing rule (-1021 with the matching message)."""
    if timing.timestamp_us >= now_us + 1_000_000:
        raise SimError.of(-1021, 1)
    if timing.expired(now_us):
        raise SimError.of(-1021, 0)


def authenticate(
    keys: KeyRing, api_key: str | None, params: Params, query: str, body: str, now_us: int
) -> tuple[Principal, Timing]:
    """Full SIGNED check in Binance's order: key, mandatory fields, signature, timing."""
    principal, verifier = keys.identify(api_key)
    timing = parse_timing(params)
    signature = params.raw("signature", required=True)
    assert signature is not None
    if not verifier.verify(signed_payload(query, body).encode(), signature):
        raise SimError.of(-1022)
    check_timing(timing, now_us)
    return principal, timing
