"""Real client libraries against the simulator (test-only dependencies: ccxt, python-binance).

Every URL of both clients is pointed at the simulator, so nothing can leave the machine; the
simulator's request log is checked to prove the calls arrived here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.sim.helpers import spot_ccxt

from binguard.sim import Simulator
from binguard.sim.peers import point_python_binance

from .helpers import limit_buy

ccxt = pytest.importorskip("ccxt.async_support")
binance = pytest.importorskip("binance")


@pytest.fixture
async def exchange(sim: Simulator) -> AsyncIterator[Any]:
    key = sim.config.demo.keys[0]
    # every API family at the simulator (test_market_clients.py: no options)
    ex = spot_ccxt(sim.url, key.api_key, key.secret)
    try:
        yield ex
    finally:
        await ex.close()


@pytest.fixture
async def pb_client(sim: Simulator) -> AsyncIterator[Any]:
    key = sim.config.demo.keys[0]
    client = point_python_binance(binance.AsyncClient(key.api_key, key.secret), sim.url)
    try:
        yield client
    finally:
        await client.close_connection()


def _paths(sim: Simulator) -> set[str]:
    return {r["path"] for r in sim.state.requests}


async def test_ccxt_happy_path(sim: Simulator, exchange: Any) -> None:
    server_ms = await exchange.fetch_time()
    assert abs(server_ms - sim.state.clock.now_ms()) < 5000
    markets = await exchange.load_markets()
    assert "BTC/USDT" in markets
    assert markets["BTC/USDT"]["limits"]["amount"]["min"] == pytest.approx(0.00001)
    order = await exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
    assert order["status"] == "open"
    fetched = await exchange.fetch_order(order["id"], "BTC/USDT")
    assert fetched["id"] == order["id"] and fetched["amount"] == pytest.approx(0.001)
    canceled = await exchange.cancel_order(order["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    truth = await _admin_orders(sim)
    assert [(o["orderId"], o["status"]) for o in truth] == [(int(order["id"]), "CANCELED")]
    assert _paths(sim) >= {"/api/v3/time", "/api/v3/exchangeInfo", "/api/v3/order"}


async def test_ccxt_errors(sim: Simulator, exchange: Any) -> None:
    await exchange.load_markets()
    # ccxt maps -2010 by its message and keeps only the message (no code) in the exception
    with pytest.raises(ccxt.InsufficientFunds, match="insufficient balance"):
        await exchange.create_order("BTC/USDT", "limit", "buy", 10, 20000)
    sim.state.clock.jump(3_600_000)
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        await exchange.fetch_open_orders("BTC/USDT")
    sim.state.clock.jump(-3_600_000)
    _load(sim, {"action": "http_429", "path": "/api/v3/openOrders"})
    # ccxt turns HTTP 429 into DDoSProtection before reading the body; the code is in the text
    with pytest.raises(ccxt.DDoSProtection, match="-1003"):
        await exchange.fetch_open_orders("BTC/USDT")


async def test_python_binance_happy_path(sim: Simulator, pb_client: Any) -> None:
    server = await pb_client.get_server_time()
    assert abs(server["serverTime"] - sim.state.clock.now_ms()) < 5000
    info = await pb_client.get_exchange_info()
    assert {s["symbol"] for s in info["symbols"]} >= {"BTCUSDT"}
    order = await pb_client.create_order(**limit_buy("0.001", "20000"))
    assert order["status"] == "NEW"
    got = await pb_client.get_order(symbol="BTCUSDT", orderId=order["orderId"])
    assert got["clientOrderId"] == order["clientOrderId"]
    canceled = await pb_client.cancel_order(symbol="BTCUSDT", orderId=order["orderId"])
    assert canceled["status"] == "CANCELED"
    assert _paths(sim) >= {"/api/v3/time", "/api/v3/exchangeInfo", "/api/v3/order"}


async def test_python_binance_errors(sim: Simulator, pb_client: Any) -> None:
    from binance.exceptions import BinanceAPIException

    with pytest.raises(BinanceAPIException) as funds:
        await pb_client.create_order(**limit_buy("10", "20000"))
    assert funds.value.code == -2010
    sim.state.clock.jump(3_600_000)
    with pytest.raises(BinanceAPIException) as skew:
        await pb_client.get_open_orders(symbol="BTCUSDT")
    assert skew.value.code == -1021
    sim.state.clock.jump(-3_600_000)
    _load(sim, {"action": "http_429", "path": "/api/v3/openOrders"})
    with pytest.raises(BinanceAPIException) as limited:
        await pb_client.get_open_orders(symbol="BTCUSDT")
    assert (limited.value.code, limited.value.status_code) == (-1003, 429)


def _load(sim: Simulator, rule: dict[str, Any]) -> None:
    from binguard.sim import FaultPlan

    sim.state.faults.load(FaultPlan.from_text(json.dumps([{**rule, "times": 1}])))


async def _admin_orders(sim: Simulator) -> list[dict[str, Any]]:
    import aiohttp

    async with aiohttp.ClientSession() as s, s.get(sim.url + "/_sim/orders") as r:
        return list(await r.json())
