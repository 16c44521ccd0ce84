"""Account queries (rest-api.md §Account Endpoints): commission rates, prevented matches,
allocations, relevant filters.

`myAllocations` lists the allocations of orders placed with SOR (engine/sor.py), kept like
prevented matches (the account's last `retention.max_orders`); `myFilters` lists the symbol's
MAX_NUM_* filters (the account-relevant ones) and no exchange or asset filters.
"""

from __future__ import annotations

from typing import Any

from .call import Call, Endpoint, Reply, fixed
from .engine import reports
from .engine.orders import PreventedMatch
from .errors import SimError, invalid_value
from .numbers import fmt
from .params import Params

ZERO = "0.00000000"
DAY_MS = 86_400_000


def _symbol(call: Call) -> str:
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


def commission_rates(call: Call) -> dict[str, dict[str, str]]:
    acct = call.state.engine.accounts[call.account]
    rate = fmt(acct.maker_bps * 10000), fmt(acct.taker_bps * 10000)
    return {
        "standardCommission": {"maker": rate[0], "taker": rate[1], "buyer": ZERO, "seller": ZERO},
        "specialCommission": {"maker": ZERO, "taker": ZERO, "buyer": ZERO, "seller": ZERO},
        "taxCommission": {"maker": ZERO, "taker": ZERO, "buyer": ZERO, "seller": ZERO},
    }


async def commission(call: Call) -> Reply:
    symbol = _symbol(call)
    call.params.finish()
    body: dict[str, Any] = {"symbol": symbol, **commission_rates(call)}
    body["discount"] = {
        "enabledForAccount": False,
        "enabledForSymbol": False,
        "discountAsset": "BNB",
        "discount": "0.25000000",
    }
    return Reply(body)


def prevented_match(m: PreventedMatch) -> dict[str, Any]:
    out: dict[str, Any] = {
        "symbol": m.symbol,
        "preventedMatchId": m.prevented_match_id,
        "takerOrderId": m.taker_order_id,
        "makerSymbol": m.symbol,
        "makerOrderId": m.maker_order_id,
        "tradeGroupId": -1,
        "selfTradePreventionMode": m.mode,
        "price": fmt(m.price),
    }
    if m.taker_prevented_qty is not None:
        out["takerPreventedQuantity"] = fmt(m.taker_prevented_qty)
    if m.maker_prevented_qty is not None:
        out["makerPreventedQuantity"] = fmt(m.maker_prevented_qty)
    out["transactTime"] = m.time
    return out


async def prevented_matches(call: Call) -> Reply:
    """The supported combinations: symbol + preventedMatchId, symbol + orderId [+
    fromPreventedMatchId [+ limit]]; anything else is -1128."""
    p = call.params
    symbol = _symbol(call)
    match_id = p.integer("preventedMatchId")
    order_id = p.integer("orderId")
    from_id = p.integer("fromPreventedMatchId")
    limit = _limit(p)
    p.finish()
    if (match_id is None) == (order_id is None) or (from_id is not None and order_id is None):
        raise SimError.of(-1128)
    rows = [
        m
        for m in call.state.engine.prevented.get(call.account, ())
        if m.symbol == symbol
        and (match_id is None or m.prevented_match_id == match_id)
        and (order_id is None or order_id in (m.taker_order_id, m.maker_order_id))
        and (from_id is None or m.prevented_match_id >= from_id)
    ]
    return Reply([prevented_match(m) for m in rows[:limit]])


async def allocations(call: Call) -> Reply:
    """The documented combinations: symbol [+ startTime] [+ endTime] (at most 24 hours apart),
    symbol [+ orderId] [+ fromAllocationId]; oldest first, `limit` of them (the newest ones
    with endTime alone)."""
    p = call.params
    symbol = _symbol(call)
    start, end = p.integer("startTime"), p.integer("endTime")
    from_id, order_id = p.integer("fromAllocationId"), p.integer("orderId")
    limit = _limit(p)
    p.finish()
    timed = start is not None or end is not None
    if timed and (from_id is not None or order_id is not None):
        raise SimError.of(-1128)
    if start is not None and end is not None:
        if end < start:
            raise SimError.of(-1128)
        if end - start > DAY_MS:
            raise SimError.of(-1127, 1, 24)
    rows = [
        a
        for a in call.state.engine.allocations.get(call.account, ())
        if a.symbol == symbol
        and (order_id is None or a.order_id == order_id)
        and (from_id is None or a.allocation_id >= from_id)
        and (start is None or a.time >= start)
        and (end is None or a.time <= end)
    ]
    rows = rows[-limit:] if end is not None and start is None else rows[:limit]
    return Reply([reports.allocation(a) for a in rows])


async def my_filters(call: Call) -> Reply:
    symbol = _symbol(call)
    call.params.finish()
    filters = call.state.engine.rules[symbol].exchange_filters()
    mine = [f for f in filters if str(f["filterType"]).startswith("MAX_")]
    return Reply({"exchangeFilters": [], "symbolFilters": mine, "assetFilters": []})


def _prevented_weight(params: Params) -> int:
    return 20 if "orderId" in params.values else 2


ENDPOINTS = (
    Endpoint("GET", "/api/v3/account/commission", commission, fixed(20), signed=True),
    Endpoint(
        "GET", "/api/v3/myPreventedMatches", prevented_matches, _prevented_weight, signed=True
    ),
    Endpoint("GET", "/api/v3/myAllocations", allocations, fixed(20), signed=True),
    Endpoint("GET", "/api/v3/myFilters", my_filters, fixed(40), signed=True),
)
