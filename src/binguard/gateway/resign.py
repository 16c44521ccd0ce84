"""Keys mode's hot path: check a bot's signed request, re-stamp it, re-sign it with the real key.

The bot's bytes are kept as sent (order and percent-encoding of every parameter) but for two
values: `timestamp` becomes the gateway's server-clock time (so the bot's own clock never
matters: no -1021) and `signature` becomes the real key's signature over the new payload. The
payload is the query string followed by the body, without the `signature` pair
(rest-api.md §SIGNED Endpoint security). The signature goes back where the bot put it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, unquote_plus

import orjson
from multidict import CIMultiDict

from binguard.policy.endpoints import Security, rest_endpoint, ws_endpoint

from .keys import KeyRing, LocalAuthError, LocalKey, ReplayGuard, bad_signature, refused_key
from .order_ids import (
    WS_ORDER_PATHS,
    leg_id,
    leg_params,
    main_id_param,
    new_client_id,
    places_order,
)

_MICROS = 10**14  # a timestamp above this is in microseconds (rest-api.md: ms or µs)
_WINDOW = "recvWindow"
_DEFAULT_WINDOW_MS = 5000  # rest-api.md §Timing security: recvWindow defaults to 5000


@dataclass(frozen=True, slots=True)
class Resigned:
    """The request to forward: its query and body as raw strings, and the real API key."""

    query: str
    body: str
    api_key: str


class _Part:
    """One part of a bot's request (the query or the body) as sent, split into its pairs once;
    its `signature` pair taken out."""

    __slots__ = ("pairs", "signature")

    def __init__(self, raw: str) -> None:
        self.pairs: list[str] = []
        self.signature: str | None = None  # as on the wire
        for pair in raw.split("&") if raw else ():
            if not pair.startswith("signature="):
                self.pairs.append(pair)
            elif self.signature is not None:
                raise bad_signature("two_signatures")
            else:
                self.signature = pair[10:]

    def text(self) -> str:
        return "&".join(self.pairs)

    def value(self, name: str) -> str | None:
        prefix = name + "="
        for pair in self.pairs:
            if pair.startswith(prefix):
                return unquote_plus(pair[len(prefix) :])
        return None

    def cap(self, name: str, limit: int) -> bool:
        """Lower `name`'s number to `limit` if above; False when this part has no `name`."""
        prefix = name + "="
        for i, pair in enumerate(self.pairs):
            if pair.startswith(prefix):
                try:
                    above = float(unquote_plus(pair[len(prefix) :])) > limit
                except ValueError:
                    return True  # Binance refuses it as it is
                if above:
                    self.pairs[i] = f"{prefix}{limit}"
                return True
        return False

    def restamp(self, now_ms: int) -> bool:
        """Replace `timestamp`'s value; False when this part has none."""
        for i, pair in enumerate(self.pairs):
            if pair.startswith("timestamp="):
                self.pairs[i] = f"timestamp={now_ms}"
                return True
        return False


class Resigner:
    """Turns a bot's signed request into the real one, or raises `LocalAuthError` (never
    forwarded); one per gateway, shared by every bot."""

    def __init__(
        self,
        ring: KeyRing,
        replay: ReplayGuard | None = None,
        *,
        order_window_ms: int = _DEFAULT_WINDOW_MS,
    ) -> None:
        self.ring = ring
        self.replay = replay or ReplayGuard()
        # An order's recvWindow at most (see `_order_fields`): the bot's own window counted
        # from its own clock, which re-stamping made meaningless.
        self.order_window_ms = order_window_ms

    def request(
        self,
        method: str,
        path: str,
        query: str,
        body: bytes,
        headers: CIMultiDict[str],
        now_ms: int,
    ) -> tuple[str, bytes]:
        """A bot's REST request as it goes upstream in keys mode: (query, body), `headers`'
        API key replaced by the real one. Endpoints of the endpoint table (policy/endpoints.py)
        are re-signed as their security type says; a signed request elsewhere (/sapi) only if
        it is a GET (a read, for keys with the "read" permission: ccxt loads /sapi margin pairs
        at start-up), so a local key can never move funds there (withdrawals, transfers)."""
        api_key = headers.get("X-MBX-APIKEY")
        security = _security(method, path, "signature=" in query or b"signature=" in body)
        if security is Security.NONE:
            if api_key:
                # an unsigned request with a key reads at most: a known bot's key is swapped
                headers["X-MBX-APIKEY"] = self.ring.local(api_key).real.api_key
            return query, body
        if security is Security.USER_STREAM:
            local = self.ring.local(api_key)
            local.allow(security, None)
            headers["X-MBX-APIKEY"] = local.real.api_key
            return query, body
        out = self.resign(
            api_key=api_key,
            query=query,
            body=body.decode("latin-1"),
            security=security,
            now_ms=now_ms,
            method=method,
            path=path,
        )
        headers["X-MBX-APIKEY"] = out.api_key
        return out.query, out.body.encode("latin-1")

    def _admit(
        self,
        local: LocalKey,
        security: Security,
        symbol: str | None,
        stamp: str | None,
        replay_key: str,
        now_ms: int,
    ) -> None:
        """After the signature verified: permissions, symbol, timestamp window, replays."""
        local.allow(security, symbol.upper() if symbol else None)
        if stamp is None or not stamp.isdigit():
            raise LocalAuthError(
                -1102,
                "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
                "no_timestamp",
            )
        local_ms = int(stamp) // 1000 if int(stamp) > _MICROS else int(stamp)
        acts = security is not Security.USER_DATA  # USER_DATA reads; TRADE and the rest act
        self.replay.check(replay_key, local_ms, now_ms, acts=acts)

    def _order_fields(self, path: str, query: _Part, body: _Part, signed: _Part) -> None:
        """An order request as the order guard needs it (order_guard.py): its client ids (an
        order's, an amended order's new one; a list's and its legs'), added where the bot sent
        none; a recvWindow of at
        most `order_window_ms`, so an unknown outcome's absence proof (timestamp + recvWindow
        + margin, rest-api.md §Timing security) comes within the time a bot waits
        (python-binance sends 10000)."""
        main = main_id_param(path)
        own = query.value(main)
        own = own if own is not None else body.value(main)
        if own is None:
            own = new_client_id()
            signed.pairs.append(f"{main}={own}")
        for name in leg_params(path):
            if query.value(name) is None and body.value(name) is None:
                signed.pairs.append(f"{name}={leg_id(own, name)}")
        capped = query.cap(_WINDOW, self.order_window_ms) or body.cap(_WINDOW, self.order_window_ms)
        if not capped and self.order_window_ms < _DEFAULT_WINDOW_MS:
            signed.pairs.append(f"{_WINDOW}={self.order_window_ms}")

    def _ws_order_fields(self, path: str, params: dict[str, Any]) -> None:
        """`_order_fields` for a WebSocket API order's params (a JSON object); `path`: the REST
        path of its method (order_ids.py WS_ORDER_PATHS)."""
        main = main_id_param(path)
        if params.get(main) is None:
            params[main] = new_client_id()
        for name in leg_params(path):
            if params.get(name) is None:
                params[name] = leg_id(str(params[main]), name)
        window = params.get(_WINDOW)
        if window is None:
            if self.order_window_ms < _DEFAULT_WINDOW_MS:
                params[_WINDOW] = self.order_window_ms
            return
        try:
            if float(str(window)) > self.order_window_ms:
                params[_WINDOW] = self.order_window_ms
        except ValueError:
            pass  # Binance refuses it as it is

    def ws_request(
        self, method: str, params: dict[str, Any], now_ms: int, session: LocalKey | None
    ) -> tuple[dict[str, Any], LocalKey | None]:
        """A bot's WebSocket API request in keys mode: (params to send, the local key it used).

        Signed requests are verified and re-signed like REST ones (web-socket-api.md: the
        payload is every parameter but `signature`, sorted by name); `session` is the local key
        a `session.logon` on this socket used, which an unsigned request of the logged-on
        session is held to. A logon needs an Ed25519 real key (Binance's rule)."""
        endpoint = ws_endpoint(method)
        signature = params.get("signature")
        api_key = params.get("apiKey")
        if endpoint is None:
            if signature is not None or api_key is not None:
                raise refused_key("method_not_allowed")
            return params, None
        if signature is None:
            local = self.ring.local(api_key) if api_key is not None else session
            if local is None:
                return params, None  # public, or refused upstream as Binance would
            local.allow(endpoint.security, _text(params.get("symbol")))
            out = dict(params)
            if method in WS_ORDER_PATHS:
                self._ws_order_fields(WS_ORDER_PATHS[method], out)
            if api_key is not None:
                out["apiKey"] = local.real.api_key
            if "timestamp" in out:  # a logged-on session's request: stamped, not signed
                out["timestamp"] = now_ms
            return out, local
        local = self.ring.local(_text(api_key))
        if not isinstance(signature, str) or not local.verifier.verify(
            _ws_payload(params), signature
        ):
            raise bad_signature()
        self._admit(
            local,
            endpoint.security,
            _text(params.get("symbol")),
            _text(params.get("timestamp")),
            f"ws {method} {signature}",
            now_ms,
        )
        out = {k: v for k, v in params.items() if k != "signature"}
        out["apiKey"], out["timestamp"] = local.real.api_key, now_ms
        if method in WS_ORDER_PATHS:
            self._ws_order_fields(WS_ORDER_PATHS[method], out)
        out["signature"] = unquote(local.real.signer.sign(_ws_payload(out)))
        return out, local

    def resign(
        self,
        *,
        api_key: str | None,
        query: str,
        body: str,
        security: Security,
        now_ms: int,
        method: str,
        path: str,
    ) -> Resigned:
        local = self.ring.local(api_key)
        query_part, body_part = _Part(query), _Part(body)
        if (query_part.signature is None) == (body_part.signature is None):
            raise bad_signature(
                "no_signature" if query_part.signature is None else "two_signatures"
            )
        signed = query_part if query_part.signature is not None else body_part
        signature = signed.signature
        assert signature is not None
        if not local.verifier.verify((query_part.text() + body_part.text()).encode(), signature):
            raise bad_signature()
        self._admit(
            local,
            security,
            query_part.value("symbol") or body_part.value("symbol"),
            query_part.value("timestamp") or body_part.value("timestamp"),
            f"{method} {path} {signature}",
            now_ms,
        )
        if not query_part.restamp(now_ms):
            body_part.restamp(now_ms)
        if places_order(method, path):
            self._order_fields(path, query_part, body_part, signed)
        real = local.real
        signed.pairs.append(
            "signature=" + real.signer.sign((query_part.text() + body_part.text()).encode())
        )
        query_new, body_new = query_part.text(), body_part.text()
        return Resigned(query_new, body_new, real.api_key)


def _security(method: str, path: str, signed: bool) -> Security:
    """The security type keys mode treats a request as (see `Resigner.request`)."""
    endpoint = rest_endpoint(method, path) if path.startswith("/api/v3/") else None
    if endpoint is not None:
        return endpoint.security
    if not signed:
        return Security.NONE
    if method != "GET":
        raise refused_key("endpoint_not_allowed")
    return Security.USER_DATA


def _text(value: object) -> str | None:
    """A WebSocket API parameter as text (numbers are sent as JSON numbers), or None."""
    if value is None or isinstance(value, bool):
        return None
    return str(value)


def _ws_payload(params: dict[str, Any]) -> bytes:
    """What a WebSocket API signature signs: every parameter but `signature`, sorted by name,
    values as their JSON text unquoted (web-socket-api.md §SIGNED request security): a bot sends
    `"quantity": "0.1"` or `"newOrderRespType": "ACK"` as strings, but a boolean is `true`."""
    return "&".join(
        f"{k}={_render(params[k])}" for k in sorted(params) if k != "signature"
    ).encode()


def _render(value: object) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
