"""Typed results of the Spot API: orders, fills, balances, books. Prices and quantities are Decimals.

Each `from_api` reads Binance's JSON shape (rest-api.md) and tolerates missing optional fields; a
missing required field raises `ResponseFormatError` naming it, never a KeyError from deep inside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any


class OrderStatus(StrEnum):
    """Binance's order statuses (enums.md §Order status); the one place that says which are final
    and which are open. `Order.status` stays the exchange's string: a status this enum does not
    know (a new one) is neither open nor final, and ranks with the final ones in the tracker."""

    NEW = "NEW"
    PENDING_NEW = "PENDING_NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    PENDING_CANCEL = "PENDING_CANCEL"  # "Currently unused"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    EXPIRED_IN_MATCH = "EXPIRED_IN_MATCH"

    @property
    def is_final(self) -> bool:
        """The order can change no more."""
        return self in _FINAL

    @property
    def is_open(self) -> bool:
        """The order rests on (or waits for) the book."""
        return self in _OPEN

    @property
    def rank(self) -> int:
        """How far along: NEW/PENDING_NEW 0 < PARTIALLY_FILLED 1 < anything else 2."""
        return _RANK.get(self, 2)

    @classmethod
    def of(cls, status: str) -> OrderStatus | None:
        """The member for an exchange string, or None for a status this enum does not know."""
        return _BY_VALUE.get(status)


_FINAL = frozenset(
    {
        OrderStatus.FILLED,
        OrderStatus.CANCELED,
        OrderStatus.EXPIRED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED_IN_MATCH,
    }
)
_OPEN = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_NEW})
_RANK = {OrderStatus.PENDING_NEW: 0, OrderStatus.NEW: 0, OrderStatus.PARTIALLY_FILLED: 1}
_BY_VALUE = {s.value: s for s in OrderStatus}


def is_final(status: str | None) -> bool:
    """`status` (an exchange string) is one of the final statuses (None: not yet known)."""
    if status is None:
        return False
    known = _BY_VALUE.get(status)
    return known is not None and known in _FINAL


def status_rank(status: str | None) -> int:
    """`OrderStatus.rank` for an exchange string (an unknown status ranks 2); -1 for None, the
    status of an order whose placement was answered ACK (not yet known: anything else is newer)."""
    if status is None:
        return -1
    known = _BY_VALUE.get(status)
    return 2 if known is None else known.rank


class ResponseFormatError(ValueError):
    """A response did not have the shape Binance documents (a field is missing or malformed)."""


def _req(data: Mapping[str, Any], key: str) -> Any:
    try:
        return data[key]
    except (KeyError, TypeError):
        raise ResponseFormatError(f"response field {key!r} is missing") from None


def _dec(value: Any, key: str = "") -> Decimal:
    try:
        return Decimal(value if type(value) is str else str(value))  # Binance sends strings
    except (InvalidOperation, ValueError):
        raise ResponseFormatError(f"response field {key!r} is not a number: {value!r}") from None


@dataclass(frozen=True, slots=True)
class Fill:
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    trade_id: int | None

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Fill:
        return cls(
            price=_dec(_req(d, "price"), "price"),
            qty=_dec(_req(d, "qty"), "qty"),
            commission=_dec(d.get("commission", "0"), "commission"),
            commission_asset=str(d.get("commissionAsset", "")),
            trade_id=d.get("tradeId"),
        )


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the exchange knows it (from place, query, cancel or the user data stream).

    `status` is None for an order whose placement was answered `ACK` (rest-api.md §New order,
    "Response - ACK" carries no status): the order exists, its status is not yet known. The
    tracker fills it in from the user data stream or a query (`SpotConnector.order_status`)."""

    symbol: str
    order_id: int
    client_order_id: str
    side: str
    type: str
    status: str | None
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    cummulative_quote_qty: Decimal
    time_in_force: str | None = None
    time: int | None = None
    update_time: int | None = None
    fills: tuple[Fill, ...] = ()

    @property
    def is_open(self) -> bool:
        """It rests on (or waits for) the book; False while the status is not yet known."""
        known = _BY_VALUE.get(self.status) if self.status is not None else None
        return known is not None and known in _OPEN

    @classmethod
    def from_placement(cls, d: Mapping[str, Any], request: Mapping[str, str]) -> Order:
        """A placement's answer in any `newOrderRespType`. ACK carries only the ids and the
        time (rest-api.md "Response - ACK"): side, type, price, quantity and time in force are
        then the request's, the status None (not yet known) and nothing executed so far."""
        if "status" in d:
            return cls.from_api(d)
        return cls(
            symbol=str(_req(d, "symbol")),
            order_id=int(_req(d, "orderId")),
            client_order_id=str(d.get("clientOrderId") or request.get("newClientOrderId", "")),
            side=request.get("side", ""),
            type=request.get("type", ""),
            status=None,
            price=_dec(request.get("price", "0"), "price"),
            orig_qty=_dec(request.get("quantity", "0"), "quantity"),
            executed_qty=Decimal(0),
            cummulative_quote_qty=Decimal(0),
            time_in_force=request.get("timeInForce"),
            time=d.get("transactTime"),
        )

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Order:
        """An order from Binance's JSON (place FULL/RESULT, query, cancel). Read on every
        placement, so the usual shape (numbers as strings) takes a short path; anything else
        takes `_from_api_checked`, which names a missing or malformed field."""
        try:
            get = d.get
            price, orig, done, quote = (
                get("price", "0"),
                get("origQty", "0"),
                get("executedQty", "0"),
                get("cummulativeQuoteQty", "0"),
            )
            fills = get("fills")
            if (
                type(price) is str
                and type(orig) is str
                and type(done) is str
                and type(quote) is str
            ):
                return cls(
                    str(d["symbol"]),
                    int(d["orderId"]),
                    str(get("origClientOrderId") or get("clientOrderId") or ""),
                    str(get("side", "")),
                    str(get("type", "")),
                    str(d["status"]),
                    Decimal(price),
                    Decimal(orig),
                    Decimal(done),
                    Decimal(quote),
                    get("timeInForce"),
                    get("time") or get("transactTime"),
                    get("updateTime"),
                    tuple([Fill.from_api(f) for f in fills]) if fills else (),
                )
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError):
            pass  # the checked path says which field
        return cls._from_api_checked(d)

    @classmethod
    def _from_api_checked(cls, d: Mapping[str, Any]) -> Order:
        return cls(
            symbol=str(_req(d, "symbol")),
            order_id=int(_req(d, "orderId")),
            # A cancel answer's clientOrderId is the cancel's own id; the order's is origClientOrderId.
            client_order_id=str(d.get("origClientOrderId") or d.get("clientOrderId") or ""),
            side=str(d.get("side", "")),
            type=str(d.get("type", "")),
            status=str(_req(d, "status")),
            price=_dec(d.get("price", "0"), "price"),
            orig_qty=_dec(d.get("origQty", "0"), "origQty"),
            executed_qty=_dec(d.get("executedQty", "0"), "executedQty"),
            cummulative_quote_qty=_dec(d.get("cummulativeQuoteQty", "0"), "cummulativeQuoteQty"),
            time_in_force=d.get("timeInForce"),
            time=d.get("time") or d.get("transactTime"),
            update_time=d.get("updateTime"),
            fills=tuple(Fill.from_api(f) for f in d.get("fills") or ()),
        )


@dataclass(frozen=True, slots=True)
class Trade:
    """One of the account's trades (GET /api/v3/myTrades)."""

    symbol: str
    id: int
    order_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    is_buyer: bool
    is_maker: bool

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Trade:
        return cls(
            symbol=str(_req(d, "symbol")),
            id=int(_req(d, "id")),
            order_id=int(_req(d, "orderId")),
            price=_dec(_req(d, "price"), "price"),
            qty=_dec(_req(d, "qty"), "qty"),
            quote_qty=_dec(d.get("quoteQty", "0"), "quoteQty"),
            commission=_dec(d.get("commission", "0"), "commission"),
            commission_asset=str(d.get("commissionAsset", "")),
            time=int(d.get("time", 0)),
            is_buyer=bool(d.get("isBuyer")),
            is_maker=bool(d.get("isMaker")),
        )


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(frozen=True, slots=True)
class Account:
    can_trade: bool
    balances: Mapping[str, Balance]
    update_time: int | None

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Account:
        balances = {
            b["asset"]: Balance(b["asset"], _dec(b["free"], "free"), _dec(b["locked"], "locked"))
            for b in _req(d, "balances")
        }
        return cls(bool(d.get("canTrade", True)), balances, d.get("updateTime"))


Level = tuple[Decimal, Decimal]


def _levels(rows: Sequence[Sequence[Any]]) -> tuple[Level, ...]:
    return tuple((_dec(p, "price"), _dec(q, "qty")) for p, q, *_ in rows)


@dataclass(frozen=True, slots=True)
class Depth:
    """A depth snapshot (GET /api/v3/depth): best levels first."""

    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Depth:
        return cls(int(_req(d, "lastUpdateId")), _levels(_req(d, "bids")), _levels(_req(d, "asks")))


@dataclass(frozen=True, slots=True)
class BookTicker:
    symbol: str
    bid_price: Decimal
    bid_qty: Decimal
    ask_price: Decimal
    ask_qty: Decimal

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> BookTicker:
        return cls(
            str(_req(d, "symbol")),
            _dec(_req(d, "bidPrice"), "bidPrice"),
            _dec(_req(d, "bidQty"), "bidQty"),
            _dec(_req(d, "askPrice"), "askPrice"),
            _dec(_req(d, "askQty"), "askQty"),
        )
