"""The connector's plain API against the simulator: typed results for market data, account,
open orders, cancel-all and trades."""

from __future__ import annotations

from decimal import Decimal

from binguard.sim import Simulator

from .conftest import MakeConnector, admin, ground_truth


async def test_market_data_and_account(connect: MakeConnector) -> None:
    bn = await connect()
    info = await bn.exchange_info()
    assert any(s["symbol"] == "BTCUSDT" for s in info["symbols"])
    book = await bn.book_ticker("BTCUSDT")
    depth = await bn.depth("BTCUSDT", limit=5)
    assert book.bid_price < book.ask_price
    assert depth.bids[0][0] == book.bid_price and depth.asks[0][0] == book.ask_price
    account = await bn.account()
    assert account.balances["USDT"].free == Decimal("100000")
    assert abs(await bn.server_time() - bn.time.now_ms()) < 1000


async def test_open_orders_and_cancel_all(sim: Simulator, connect: MakeConnector) -> None:
    bn = await connect()
    placed = [
        await bn.place_order(
            "BTCUSDT", "BUY", "LIMIT", quantity="0.001", price=str(20000 + i), time_in_force="GTC"
        )
        for i in range(3)
    ]
    assert {o.order_id for o in await bn.open_orders("BTCUSDT")} == {o.order_id for o in placed}
    cancelled = await bn.cancel_all("BTCUSDT")
    assert sorted(o.status for o in cancelled) == ["CANCELED"] * 3
    assert await bn.open_orders("BTCUSDT") == []
    truth = await ground_truth(sim)
    assert {o["status"] for o in truth if o["clientOrderId"].startswith("bg-")} == {"CANCELED"}
    for order in placed:  # the journal knows how each ended
        entry = bn.journal.get(order.client_order_id)
        assert entry is not None and entry.status == "CANCELED"


async def test_fill_shows_in_my_trades(sim: Simulator, connect: MakeConnector) -> None:
    bn = await connect()
    book = await bn.book_ticker("BTCUSDT")
    order = await bn.place_order("BTCUSDT", "BUY", "MARKET", quantity="0.001")
    assert order.status == "FILLED" and order.fills
    assert order.fills[0].price == book.ask_price
    trades = await bn.my_trades("BTCUSDT")
    assert [t.order_id for t in trades] == [order.order_id]
    assert trades[0].qty == Decimal("0.001") and trades[0].is_buyer
    assert len(await admin(sim, "fills?account=demo")) == 1
