"""Order list endpoints (rest-api.md §Order lists): OCO (and the deprecated order/oco), OTO,
OTOCO, cancel, and the three queries.

Validation: each order's parameters as for a single order (order_params), the OCO rules (types
-1158, positions -1165/-1166/-1196..-1199, prices against the last trade -2010 "The relationship
of the prices for the orders is not correct."), then every order's filters, MAX_NUM_ORDERS for
all the list's orders and MAX_NUM_ORDER_LISTS, then the unfilled order count (one per order).
OPO / OPOCO: OTO / OTOCO whose pending orders take their quantity from the working order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import order_params, rest_trade
from .call import Call, Endpoint, Reply, fixed
from .config import STP_MODES
from .engine import reports
from .engine.lists import Leg, OrderList
from .errors import (
    SimError,
    either_mandatory,
    filter_error,
    invalid_value,
    new_order_rejected,
    not_required,
)
from .order_params import NewOrder
from .params import Params

ABOVE_TYPES = ("STOP_LOSS_LIMIT", "STOP_LOSS", "LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
BELOW_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
BAD_PRICES = "The relationship of the prices for the orders is not correct."
_LEG_FIELDS = (
    "type", "price", "stopPrice", "trailingDelta", "timeInForce", "icebergQty", "strategyId",
    "strategyType", "pegPriceType", "pegOffsetType", "pegOffsetValue",
)  # fmt: skip


def names(prefix: str, side: str = "side", quantity: str = "quantity") -> dict[str, str]:
    """Parameter names of one order of a list: "above" + "Price" = "abovePrice", ..."""
    out = {n: prefix + n[0].upper() + n[1:] for n in _LEG_FIELDS}
    out.update(newClientOrderId=prefix + "ClientOrderId", side=side, quantity=quantity)
    return out


def _leg(call: Call, symbol: str, prefix: str, side: str, quantity: str) -> NewOrder:
    return order_params.read(call.params, symbol, names(prefix, side, quantity), quote=False)


def _to_leg(o: NewOrder, pending: bool = False, opo: bool = False) -> Leg:
    """The engine's order of a list; a pegged order takes its price when it runs."""
    assert o.time_in_force is not None
    assert o.qty is not None
    if o.peg is not None:
        o.requested_price, o.price = o.price or 0, None
    return Leg(
        o.side, o.type, o.time_in_force, 0 if opo else o.qty, o.price, o.client_id,
        o.stop_price, o.trailing or 0, o.iceberg, o.strategy_id, o.strategy_type, pending, opo,
        o.engine_peg(),
    )  # fmt: skip


def _is_stop_loss(o: NewOrder) -> bool:
    return o.type.startswith("STOP_LOSS")


def check_oco(side: str, above: NewOrder, below: NewOrder, last: int) -> None:
    """The OCO rules of orderList/oco (rest-api.md) and errors.md -1158 / -1165..-1199."""
    # belowType does not list LIMIT_MAKER, yet a BUY OCO's limit order is below (the price
    # restrictions and -1165 say so): it is accepted there
    if above.type not in ABOVE_TYPES or below.type not in (*BELOW_TYPES, "LIMIT_MAKER"):
        raise SimError.of(-1158)
    if _is_stop_loss(above) == _is_stop_loss(below):
        raise SimError.of(-1158)
    if side == "SELL":
        if _is_stop_loss(above):
            raise SimError.of(-1197)
        if below.type == "LIMIT_MAKER":
            raise SimError.of(-1166)
    else:
        if _is_stop_loss(below):
            raise SimError.of(-1196)
        if above.type == "LIMIT_MAKER":
            raise SimError.of(-1165)
    for leg in (above, below):
        if leg.iceberg is not None and leg.time_in_force not in (None, "GTC"):
            raise SimError.of(-1160, 0, "icebergQty")
    stop, other = (below, above) if side == "SELL" else (above, below)
    limit_price = other.price if other.type != "TAKE_PROFIT" else other.stop_price
    if other.type.startswith("TAKE_PROFIT") and other.stop_price is not None:
        limit_price = other.stop_price if limit_price is None else limit_price
    ok = True
    if side == "SELL":
        ok = (limit_price is None or limit_price > last) and (
            stop.stop_price is None or stop.stop_price < last
        )
    else:
        ok = (limit_price is None or limit_price < last) and (
            stop.stop_price is None or stop.stop_price > last
        )
    if not ok:
        raise new_order_rejected(BAD_PRICES)


def _check_all(call: Call, legs: list[NewOrder], deferred: list[NewOrder]) -> None:
    """Each order's parameter rules and filters, then the list-wide counts; `deferred` orders
    (OPO pending orders, no quantity yet) pass only PRICE_FILTER now."""
    engine = call.state.engine
    symbol = legs[0].symbol
    rules = engine.symbol_rules(symbol)
    for leg in legs:
        order_params.check(leg, rules.spec.allowed_stp_modes, rules.spec.default_stp_mode)
    for leg in legs:
        if any(leg is d for d in deferred):
            for price in (leg.price, leg.stop_price):
                if price is not None:
                    rules.check_price(price)
        else:
            rest_trade.validate(call, leg)
    opened = engine.open.get((call.account, symbol), {})
    if len(opened) + len(legs) > rules.max_num_orders:
        raise filter_error("MAX_NUM_ORDERS")
    rules.check_order_lists(len(engine.open_lists.get((call.account, symbol), ())))


def _place(
    call: Call,
    symbol: str,
    contingency: str,
    legs: list[Leg],
    stp: str,
    pair: tuple[int, int] | None,
    resp_type: str,
) -> Reply:
    state = call.state
    for _ in legs:  # each order of the list counts (rest-api.md: Unfilled Order Count 2 / 3)
        rest_trade.count_order(call)
    list_client_id = call.params.values.get("listClientOrderId")
    view: dict[str, Any] = {}

    def snapshot(lst: OrderList) -> None:
        view.update(reports.list_response(lst, resp_type))

    state.engine.place_list(
        call.account, symbol, contingency, legs, list_client_id,
        stp, pair, snapshot,
    )  # fmt: skip
    call.extra_headers.update(state.limits.order_headers(call.account, state.clock.now_ms()))
    return Reply(view)


def _common(call: Call) -> tuple[str, str]:
    """symbol and newOrderRespType; the default is not documented for lists, the examples of
    rest-api.md show RESULT, so RESULT it is."""
    symbol = rest_trade.symbol_of(call)
    order_params.client_id(call.params, "listClientOrderId", -1101)
    resp = call.params.enum("newOrderRespType", order_params.RESP_TYPES) or "RESULT"
    return symbol, resp


async def oco(call: Call) -> Reply:
    """POST /api/v3/orderList/oco: above and below order; the stop-loss order is placed first."""
    symbol, resp = _common(call)
    above = _leg(call, symbol, "above", "side", "quantity")
    below = _leg(call, symbol, "below", "side", "quantity")
    call.params.finish()
    check_oco(above.side, above, below, call.state.engine.last_price[symbol])
    _check_all(call, [above, below], [])
    legs = [below, above] if above.side == "SELL" else [above, below]
    assert above.stp is not None
    return _place(call, symbol, "OCO", [_to_leg(o) for o in legs], above.stp, (0, 1), resp)


async def oco_deprecated(call: Call) -> Reply:
    """POST /api/v3/order/oco: a LIMIT_MAKER and a STOP_LOSS(_LIMIT) order."""
    p = call.params
    symbol, resp = _common(call)
    side = p.enum("side", order_params.SIDES, SimError.of(-1117), required=True)
    qty = p.amount("quantity", required=True)
    limit = NewOrder(
        symbol, side or "", "LIMIT_MAKER", None, qty, None, p.amount("price", required=True),
        order_params.client_id(p, "limitClientOrderId", -1118), None, None,
        p.amount("limitIcebergQty"), p.integer("limitStrategyId"),
        p.integer("limitStrategyType"), p.enum("selfTradePreventionMode", STP_MODES),
    )  # fmt: skip
    stop_limit = p.amount("stopLimitPrice")
    stop = NewOrder(
        symbol, side or "", "STOP_LOSS_LIMIT" if stop_limit is not None else "STOP_LOSS",
        p.enum("stopLimitTimeInForce", order_params.TIME_IN_FORCE, SimError.of(-1115)), qty,
        None, stop_limit, order_params.client_id(p, "stopClientOrderId", -1118),
        p.amount("stopPrice", required=True), p.integer("trailingDelta"),
        p.amount("stopIcebergQty"), p.integer("stopStrategyId"), p.integer("stopStrategyType"),
        limit.stp,
    )  # fmt: skip
    p.finish()
    for o in (limit, stop):
        if o.strategy_type is not None and o.strategy_type < 1000000:
            raise SimError.of(-1134)
    above, below = (limit, stop) if side == "SELL" else (stop, limit)
    check_oco(limit.side, above, below, call.state.engine.last_price[symbol])
    _check_all(call, [above, below], [])
    assert limit.stp is not None
    return _place(call, symbol, "OCO", [_to_leg(stop), _to_leg(limit)], limit.stp, (0, 1), resp)


async def oto(call: Call) -> Reply:
    return await _one_triggers(call, pair=False, opo=False)


async def otoco(call: Call) -> Reply:
    return await _one_triggers(call, pair=True, opo=False)


async def opo(call: Call) -> Reply:
    return await _one_triggers(call, pair=False, opo=True)


async def opoco(call: Call) -> Reply:
    return await _one_triggers(call, pair=True, opo=True)


async def _one_triggers(call: Call, pair: bool, opo: bool) -> Reply:
    """OTO / OTOCO, and OPO / OPOCO (Binance's OPO FAQ: "almost identical to OTO", but the
    pending orders have no quantity: they get what the working order received, and their
    filters are evaluated when it has fully filled). contingencyType is OTO for all four."""
    symbol, resp = _common(call)
    working = _leg(call, symbol, "working", "workingSide", "workingQuantity")
    if pair:
        above = _leg(call, symbol, "pendingAbove", "pendingSide", "pendingQuantity")
        below = _leg(call, symbol, "pendingBelow", "pendingSide", "pendingQuantity")
        pendings = [below, above] if above.side == "SELL" else [above, below]  # stop first
    else:
        pendings = [_leg(call, symbol, "pending", "pendingSide", "pendingQuantity")]
    call.params.finish()
    if opo:
        rules = call.state.engine.symbol_rules(symbol)
        for leg in pendings:
            if leg.qty is not None:
                raise not_required("pendingQuantity")
            leg.qty = rules.min_qty  # a stand-in for the parameter rules; set when it fills
    _check_working(working)
    if pair:
        check_oco(above.side, above, below, call.state.engine.last_price[symbol])
    _check_all(call, [working, *pendings], deferred=pendings if opo else [])
    assert working.stp is not None
    legs = [_to_leg(working), *(_to_leg(o, pending=True, opo=opo) for o in pendings)]
    return _place(call, symbol, "OTO", legs, working.stp, (1, 2) if pair else None, resp)


def _check_working(working: NewOrder) -> None:
    if working.type not in ("LIMIT", "LIMIT_MAKER"):
        raise invalid_value("workingType")


def _find_list(call: Call, id_name: str, client_name: str) -> OrderList:
    engine = call.state.engine
    list_id = call.params.integer(id_name)
    client = order_params.client_id(call.params, client_name, -1101)
    if list_id is None and client is None:
        raise either_mandatory(id_name, client_name)
    found = (
        engine.order_lists.get(list_id)
        if list_id is not None
        else engine.list_by_client.get((call.account, client or ""))
    )
    if found is None or found.account != call.account:
        raise SimError.of(-2013)
    if client is not None and found.client_id != client:
        raise SimError.of(-2013)
    return found


async def cancel_list(call: Call) -> Reply:
    symbol = rest_trade.symbol_of(call)
    engine = call.state.engine
    try:
        lst = _find_list(call, "orderListId", "listClientOrderId")
    except SimError as e:
        if e.code != -2013:
            raise
        raise SimError(-2011, "Unknown order sent.") from None
    cancel_id = order_params.client_id(call.params, "newClientOrderId", -1118)
    call.params.finish()
    if lst.symbol != symbol or lst.done:
        raise SimError(-2011, "Unknown order sent.")
    now = engine.clock.now_ms()
    engine.cancel_list_orders(lst, now)
    engine._flush(now)
    cid = cancel_id or engine.new_client_order_id()
    out = reports.list_status(lst)
    out["orderReports"] = [reports.cancel_response(o, cid, now) for o in lst.orders]
    return Reply(out)


async def query_list(call: Call) -> Reply:
    lst = _find_list(call, "orderListId", "origClientOrderId")
    call.params.finish()
    return Reply(reports.list_status(lst))


def _limit(params: Params) -> int:
    limit = params.integer("limit")
    if limit is None:
        return 500
    if limit <= 0:
        raise invalid_value("limit")
    return min(limit, 1000)


async def all_lists(call: Call) -> Reply:
    p = call.params
    from_id = p.integer("fromId")
    start, end = rest_trade.time_range(p)
    limit = _limit(p)
    p.finish()
    if from_id is not None and (start is not None or end is not None):
        raise SimError.of(-1128)
    if start is not None and end is not None and end - start > rest_trade.DAY_MS:
        raise SimError.of(-1127, 1, 24)
    mine = [
        lst
        for lst in call.state.engine.order_lists.values()
        if lst.account == call.account
        and (from_id is None or lst.list_id >= from_id)
        and (start is None or lst.time >= start)
        and (end is None or lst.time <= end)
    ]
    mine = mine[:limit] if from_id is not None or start is not None else mine[-limit:]
    return Reply([reports.list_status(lst) for lst in reversed(mine)])


async def open_lists(call: Call) -> Reply:
    call.params.finish()
    engine = call.state.engine
    ids = sorted(
        i for (acct, _s), ids in engine.open_lists.items() if acct == call.account for i in ids
    )
    return Reply([reports.list_status(engine.order_lists[i]) for i in ids])


def _signed(
    method: str, path: str, handler: Callable[[Call], Any], weight: int, zero: bool = False
) -> Endpoint:
    return Endpoint(method, path, handler, fixed(weight), signed=True, zero_on_success=zero)


ENDPOINTS = (
    _signed("POST", "/api/v3/orderList/oco", oco, 1, zero=True),
    _signed("POST", "/api/v3/order/oco", oco_deprecated, 1, zero=True),
    _signed("POST", "/api/v3/orderList/oto", oto, 1, zero=True),
    _signed("POST", "/api/v3/orderList/otoco", otoco, 1, zero=True),
    _signed("POST", "/api/v3/orderList/opo", opo, 1, zero=True),
    _signed("POST", "/api/v3/orderList/opoco", opoco, 1, zero=True),
    _signed("DELETE", "/api/v3/orderList", cancel_list, 1, zero=True),
    _signed("GET", "/api/v3/orderList", query_list, 4),
    _signed("GET", "/api/v3/allOrderList", all_lists, 20),
    _signed("GET", "/api/v3/openOrderList", open_lists, 6),
)
