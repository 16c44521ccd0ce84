"""SIGNED endpoints: orders, open orders, account, trades, order count (rest-api.md §Trading).

Validation order mirrors Binance's layers: parameters (-11xx) and unread parameters (-1104), then
the API-side filters (-1013) which do not count as orders, then the unfilled-order count (-1015),
then the timing check just before the matching engine (-1021, counted), then the engine itself
(-2010 / -2011 / -2013).
"""

from __future__ import annotations

from typing import Any

from . import order_params
from .call import Call, Endpoint, Reply, fixed
from .engine import reports
from .engine.orders import Order
from .errors import SimError, either_mandatory, invalid_value
from .filters import SymbolRules
from .numbers import fmt
from .order_params import NewOrder
from .order_params import client_id as read_client_id
from .params import Params

DAY_MS = 86_400_000


def symbol_of(call: Call) -> str:
    symbol = call.params.text("symbol", required=True)
    assert symbol is not None
    if symbol not in call.state.engine.rules:
        raise SimError.of(-1121)
    return symbol


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
    symbol = symbol_of(call)
    req = order_params.read(p, symbol)
    resp_type = p.enum("newOrderRespType", order_params.RESP_TYPES)
    commission_rates = p.boolean("computeCommissionRates") if test else None
    p.finish()
    spec = call.state.engine.symbol_rules(symbol).spec
    order_params.check(req, spec.allowed_stp_modes, spec.default_stp_mode)
    resolve_peg(call, req)
    rules = validate(call, req)
    if test:
        return Reply(order_commission_rates(call) if commission_rates else {})
    order = place(call, req, rules)
    if resp_type is None:  # "MARKET and LIMIT order types default to FULL, all other ... ACK"
        resp_type = "FULL" if req.type in ("MARKET", "LIMIT") else "ACK"
    return Reply(reports.order_response(order, resp_type))


def resolve_peg(call: Call, req: NewOrder) -> None:
    """A pegged LIMIT / LIMIT_MAKER takes its price from the book now (the filters check that
    price); a pegged STOP_LOSS_LIMIT / TAKE_PROFIT_LIMIT takes it when it triggers."""
    if req.peg is None:
        return
    req.requested_price = req.price or 0
    if req.type in ("LIMIT", "LIMIT_MAKER"):
        engine = call.state.engine
        req.price = engine.peg_price(req.symbol, req.side, req.peg[0], req.peg[2])
    else:
        req.price = None


def validate(call: Call, req: NewOrder) -> SymbolRules:
    """The filters (-1013) of one checked order request."""
    return call.state.engine.validate(
        call.account, req.symbol, req.type, req.qty, req.quote_qty, req.price, req.side,
        req.stop_price, req.trailing or 0, req.iceberg,
    )  # fmt: skip


def count_order(call: Call) -> None:
    """-1015 (with Retry-After), then one more order counted (rest-api.md §Unfilled Order
    Count), then Binance's second timing check just before the matching engine (-1021, counted)."""
    state = call.state
    now_ms = state.clock.now_ms()
    state.limits.check_order(call.account, now_ms)
    call.extra_headers.update(state.limits.count_order(call.account, now_ms))
    if call.timing is not None and call.timing.expired(state.clock.now_us()):
        raise SimError.of(-1021, 0)


def place(call: Call, req: NewOrder, rules: SymbolRules) -> Order:
    """Count the order, then run it through the engine (validated by `validate` just before)."""
    state = call.state
    count_order(call)
    assert req.time_in_force is not None
    assert req.stp is not None
    order = state.engine.place(
        call.account, req.symbol, req.side, req.type, req.time_in_force, req.qty,
        req.quote_qty, req.price, req.client_id, req.stp,
        rules=rules,  # validated above; nothing ran since
        stop_price=req.stop_price, trailing=req.trailing or 0, iceberg=req.iceberg,
        strategy_id=req.strategy_id, strategy_type=req.strategy_type, peg=req.engine_peg(),
    )  # fmt: skip
    call.extra_headers.update(state.limits.order_headers(call.account, state.clock.now_ms()))
    return order


def order_commission_rates(call: Call) -> dict[str, Any]:
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
    client_id = read_client_id(call.params, "origClientOrderId", -1119)
    if order_id is None and client_id is None:
        raise either_mandatory("origClientOrderId", "orderId")
    return order_id, client_id


async def query_order(call: Call) -> Reply:
    symbol = symbol_of(call)
    order_id, client_id = _order_ref(call)
    call.params.finish()
    order = call.state.engine.find(call.account, symbol, order_id, client_id)
    return Reply(reports.order_details(order))


async def cancel_order(call: Call) -> Reply:
    symbol = symbol_of(call)
    order_id, client_id = _order_ref(call)
    new_id = read_client_id(call.params, "newClientOrderId", -1118)
    restriction = call.params.enum(
        "cancelRestrictions", ("ONLY_NEW", "ONLY_PARTIALLY_FILLED"), SimError.of(-1145)
    )
    call.params.finish()
    engine = call.state.engine
    order = engine.cancel(call.account, symbol, order_id, client_id, restriction)
    cancel_id = new_id or engine.new_client_order_id()
    return Reply(reports.cancel_response(order, cancel_id, order.update_time))


async def cancel_open_orders(call: Call) -> Reply:
    symbol = symbol_of(call)
    call.params.finish()
    engine = call.state.engine
    orders = engine.cancel_all(call.account, symbol)
    out: list[dict[str, Any]] = []
    lists: dict[int, dict[str, Any]] = {}
    for o in orders:  # an order list's orders are one list object (rest-api.md's example)
        report = reports.cancel_response(o, engine.new_client_order_id(), o.update_time)
        lst = engine.list_of(o)
        if lst is None:
            out.append(report)
            continue
        entry = lists.get(lst.list_id)
        if entry is None:
            entry = lists[lst.list_id] = reports.list_status(lst)
            entry["orderReports"] = []
            out.append(entry)
        entry["orderReports"].append(report)
    return Reply(out)


async def open_orders(call: Call) -> Reply:
    symbol = call.params.text("symbol")
    if symbol is not None and symbol not in call.state.engine.rules:
        raise SimError.of(-1121)
    call.params.finish()
    orders = call.state.engine.open_orders(call.account, symbol)
    return Reply([reports.order_details(o) for o in orders])


def time_range(params: Params) -> tuple[int | None, int | None]:
    start = params.integer("startTime")
    end = params.integer("endTime")
    if start is not None and end is not None and end < start:
        raise SimError.of(-1128)
    return start, end


async def all_orders(call: Call) -> Reply:
    symbol = symbol_of(call)
    order_id = call.params.integer("orderId")
    start, end = time_range(call.params)
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
    symbol = symbol_of(call)
    order_id = p.integer("orderId")
    start, end = time_range(p)
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
