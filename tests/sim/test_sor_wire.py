"""SOR on the wire (web-socket-api.md §SOR; faqs/sor_faq.md): `sor.order.place` and
`sor.order.test` over the WebSocket API with the allocation's executionReport, execution-aware
faults on SOR orders (REST and WebSocket API) with the ground truth under /_sim/, and real
clients (ccxt, python-binance) unchanged but for their URLs."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest

from binguard.sim import Simulator
from binguard.sim.config import demo_ed25519_private
from binguard.sim.peers import point_ccxt, point_python_binance

from .helpers import Api, WsApi
from .sor_setup import book, maker, me, sor, sor_order

__all__ = ["maker", "me", "sor"]  # fixtures, used by name
DROPPED = (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)


async def test_websocket_api(sor: Simulator, session: aiohttp.ClientSession, maker: Api) -> None:
    await book(maker, "SELL", (("BTCUSDC", "1", "28000"),))
    ed_key = sor.config.demo.keys[1].api_key
    ws = await session.ws_connect(sor.ws_url + "/ws-api/v3")
    client = WsApi(ws, ed_key, private_key=demo_ed25519_private(0))
    async with ws:
        assert (await client.call("session.logon", {"apiKey": ed_key}, signed=True))[
            "status"
        ] == 200
        assert (await client.call("userDataStream.subscribe"))["status"] == 200
        now = int(time.time() * 1000)
        tested = await client.call(
            "sor.order.test",
            {**sor_order("BUY", "MARKET", "1"), "computeCommissionRates": True, "timestamp": now},
        )
        assert tested["status"] == 200 and "discount" in tested["result"], tested
        assert tested["rateLimits"][-1]["count"] == 2 + 2 + 2 + 20  # connect, logon, subscribe
        placed = await client.call(
            "sor.order.place", {**sor_order("BUY", "MARKET", "1"), "timestamp": now}
        )
        assert placed["status"] == 200, placed
        (order,) = placed["result"]
        assert (order["status"], order["workingFloor"], order["usedSor"]) == ("FILLED", "SOR", True)
        assert order["fills"][0]["allocId"] == 0
        assert placed["rateLimits"][0]["rateLimitType"] == "ORDERS"
        reports: list[dict[str, Any]] = []
        while len(reports) < 2:
            event = (await client.event())["event"]
            if event["e"] == "executionReport":
                reports.append(event)
        new, alloc = reports
        assert (new["x"], new["k"], new["uS"]) == ("NEW", "SOR", True)
        assert (alloc["x"], alloc["t"], alloc["b"], alloc["a"]) == (
            "TRADE",
            -1,
            "ONE_PARTY_TRADE_REPORT",
            0,
        )
        assert (alloc["l"], alloc["L"], alloc["X"]) == ("1.00000000", "28000.00000000", "FILLED")


async def _plan(api: Api, *rules: dict[str, Any]) -> None:
    await api.admin("faults", "POST", json.dumps({"rules": list(rules)}))


async def test_placed_then_reset(me: Api, maker: Api) -> None:
    await book(maker, "SELL", (("BTCUSDC", "1", "28000"),))
    await _plan(me, {"action": "reset_after", "path": "/api/v3/sor/order", "times": 1})
    with pytest.raises(DROPPED):
        await me.post(
            "/api/v3/sor/order",
            sor_order("BUY", "MARKET", "1", newClientOrderId="lost"),
            signed=True,
        )
    (truth,) = await me.admin("orders?account=demo")
    assert (truth["clientOrderId"], truth["status"], truth["usedSor"]) == ("lost", "FILLED", True)
    found = await me.get(
        "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "lost"}, signed=True
    )
    assert found.body["orderId"] == truth["orderId"]


@pytest.mark.parametrize(("executed", "code"), [(True, -1007), (False, -1006)])
async def test_5xx_executed_or_not(me: Api, executed: bool, code: int) -> None:
    rule = {"action": "error", "status": 503 if code == -1006 else 408, "code": code}
    await _plan(me, {**rule, "path": "/api/v3/sor/order", "executed": executed, "times": 1})
    reply = await me.post(
        "/api/v3/sor/order", sor_order("BUY", "LIMIT", "1", price="29000"), signed=True
    )
    assert reply.code == code
    assert len(await me.admin("orders?account=demo")) == (1 if executed else 0)


async def test_websocket_placed_then_error(
    sor: Simulator, session: aiohttp.ClientSession, me: Api
) -> None:
    await _plan(
        me,
        {
            "action": "ws_error",
            "method": "sor.order.place",
            "path": "/ws-api/v3",
            "executed": True,
            "status": 500,
            "code": -1006,
        },
    )
    key = sor.config.demo.keys[0]
    ws = await session.ws_connect(sor.ws_url + "/ws-api/v3")
    client = WsApi(ws, key.api_key, key.secret)
    async with ws:
        reply = await client.call(
            "sor.order.place", sor_order("BUY", "LIMIT", "1", price="29000"), signed=True
        )
        assert (reply["status"], reply["error"]["code"]) == (500, -1006)
    (truth,) = await me.admin("orders?account=demo")
    assert (truth["status"], truth["workingFloor"]) == ("NEW", "EXCHANGE")


async def test_real_clients(sor: Simulator, maker: Api) -> None:
    """ccxt's `create_order(..., params={"sor": True})` and python-binance's `v3_post_sor_order`
    (test-only dependencies), unchanged but for their URLs (peers.py)."""
    ccxt = pytest.importorskip("ccxt.async_support")
    binance = pytest.importorskip("binance")
    await book(maker, "SELL", (("BTCUSDC", "1", "28000"), ("BTCUSDP", "1", "28500")))
    key = sor.config.demo.keys[0]
    ex = ccxt.binance({"apiKey": key.api_key, "secret": key.secret, "enableRateLimit": False})
    point_ccxt(ex, sor.url)
    try:
        await ex.load_markets()
        order = await ex.create_order("BTC/USDT", "limit", "buy", 1, 29000, params={"sor": True})
    finally:
        await ex.close()
    assert (order["status"], order["filled"], order["average"]) == ("closed", 1.0, 28000.0)
    assert order["info"]["usedSor"] is True
    client = point_python_binance(binance.AsyncClient(key.api_key, key.secret), sor.url)
    try:
        placed = await client.v3_post_sor_order(
            symbol="BTCUSDT", side="BUY", type="MARKET", quantity="1"
        )
    finally:
        await client.close_connection()
    assert [f["allocId"] for f in placed["fills"]] == [1]
    truth = sor.state.engine.allocations["demo"]
    assert [(a.order_id, a.price) for a in truth] == [
        (int(order["id"]), 28000 * 10**8),
        (placed["orderId"], 28500 * 10**8),
    ]
