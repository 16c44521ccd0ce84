"""Orders, fills and trades as the engine keeps them (amounts in atoms, times in ms)."""

from __future__ import annotations

from dataclasses import dataclass, field

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})


@dataclass(slots=True)
class Fill:
    """One execution of an order, as listed in a FULL order response."""

    price: int
    qty: int
    commission: int
    commission_asset: str
    trade_id: int


@dataclass(slots=True, eq=False)
class Order:
    """An order and its lifecycle state. `locked` is what it still holds of the account's funds."""

    symbol: str
    order_id: int
    client_order_id: str
    account: str
    side: str
    type: str
    time_in_force: str
    price: int
    orig_qty: int
    orig_quote_qty: int
    time: int
    update_time: int
    working_time: int
    self_trade_prevention: str = "NONE"
    executed_qty: int = 0
    cum_quote: int = 0
    status: str = "NEW"
    locked: int = 0
    internal: bool = False
    fills: list[Fill] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> int:
        return self.orig_qty - self.executed_qty


@dataclass(slots=True, frozen=True)
class Trade:
    """A match between a buyer's and a seller's order."""

    symbol: str
    trade_id: int
    price: int
    qty: int
    quote_qty: int
    time: int
    buyer_is_maker: bool
    buy_order: Order
    sell_order: Order
    buyer_commission: int
    buyer_commission_asset: str
    seller_commission: int
    seller_commission_asset: str
