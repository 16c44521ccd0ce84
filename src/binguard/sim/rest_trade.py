"""SIGNED endpoints: orders, open orders, account, trades, order count (rest-api.md §Trading).

Validation order mirrors Binance's layers: parameters (-11xx) and unread parameters (-1104), then
the API-side filters (-1013) which do not count as orders, then the unfilled-order count (-1015),
then the timing check just before the matching engine (-1021, counted), then the engine itself
(-2010 / -2011 / -2013).
"""

from __future__ import annotations

from typing import Any

from .call import Call, Endpoint, Reply, fixed
from .engine import reports
from .errors import (
    SimError,
    either_mandatory,
    invalid_value,
    mandatory,
    new_order_rejected,
    not_required,
)
from .numbers import fmt
from .params import Params

SIDES = ("BUY", "SELL")
ORDER_TYPES = (
    "LIMIT",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
    "LIMIT_MAKER",
)
UNSUPPORTED_TYPES = {
    "STOP_LOSS": "Stop loss orders are not supported for this symbol.",
    "STOP_LOSS_LIMIT": "Stop loss limit orders are not supported for this symbol.",
    "TAKE_PROFIT": "Take profit orders are not supported for this symbol.",
    "TAKE_PROFIT_LIMIT": "Take profit limit orders are not supported for this symbol.",
}
TIME_IN_FORCE = ("GTC", "IOC", "FOK")
RESP_TYPES = ("ACK", "RESULT", "FULL")
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT")
DAY_MS = 86_400_000


def _symbol(call: Call) -> str:
    symbol = call.params.text("symbol", required=True)
    assert symbol is not None
    if symbol not in call.state.engine.rules:
        raise SimError.of(-1121)
    return symbol


def _client_id(params: Params, name: str, empty_code: int) -> str | None:
    if params.values.get(name) == "":
        params.mark(name)
        raise SimError.of(empty_code)
    return params.text(name)


def _limit(params: Params) -> int:
    limit = params.integer("limit")
    if limit is None:
        return 500
    if limit <= 0:
        raise invalid_value("limit")
    return min(limit, 1000)


async def new_order(call: Call) -> Reply:
    return await _new_order(call, test=False)


async def test_order(call: Call) -> Reply:
    return await _new_order(call, test=True)


async def _new_order(call: Call, test: bool) -> Reply:
    p = call.params
    symbol = _symbol(call)
    side = p.enum("side", SIDES, SimError.of(-1117), required=True)
    order_type = p.enum("type", ORDER_TYPES, SimError.of(-1116), required=True)
    tif = p.enum("timeInForce", TIME_IN_FORCE, SimError.of(-1115))
    qty = p.amount("quantity")
    quote_qty = p.amount("quoteOrderQty")
    price = p.amount("price")
    client_id = _client_id(p, "newClientOrderId", -1118)
    p.integer("strategyId")
    strategy_type = p.integer("strategyType")
    if strategy_type is not None and strategy_type < 1000000:
        raise SimError.of(-1134)
    stop_price = p.amount("stopPrice")
    trailing = p.integer("trailingDelta")
    iceberg = p.amount("icebergQty")
    resp_type = p.enum("newOrderRespType", RESP_TYPES)
    stp = p.enum("selfTradePreventionMode", STP_MODES) or "NONE"
    pegged = any(p.text(n) is not None for n in ("pegPriceType", "pegOffsetValue", "pegOffsetType"))
    commission_rates = p.boolean("computeCommissionRates") if test else None
    p.finish()
    assert side is not None
    assert order_type is not None

    if order_type in UNSUPPORTED_TYPES:
        raise new_order_rejected(UNSUPPORTED_TYPES[order_type])
    if iceberg is not None:
        raise new_order_rejected("Iceberg orders are not supported for this symbol.")
    if trailing is not None:
        raise new_order_rejected("Trailing stop orders are not supported for this symbol.")
    if pegged:
        raise new_order_rejected("Pegged orders are not supported for this symbol.")
    if stop_price is not None:
        raise not_required("stopPrice")
    if stp != "NONE":
        raise invalid_value("selfTradePreventionMode")
    if order_type == "MARKET":
        if tif is not None:
            raise not_required("timeInForce")
        if price is not None:
            raise not_required("price")
        if qty is None and quote_qty is None:
            raise either_mandatory("quantity", "quoteOrderQty")
        if qty is not None and quote_qty is not None:
            raise not_required("quoteOrderQty")
        tif = "GTC"
    else:
        if order_type == "LIMIT" and tif is None:
            raise mandatory("timeInForce")
        if order_type == "LIMIT_MAKER":
            if tif is not None:
                raise not_required("timeInForce")
            tif = "GTC"
        if qty is None:
            raise mandatory("quantity")
        if price is None:
            raise mandatory("price")
        if quote_qty is not None:
            raise not_required("quoteOrderQty")
    assert tif is not None

    state = call.state
    engine = state.engine
    rules = engine.validate(call.account, symbol, order_type, qty, quote_qty, price)
    if test:
        return Reply(_commission_rates(call) if commission_rates else {})

    now_ms = state.clock.now_ms()
    state.limits.check_order(call.account, now_ms)
    call.extra_headers.update(state.limits.count_order(call.account, now_ms))
    # Binance's second timing check, just before the matching engine (counts as an order)
    if call.timing is not None and call.timing.expired(state.clock.now_us()):
        raise SimError.of(-1021, 0)
    order = engine.place(
        call.account,
        symbol,
        side,
        order_type,
        tif,
        qty,
        quote_qty,
        price,
        client_id,
        stp,
        rules=rules,  # validated above; nothing ran since
    )
    call.extra_headers.update(state.limits.order_headers(call.account, state.clock.now_ms()))
    if resp_type is None:  # "MARKET and LIMIT order types default to FULL, all other ... ACK"
        resp_type = "FULL" if order_type in ("MARKET", "LIMIT") else "ACK"
    return Reply(reports.order_response(order, resp_type))


def _commission_rates(call: Call) -> dict[str, Any]:
    acct = call.state.engine.accounts[call.account]
    rate = {"maker": fmt(acct.maker_bps * 10000), "taker": fmt(acct.taker_bps * 10000)}
    zero = {"maker": "0.00000000", "taker": "0.00000000"}
    return {
        "standardCommissionForOrder": rate,
        "specialCommissionForOrder": zero,
        "taxCommissionForOrder": zero,
        "discount": {
            "enabledForAccount": False,
            "enabledForSymbol": False,
            "discountAsset": "BNB",
            "discount": "0.25000000",
        },
    }


def _order_ref(call: Call) -> tuple[int | None, str | None]:
    order_id = call.params.integer("orderId")
    client_id = _client_id(call.params, "origClientOrderId", -1119)
    if order_id is None and client_id is None:
        raise either_mandatory("origClientOrderId", "orderId")
    return order_id, client_id


async def query_order(call: Call) -> Reply:
    symbol = _symbol(call)
    order_id, client_id = _order_ref(call)
    call.params.finish()
    order = call.state.engine.find(call.account, symbol, order_id, client_id)
    return Reply(reports.order_details(order))


async def cancel_order(call: Call) -> Reply:
    symbol = _symbol(call)
    order_id, client_id = _order_ref(call)
    new_id = _client_id(call.params, "newClientOrderId", -1118)
    restriction = call.params.enum(
        "cancelRestrictions", ("ONLY_NEW", "ONLY_PARTIALLY_FILLED"), SimError.of(-1145)
    )
    call.params.finish()
    engine = call.state.engine
    order = engine.cancel(call.account, symbol, order_id, client_id, restriction)
    cancel_id = new_id or engine.new_client_order_id()
    return Reply(reports.cancel_response(order, cancel_id, order.update_time))


async def cancel_open_orders(call: Call) -> Reply:
    symbol = _symbol(call)
    call.params.finish()
    engine = call.state.engine
    orders = engine.cancel_all(call.account, symbol)
    return Reply(
        [reports.cancel_response(o, engine.new_client_order_id(), o.update_time) for o in orders]
    )


async def open_orders(call: Call) -> Reply:
    symbol = call.params.text("symbol")
    if symbol is not None and symbol not in call.state.engine.rules:
        raise SimError.of(-1121)
    call.params.finish()
    orders = call.state.engine.open_orders(call.account, symbol)
    return Reply([reports.order_details(o) for o in orders])


def _time_range(params: Params) -> tuple[int | None, int | None]:
    start = params.integer("startTime")
    end = params.integer("endTime")
    if start is not None and end is not None and end < start:
        raise SimError.of(-1128)
    return start, end


async def all_orders(call: Call) -> Reply:
    symbol = _symbol(call)
    order_id = call.params.integer("orderId")
    start, end = _time_range(call.params)
    limit = _limit(call.params)
    call.params.finish()
    orders = call.state.engine.all_orders(call.account, symbol)
    picked = [
        o
        for o in orders
        if (order_id is None or o.order_id >= order_id)
        and (start is None or o.time >= start)
        and (end is None or o.time <= end)
    ]
    picked = picked[:limit] if order_id is not None or start is not None else picked[-limit:]
    return Reply([reports.order_details(o) for o in picked])


async def account(call: Call) -> Reply:
    omit_zero = call.params.boolean("omitZeroBalances")
    call.params.finish()
    acct = call.state.engine.accounts[call.account]
    assets = sorted(set(acct.free) | set(acct.locked))
    balances = [
        {"asset": a, "free": fmt(acct.free[a]), "locked": fmt(acct.locked[a])}
        for a in assets
        if not (omit_zero and acct.free[a] == 0 and acct.locked[a] == 0)
    ]
    return Reply(
        {
            "makerCommission": acct.maker_bps,
            "takerCommission": acct.taker_bps,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": fmt(acct.maker_bps * 10000),
                "taker": fmt(acct.taker_bps * 10000),
                "buyer": "0.00000000",
                "seller": "0.00000000",
            },
            "canTrade": acct.can_trade,
            "canWithdraw": True,
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": acct.update_time,
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": acct.uid,
        }
    )


async def my_trades(call: Call) -> Reply:
    p = call.params
    symbol = _symbol(call)
    order_id = p.integer("orderId")
    start, end = _time_range(p)
    from_id = p.integer("fromId")
    limit = _limit(p)
    p.finish()
    if start is not None and end is not None and end - start > DAY_MS:
        raise SimError.of(-1127, 1, 24)
    if from_id is not None and (start is not None or end is not None):
        raise SimError.of(-1128)
    rows = [
        (t, is_buyer)
        for t, is_buyer in call.state.engine.account_trades.get(call.account, ())
        if t.symbol == symbol
        and (order_id is None or (t.buy_order if is_buyer else t.sell_order).order_id == order_id)
        and (from_id is None or t.trade_id >= from_id)
        and (start is None or t.time >= start)
        and (end is None or t.time <= end)
    ]
    rows = rows[:limit] if from_id is not None or start is not None else rows[-limit:]
    return Reply([reports.my_trade(t, is_buyer) for t, is_buyer in rows])


async def order_count(call: Call) -> Reply:
    call.params.finish()
    state = call.state
    return Reply(state.limits.order_usage(call.account, state.clock.now_ms()))


async def listen_key_gone(call: Call) -> Reply:
    """listenKey endpoints were retired on 2026-02-20 (CHANGELOG 2026-01-21): 410 + -1020."""
    raise SimError.of(-1020, status=410)


def _open_orders_weight(params: Params) -> int:
    return 6 if "symbol" in params.values else 80


def _my_trades_weight(params: Params) -> int:
    return 5 if "orderId" in params.values else 20


def _test_weight(params: Params) -> int:
    return 20 if params.values.get("computeCommissionRates") == "true" else 1


ENDPOINTS = (
    Endpoint("POST", "/api/v3/order", new_order, fixed(1), signed=True, zero_on_success=True),
    Endpoint("POST", "/api/v3/order/test", test_order, _test_weight, signed=True),
    Endpoint("GET", "/api/v3/order", query_order, fixed(4), signed=True),
    Endpoint("DELETE", "/api/v3/order", cancel_order, fixed(1), signed=True, zero_on_success=True),
    Endpoint(
        "DELETE",
        "/api/v3/openOrders",
        cancel_open_orders,
        fixed(1),
        signed=True,
        zero_on_success=True,
    ),
    Endpoint("GET", "/api/v3/openOrders", open_orders, _open_orders_weight, signed=True),
    Endpoint("GET", "/api/v3/allOrders", all_orders, fixed(20), signed=True),
    Endpoint("GET", "/api/v3/account", account, fixed(20), signed=True),
    Endpoint("GET", "/api/v3/myTrades", my_trades, _my_trades_weight, signed=True),
    Endpoint("GET", "/api/v3/rateLimit/order", order_count, fixed(40), signed=True),
    Endpoint("POST", "/api/v3/userDataStream", listen_key_gone, fixed(2)),
    Endpoint("PUT", "/api/v3/userDataStream", listen_key_gone, fixed(2)),
    Endpoint("DELETE", "/api/v3/userDataStream", listen_key_gone, fixed(2)),
)
