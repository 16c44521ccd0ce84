"""A seeded fuzz of the order-list, edit and account-query endpoints over loopback REST: random
mixes of their parameter names with valid, out-of-range and malformed values. Every answer is
Binance JSON — 200, or 4xx with a code and msg — never a 500, and the simulator records no bug.
"""

from __future__ import annotations

import random

from binguard.sim import Simulator

from .helpers import Api, new_order

ENDPOINTS = [
    ("POST", "/api/v3/orderList/oco"),
    ("POST", "/api/v3/order/oco"),
    ("POST", "/api/v3/orderList/oto"),
    ("POST", "/api/v3/orderList/otoco"),
    ("POST", "/api/v3/orderList/opo"),
    ("POST", "/api/v3/orderList/opoco"),
    ("POST", "/api/v3/order/cancelReplace"),
    ("PUT", "/api/v3/order/amend/keepPriority"),
    ("GET", "/api/v3/order/amendments"),
    ("DELETE", "/api/v3/orderList"),
    ("GET", "/api/v3/orderList"),
    ("GET", "/api/v3/allOrderList"),
    ("GET", "/api/v3/myPreventedMatches"),
    ("GET", "/api/v3/myAllocations"),
    ("GET", "/api/v3/myFilters"),
    ("GET", "/api/v3/account/commission"),
    ("POST", "/api/v3/order"),
    ("POST", "/api/v3/order/test"),
]
NAMES = [
    "symbol", "side", "type", "quantity", "price", "stopPrice", "trailingDelta", "icebergQty",
    "timeInForce", "selfTradePreventionMode", "newOrderRespType", "aboveType", "abovePrice",
    "aboveStopPrice", "aboveTimeInForce", "aboveIcebergQty", "belowType", "belowPrice",
    "belowStopPrice", "belowTimeInForce", "belowTrailingDelta", "workingType", "workingSide",
    "workingPrice", "workingQuantity", "workingTimeInForce", "pendingType", "pendingSide",
    "pendingPrice", "pendingQuantity", "pendingStopPrice", "pendingAboveType",
    "pendingAbovePrice", "pendingBelowType", "pendingBelowStopPrice", "cancelReplaceMode",
    "cancelOrderId", "cancelOrigClientOrderId", "orderRateLimitExceededMode", "orderId",
    "origClientOrderId", "newQty", "orderListId", "listClientOrderId", "limit",
    "preventedMatchId", "fromPreventedMatchId", "fromExecutionId", "stopLimitPrice",
    "stopLimitTimeInForce", "cancelRestrictions", "strategyType", "computeCommissionRates",
    "pegPriceType", "pegOffsetType", "pegOffsetValue", "abovePegPriceType",
    "workingPegPriceType", "pendingPegPriceType",
]  # fmt: skip
VALUES = [
    "BTCUSDT", "NOPE", "BUY", "SELL", "LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS",
    "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "GTC", "IOC", "FOK", "EXPIRE_BOTH",
    "DECREMENT", "TRANSFER", "STOP_ON_FAILURE", "ALLOW_FAILURE", "CANCEL_ONLY", "0", "1", "-1",
    "0.01", "0.000001", "29000", "31000", "30000.001", "1e5", "999999999999999999999", "",
    "true", "x" * 40, "٣", "NaN", "2000", "PRIMARY_PEG", "MARKET_PEG", "PRICE_LEVEL", "101",
]  # fmt: skip


async def test_new_endpoints_answer_typed_errors(sim: Simulator, api: Api) -> None:
    await api.order(**new_order("BUY", "LIMIT", "0.01", price="29000"))
    rng = random.Random(15)
    statuses: dict[int, int] = {}
    for _ in range(400):
        method, path = rng.choice(ENDPOINTS)
        params = {"symbol": "BTCUSDT"} if rng.random() < 0.8 else {}
        for name in rng.sample(NAMES, rng.randrange(1, 12)):
            params[name] = rng.choice(VALUES)
        reply = await api.call(method, path, params, signed=True)
        statuses[reply.status] = statuses.get(reply.status, 0) + 1
        assert reply.status < 500, (path, params, reply.body)
        if reply.status != 200:
            assert isinstance(reply.code, int) and reply.msg, (path, params, reply.body)
    assert sim.bugs == []
    assert statuses.get(400, 0) > 100  # the fuzz reached the validation paths
