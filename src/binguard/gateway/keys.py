"""Keys mode's credentials: local keys the bots sign with, real keys only the gateway holds.

`binguard gateway --keys keys.yaml` (issue 17): a bot signs with a *local* key; the gateway
checks that signature and the local key's permissions, re-stamps `timestamp` from its synced
server clock and re-signs with the *real* key, so no bot gets -1021 whatever its own clock says.

Re-stamping removes Binance's recvWindow protection against a replayed request, so the gateway
keeps its own (`ReplayGuard`): a local signature seen before is refused, and so is a local
timestamp more than `window_ms` from the gateway's clock (both answered as Binance would answer
a bad request, never forwarded).

The keys file (YAML) must not be readable by group or others: it is refused otherwise. Secrets
live only in signers and verifiers, whose repr and pickled form never show them (and no error of
this module quotes one). Signing follows rest-api.md §SIGNED Endpoint security: the payload is
the query string followed by the body, exactly as sent; HMAC signatures are hex and compared
without regard to case, Ed25519 ones are base64 (percent-encoded on the wire).

The file::

    real:                       # the exchange's key pairs, by name
      main:
        api_key: "..."
        secret: "..."           # HMAC; or private_key_file: main.pem (Ed25519 or RSA, PKCS#8)
    local:                      # the bots' keys (binguard gateway keygen)
      - api_key: "bg-..."
        secret: "..."           # HMAC; or public_key: "-----BEGIN PUBLIC KEY-----..." (Ed25519)
        real: main
        permissions: [read, trade, user_stream]   # default: all three
        symbols: [BTCUSDT]      # default: any symbol
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
import stat
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote

import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from binguard.policy.endpoints import Security
from binguard.transport.signing import HmacSigner, Signer, SigningKeyError, load_signer

PERMISSIONS: Final = frozenset({"read", "trade", "user_stream"})
_NEEDS: Final[dict[Security, str]] = {
    Security.USER_DATA: "read",
    Security.TRADE: "trade",
    Security.USER_STREAM: "user_stream",
    Security.SIGNED: "read",
}


class KeysFileError(ValueError):
    """The keys file cannot be used (unreadable, readable by others, malformed); never quotes a
    secret."""


class LocalAuthError(Exception):
    """A bot's request that keys mode refuses before anything is forwarded.

    `code`/`msg` are what the bot is answered (Binance's own code and text for the case);
    `reason` is the gateway's short word for logs and metrics."""

    def __init__(self, code: int, msg: str, reason: str, status: int = 400) -> None:
        super().__init__(f"{reason}: {code} {msg}")
        self.code, self.msg, self.reason, self.status = code, msg, reason, status


def bad_signature(reason: str = "bad_signature") -> LocalAuthError:
    """Binance's answer to a signature that does not verify (-1022); also a replayed one."""
    return LocalAuthError(-1022, "Signature for this request is not valid.", reason)


def refused_key(reason: str) -> LocalAuthError:
    msg = "Invalid API-key, IP, or permissions for action."
    return LocalAuthError(-2015, msg, reason, status=401)


class Verifier:
    """Checks a local signature: HMAC (a shared secret) or Ed25519 (the bot's public key)."""

    __slots__ = ("_ed25519", "_hmac", "key_type")

    def __init__(self, *, secret: str | None = None, public_key: str | None = None) -> None:
        if (secret is None) == (public_key is None):
            raise KeysFileError("a local key needs exactly one of secret or public_key")
        self._hmac: HmacSigner | None = None
        self._ed25519: ed25519.Ed25519PublicKey | None = None
        if secret is not None:
            self._hmac = HmacSigner(secret)
            self.key_type = "HMAC"
            return
        assert public_key is not None
        try:
            key = serialization.load_pem_public_key(public_key.encode())
        except ValueError:
            raise KeysFileError("a local public_key is not a readable PEM key") from None
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise KeysFileError("a local public_key must be Ed25519")
        self._ed25519 = key
        self.key_type = "ED25519"

    def verify(self, payload: bytes, signature: str) -> bool:
        """Whether `signature` (as on the wire) signs `payload` with this key."""
        if self._hmac is not None:
            return hmac.compare_digest(self._hmac.sign(payload), signature.lower())
        assert self._ed25519 is not None
        try:
            raw = base64.b64decode(unquote(signature), validate=True)
            self._ed25519.verify(raw, payload)
        except (ValueError, InvalidSignature):
            return False
        return True

    def __repr__(self) -> str:
        return f"Verifier({self.key_type}, key=<redacted>)"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("verifiers hold secrets and are not picklable")


@dataclass(frozen=True, slots=True)
class RealKey:
    """One of the exchange's key pairs; its signer keeps the secret private."""

    name: str
    api_key: str
    signer: Signer

    def __repr__(self) -> str:
        return f"RealKey({self.name!r}, api_key={self.api_key[:6]!r}…)"


@dataclass(frozen=True, slots=True)
class LocalKey:
    """A bot's key: how its signatures are checked, what it may do, which real key it uses."""

    api_key: str
    verifier: Verifier
    real: RealKey
    permissions: frozenset[str]
    symbols: frozenset[str] | None

    def __repr__(self) -> str:
        return f"LocalKey(api_key={self.api_key[:6]!r}…, real={self.real.name!r})"

    def allow(self, security: Security, symbol: str | None) -> None:
        """Raise `LocalAuthError` (-2015) if this key may not make such a request."""
        need = _NEEDS.get(security)
        if need is not None and need not in self.permissions:
            raise refused_key(f"no_{need}_permission")
        if symbol is not None and self.symbols is not None and symbol not in self.symbols:
            raise refused_key("symbol_not_allowed")


class KeyRing:
    """Every local key by its API key (the `X-MBX-APIKEY` a bot sends)."""

    def __init__(self, local: Mapping[str, LocalKey]) -> None:
        self._local = dict(local)

    def __len__(self) -> int:
        return len(self._local)

    def __repr__(self) -> str:
        return f"KeyRing({len(self._local)} local keys)"

    def reals(self) -> dict[str, RealKey]:
        """The real keys the local keys use, by their API key."""
        return {k.real.api_key: k.real for k in self._local.values()}

    def local(self, api_key: str | None) -> LocalKey:
        """The local key a bot named, or `LocalAuthError` (-2014 / -2015)."""
        if not api_key:
            raise LocalAuthError(-2014, "API-key format invalid.", "no_api_key", status=401)
        key = self._local.get(api_key)
        if key is None:
            raise refused_key("unknown_api_key")
        return key

    @classmethod
    def load(cls, path: str | Path) -> KeyRing:
        """Read a keys file; `KeysFileError` if it is readable by others or malformed."""
        path = Path(path)
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise KeysFileError(f"cannot read the keys file {path}: {e.strerror}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeysFileError(
                f"the keys file {path} is readable by other users (mode {stat.S_IMODE(mode):o});"
                f" run: chmod 600 {path}"
            )
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            raise KeysFileError(f"the keys file {path} is not valid YAML") from None
        return cls.from_mapping(data, base=path.parent)

    @classmethod
    def from_mapping(cls, data: Any, *, base: Path = Path(".")) -> KeyRing:
        """Build from the file's parsed content (see the module docstring)."""
        if not isinstance(data, dict) or not isinstance(data.get("real"), dict):
            raise KeysFileError("the keys file needs a 'real' mapping and a 'local' list")
        real = {str(n): _real(str(n), spec, base) for n, spec in data["real"].items()}
        entries = data.get("local")
        if not isinstance(entries, list) or not entries:
            raise KeysFileError("the keys file needs a non-empty 'local' list")
        local: dict[str, LocalKey] = {}
        for i, spec in enumerate(entries):
            key = _local(i, spec, real)
            if key.api_key in local:
                raise KeysFileError(f"local key {i}: its api_key is listed twice")
            local[key.api_key] = key
        return cls(local)


def _field(spec: Mapping[str, Any], name: str, where: str) -> str | None:
    value = spec.get(name)
    if value is not None and not isinstance(value, str):
        raise KeysFileError(f"{where}: '{name}' must be a string")
    return value


def _real(name: str, spec: Any, base: Path) -> RealKey:
    where = f"real key {name!r}"
    if not isinstance(spec, dict):
        raise KeysFileError(f"{where}: must be a mapping")
    api_key = _field(spec, "api_key", where)
    if not api_key:
        raise KeysFileError(f"{where}: 'api_key' is missing")
    secret = _field(spec, "secret", where)
    pem_file = _field(spec, "private_key_file", where)
    pem = None
    if pem_file is not None:
        try:
            pem = (base / pem_file).read_bytes()
        except OSError as e:
            raise KeysFileError(f"{where}: cannot read private_key_file: {e.strerror}") from None
    try:
        signer = load_signer(secret=secret, private_key=pem)
    except SigningKeyError as e:
        raise KeysFileError(f"{where}: {e}") from None
    return RealKey(name, api_key, signer)


def _local(index: int, spec: Any, real: Mapping[str, RealKey]) -> LocalKey:
    where = f"local key {index}"
    if not isinstance(spec, dict):
        raise KeysFileError(f"{where}: must be a mapping")
    api_key = _field(spec, "api_key", where)
    if not api_key:
        raise KeysFileError(f"{where}: 'api_key' is missing")
    target = real.get(str(spec.get("real")))
    if target is None:
        raise KeysFileError(f"{where}: 'real' must name one of {sorted(real)}")
    verifier = Verifier(
        secret=_field(spec, "secret", where), public_key=_field(spec, "public_key", where)
    )
    perms = spec.get("permissions", sorted(PERMISSIONS))
    if not isinstance(perms, list) or not set(map(str, perms)) <= PERMISSIONS:
        raise KeysFileError(f"{where}: 'permissions' must be a list of {sorted(PERMISSIONS)}")
    symbols = spec.get("symbols")
    if symbols is not None and not isinstance(symbols, list):
        raise KeysFileError(f"{where}: 'symbols' must be a list")
    return LocalKey(
        api_key=api_key,
        verifier=verifier,
        real=target,
        permissions=frozenset(map(str, perms)),
        symbols=None if symbols is None else frozenset(str(s).upper() for s in symbols),
    )


class ReplayGuard:
    """Refuses a local signature seen before, and a local timestamp outside the window.

    Signatures are remembered while their timestamp is inside `window_ms` of now, at most
    `capacity` of them; when full, the oldest is forgotten and the window's floor rises to its
    timestamp, so a forgotten signature can never be accepted again."""

    def __init__(self, window_ms: int = 300_000, capacity: int = 200_000) -> None:
        self.window_ms = window_ms
        self.capacity = capacity
        self._seen: OrderedDict[str, int] = OrderedDict()  # signature -> local timestamp
        self._floor = 0

    def check(self, signature: str, timestamp_ms: int, now_ms: int, *, acts: bool = True) -> None:
        """Remember `signature`, or raise `LocalAuthError` for a replay or a stale timestamp.

        `signature` should name the request too (method and path: the signature covers only the
        parameters, so two different reads can share one). A request that does not act (a
        read: `acts=False`) is only held to the window: a replayed read changes nothing, and
        two identical reads in one millisecond are a bot's right, as at Binance."""
        low = max(self._floor, now_ms - self.window_ms)
        if timestamp_ms < low or timestamp_ms > now_ms + self.window_ms:
            raise LocalAuthError(
                -1021, "Timestamp for this request is outside of the recvWindow.", "stale"
            )
        if not acts:
            return
        if signature in self._seen:
            raise bad_signature("replayed")
        self._seen[signature] = timestamp_ms
        self._evict(now_ms)

    def _evict(self, now_ms: int) -> None:
        seen, horizon = self._seen, now_ms - self.window_ms
        while seen:
            oldest_sig, oldest_ts = next(iter(seen.items()))
            if len(seen) <= self.capacity and oldest_ts >= horizon:
                return
            # Arrival order is close to timestamp order; an out-of-order early entry may stay a
            # little longer, which only makes the guard stricter.
            del seen[oldest_sig]
            if len(seen) >= self.capacity:
                self._floor = max(self._floor, oldest_ts + 1)


def keygen(kind: str = "ed25519") -> dict[str, str]:
    """A new local key: its api_key and, for the bot, its secret (HMAC) or private key (Ed25519);
    for the keys file, the same secret or the public key."""
    api_key = "bg-" + secrets.token_urlsafe(24)
    if kind == "hmac":
        secret = secrets.token_hex(32)
        return {"api_key": api_key, "secret": secret}
    if kind != "ed25519":
        raise ValueError(f"unknown key kind {kind!r}: hmac or ed25519")
    private = ed25519.Ed25519PrivateKey.generate()
    return {
        "api_key": api_key,
        "private_key": private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        "public_key": private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    }


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (created 0600; never widened)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def keygen_files(kind: str, real: str, out: str | Path) -> tuple[str, Path | None]:
    """Make a local key: (its keys-file entry as YAML, the bot's private key file if any).

    An Ed25519 private key goes to `<out>/<api_key>.pem`, created 0600; the entry holds only
    the public key. An HMAC key's secret is in the entry (both sides need it)."""
    made = keygen(kind)
    entry: dict[str, Any] = {"api_key": made["api_key"], "real": real}
    written: Path | None = None
    if kind == "hmac":
        entry["secret"] = made["secret"]
    else:
        written = Path(out) / f"{made['api_key']}.pem"
        write_private(written, made["private_key"])
        entry["public_key"] = made["public_key"]
    entry["permissions"] = sorted(PERMISSIONS)
    return yaml.safe_dump([entry], sort_keys=False), written
