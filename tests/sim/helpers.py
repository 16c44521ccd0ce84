"""A tiny signed REST client for the simulator tests (independent of binguard's own client)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from yarl import URL

from binguard.errors import catalog


def msg(code: int, index: int = 0, *values: object) -> str:
    """The catalog message the simulator must send, rendered like Binance renders it."""
    text = catalog()[code].messages[index]
    for v in values:
        for ph in ("%s", "%d", "{param}"):
            if ph in text:
                text = text.replace(ph, str(v), 1)
                break
    return text


def limit_buy(quantity: str, price: str) -> dict[str, str]:
    """The parameters of a GTC limit buy of BTCUSDT, the order most tests place."""
    return {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": quantity,
        "price": price,
    }


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any

    @property
    def code(self) -> int | None:
        return self.body.get("code") if isinstance(self.body, dict) else None

    @property
    def msg(self) -> str | None:
        return self.body.get("msg") if isinstance(self.body, dict) else None


class Api:
    """Sends Binance-style requests: HMAC, Ed25519 or RSA signed, from a chosen local IP."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        api_key: str = "",
        secret: str = "",
        private_key: Ed25519PrivateKey | RSAPrivateKey | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.api_key = api_key
        self.secret = secret
        self.private_key = private_key
        self.clock_offset_ms = 0

    def sign(self, payload: str) -> str:
        if isinstance(self.private_key, Ed25519PrivateKey):
            return base64.b64encode(self.private_key.sign(payload.encode())).decode()
        if isinstance(self.private_key, RSAPrivateKey):
            raw = self.private_key.sign(payload.encode(), padding.PKCS1v15(), hashes.SHA256())
            return base64.b64encode(raw).decode()
        return hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()

    def timestamp(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    async def raw(
        self,
        method: str,
        path: str,
        query: str = "",
        body: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        url = self.base_url + path + ("?" + query if query else "")
        hdrs = dict(headers or {})
        if body:
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        async with self.session.request(
            method, URL(url, encoded=True), data=body or None, headers=hdrs
        ) as r:
            text = await r.text()
            try:
                data: Any = await r.json(content_type=None)
            except ValueError:
                data = text
            return Reply(r.status, r.headers, data)

    async def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        signed: bool = False,
        in_body: bool = False,
        timestamp: int | None = None,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        items = [(k, str(v)) for k, v in (params or {}).items()]
        if signed and not any(k == "timestamp" for k, _ in items):
            items.append(("timestamp", str(timestamp or self.timestamp())))
        payload = urllib.parse.urlencode(items)
        headers = dict(headers or {})
        key = self.api_key if api_key is None else api_key
        if key:
            headers["X-MBX-APIKEY"] = key
        if signed:
            payload += "&signature=" + urllib.parse.quote(self.sign(payload), safe="")
        if in_body:
            return await self.raw(method, path, body=payload, headers=headers)
        return await self.raw(method, path, query=payload, headers=headers)

    async def get(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Reply:
        return await self.call("GET", path, params, **kw)

    async def post(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Reply:
        return await self.call("POST", path, params, **kw)

    async def delete(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Reply:
        return await self.call("DELETE", path, params, **kw)

    async def put(self, path: str, params: Mapping[str, Any] | None = None, **kw: Any) -> Reply:
        return await self.call("PUT", path, params, **kw)

    async def order(self, **params: Any) -> Reply:
        return await self.post("/api/v3/order", params, signed=True)

    async def admin(self, path: str, method: str = "GET", body: str = "") -> Any:
        async with self.session.request(method, self.base_url + "/_sim/" + path, data=body) as r:
            assert r.status == 200, await r.text()
            return await r.json()


# ----- WebSocket helpers (streams and WebSocket API) ----------------------------------------------
def ws_sign(params: Mapping[str, Any], secret: str = "", private_key: Any = None) -> str:
    """WebSocket API signature: all params but `signature`, sorted by name (web-socket-api.md)."""
    payload = "&".join(
        f"{k}={str(v).lower() if isinstance(v, bool) else v}"
        for k, v in sorted(params.items())
        if k != "signature"
    )
    if isinstance(private_key, Ed25519PrivateKey):
        return base64.b64encode(private_key.sign(payload.encode())).decode()
    if isinstance(private_key, RSAPrivateKey):
        raw = private_key.sign(payload.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(raw).decode()
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


async def recv_json(ws: aiohttp.ClientWebSocketResponse, wait_s: float = 3.0) -> Any:
    """The next text frame as JSON (fails the test on close or after `wait_s`)."""
    msg = await ws.receive(timeout=wait_s)
    assert msg.type == aiohttp.WSMsgType.TEXT, (msg.type, msg.data, ws.close_code)
    return json.loads(msg.data)


async def recv_close(ws: aiohttp.ClientWebSocketResponse, wait_s: float = 5.0) -> int | None:
    """Read until the connection ends; its close code (1006: no close frame)."""
    while True:
        msg = await ws.receive(timeout=wait_s)
        if msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.CLOSING,
            aiohttp.WSMsgType.ERROR,
        ):
            return ws.close_code


class WsApi:
    """A WebSocket API client: signed requests, responses matched by id, events set aside."""

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        api_key: str = "",
        secret: str = "",
        private_key: Any = None,
    ) -> None:
        self.ws = ws
        self.api_key = api_key
        self.secret = secret
        self.private_key = private_key
        self.events: list[dict[str, Any]] = []
        self._ids = 0

    def signed(self, params: Mapping[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        out = dict(params or {})
        out.setdefault("apiKey", kw.get("api_key", self.api_key))
        out.setdefault("timestamp", int(time.time() * 1000))
        out["signature"] = ws_sign(out, self.secret, self.private_key)
        return out

    async def send(self, method: str, params: Mapping[str, Any] | None = None) -> Any:
        self._ids += 1
        request: dict[str, Any] = {"id": self._ids, "method": method}
        if params is not None:
            request["params"] = dict(params)
        await self.ws.send_str(json.dumps(request))
        return self._ids

    async def response(self, request_id: Any, wait_s: float = 3.0) -> dict[str, Any]:
        while True:
            data = await recv_json(self.ws, wait_s)
            if "status" in data:
                assert data["id"] == request_id, data
                return dict(data)
            self.events.append(data)

    async def call(
        self, method: str, params: Mapping[str, Any] | None = None, signed: bool = False
    ) -> dict[str, Any]:
        request_id = await self.send(method, self.signed(params) if signed else params)
        return await self.response(request_id)

    async def event(self, wait_s: float = 3.0) -> dict[str, Any]:
        if self.events:
            return self.events.pop(0)
        while True:
            data = await recv_json(self.ws, wait_s)
            if "status" not in data:
                return dict(data)


async def poll(fetch: Any, check: Any, wait_s: float = 3.0) -> Any:
    """Poll ground truth (`await fetch()`) until `check(value)` holds, within `wait_s`."""
    deadline = time.monotonic() + wait_s
    while True:
        value = await fetch()
        if check(value) or time.monotonic() > deadline:
            assert check(value), value
            return value
        await asyncio.sleep(0.01)


def own_window(sim: Any, api: Api, period_ms: int = 60_000, slack_ms: int = 20) -> None:
    """Put the server clock just after a window boundary (1 minute covers the 10 s windows too)
    and have `api` sign with that clock, so a test's counts cannot straddle a window reset."""
    now = sim.state.clock.now_ms()
    sim.state.clock.jump(period_ms - now % period_ms + slack_ms)
    api.clock_offset_ms = sim.state.clock.now_ms() - int(time.time() * 1000)


def new_order(side: str, kind: str, qty: str, **kw: Any) -> dict[str, Any]:
    out = {"symbol": "BTCUSDT", "side": side, "type": kind, "quantity": qty}
    if kind in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
        out["timeInForce"] = "GTC"
    out.update(kw)
    return out


async def trade_at(api: Api, price: str, qty: str = "0.001") -> None:
    """One trade of `api`'s account with itself at `price` (the book must be empty there)."""
    rest = await api.order(**new_order("BUY", "LIMIT", qty, price=price))
    assert rest.body["status"] == "NEW", rest.body
    hit = await api.order(**new_order("SELL", "LIMIT", qty, price=price, timeInForce="IOC"))
    assert hit.body["status"] == "FILLED", hit.body


async def order_status(api: Api, order_id: int) -> dict[str, Any]:
    reply = await api.get("/api/v3/order", {"symbol": "BTCUSDT", "orderId": order_id}, signed=True)
    assert reply.status == 200, reply.body
    return dict(reply.body)


def oco_sell(**kw: Any) -> dict[str, Any]:
    """A SELL OCO: LIMIT_MAKER above at 31000, STOP_LOSS_LIMIT below (stop 29000, limit 28900)."""
    out = {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "quantity": "0.01",
        "aboveType": "LIMIT_MAKER",
        "abovePrice": "31000",
        "belowType": "STOP_LOSS_LIMIT",
        "belowStopPrice": "29000",
        "belowPrice": "28900",
        "belowTimeInForce": "GTC",
    }
    out.update(kw)
    return out


# Every fixed-length kline interval in milliseconds (rest-api.md, Kline intervals; 1M varies).
INTERVAL_MS = {
    "1s": 1000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}


def spot_ccxt(url: str, api_key: str = "", secret: str = "", *, margins: bool = False) -> Any:
    """An async ccxt binance client for Spot only, every URL pointed at `url` (the simulator or a
    gateway in front of it): no currency list (a sapi call the simulator does not hold), and the
    margin pair lists only with `margins` (ccxt loads them at start-up with a signed sapi GET)."""
    import ccxt.async_support as ccxt

    from binguard.sim.peers import point_ccxt

    options: dict[str, Any] = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False}
    if not margins:
        options["fetchMargins"] = False
    ex = ccxt.binance(
        {"apiKey": api_key, "secret": secret, "enableRateLimit": False, "options": options}
    )
    point_ccxt(ex, url)
    ex.has["fetchCurrencies"] = False
    return ex
