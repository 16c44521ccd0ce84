"""Real clients placing the new order types (test-only dependencies: ccxt, python-binance).

ccxt reads `orderTypes` from exchangeInfo and refuses a stop order the symbol does not list;
with STOP_LOSS_LIMIT listed, `create_order(..., params={"stopPrice": ...})` places one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from binguard.sim import Simulator
from binguard.sim.peers import point_ccxt, point_python_binance

ccxt = pytest.importorskip("ccxt.async_support")


@pytest.fixture
async def exchange(sim: Simulator) -> AsyncIterator[Any]:
    key = sim.config.demo.keys[0]
    ex = ccxt.binance({"apiKey": key.api_key, "secret": key.secret, "enableRateLimit": False})
    point_ccxt(ex, sim.url)
    try:
        yield ex
    finally:
        await ex.close()


async def test_ccxt_stop_loss_limit(sim: Simulator, exchange: Any) -> None:
    await exchange.load_markets()
    order = await exchange.create_order(
        "BTC/USDT", "STOP_LOSS_LIMIT", "sell", 0.001, 28000, params={"stopPrice": 29000}
    )
    assert order["status"] == "open"
    fetched = await exchange.fetch_order(order["id"], "BTC/USDT")
    assert fetched["triggerPrice"] == pytest.approx(29000)
    assert fetched["info"]["type"] == "STOP_LOSS_LIMIT" and fetched["info"]["isWorking"] is False
    truth = sim.state.engine.history[("demo", "BTCUSDT")][int(order["id"])]
    assert (truth.type, truth.stop_price, truth.working) == (
        "STOP_LOSS_LIMIT",
        29000 * 10**8,
        False,
    )


@pytest.fixture
async def pb_client(sim: Simulator) -> AsyncIterator[Any]:
    binance = pytest.importorskip("binance")
    key = sim.config.demo.keys[0]
    client = point_python_binance(binance.AsyncClient(key.api_key, key.secret), sim.url)
    try:
        yield client
    finally:
        await client.close_connection()


OCO = {
    "symbol": "BTCUSDT",
    "quantity": "0.01",
    "aboveType": "LIMIT_MAKER",
    "abovePrice": "31000",
    "belowType": "STOP_LOSS_LIMIT",
    "belowStopPrice": "29000",
    "belowPrice": "28900",
    "belowTimeInForce": "GTC",
}


async def test_python_binance_create_oco_order(sim: Simulator, pb_client: Any) -> None:
    placed = await pb_client.create_oco_order(side="SELL", **OCO)
    assert placed["contingencyType"] == "OCO"
    assert placed["listClientOrderId"].startswith("x-")  # python-binance's own id
    sold = await pb_client.order_oco_sell(**OCO)
    assert sold["listStatusType"] == "EXEC_STARTED"
    lists = sim.state.engine.order_lists
    assert [lst.client_id for lst in lists.values()] == [
        placed["listClientOrderId"],
        sold["listClientOrderId"],
    ]
    assert all(len(lst.orders) == 2 for lst in lists.values())
    assert {r["path"] for r in sim.state.requests} >= {"/api/v3/orderList/oco"}
