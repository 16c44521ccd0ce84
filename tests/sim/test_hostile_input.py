"""Hostile input over loopback: each case gets Binance's typed error, never -1000 or a dead socket.

Each case once crashed the simulator (a TypeError, RecursionError or huge allocation): the
fixtures' `sim.bugs == []` check and the follow-up request on the same connection prove the
server stayed well.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import AsyncIterator

import aiohttp
import pytest

from binguard.sim import Simulator
from binguard.sim.ws_auth import Number, to_params

from .conftest import WS_QUIET
from .helpers import Api, WsApi, msg, recv_close, recv_json

ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.001",
    "price": "20000",
}
DEEP = "[" * 5000
SYMBOLS_LEGAL = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'


@pytest.fixture
async def wsapi(wsim: Simulator, session: aiohttp.ClientSession) -> AsyncIterator[WsApi]:
    key = wsim.config.demo.keys[0]
    ws = await session.ws_connect(wsim.ws_url + "/ws-api/v3")
    yield WsApi(ws, key.api_key, key.secret)
    await ws.close()


async def _still_open(wsapi: WsApi) -> None:
    pong = await wsapi.call("ping")
    assert pong["status"] == 200, pong
    assert not wsapi.ws.closed


# ----- 1. a non-ASCII HMAC signature is a wrong signature (-1022) --------------------------------
async def test_rest_non_ascii_signature_is_1022(sim: Simulator, api: Api) -> None:
    query = urllib.parse.urlencode({**ORDER, "timestamp": api.timestamp()})
    query += "&signature=" + urllib.parse.quote("é" * 64)
    reply = await api.raw("POST", "/api/v3/order", query, headers={"X-MBX-APIKEY": api.api_key})
    assert (reply.status, reply.code, reply.msg) == (400, -1022, msg(-1022))
    assert sim.bugs == []


async def test_ws_api_non_ascii_signature_is_1022(wsim: Simulator, wsapi: WsApi) -> None:
    params = wsapi.signed(ORDER)
    params["signature"] = "é" * 64
    reply = await wsapi.response(await wsapi.send("order.place", params))
    assert (reply["status"], reply["error"]["code"]) == (400, -1022), reply
    await _still_open(wsapi)
    assert wsim.bugs == []


# ----- 2. JSON nested past the decoder's stack is malformed JSON --------------------------------
async def test_rest_deeply_nested_symbols_is_illegal(sim: Simulator, api: Api) -> None:
    reply = await api.raw("GET", "/api/v3/exchangeInfo", "symbols=" + DEEP)
    assert (reply.status, reply.code) == (400, -1100), reply.body
    assert reply.msg == msg(-1100, 1, "symbols", SYMBOLS_LEGAL)
    assert sim.bugs == []


async def test_ws_api_deeply_nested_request_is_1135(wsim: Simulator, wsapi: WsApi) -> None:
    await wsapi.ws.send_str(DEEP)
    reply = await wsapi.response(None)
    assert (reply["status"], reply["error"]["code"]) == (400, -1135), reply
    assert reply["error"]["msg"] == msg(-1135)
    await _still_open(wsapi)
    assert wsim.bugs == []


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (DEEP, "Invalid JSON: recursion limit exceeded"),
        ("[" + "1" * 5000 + "]", "Invalid JSON: number out of range"),
    ],
)
async def test_streams_unparsable_control_is_invalid_json(
    wsim: Simulator, session: aiohttp.ClientSession, text: str, error: str
) -> None:
    async with session.ws_connect(wsim.ws_url + "/ws") as ws:
        await ws.send_str(text)
        assert await recv_json(ws) == {"error": {"code": 3, "msg": error}}
        await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 1}))
        assert await recv_json(ws) == {"result": [], "id": 1}
    assert wsim.bugs == []


# ----- 3. weight inputs that str.isdigit() accepts but int() does not ---------------------------
@pytest.mark.parametrize("limit", ["%C2%B2", "9" * 5000])
async def test_depth_limit_beyond_ascii_digits_is_typed(
    sim: Simulator, api: Api, limit: str
) -> None:
    reply = await api.raw("GET", "/api/v3/depth", f"symbol=BTCUSDT&limit={limit}")
    assert reply.status == 400, reply.body
    assert reply.code is not None and reply.code < 0 and reply.code != -1000, reply.body
    assert sim.bugs == []


async def test_admin_crowd_step_rejects_superscript(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    async with session.post(sim.url + "/_sim/crowd/step?n=%C2%B2") as r:
        assert r.status == 400, await r.text()
    assert sim.bugs == []


# ----- 4. a huge exponent is not expanded to plain notation -------------------------------------
async def test_ws_api_huge_exponent_is_illegal_and_fast(wsim: Simulator, wsapi: WsApi) -> None:
    params = wsapi.signed({**ORDER, "quantity": "1e10000000"})
    text = json.dumps({"id": 1, "method": "order.place", "params": params})
    text = text.replace('"quantity": "1e10000000"', '"quantity": 1e10000000')
    assert '"quantity": 1e10000000' in text
    await wsapi.ws.send_str(text)
    reply = await wsapi.response(1)
    assert (reply["status"], reply["error"]["code"]) == (400, -1100), reply
    assert "quantity" in reply["error"]["msg"]
    await _still_open(wsapi)
    assert wsim.bugs == []


@pytest.mark.parametrize("literal", ["1e10000000", "1E-10000000", "-2.5e41"])
def test_huge_exponent_kept_as_written(literal: str) -> None:
    """The handlers get the literal, not millions of zeros (which would also be -1100, slowly)."""
    assert to_params({"quantity": Number(literal)}).values["quantity"] == literal


@pytest.mark.parametrize(("literal", "plain"), [("1e-8", "0.00000001"), ("2.5E3", "2500")])
def test_moderate_exponent_still_plain(literal: str, plain: str) -> None:
    assert to_params({"quantity": Number(literal)}).values["quantity"] == plain


# ----- 5. the WebSocket guard: an unexpected exception is a recorded bug and a 1011 close -------
async def _boom(*_args: object) -> None:
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/ws-api/v3", "binguard.sim.ws_api.Dispatcher.handle"),
        ("/ws", "binguard.sim.ws_streams.StreamConn.on_text"),
    ],
)
async def test_ws_unexpected_exception_closes_1011_and_is_recorded(
    session: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch, path: str, target: str
) -> None:
    """A simulator bug injected on purpose: no HTTP 500 written onto the upgraded socket. (A
    monkeypatch, because no real input may make the simulator fail: that is what it guards.)"""
    monkeypatch.setattr(target, _boom)
    async with Simulator(WS_QUIET) as sim:
        async with session.ws_connect(sim.ws_url + path) as ws:
            await ws.send_str(json.dumps({"id": 1, "method": "ping"}))
            assert await recv_close(ws) == 1011
            assert ws.close_code == 1011
        assert len(sim.bugs) == 1
        assert sim.bugs[0] == f"WS {path}: RuntimeError('boom')"
