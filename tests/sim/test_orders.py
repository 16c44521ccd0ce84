"""Order endpoints: lifecycle, matching semantics, ground truth and every validation error."""

from __future__ import annotations

from typing import Any

import pytest

from binguard.sim import Simulator

from .helpers import Api, msg, own_window

LIMIT = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}


def _book(sim: Simulator, symbol: str = "BTCUSDT") -> tuple[float, float]:
    book = sim.state.engine.books[symbol]
    bid, ask = book.bids.best(), book.asks.best()
    assert bid is not None and ask is not None
    return bid / 1e8, ask / 1e8


async def test_limit_order_lifecycle(sim: Simulator, api: Api) -> None:
    placed = await api.order(**LIMIT, quantity="0.01", price="25000", newClientOrderId="mine-1")
    assert placed.status == 200, placed.body
    assert placed.body["status"] == "NEW" and placed.body["fills"] == []
    assert placed.headers["X-MBX-ORDER-COUNT-10S"] == "1"
    oid = placed.body["orderId"]
    by_id = await api.get("/api/v3/order", {"symbol": "BTCUSDT", "orderId": oid}, signed=True)
    by_cid = await api.get(
        "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "mine-1"}, signed=True
    )
    assert by_id.body == by_cid.body
    assert by_id.body["origQty"] == "0.01000000" and by_id.body["isWorking"] is True
    opened = await api.get("/api/v3/openOrders", {"symbol": "BTCUSDT"}, signed=True)
    assert [o["orderId"] for o in opened.body] == [oid]
    account = await api.get("/api/v3/account", signed=True)
    usdt = next(b for b in account.body["balances"] if b["asset"] == "USDT")
    assert usdt == {"asset": "USDT", "free": "99750.00000000", "locked": "250.00000000"}
    canceled = await api.delete(
        "/api/v3/order",
        {"symbol": "BTCUSDT", "orderId": oid, "newClientOrderId": "cx"},
        signed=True,
    )
    assert canceled.body["status"] == "CANCELED"
    assert (canceled.body["origClientOrderId"], canceled.body["clientOrderId"]) == ("mine-1", "cx")
    truth = await api.admin("balances?account=demo")
    assert truth["demo"]["USDT"] == {"free": "100000.00000000", "locked": "0.00000000"}
    again = await api.delete("/api/v3/order", {"symbol": "BTCUSDT", "orderId": oid}, signed=True)
    assert (again.code, again.msg) == (-2011, "Unknown order sent.")
    every = await api.get("/api/v3/allOrders", {"symbol": "BTCUSDT"}, signed=True)
    assert [(o["orderId"], o["status"]) for o in every.body] == [(oid, "CANCELED")]


async def test_crossing_limit_and_market_orders_fill(sim: Simulator, api: Api) -> None:
    _, ask = _book(sim)
    taker = await api.order(**LIMIT, quantity="0.002", price=f"{ask + 100:.2f}")
    assert taker.body["status"] == "FILLED"
    fill = taker.body["fills"][0]
    assert float(fill["price"]) == ask  # trades at the maker's price
    assert fill["commissionAsset"] == "BTC" and fill["commission"] == "0.00000200"
    sold = await api.order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.002")
    assert sold.body["status"] == "FILLED" and sold.body["timeInForce"] == "GTC"
    spent = await api.order(symbol="BTCUSDT", side="BUY", type="MARKET", quoteOrderQty="100")
    assert spent.body["status"] == "FILLED"
    assert float(spent.body["cummulativeQuoteQty"]) <= 100
    assert spent.body["origQuoteOrderQty"] == "100.00000000"
    trades = await api.get("/api/v3/myTrades", {"symbol": "BTCUSDT"}, signed=True)
    assert len(trades.body) == len(taker.body["fills"]) + len(sold.body["fills"]) + len(
        spent.body["fills"]
    )
    assert trades.body[0]["isBuyer"] is True and trades.body[0]["isMaker"] is False
    one = await api.get(
        "/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": sold.body["orderId"]}, signed=True
    )
    assert all(t["orderId"] == sold.body["orderId"] for t in one.body) and one.body


async def test_ioc_fok_and_limit_maker(sim: Simulator, api: Api) -> None:
    bid, ask = _book(sim)
    book = sim.state.engine.books["BTCUSDT"]
    top_qty = book.asks.totals[book.asks.best()] / 1e8  # type: ignore[index]
    ioc = await api.order(
        **{**LIMIT, "timeInForce": "IOC"}, quantity=f"{top_qty + 0.5:.5f}", price=f"{ask:.2f}"
    )
    assert ioc.body["status"] == "EXPIRED"
    assert ioc.body["executedQty"] == f"{top_qty:.8f}"
    fok = await api.order(**{**LIMIT, "timeInForce": "FOK"}, quantity="1", price=f"{ask:.2f}")
    assert fok.body["status"] == "EXPIRED" and fok.body["executedQty"] == "0.00000000"
    maker = await api.order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT_MAKER",
        quantity="0.001",
        price=f"{ask + 1000:.2f}",
    )
    assert (maker.code, maker.msg) == (-2010, "Order would immediately match and take.")
    rests = await api.order(
        newOrderRespType="RESULT",
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT_MAKER",
        quantity="0.001",
        price=f"{bid - 10:.2f}",
    )
    assert rests.body["status"] == "NEW"


async def test_passive_order_fills_through_the_crowd(sim: Simulator, api: Api) -> None:
    bid, ask = _book(sim)
    # the best bid by far: the crowd's next market sells hit it first
    placed = await api.order(**LIMIT, quantity="0.001", price=f"{(bid + ask) / 2:.2f}")
    oid = placed.body["orderId"]
    for _ in range(200):
        sim.state.crowd.step()
        if sim.state.engine.find("demo", "BTCUSDT", oid, None).status == "FILLED":
            break
    status = await api.get("/api/v3/order", {"symbol": "BTCUSDT", "orderId": oid}, signed=True)
    assert status.body["status"] == "FILLED"
    trades = await api.get("/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": oid}, signed=True)
    assert trades.body[0]["isMaker"] is True


async def test_duplicate_client_order_id_among_open_orders(api: Api) -> None:
    first = await api.order(**LIMIT, quantity="0.001", price="20000", newClientOrderId="dup")
    assert first.status == 200
    second = await api.order(**LIMIT, quantity="0.001", price="20000", newClientOrderId="dup")
    assert (second.status, second.code, second.msg) == (400, -2010, "Duplicate order sent.")
    await api.delete(
        "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "dup"}, signed=True
    )
    third = await api.order(**LIMIT, quantity="0.001", price="20000", newClientOrderId="dup")
    assert third.status == 200  # reusable once the earlier one is no longer open


async def test_order_lookup_errors(api: Api) -> None:
    placed = await api.order(**LIMIT, quantity="0.001", price="20000", newClientOrderId="a1")
    oid = placed.body["orderId"]
    unknown = await api.get("/api/v3/order", {"symbol": "BTCUSDT", "orderId": 999999}, signed=True)
    assert (unknown.code, unknown.msg) == (-2013, msg(-2013))
    mismatch = await api.get(
        "/api/v3/order",
        {"symbol": "BTCUSDT", "orderId": oid, "origClientOrderId": "zz"},
        signed=True,
    )
    assert (mismatch.code, mismatch.msg) == (-2039, msg(-2039))
    neither = await api.get("/api/v3/order", {"symbol": "BTCUSDT"}, signed=True)
    assert (neither.code, neither.msg) == (-1102, msg(-1102, 2, "origClientOrderId", "orderId"))
    cancel_unknown = await api.delete(
        "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "nope"}, signed=True
    )
    assert (cancel_unknown.code, cancel_unknown.msg) == (-2011, "Unknown order sent.")
    restricted = await api.delete(
        "/api/v3/order",
        {"symbol": "BTCUSDT", "orderId": oid, "cancelRestrictions": "ONLY_PARTIALLY_FILLED"},
        signed=True,
    )
    assert (restricted.code, restricted.msg) == (
        -2011,
        "Order was not canceled due to cancel restrictions.",
    )
    bad_restriction = await api.delete(
        "/api/v3/order",
        {"symbol": "BTCUSDT", "orderId": oid, "cancelRestrictions": "X"},
        signed=True,
    )
    assert (bad_restriction.code, bad_restriction.msg) == (-1145, msg(-1145))
    empty_cid = await api.get(
        "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": ""}, signed=True
    )
    assert (empty_cid.code, empty_cid.msg) == (-1119, msg(-1119))


async def test_cancel_all_open_orders(api: Api) -> None:
    for price in ("20000", "20001"):
        await api.order(**LIMIT, quantity="0.001", price=price)
    canceled = await api.delete("/api/v3/openOrders", {"symbol": "BTCUSDT"}, signed=True)
    assert [o["status"] for o in canceled.body] == ["CANCELED", "CANCELED"]
    none_left = await api.delete("/api/v3/openOrders", {"symbol": "BTCUSDT"}, signed=True)
    assert (none_left.code, none_left.msg) == (-2011, "Unknown order sent.")
    everywhere = await api.get("/api/v3/openOrders", signed=True)
    assert everywhere.body == []


def _p(**kw: Any) -> dict[str, Any]:
    return {**LIMIT, "quantity": "0.001", "price": "20000", **kw}


@pytest.mark.parametrize(
    ("params", "code", "message"),
    [
        (_p(side="UP"), -1117, msg(-1117)),
        (_p(type="FANCY"), -1116, msg(-1116)),
        (_p(timeInForce="GTD"), -1115, msg(-1115)),
        (_p(symbol="NOPE"), -1121, msg(-1121)),
        (
            {k: v for k, v in _p().items() if k != "timeInForce"},
            -1102,
            msg(-1102, 1, "timeInForce"),
        ),
        ({k: v for k, v in _p().items() if k != "price"}, -1102, msg(-1102, 1, "price")),
        ({k: v for k, v in _p().items() if k != "side"}, -1102, msg(-1102, 1, "side")),
        (_p(quantity="0.000000001"), -1111, msg(-1111, 0, "quantity")),
        (_p(price="1e5"), -1100, msg(-1100, 1, "price", "^([0-9]{1,20})(\\.[0-9]{1,20})?$")),
        (_p(price="20000.001"), -1013, "Filter failure: PRICE_FILTER"),
        (_p(price="0.001"), -1013, "Filter failure: PRICE_FILTER"),
        (_p(quantity="0.000015"), -1013, "Filter failure: LOT_SIZE"),
        (_p(quantity="10000"), -1013, "Filter failure: LOT_SIZE"),
        (_p(quantity="0.0002"), -1013, "Filter failure: NOTIONAL"),
        # 99.7 % below the market: PERCENT_PRICE_BY_SIDE (bidMultiplierDown 0.2)
        (_p(quantity="0.1", price="100"), -1013, "Filter failure: PERCENT_PRICE_BY_SIDE"),
        (_p(price="160000"), -1013, "Filter failure: PERCENT_PRICE_BY_SIDE"),
        (_p(newClientOrderId=""), -1118, msg(-1118)),
        (_p(newOrderRespType="ALL"), -1130, msg(-1130, 1, "newOrderRespType")),
        (_p(stopPrice="1"), -1106, msg(-1106, 1, "stopPrice")),
        (_p(icebergQty="0.0001", timeInForce="IOC"), -2010, "Unsupported order combination"),
        (_p(icebergQty="0.002"), -2010, "IcebergQty exceeds QTY."),
        (_p(quantity="0.002", icebergQty="0.00001"), -1013, "Filter failure: ICEBERG_PARTS"),
        (_p(icebergQty="0.000015"), -1013, "Filter failure: LOT_SIZE"),
        (
            _p(type="STOP_LOSS_LIMIT"),
            -1102,
            msg(-1102, 2, "stopPrice", "trailingDelta"),
        ),
        (_p(trailingDelta="100"), -1106, msg(-1106, 1, "trailingDelta")),
        (_p(strategyType="5"), -1134, msg(-1134)),
        (_p(bogus="1"), -1104, msg(-1104, 1, 8, 9)),
        (
            _p(quantity="10", price="20000"),
            -2010,
            "Account has insufficient balance for requested action.",
        ),
        (
            {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "1000"},
            -1013,
            "Filter failure: MARKET_LOT_SIZE",
        ),
        (
            {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "3"},
            -2010,
            "Account has insufficient balance for requested action.",
        ),
        (
            {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET"},
            -1102,
            msg(-1102, 2, "quantity", "quoteOrderQty"),
        ),
        (
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "MARKET",
                "quantity": "0.1",
                "timeInForce": "GTC",
            },
            -1106,
            msg(-1106, 1, "timeInForce"),
        ),
        (
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "MARKET",
                "quantity": "0.1",
                "price": "1",
            },
            -1106,
            msg(-1106, 1, "price"),
        ),
    ],
)
async def test_new_order_validation(
    api: Api, params: dict[str, Any], code: int, message: str
) -> None:
    reply = await api.order(**params)
    assert (reply.status, reply.code, reply.msg) == (400, code, message)
    assert await api.admin("orders?account=demo") == []


async def test_max_num_orders_filter(sim: Simulator, api: Api) -> None:
    from binguard.sim.filters import SymbolRules

    rules = sim.state.engine.rules["ETHBTC"]
    sim.state.engine.rules["ETHBTC"] = SymbolRules(
        **{**{f: getattr(rules, f) for f in rules.__dataclass_fields__}, "max_num_orders": 2}
    )
    base = {
        "symbol": "ETHBTC",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01",
        "price": "0.05000",
    }
    assert (await api.order(**base)).status == 200
    assert (await api.order(**base)).status == 200
    third = await api.order(**base)
    assert (third.code, third.msg) == (-1013, "Filter failure: MAX_NUM_ORDERS")


async def test_response_types_and_test_order(sim: Simulator, api: Api) -> None:
    own_window(sim, api)  # the weight header below counts this test's requests in one minute
    ack = await api.order(**LIMIT, quantity="0.001", price="20000", newOrderRespType="ACK")
    assert set(ack.body) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    result = await api.order(**LIMIT, quantity="0.001", price="20000", newOrderRespType="RESULT")
    assert "fills" not in result.body and result.body["status"] == "NEW"
    test = await api.post("/api/v3/order/test", _p(), signed=True)
    assert (test.status, test.body) == (200, {})
    rates = await api.post("/api/v3/order/test", _p(computeCommissionRates="true"), signed=True)
    assert rates.body["standardCommissionForOrder"]["taker"] == "0.00100000"
    assert rates.headers["X-MBX-USED-WEIGHT-1M"] == "21"
    bad = await api.post("/api/v3/order/test", _p(price="0.001"), signed=True)
    assert bad.msg == "Filter failure: PRICE_FILTER"
    assert len(await api.admin("orders?account=demo")) == 2


async def test_account_and_order_count(sim: Simulator, api: Api) -> None:
    own_window(sim, api)  # the 10 s order count must be read in the window it was made in
    acct = await api.get("/api/v3/account", {"omitZeroBalances": "true"}, signed=True)
    assert acct.body["canTrade"] is True and acct.body["accountType"] == "SPOT"
    assert {b["asset"] for b in acct.body["balances"]} == {"USDT", "BTC", "ETH"}
    await api.order(**LIMIT, quantity="0.001", price="20000")
    usage = await api.get("/api/v3/rateLimit/order", signed=True)
    assert usage.body == [
        {
            "rateLimitType": "ORDERS",
            "interval": "SECOND",
            "intervalNum": 10,
            "limit": 50,
            "count": 1,
        },
        {
            "rateLimitType": "ORDERS",
            "interval": "DAY",
            "intervalNum": 1,
            "limit": 160000,
            "count": 1,
        },
    ]


async def test_my_trades_window_rules(api: Api) -> None:
    too_long = await api.get(
        "/api/v3/myTrades",
        {"symbol": "BTCUSDT", "startTime": 0, "endTime": 86_400_001},
        signed=True,
    )
    assert (too_long.code, too_long.msg) == (-1127, msg(-1127, 1, 24))
    combo = await api.get(
        "/api/v3/myTrades", {"symbol": "BTCUSDT", "fromId": 1, "startTime": 0}, signed=True
    )
    assert (combo.code, combo.msg) == (-1128, msg(-1128))
