"""What the order guard reads from Binance's answers, and the answers it writes for the bot.

- `outcome()`: an order request's answer as PLACED (Binance's order), REFUSED (nothing was
  placed: a 4XX Binance cannot have executed, or the gateway's own refusal before sending) or
  UNKNOWN (the bytes may have reached the matching engine: reset or stall after sending, 5XX,
  -1006, -1007, an answer that is not the order).
- `shape()`: a queried order (GET /api/v3/order) in the ACK, RESULT or FULL shape of
  POST /api/v3/order (rest-api.md §New order, "Response ACK/RESULT/FULL"): `transactTime` is the
  order's `time`, and the fields are the order's as it stands now (a reconciled answer comes
  later than the lost one, and tells no less). FULL's `fills` come from myTrades by orderId.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from binguard.errors import HttpReply, classify

from .answers import GATEWAY_HEADER
from .forward import Call

NOT_COMPARED = frozenset({"recvWindow", "newOrderRespType"})  # how to send, not what
_QUERY_ONLY = frozenset({"time", "updateTime", "isWorking"})  # GET /api/v3/order's own fields
# RESULT's fields in rest-api.md's order (§New order, "Response RESULT"); then the order's
# conditional ones (stopPrice, icebergQty, pegs, ...) as the query gives them
_RESULT = (
    "price",
    "origQty",
    "executedQty",
    "origQuoteOrderQty",
    "cummulativeQuoteQty",
    "status",
    "timeInForce",
    "type",
    "side",
    "workingTime",
    "selfTradePreventionMode",
)
_ZERO_UNLESS_SET = ("stopPrice", "icebergQty")  # the query always has them, a placement not


class Outcome(enum.Enum):
    PLACED = "placed"
    REFUSED = "refused"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Read:
    """An answer as the guard reads it: outcome, what was placed (the answer's JSON), why (for
    the journal's `last_error`)."""

    outcome: Outcome
    found: dict[str, Any] | None = None
    why: str = ""


def params_of(call: Call) -> dict[str, str]:
    """A request's parameters (query, then a form body), without `timestamp` and `signature`."""
    params = dict(call.params)
    params.pop("timestamp", None)
    params.pop("signature", None)
    return params


def same_order(journalled: dict[str, str], sent: dict[str, str]) -> bool:
    """A re-send places the same order: equal parameters but how it is sent and answered."""

    def what(params: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in params.items() if k not in NOT_COMPARED}

    return what(journalled) == what(sent)


def resp_type(params: dict[str, str], default: str | None = None) -> str:
    """The answer shape the bot asked for, else `default`, else Binance's for an order:
    "MARKET and LIMIT order types default to FULL, all other orders default to ACK"
    (rest-api.md §New order)."""
    asked = params.get("newOrderRespType", "").upper()
    if asked in ("ACK", "RESULT", "FULL"):
        return asked
    if default is not None:
        return default
    return "FULL" if params.get("type", "").upper() in ("MARKET", "LIMIT") else "ACK"


def body_of(answer: web.StreamResponse) -> bytes:
    body = answer.body if isinstance(answer, web.Response) else None
    return body if isinstance(body, bytes) else b""


def outcome(answer: web.StreamResponse, found_in: Callable[[bytes], dict[str, Any] | None]) -> Read:
    """See the module docstring; `found_in` reads what a 2XX body placed (order_books.py).
    The forwarder's own answers say what happened: "unknown" (sent, outcome lost) or a refusal
    before sending (budget, ban, draining, connect failed)."""
    reason = answer.headers.get(GATEWAY_HEADER)
    if reason is not None:
        if reason == "unknown":
            return Read(Outcome.UNKNOWN, why="gateway: sent, no answer")
        return Read(Outcome.REFUSED, why=f"gateway: {reason}, not sent")
    body = body_of(answer)
    if answer.status < 400:
        found = found_in(body)
        if found is not None:
            return Read(Outcome.PLACED, found)
        return Read(Outcome.UNKNOWN, why=f"{answer.status}: not the order")
    err = classify(HttpReply(answer.status, (), body))
    code = err.code if err is not None else None
    if err is None or err.may_have_executed:
        return Read(Outcome.UNKNOWN, why=f"{answer.status} {code}")
    return Read(Outcome.REFUSED, why=f"{answer.status} {code}")


def json_object(body: bytes) -> dict[str, Any] | None:
    """The JSON object a body holds, else None (not JSON, or another JSON value)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def order_in(body: bytes) -> dict[str, Any] | None:
    """The order a 2XX body holds (a JSON object with an integer orderId), else None."""
    data = json_object(body)
    if data is None:
        return None
    order_id = data.get("orderId")
    if not isinstance(order_id, int) or isinstance(order_id, bool):
        return None
    return data


def shape(order: dict[str, Any], kind: str, fills: list[dict[str, Any]]) -> dict[str, Any]:
    """A queried order as POST /api/v3/order answers it in `kind` (module docstring)."""
    out: dict[str, Any] = {
        "symbol": order.get("symbol"),
        "orderId": order.get("orderId"),
        "orderListId": order.get("orderListId", -1),
        "clientOrderId": order.get("clientOrderId"),
        "transactTime": order.get("time", order.get("updateTime")),
    }
    if kind == "ACK":
        return out
    for key in _RESULT:
        if key in order:
            out[key] = order[key]
    for key, value in order.items():
        if key in out or key in _QUERY_ONLY:
            continue
        if key in _ZERO_UNLESS_SET and _is_zero(value):
            continue
        out[key] = value
    if kind == "FULL":
        out["fills"] = fills
    return out


def fills_of(trades: object) -> list[dict[str, Any]]:
    """myTrades items as a FULL answer's `fills` (rest-api.md: price, qty, commission,
    commissionAsset, tradeId)."""
    if not isinstance(trades, list):
        return []
    return [
        {
            "price": t.get("price"),
            "qty": t.get("qty"),
            "commission": t.get("commission"),
            "commissionAsset": t.get("commissionAsset"),
            "tradeId": t.get("id"),
        }
        for t in trades
        if isinstance(t, dict)
    ]


def allocations_of(rows: object) -> list[dict[str, Any]]:
    """myAllocations items as a FULL answer's `fills` for an SOR order (faqs/sor_faq.md: each
    an allocation, `matchType` ONE_PARTY_TRADE_REPORT, `tradeId` -1, `allocId`)."""
    if not isinstance(rows, list):
        return []
    return [
        {
            "matchType": "ONE_PARTY_TRADE_REPORT",
            "price": a.get("price"),
            "qty": a.get("qty"),
            "commission": a.get("commission"),
            "commissionAsset": a.get("commissionAsset"),
            "tradeId": -1,
            "allocId": a.get("allocationId"),
        }
        for a in rows
        if isinstance(a, dict)
    ]


def _is_zero(value: object) -> bool:
    try:
        return float(str(value)) == 0.0
    except ValueError:
        return False
