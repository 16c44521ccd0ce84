"""The parameters of one new order, read and checked as Binance does (rest-api.md §New order).

Shared by POST /api/v3/order, order/test, order/cancelReplace and the WebSocket API. `read()`
takes the parameters (with an optional name map, for order lists' `above*` / `below*` names),
`check()` the per-type rules: mandatory and not-required parameters (-1102 / -1106), the
unsupported combinations (-2010), the STP mode the symbol allows (-1013, the STP FAQ's text).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .config import STP_MODES
from .engine.orders import ALGO_TYPES
from .errors import (
    SimError,
    either_mandatory,
    invalid_value,
    mandatory,
    new_order_rejected,
    not_required,
)
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
TIME_IN_FORCE = ("GTC", "IOC", "FOK")
RESP_TYPES = ("ACK", "RESULT", "FULL")
PRICED = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
PEG_TYPES = ("PRIMARY_PEG", "MARKET_PEG")
STP_NOT_ALLOWED = "This symbol does not allow the specified self-trade prevention mode."


@dataclass(slots=True)
class NewOrder:
    """One order's request fields (amounts in atoms; None when not sent)."""

    symbol: str
    side: str
    type: str
    time_in_force: str | None
    qty: int | None
    quote_qty: int | None
    price: int | None
    client_id: str | None
    stop_price: int | None
    trailing: int | None
    iceberg: int | None
    strategy_id: int | None
    strategy_type: int | None
    stp: str | None
    # pegged orders (rest-api.md §Pegged Orders Info): pegPriceType, pegOffsetType, pegOffsetValue
    peg: tuple[str, str | None, int | None] | None = None
    requested_price: int = 0  # a pegged order's `price` as sent (its price becomes the peg's)

    def engine_peg(self) -> tuple[str, str | None, int | None, int] | None:
        """The engine's peg: type, offset type, offset, the requested price."""
        return None if self.peg is None else (*self.peg, self.requested_price)


def client_id(params: Params, name: str, empty_code: int) -> str | None:
    if params.values.get(name) == "":
        params.mark(name)
        raise SimError.of(empty_code)
    return params.text(name)


def _enum(
    params: Params, name: str, allowed: tuple[str, ...], code: int, required: bool = False
) -> str | None:
    """An enum parameter whose bad value is `code` (the error built only when raised)."""
    value = params.raw(name, required)
    if value is not None and value not in allowed:
        raise SimError.of(code)
    return value


def _peg(params: Params, nm: Callable[[str], str]) -> tuple[str, str | None, int | None] | None:
    """pegPriceType (-1210), and pegOffsetType (-1211) with pegOffsetValue (max 100), which
    "must be specified together"."""
    peg_type = _enum(params, nm("pegPriceType"), PEG_TYPES, -1210)
    offset_type = _enum(params, nm("pegOffsetType"), ("PRICE_LEVEL",), -1211)
    offset = params.integer(nm("pegOffsetValue"))
    if offset is not None and not 0 <= offset <= 100:
        raise invalid_value(nm("pegOffsetValue"))
    if (offset_type is None) != (offset is None):
        raise mandatory(nm("pegOffsetValue") if offset is None else nm("pegOffsetType"))
    if peg_type is None:
        if offset_type is not None:
            raise mandatory(nm("pegPriceType"))
        return None
    return peg_type, offset_type, offset


def read(
    params: Params, symbol: str, names: dict[str, str] | None = None, quote: bool = True
) -> NewOrder:
    """Read one order's parameters; `names` renames them (e.g. "price" -> "abovePrice");
    `quote`: whether quoteOrderQty exists (not for the orders of a list)."""
    n = names or {}

    def nm(name: str) -> str:
        return n.get(name, name)

    side = _enum(params, nm("side"), SIDES, -1117, required=True)
    order_type = _enum(params, nm("type"), ORDER_TYPES, -1116, required=True)
    tif = _enum(params, nm("timeInForce"), TIME_IN_FORCE, -1115)
    qty = params.amount(nm("quantity"))
    quote_qty = params.amount("quoteOrderQty") if quote else None
    price = params.amount(nm("price"))
    cid = client_id(params, nm("newClientOrderId"), -1118)
    strategy_id = params.integer(nm("strategyId"))
    strategy_type = params.integer(nm("strategyType"))
    if strategy_type is not None and strategy_type < 1000000:
        raise SimError.of(-1134)
    stop_price = params.amount(nm("stopPrice"))
    trailing = params.integer(nm("trailingDelta"))
    iceberg = params.amount(nm("icebergQty"))
    peg = _peg(params, nm)
    stp = params.enum("selfTradePreventionMode", STP_MODES)
    assert side is not None
    assert order_type is not None
    return NewOrder(
        symbol, side, order_type, tif, qty, quote_qty, price, cid, stop_price, trailing,
        iceberg, strategy_id, strategy_type, stp, peg,
    )  # fmt: skip


def check(o: NewOrder, allowed_stp: tuple[str, ...], default_stp: str) -> None:
    """The per-type parameter rules; fills in the implied timeInForce and STP mode."""
    kind = o.type
    if o.peg is not None:
        if kind not in PRICED:
            raise new_order_rejected("This order type may not use pegged price.")
        if kind == "LIMIT_MAKER" and o.peg[0] == "MARKET_PEG":
            raise new_order_rejected("This price peg cannot be used with this order type.")
    if kind in ("MARKET", "STOP_LOSS", "TAKE_PROFIT"):
        if o.time_in_force is not None:
            raise not_required("timeInForce")
        if o.price is not None:
            raise not_required("price")
        o.time_in_force = "GTC"
    elif kind == "LIMIT_MAKER":
        if o.time_in_force is not None:
            raise not_required("timeInForce")
        o.time_in_force = "GTC"
    elif o.time_in_force is None:
        raise mandatory("timeInForce")
    if kind == "MARKET":
        if o.qty is None and o.quote_qty is None:
            raise either_mandatory("quantity", "quoteOrderQty")
        if o.qty is not None and o.quote_qty is not None:
            raise not_required("quoteOrderQty")
    else:
        if o.qty is None:
            raise mandatory("quantity")
        if kind in PRICED and o.price is None and o.peg is None:
            raise mandatory("price")  # "If pegPriceType is specified, price becomes optional"
        if o.quote_qty is not None:
            raise not_required("quoteOrderQty")
    _check_algo(o)
    _check_iceberg(o)
    stp = o.stp or default_stp
    if stp not in allowed_stp:
        raise SimError(-1013, STP_NOT_ALLOWED)
    o.stp = stp


def _check_algo(o: NewOrder) -> None:
    if o.type in ALGO_TYPES:
        if o.stop_price is None and o.trailing is None:
            raise either_mandatory("stopPrice", "trailingDelta")
        if o.trailing is not None and o.trailing <= 0:
            raise SimError.of(-1130, 1, "trailingDelta")
    else:
        if o.stop_price is not None:
            raise not_required("stopPrice")
        if o.trailing is not None:
            raise not_required("trailingDelta")


def _check_iceberg(o: NewOrder) -> None:
    if o.iceberg is None:
        return
    if o.type not in PRICED or o.time_in_force != "GTC":
        raise new_order_rejected("Unsupported order combination")
    assert o.qty is not None
    if o.iceberg > o.qty:
        raise new_order_rejected("IcebergQty exceeds QTY.")
