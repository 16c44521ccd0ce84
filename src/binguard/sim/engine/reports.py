"""Binance-shaped payloads for engine events and REST order views (pure functions of state)."""

from __future__ import annotations

from typing import Any

from ..numbers import fmt, mul
from .accounts import Account
from .book import Book
from .lists import OrderList
from .orders import Allocation, AllocFill, Fill, Order, Trade

ZERO = "0.00000000"


def _price(o: Order) -> int:
    """`price` as requested: a pegged order's pegged price is `peggedPrice` (the pegged orders
    FAQ: "price is the original order price (zero if not set)")."""
    return o.peg[3] if o.peg is not None else o.price


def _conditional(o: Order, out: dict[str, Any]) -> dict[str, Any]:
    """rest-api.md §Conditional fields in Order Responses, in the documented order."""
    if o.iceberg_qty is not None:
        out["icebergQty"] = fmt(o.iceberg_qty)
    if o.prevented_match_id is not None:
        out["preventedMatchId"] = o.prevented_match_id
        out["preventedQuantity"] = fmt(o.prevented_qty)
    if o.is_algo:
        out["stopPrice"] = fmt(o.stop_price)
    if o.strategy_id is not None:
        out["strategyId"] = o.strategy_id
    if o.strategy_type is not None:
        out["strategyType"] = o.strategy_type
    if o.trailing_delta:
        out["trailingDelta"] = o.trailing_delta
        out["trailingTime"] = o.trailing_time
    if o.peg is not None:
        out["pegPriceType"] = o.peg[0]
        if o.peg[1] is not None:
            out["pegOffsetType"], out["pegOffsetValue"] = o.peg[1], o.peg[2]
        if o.price:
            out["peggedPrice"] = fmt(o.price)
    if o.expiry_reason:
        out["expiryReason"] = o.expiry_reason
    if o.floor:  # placed with SOR (the FAQ: "two extra fields: usedSor and workingFloor")
        out["usedSor"], out["workingFloor"] = True, o.floor
    return out


def fill(f: Fill) -> dict[str, Any]:
    """One item of a FULL response's `fills`; an allocation's as faqs/sor_faq.md shows it."""
    if isinstance(f, AllocFill):
        return {
            "matchType": "ONE_PARTY_TRADE_REPORT",
            "price": fmt(f.price),
            "qty": fmt(f.qty),
            "commission": fmt(f.commission),
            "commissionAsset": f.commission_asset,
            "tradeId": -1,
            "allocId": f.alloc_id,
        }
    return {
        "price": fmt(f.price),
        "qty": fmt(f.qty),
        "commission": fmt(f.commission),
        "commissionAsset": f.commission_asset,
        "tradeId": f.trade_id,
    }


def order_details(o: Order) -> dict[str, Any]:
    """GET /api/v3/order, openOrders and allOrders item."""
    out = {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": o.order_list_id,
        "clientOrderId": o.client_order_id,
        "price": fmt(_price(o)),
        "origQty": fmt(o.orig_qty),
        "executedQty": fmt(o.executed_qty),
        "cummulativeQuoteQty": fmt(o.cum_quote),
        "status": o.status,
        "timeInForce": o.time_in_force,
        "type": o.type,
        "side": o.side,
        "stopPrice": fmt(o.stop_price),
        "icebergQty": fmt(o.iceberg_qty or 0),
        "time": o.time,
        "updateTime": o.update_time,
        "isWorking": o.working,
        "workingTime": o.working_time,
        "origQuoteOrderQty": fmt(o.orig_quote_qty),
        "selfTradePreventionMode": o.self_trade_prevention,
    }
    extra = _conditional(o, {})
    extra.pop("stopPrice", None)
    extra.pop("icebergQty", None)
    out.update(extra)
    return out


def order_response(o: Order, resp_type: str) -> dict[str, Any]:
    """POST /api/v3/order in the ACK, RESULT or FULL shape."""
    out: dict[str, Any] = {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": o.order_list_id,
        "clientOrderId": o.client_order_id,
        "transactTime": o.time,
    }
    if resp_type == "ACK":
        return out
    out.update(
        price=fmt(_price(o)),
        origQty=fmt(o.orig_qty),  # not for a pending OPO order (rest-api.md's OPO example)
        executedQty=fmt(o.executed_qty),
        origQuoteOrderQty=fmt(o.orig_quote_qty),
        cummulativeQuoteQty=fmt(o.cum_quote),
        status=o.status,
        timeInForce=o.time_in_force,
        type=o.type,
        side=o.side,
        workingTime=o.working_time,
        selfTradePreventionMode=o.self_trade_prevention,
    )
    if o.opo and o.status == "PENDING_NEW":
        del out["origQty"]
    _conditional(o, out)
    if resp_type == "FULL":
        out["fills"] = [fill(f) for f in o.fills]
    return out


def cancel_response(o: Order, cancel_client_id: str, transact_time: int) -> dict[str, Any]:
    """DELETE /api/v3/order (and each item of DELETE openOrders): `clientOrderId` is the
    cancel request's own id, `origClientOrderId` the order's."""
    return {
        "symbol": o.symbol,
        "origClientOrderId": o.client_order_id,
        "orderId": o.order_id,
        "orderListId": o.order_list_id,
        "clientOrderId": cancel_client_id,
        "transactTime": transact_time,
        "price": fmt(_price(o)),
        "origQty": fmt(o.orig_qty),
        "executedQty": fmt(o.executed_qty),
        "origQuoteOrderQty": fmt(o.orig_quote_qty),
        "cummulativeQuoteQty": fmt(o.cum_quote),
        "status": o.status,
        "timeInForce": o.time_in_force,
        "type": o.type,
        "side": o.side,
        "selfTradePreventionMode": o.self_trade_prevention,
    } | _conditional(o, {})


def my_trade(t: Trade, is_buyer: bool) -> dict[str, Any]:
    """GET /api/v3/myTrades item, from one side's point of view."""
    order = t.buy_order if is_buyer else t.sell_order
    return {
        "symbol": t.symbol,
        "id": t.trade_id,
        "orderId": order.order_id,
        "orderListId": order.order_list_id,
        "price": fmt(t.price),
        "qty": fmt(t.qty),
        "quoteQty": fmt(t.quote_qty),
        "commission": fmt(t.buyer_commission if is_buyer else t.seller_commission),
        "commissionAsset": t.buyer_commission_asset if is_buyer else t.seller_commission_asset,
        "time": t.time,
        "isBuyer": is_buyer,
        "isMaker": t.buyer_is_maker == is_buyer,
        "isBestMatch": True,
    }


def public_trade(t: Trade) -> dict[str, Any]:
    """GET /api/v3/trades item."""
    return {
        "id": t.trade_id,
        "price": fmt(t.price),
        "qty": fmt(t.qty),
        "quoteQty": fmt(t.quote_qty),
        "time": t.time,
        "isBuyerMaker": t.buyer_is_maker,
        "isBestMatch": True,
    }


def trade_event(t: Trade, now: int) -> dict[str, Any]:
    return {
        "e": "trade",
        "E": now,
        "s": t.symbol,
        "t": t.trade_id,
        "p": fmt(t.price),
        "q": fmt(t.qty),
        "T": t.time,
        "m": t.buyer_is_maker,
        "M": True,
    }


def depth_event(
    book: Book, first_id: int, touched: dict[tuple[bool, int], None], now: int
) -> dict[str, Any]:
    bids = [[fmt(p), fmt(book.bids.shown(p))] for is_bid, p in touched if is_bid]
    asks = [[fmt(p), fmt(book.asks.shown(p))] for is_bid, p in touched if not is_bid]
    return {
        "e": "depthUpdate",
        "E": now,
        "s": book.symbol,
        "U": first_id,
        "u": book.update_id,
        "b": bids,
        "a": asks,
    }


def execution_report(
    o: Order,
    exec_type: str,
    now: int,
    trade: Trade | None = None,
    is_maker: bool = False,
    orig_client_order_id: str = "",
    reject_reason: str = "NONE",
    prevented: int = 0,
) -> dict[str, Any]:
    """The user-data `executionReport` for one state change of an order."""
    last_qty = last_price = last_quote = commission = 0
    commission_asset: str | None = None
    trade_id = -1
    if trade is not None:
        last_qty, last_price, last_quote = trade.qty, trade.price, trade.quote_qty
        trade_id = trade.trade_id
        if o is trade.buy_order:
            commission, commission_asset = trade.buyer_commission, trade.buyer_commission_asset
        else:
            commission, commission_asset = trade.seller_commission, trade.seller_commission_asset
    out = {
        "e": "executionReport",
        "E": now,
        "s": o.symbol,
        "c": o.client_order_id,
        "S": o.side,
        "o": o.type,
        "f": o.time_in_force,
        "q": fmt(o.orig_qty),
        "p": fmt(_price(o)),
        "P": fmt(o.stop_price),
        "F": fmt(o.iceberg_qty or 0),
        "g": o.order_list_id,
        "C": orig_client_order_id,
        "x": exec_type,
        "X": o.status,
        "r": reject_reason,
        "i": o.order_id,
        "l": fmt(last_qty),
        "z": fmt(o.executed_qty),
        "L": fmt(last_price),
        "n": fmt(commission),
        "N": commission_asset,
        "T": now,
        "t": trade_id,
        "I": 0,
        "w": o.is_open,
        "m": is_maker,
        "M": False,
        "O": o.time,
        "Z": fmt(o.cum_quote),
        "Y": fmt(last_quote),
        "Q": fmt(o.orig_quote_qty),
        "W": o.working_time,
        "V": o.self_trade_prevention,
    }
    if not o.working:
        del out["W"]  # "only visible if the order has been placed on the book"
    if o.trailing_delta:
        out["d"], out["D"] = o.trailing_delta, o.trailing_time
    if o.strategy_id is not None:
        out["j"] = o.strategy_id
    if o.strategy_type is not None:
        out["J"] = o.strategy_type
    if o.prevented_match_id is not None and o.status == "EXPIRED_IN_MATCH":
        out.update(v=o.prevented_match_id, A=fmt(o.prevented_qty), B=fmt(prevented), u=-1)
    if o.peg is not None:
        out["gP"] = o.peg[0]
        if o.peg[1] is not None:
            out["gOT"], out["gOV"] = o.peg[1], o.peg[2]
        if o.price:
            out["gp"] = fmt(o.price)
    if o.expiry_reason:
        out["eR"] = o.expiry_reason
    if o.floor:  # user-data-stream.md: `k` workingFloor, `uS` usedSor
        out["k"], out["uS"] = o.floor, True
    return out


def allocation_report(o: Order, f: AllocFill, now: int) -> dict[str, Any]:
    """The executionReport of a SOR order filled by one allocation: a TRADE without a trade
    (`t` -1) with `b` matchType and `a` allocId (user-data-stream.md)."""
    out = execution_report(o, "TRADE", now)
    out.update(
        l=fmt(f.qty),
        L=fmt(f.price),
        n=fmt(f.commission),
        N=f.commission_asset,
        Y=fmt(mul(f.price, f.qty)),
        b="ONE_PARTY_TRADE_REPORT",
        a=f.alloc_id,
    )
    return out


def allocation(a: Allocation) -> dict[str, Any]:
    """GET /api/v3/myAllocations item (rest-api.md §Query Allocations)."""
    return {
        "symbol": a.symbol,
        "allocationId": a.allocation_id,
        "allocationType": "SOR",
        "orderId": a.order_id,
        "orderListId": a.order_list_id,
        "price": fmt(a.price),
        "qty": fmt(a.qty),
        "quoteQty": fmt(a.quote_qty),
        "commission": fmt(a.commission),
        "commissionAsset": a.commission_asset,
        "time": a.time,
        "isBuyer": a.is_buyer,
        "isMaker": False,
        "isAllocator": False,
    }


def account_position(account: Account, assets: set[str], now: int) -> dict[str, Any]:
    return {
        "e": "outboundAccountPosition",
        "E": now,
        "u": account.update_time,
        "B": [
            {"a": a, "f": fmt(account.free[a]), "l": fmt(account.locked[a])} for a in sorted(assets)
        ],
    }


def list_status(lst: OrderList) -> dict[str, Any]:
    """An order list without its order reports (GET orderList, allOrderList, openOrderList)."""
    return {
        "orderListId": lst.list_id,
        "contingencyType": lst.contingency,
        "listStatusType": lst.status_type,
        "listOrderStatus": lst.order_status,
        "listClientOrderId": lst.client_id,
        "transactionTime": lst.update_time or lst.time,
        "symbol": lst.symbol,
        "orders": [
            {"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id}
            for o in lst.orders
        ],
    }


def list_response(lst: OrderList, resp_type: str) -> dict[str, Any]:
    """An order list placement answer: `orderReports` in the newOrderRespType shape."""
    out = list_status(lst)
    out["orderReports"] = [order_response(o, resp_type) for o in lst.orders]
    return out
