"""Orders, fills and trades as the engine keeps them (amounts in atoms, times in ms)."""

from __future__ import annotations

from dataclasses import dataclass, field

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED", "PENDING_NEW"})
# "algo" orders of MAX_NUM_ALGO_ORDERS (filters.md): they wait for their trigger
ALGO_TYPES = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
# the order type a triggered algo order becomes, and which way its trigger price sits
TRIGGERED_TYPE = {
    "STOP_LOSS": "MARKET",
    "TAKE_PROFIT": "MARKET",
    "STOP_LOSS_LIMIT": "LIMIT",
    "TAKE_PROFIT_LIMIT": "LIMIT",
}


@dataclass(slots=True)
class Fill:
    """One execution of an order, as listed in a FULL order response."""

    price: int
    qty: int
    commission: int
    commission_asset: str
    trade_id: int


@dataclass(slots=True)
class AllocFill(Fill):
    """A fill by allocation (an order placed with SOR filled on another book of its SOR):
    `trade_id` is -1, `alloc_id` the allocation's id (faqs/sor_faq.md)."""

    alloc_id: int


@dataclass(slots=True, eq=False)
class Order:
    """An order and its lifecycle state. `locked` is what it still holds of the account's funds.

    Optional request fields (`iceberg_qty`, `strategy_id`, `strategy_type`) are None when not
    sent, so responses show them only then (rest-api.md §Conditional fields in Order Responses).
    An algo order waits with `working` False until its trigger; `prevented_qty` is what
    self-trade prevention took off the order, `expiry_reason` the enums.md ExpiryReason."""

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
    stop_price: int = 0
    trailing_delta: int = 0
    trailing_time: int = -1
    # trailing stops: the best price seen since the trailing became active
    trail_extreme: int = 0
    iceberg_qty: int | None = None
    shown: int = 0  # an iceberg in the book: what is left of its visible slice
    strategy_id: int | None = None
    strategy_type: int | None = None
    expiry_reason: str = ""
    prevented_match_id: int | None = None
    prevented_qty: int = 0
    order_list_id: int = -1
    working: bool = True
    amendments: int = 0
    # order lists (engine/lists.py): the other order of an OCO pair, and the orders that wait
    # (PENDING_NEW) until this working order is fully filled
    oco_peer: Order | None = None
    pending: tuple[Order, ...] = ()
    opo: bool = False  # an OPO pending order: its quantity is what the working order received
    # a pegged order: (pegPriceType, pegOffsetType, pegOffsetValue, the requested price); its
    # `price` is the pegged price once determined (0 before)
    peg: tuple[str, str | None, int | None, int] | None = None
    # an order placed with SOR (engine/sor.py): its workingFloor, "SOR" or "EXCHANGE"; "" for
    # every other order (so `usedSor` / `workingFloor` appear only for SOR orders)
    floor: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> int:
        return self.orig_qty - self.executed_qty - self.prevented_qty

    @property
    def is_algo(self) -> bool:
        return self.type in ALGO_TYPES


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


@dataclass(slots=True, frozen=True)
class PreventedMatch:
    """One self-trade prevented (GET /api/v3/myPreventedMatches item)."""

    symbol: str
    prevented_match_id: int
    taker_order_id: int
    maker_order_id: int
    mode: str
    price: int
    taker_prevented_qty: int | None
    maker_prevented_qty: int | None
    time: int
    account: str


@dataclass(slots=True, frozen=True)
class Amendment:
    """One order/amend/keepPriority (GET /api/v3/order/amendments item)."""

    symbol: str
    order_id: int
    execution_id: int
    orig_client_id: str
    new_client_id: str
    orig_qty: int
    new_qty: int
    time: int


@dataclass(slots=True, frozen=True)
class Allocation:
    """One SOR allocation (GET /api/v3/myAllocations item): `symbol` is the order's symbol."""

    symbol: str
    allocation_id: int
    order_id: int
    order_list_id: int
    price: int
    qty: int
    quote_qty: int
    commission: int
    commission_asset: str
    time: int
    is_buyer: bool
    account: str
