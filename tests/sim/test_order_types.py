"""Algo orders, iceberg orders, the new filters, STP and the conditional response fields, over
loopback REST (rest-api.md §New order, filters.md, enums.md, user-data-stream.md).

The book starts empty (no crowd) and the engine's last price is 30000.00, so every trade comes
from the two test accounts and each trigger is exactly where the test puts the market.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Any

import aiohttp
import pytest

from binguard.sim import SimConfig, Simulator
from binguard.sim.config import SymbolSpec

from .conftest import EMPTY
from .helpers import Api, msg, new_order, order_status, trade_at


async def test_stop_loss_limit_waits_then_fires_when_the_engine_trades_through(
    me: Api, them: Api
) -> None:
    placed = await me.order(
        **new_order("SELL", "STOP_LOSS_LIMIT", "0.01", price="28900", stopPrice="29000"),
        newOrderRespType="RESULT",
    )
    assert placed.status == 200, placed.body
    body = placed.body
    assert (body["status"], body["type"], body["stopPrice"]) == (
        "NEW",
        "STOP_LOSS_LIMIT",
        "29000.00000000",
    )
    before = await order_status(me, body["orderId"])
    assert before["isWorking"] is False and before["workingTime"] == -1
    await trade_at(them, "29500")  # not through the stop price
    assert (await order_status(me, body["orderId"]))["isWorking"] is False
    await trade_at(them, "29000")  # reaches it: the order becomes a resting LIMIT at 28900
    after = await order_status(me, body["orderId"])
    assert (after["status"], after["isWorking"]) == ("NEW", True)
    assert after["workingTime"] >= before["time"]
    depth = await me.get("/api/v3/depth", {"symbol": "BTCUSDT"})
    assert depth.body["asks"] == [["28900.00000000", "0.01000000"]]
    filled = await them.order(**new_order("BUY", "LIMIT", "0.01", price="28900"))
    assert filled.body["status"] == "FILLED"
    assert (await order_status(me, body["orderId"]))["status"] == "FILLED"


async def test_stop_loss_market_and_take_profit_fire_as_market_orders(me: Api, them: Api) -> None:
    bid = await them.order(**new_order("BUY", "LIMIT", "0.02", price="28000"))
    assert bid.status == 200
    stop = await me.order(**new_order("SELL", "STOP_LOSS", "0.01", stopPrice="29000"))
    take = await me.order(**new_order("SELL", "TAKE_PROFIT", "0.01", stopPrice="31000"))
    assert stop.body.keys() == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    assert (await order_status(me, stop.body["orderId"]))["status"] == "NEW"
    await trade_at(them, "31000")
    # the take-profit sells into the 28000 bid; that trade reaches the stop-loss, which sells too
    for placed in (take, stop):
        got = await order_status(me, placed.body["orderId"])
        assert (got["status"], got["executedQty"]) == ("FILLED", "0.01000000")
        assert got["cummulativeQuoteQty"] == "280.00000000"


async def test_trailing_stop_follows_the_market(me: Api, them: Api) -> None:
    await them.order(**new_order("BUY", "LIMIT", "0.01", price="25000"))
    placed = await me.order(
        **new_order("SELL", "STOP_LOSS", "0.01", trailingDelta="100"), newOrderRespType="RESULT"
    )
    assert placed.body["trailingDelta"] == 100 and placed.body["trailingTime"] > 0
    order_id = placed.body["orderId"]
    await trade_at(them, "30500")  # new high: the stop follows to 30500 x 0.99 = 30195
    await trade_at(them, "30200")  # 0.98 % down from the high: not yet
    assert (await order_status(me, order_id))["status"] == "NEW"
    await trade_at(them, "30195")  # 1 % down from the high: fires, sells into the 25000 bid
    got = await order_status(me, order_id)
    assert (got["status"], got["trailingDelta"]) == ("FILLED", 100)


async def test_take_profit_trailing_activates_at_its_stop_price(me: Api, them: Api) -> None:
    await them.order(**new_order("BUY", "LIMIT", "0.01", price="25000"))
    placed = await me.order(
        **new_order("SELL", "TAKE_PROFIT", "0.01", stopPrice="31000", trailingDelta="200"),
        newOrderRespType="RESULT",
    )
    assert placed.body["trailingTime"] == -1  # not active before the activation price
    order_id = placed.body["orderId"]
    await trade_at(them, "30000")
    await trade_at(them, "29000")  # 3 % down, but not activated: nothing
    assert (await order_status(me, order_id))["trailingTime"] == -1
    await trade_at(them, "31500")  # activated at 31500
    assert (await order_status(me, order_id))["trailingTime"] > 0
    await trade_at(them, "30870")  # 2 % below 31500: fires
    assert (await order_status(me, order_id))["status"] == "FILLED"


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        (
            new_order("SELL", "STOP_LOSS", "0.01", stopPrice="30100"),
            -2010,
            "Order would trigger immediately.",
        ),
        (
            new_order("BUY", "TAKE_PROFIT", "0.01", stopPrice="30100"),
            -2010,
            "Order would trigger immediately.",
        ),
        (
            new_order("SELL", "STOP_LOSS", "0.01", trailingDelta="5"),
            -1013,
            "Filter failure: TRAILING_DELTA",
        ),
        (
            new_order("BUY", "STOP_LOSS", "0.01", trailingDelta="2001"),
            -1013,
            "Filter failure: TRAILING_DELTA",
        ),
        (
            new_order("SELL", "STOP_LOSS", "0.01", stopPrice="29000.001"),
            -1013,
            "Filter failure: PRICE_FILTER",
        ),
        (
            new_order("SELL", "STOP_LOSS", "0.01", price="29000", stopPrice="29000"),
            -1106,
            msg(-1106, 1, "price"),
        ),
        (new_order("SELL", "TAKE_PROFIT_LIMIT", "0.01", price="29000"), -1102, None),
        (
            new_order("SELL", "STOP_LOSS", "0.01", stopPrice="29000", selfTradePreventionMode="X"),
            -1130,
            msg(-1130, 1, "selfTradePreventionMode"),
        ),
        (
            new_order("SELL", "MARKET", "0.01", pegPriceType="PRIMARY_PEG"),
            -2010,
            "This order type may not use pegged price.",
        ),
        (
            {**new_order("SELL", "LIMIT_MAKER", "0.01"), "pegPriceType": "MARKET_PEG"},
            -2010,
            "This price peg cannot be used with this order type.",
        ),
        (new_order("SELL", "LIMIT", "0.01", pegPriceType="BEST"), -1210, "Invalid pegPriceType."),
        (
            new_order(
                "SELL",
                "LIMIT",
                "0.01",
                pegPriceType="PRIMARY_PEG",
                pegOffsetType="TICKS",
                pegOffsetValue="1",
            ),
            -1211,
            "Invalid pegOffsetType.",
        ),
        (
            new_order("SELL", "LIMIT", "0.01", pegPriceType="PRIMARY_PEG"),
            -2010,
            "Order book liquidity is too low for this pegged order.",
        ),
    ],
)
async def test_algo_order_refusals(
    me: Api, params: dict[str, Any], code: int, message: str | None
) -> None:
    reply = await me.order(**params)
    assert reply.code == code, reply.body
    if message is not None:
        assert reply.msg == message


async def test_max_num_algo_and_iceberg_orders(me: Api) -> None:
    for i in range(5):
        ok = await me.order(**new_order("SELL", "STOP_LOSS", "0.001", stopPrice=str(29000 - i)))
        assert ok.status == 200, ok.body
    sixth = await me.order(**new_order("SELL", "STOP_LOSS", "0.001", stopPrice="28000"))
    assert (sixth.code, sixth.msg) == (-1013, "Filter failure: MAX_NUM_ALGO_ORDERS")
    for i in range(5):
        ok = await me.order(
            **new_order("BUY", "LIMIT", "0.002", price=str(29000 - i), icebergQty="0.001")
        )
        assert ok.status == 200, ok.body
        assert ok.body["icebergQty"] == "0.00100000"
    sixth = await me.order(**new_order("BUY", "LIMIT", "0.002", price="28000", icebergQty="0.001"))
    assert (sixth.code, sixth.msg) == (-1013, "Filter failure: MAX_NUM_ICEBERG_ORDERS")
    plain = await me.order(**new_order("BUY", "LIMIT", "0.002", price="28000"))
    assert plain.status == 200 and "icebergQty" not in plain.body


async def test_max_position(session: aiohttp.ClientSession) -> None:
    spec = SymbolSpec("BTCUSDT", "BTC", "USDT", initial_price="30000.00", max_position="2.5")
    config = EMPTY.with_(symbols=(spec,))
    async with Simulator(config) as sim:
        key = sim.config.demo.keys[0]
        api = Api(session, sim.url, key.api_key, key.secret)
        info = await api.get("/api/v3/exchangeInfo", {"symbol": "BTCUSDT"})
        (row,) = [
            f for f in info.body["symbols"][0]["filters"] if f["filterType"] == "MAX_POSITION"
        ]
        assert row == {"filterType": "MAX_POSITION", "maxPosition": "2.50000000"}
        # the demo account holds 2 BTC: an open BUY of 0.4 makes 2.4, 0.2 more is over
        first = await api.order(**new_order("BUY", "LIMIT", "0.4", price="29000"))
        assert first.status == 200, first.body
        over = await api.order(**new_order("BUY", "LIMIT", "0.2", price="29000"))
        assert (over.code, over.msg) == (-1013, "Filter failure: MAX_POSITION")
        sell = await api.order(**new_order("SELL", "LIMIT", "0.2", price="31000"))
        assert sell.status == 200  # MAX_POSITION applies to BUY orders only
        assert sim.bugs == []


async def test_percent_price_filter_and_exchange_info(me: Api) -> None:
    info = await me.get("/api/v3/exchangeInfo", {"symbol": "BTCUSDT"})
    sym = info.body["symbols"][0]
    assert set(sym["orderTypes"]) == {
        "LIMIT",
        "LIMIT_MAKER",
        "MARKET",
        "STOP_LOSS",
        "STOP_LOSS_LIMIT",
        "TAKE_PROFIT",
        "TAKE_PROFIT_LIMIT",
    }
    assert sym["allowedSelfTradePreventionModes"] == [
        "NONE",
        "EXPIRE_TAKER",
        "EXPIRE_MAKER",
        "EXPIRE_BOTH",
        "DECREMENT",
        "TRANSFER",
    ]
    assert sym["icebergAllowed"] is True and sym["allowTrailingStop"] is True
    assert sym["pegInstructionsAllowed"] is True
    low = await me.order(**new_order("BUY", "LIMIT", "0.1", price="90"))  # 99.7 % below
    assert (low.code, low.msg) == (-1013, "Filter failure: PERCENT_PRICE_BY_SIDE")
    # the bound is the 5-minute average price (no reference price) x askMultiplierUp 5
    avg = Decimal((await me.get("/api/v3/avgPrice", {"symbol": "BTCUSDT"})).body["price"])
    top = (avg * 5).quantize(Decimal("0.01"), ROUND_FLOOR)
    high = await me.order(**new_order("SELL", "LIMIT", "0.001", price=str(top + Decimal("0.01"))))
    assert (high.code, high.msg) == (-1013, "Filter failure: PERCENT_PRICE_BY_SIDE")
    edge = await me.order(**new_order("SELL", "LIMIT", "0.001", price=str(top)))
    assert edge.status == 200, edge.body


async def test_percent_price_variant(session: aiohttp.ClientSession) -> None:
    spec = SymbolSpec(
        "BTCUSDT", "BTC", "USDT", initial_price="30000.00", percent_price_by_side=False,
        bid_multiplier_up="1.1", bid_multiplier_down="0.9",
    )  # fmt: skip
    async with Simulator(EMPTY.with_(symbols=(spec,))) as sim:
        key = sim.config.demo.keys[0]
        api = Api(session, sim.url, key.api_key, key.secret)
        info = await api.get("/api/v3/exchangeInfo", {"symbol": "BTCUSDT"})
        (row,) = [
            f for f in info.body["symbols"][0]["filters"] if f["filterType"] == "PERCENT_PRICE"
        ]
        assert row["multiplierUp"] == "1.1" and row["multiplierDown"] == "0.9"
        refused = await api.order(**new_order("SELL", "LIMIT", "0.001", price="40000"))
        assert (refused.code, refused.msg) == (-1013, "Filter failure: PERCENT_PRICE")
        assert sim.bugs == []


async def test_expiry_reason_and_strategy_fields(me: Api, them: Api) -> None:
    await them.order(**new_order("SELL", "LIMIT", "0.001", price="30000"))
    ioc = await me.order(
        **new_order("BUY", "LIMIT", "0.002", price="30000", timeInForce="IOC"),
        newOrderRespType="RESULT",
        strategyId="37",
        strategyType="1000000",
    )
    body = ioc.body
    assert (body["status"], body["executedQty"]) == ("EXPIRED", "0.00100000")
    assert body["expiryReason"] == "UNFILLED_IOC_QUANTITY_EXPIRED"
    assert (body["strategyId"], body["strategyType"]) == (37, 1000000)
    fok = await me.order(
        **new_order("BUY", "LIMIT", "0.002", price="30000", timeInForce="FOK"),
        newOrderRespType="FULL",
    )
    assert fok.body["expiryReason"] == "UNFILLED_FOK_ORDER_EXPIRED" and fok.body["fills"] == []
    market = await me.order(**new_order("BUY", "MARKET", "0.001"), newOrderRespType="RESULT")
    assert market.body["expiryReason"] == "INSUFFICIENT_LIQUIDITY"
    ack = await me.order(
        **new_order("BUY", "LIMIT", "0.002", price="30000", timeInForce="IOC"),
        newOrderRespType="ACK",
    )
    assert "expiryReason" not in ack.body
    queried = await order_status(me, body["orderId"])
    assert queried["expiryReason"] == "UNFILLED_IOC_QUANTITY_EXPIRED"
    assert queried["strategyId"] == 37
    resting = await me.order(**new_order("BUY", "LIMIT", "0.001", price="29000"))
    assert "expiryReason" not in resting.body and "strategyId" not in resting.body


async def test_iceberg_shows_its_slice_and_refills_at_the_back(me: Api, them: Api) -> None:
    """filters.md / rest-api.md: an iceberg shows `icebergQty`; a used-up slice is replaced by
    the next one, behind the orders already at that price; the hidden rest still trades."""
    ice = await me.order(**new_order("SELL", "LIMIT", "0.01", price="31000", icebergQty="0.002"))
    assert ice.status == 200, ice.body

    async def shown() -> list[list[str]]:
        return list((await me.get("/api/v3/depth", {"symbol": "BTCUSDT"})).body["asks"])

    assert await shown() == [["31000.00000000", "0.00200000"]]
    ticker = await me.get("/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"})
    assert ticker.body["askQty"] == "0.00200000"
    plain = await them.order(**new_order("SELL", "LIMIT", "0.003", price="31000"))
    assert await shown() == [["31000.00000000", "0.00500000"]]
    await them.order(**new_order("BUY", "LIMIT", "0.004", price="31000"))
    # the iceberg's first slice (0.002) traded first, then the plain order (0.002 of 0.003):
    # the refilled slice waited behind it
    assert (await order_status(me, ice.body["orderId"]))["executedQty"] == "0.00200000"
    assert (await order_status(them, plain.body["orderId"]))["executedQty"] == "0.00200000"
    assert await shown() == [["31000.00000000", "0.00300000"]]
    # FOK counts the hidden quantity: 0.001 plain + 0.008 iceberg
    fok = await them.order(**new_order("BUY", "LIMIT", "0.009", price="31000", timeInForce="FOK"))
    assert fok.body["status"] == "FILLED", fok.body
    assert (await order_status(me, ice.body["orderId"]))["status"] == "FILLED"
    assert await shown() == []


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"allowed_stp_modes": ["FOO"]}, "allowed_stp_modes must list modes of"),
        ({"allowed_stp_modes": "NONE"}, "allowed_stp_modes must list modes of"),
        (
            {"allowed_stp_modes": ["NONE"], "default_stp_mode": "EXPIRE_BOTH"},
            "default_stp_mode must be an allowed mode",
        ),
        ({"max_position": "-1"}, "max_position must be a decimal number >= 0"),
        ({"iceberg_parts": "x"}, "SymbolSpec.iceberg_parts must be int"),
        ({"percent_price_by_side": "yes"}, "percent_price_by_side must be true or false"),
    ],
)
def test_symbol_config_refuses_bad_filter_values(extra: dict[str, Any], message: str) -> None:
    base = {"symbol": "X", "base": "A", "quote": "B", "initial_price": "1"}
    with pytest.raises(ValueError, match=message):
        SimConfig.from_mapping({"symbols": [{**base, **extra}]})


async def test_pegged_orders_take_their_price_from_the_book(me: Api, them: Api) -> None:
    """rest-api.md §Pegged Orders Info and the pegged orders FAQ: PRIMARY_PEG is the best price
    of the order's side, MARKET_PEG the other side's, pegOffsetValue levels deeper; `price`
    stays as sent (0), `peggedPrice` is the price chosen."""
    for price in ("29000", "29100"):
        await them.order(**new_order("BUY", "LIMIT", "0.01", price=price))
    await them.order(**new_order("SELL", "LIMIT", "0.01", price="31000"))
    primary = await me.order(
        **new_order("BUY", "LIMIT", "0.01"),
        pegPriceType="PRIMARY_PEG",
        pegOffsetType="PRICE_LEVEL",
        pegOffsetValue="1",
        newOrderRespType="RESULT",
    )
    assert primary.status == 200, primary.body
    body = primary.body
    assert (body["price"], body["peggedPrice"], body["status"]) == (
        "0.00000000",
        "29000.00000000",
        "NEW",
    )
    assert (body["pegPriceType"], body["pegOffsetType"], body["pegOffsetValue"]) == (
        "PRIMARY_PEG",
        "PRICE_LEVEL",
        1,
    )
    taker = await me.order(
        **new_order("BUY", "LIMIT", "0.01", timeInForce="IOC"),
        pegPriceType="MARKET_PEG",
        newOrderRespType="FULL",
    )
    assert taker.body["status"] == "FILLED", taker.body
    assert [f["price"] for f in taker.body["fills"]] == ["31000.00000000"]
    queried = await order_status(me, body["orderId"])
    assert queried["peggedPrice"] == "29000.00000000" and "pegOffsetValue" in queried
    depth = await me.get("/api/v3/depth", {"symbol": "BTCUSDT"})
    assert ["29000.00000000", "0.02000000"] in depth.body["bids"]
    info = await me.get("/api/v3/exchangeInfo", {"symbol": "BTCUSDT"})
    assert info.body["symbols"][0]["pegInstructionsAllowed"] is True


async def test_pegged_stop_limit_pegs_when_it_triggers(me: Api, them: Api) -> None:
    stop = await me.order(
        **new_order("SELL", "STOP_LOSS_LIMIT", "0.01", stopPrice="29000"),
        pegPriceType="PRIMARY_PEG",
        newOrderRespType="RESULT",
    )
    assert stop.status == 200, stop.body
    assert "peggedPrice" not in stop.body
    await them.order(**new_order("SELL", "LIMIT", "0.01", price="29500"))  # an ask to peg to
    await trade_at(them, "28990")  # the stop triggers; the ask side's best is 29500
    got = await order_status(me, stop.body["orderId"])
    assert (got["status"], got["isWorking"], got["peggedPrice"]) == ("NEW", True, "29500.00000000")
