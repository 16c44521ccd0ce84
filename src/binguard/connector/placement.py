"""Request parameters from typed keyword arguments: snake_case names for every order parameter,
Binance's own camelCase names still accepted through `**extra`, each checked against what its
endpoint takes (rest-api.md parameter tables, by the endpoint table's row name).

    place_order("BTCUSDT", "SELL", "STOP_LOSS_LIMIT", quantity="0.01", price="28900",
                stop_price="29000", time_in_force="GTC")
    place_order(..., stopPrice="29000")                 # the same, Binance's name
    place_order(..., stop_price="29000", stopPrice="29000")   # TypeError: one parameter twice

A name the endpoint does not take is a TypeError, as Python answers an unexpected keyword: a typo
(`stopprice=`) never travels to the exchange as a silently ignored parameter. `recvWindow` and
`timestamp` are never accepted: the transport sets them, and reconciliation's proof that a lost
attempt can no longer execute depends on the recvWindow being the connector's own
(`ConnectorOptions.recv_window_ms`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from functools import cache
from types import MappingProxyType
from typing import Final

from binguard.policy.endpoints import BY_NAME

__all__ = ["ACCEPTED", "ORDER_PARAMS", "camel", "request_params", "text"]

# snake_case keyword → Binance's name, for one order (rest-api.md §New order).
ORDER_PARAMS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "quantity": "quantity",
        "quote_order_qty": "quoteOrderQty",
        "price": "price",
        "time_in_force": "timeInForce",
        "stop_price": "stopPrice",
        "trailing_delta": "trailingDelta",
        "iceberg_qty": "icebergQty",
        "new_order_resp_type": "newOrderRespType",
        "self_trade_prevention_mode": "selfTradePreventionMode",
        "strategy_id": "strategyId",
        "strategy_type": "strategyType",
        "peg_price_type": "pegPriceType",
        "peg_offset_value": "pegOffsetValue",
        "peg_offset_type": "pegOffsetType",
    }
)
_ORDER = frozenset(ORDER_PARAMS.values())
_LEG = frozenset(
    {
        "Type",
        "Side",
        "ClientOrderId",
        "Price",
        "StopPrice",
        "TrailingDelta",
        "Quantity",
        "IcebergQty",
        "TimeInForce",
        "StrategyId",
        "StrategyType",
        "PegPriceType",
        "PegOffsetType",
        "PegOffsetValue",
    }
)


def _legs(*prefixes: str) -> frozenset[str]:
    return frozenset(p + name for p in prefixes for name in _LEG)


_LIST = frozenset({"symbol", "listClientOrderId", "newOrderRespType", "selfTradePreventionMode"})
# What each endpoint takes besides recvWindow and timestamp (rest-api.md, each endpoint's table),
# by its row in the endpoint table (policy/endpoints.py).
ACCEPTED: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "place": _ORDER | {"symbol", "side", "type", "newClientOrderId"},
        "cancel_replace": _ORDER
        | {"symbol", "side", "type", "newClientOrderId", "cancelReplaceMode"}
        | {"cancelNewClientOrderId", "cancelOrigClientOrderId", "cancelOrderId"}
        | {"cancelRestrictions", "orderRateLimitExceededMode"},
        "amend": frozenset(
            {"symbol", "orderId", "origClientOrderId", "newClientOrderId", "newQty"}
        ),
        "oco": _LIST | {"side", "quantity"} | _legs("above", "below"),
        "oto": _LIST | _legs("working", "pending"),
        "otoco": _LIST
        | _legs("working", "pendingAbove", "pendingBelow")
        | {"pendingSide"}
        | {"pendingQuantity"},
        "opo": _LIST | _legs("working", "pending"),
        "opoco": _LIST | _legs("working", "pendingAbove", "pendingBelow") | {"pendingSide"},
        "cancel_list": frozenset(
            {"symbol", "orderListId", "listClientOrderId", "newClientOrderId"}
        ),
    }
)
# snake_case names the public methods spell differently (for the TypeError's wording).
_KEYWORD = {"new_client_order_id": "client_order_id"}
_NEVER = frozenset({"recvWindow", "timestamp", "signature", "apiKey"})


@cache  # a few dozen names, asked for on every order
def camel(snake: str) -> str:
    """`stop_price` → `stopPrice`."""
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def text(value: object, name: str) -> str:
    """A parameter value as Binance reads it: decimals in plain notation (never 1E-5), booleans
    lowercase, enums by value. Anything else that is not a str or number is a TypeError."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal | float):
        return format(value if isinstance(value, Decimal) else Decimal(repr(value)), "f")
    raise TypeError(f"parameter {name!r} must be a str or a number, not {type(value).__name__}")


def request_params(
    call: str,
    endpoint: str,
    fixed: Mapping[str, object],
    typed: Mapping[str, object],
    extra: Mapping[str, object],
) -> dict[str, str]:
    """The request's parameters (Binance's names, text values) for `endpoint` (a row of the
    endpoint table): `fixed` already in Binance's names, `typed` snake_case keywords (None:
    not given), `extra` the caller's camelCase `**extra`. TypeError for a name the endpoint does
    not take and for one parameter given twice (both forms); `call` names the method in it."""
    accepted = ACCEPTED[endpoint]
    assert endpoint in BY_NAME, endpoint
    # (a str is the usual value, taken as it is: text() only for the others)
    out = {k: v if type(v) is str else text(v, k) for k, v in fixed.items() if v is not None}
    given_as: dict[str, str] | None = {k: k for k in out} if extra else None
    for snake, value in typed.items():
        if value is not None:
            name = camel(snake)
            out[name] = value if type(value) is str else text(value, snake)
            if given_as is not None:
                given_as[name] = _KEYWORD.get(snake, snake)
    if given_as is None:
        return out
    for name, value in extra.items():
        if name in _NEVER or name not in accepted:
            raise TypeError(_unexpected(call, name, endpoint))
        if name in given_as:
            raise TypeError(f"{call}() got {name!r} twice: as {given_as[name]}= and as {name}=")
        if value is not None:
            out[name] = text(value, name)
    return out


def _unexpected(call: str, name: str, endpoint: str) -> str:
    if name in _NEVER:
        return (
            f"{call}() does not take {name!r}: the connector sets it "
            "(ConnectorOptions.recv_window_ms for recvWindow)"
        )
    row = BY_NAME[endpoint]
    where = " ".join(row.rest) if row.rest else row.ws
    hint = ""
    if "_" in name and camel(name) in ACCEPTED[endpoint]:
        hint = f" (did you mean {camel(name)}=?)"
    return f"{call}() got an unexpected keyword argument {name!r}: not a parameter of {where}{hint}"
