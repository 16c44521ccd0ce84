"""What the connector knows about its orders, fills and balances, from every source, idempotently.

Sources: REST answers (place, cancel, query, openOrders, myTrades) and the user data stream
(`executionReport`, `outboundAccountPosition`). Any of them may repeat or arrive late — a
duplicated or delayed `executionReport`, a REST catch-up racing the stream — so every merge is
idempotent and monotonic:

- an order moves forward only: an update is kept when it has executed at least as much and its
  status is at least as final (NEW < PARTIALLY_FILLED < final), so a late NEW never overwrites a
  FILLED, and a repeat changes nothing;
- a fill is keyed by (symbol, trade id): learnt once, whichever source told first;
- balances follow `outboundAccountPosition` by its update time `u`; an older one is ignored.

Open orders are kept as long as they are open; settled ones (a final status) only the latest
`keep_settled` of them, oldest settled forgotten first (orders and order lists each have that
bound): a bot that runs for weeks would else hold every order it ever placed (~0.8 KB each:
100,000 orders a day is 80 MB a day). A forgotten order is still in the journal and on the
exchange; `order_status()` and `amend()` ask over REST for an order the tracker no longer has.
The keys of the last `max(keep_settled, REMEMBER_GONE)` forgotten ones are remembered (~0.2 KB
each), and any later update of one is stale (it settled): a late NEW — a REST answer that
lost the race with the stream's FILLED — must not bring a forgotten order back as open. Fills
are all kept (`fills` is every fill, for the bot's own accounting).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .list_models import OrderList
from .models import Balance, Order, Trade, is_final, status_rank

_rank = status_rank
KEEP_SETTLED = 10_000  # settled orders (and settled lists) a tracker keeps by default
REMEMBER_GONE = 10_000  # at least this many forgotten keys are remembered (module docstring)


@dataclass(frozen=True, slots=True)
class TrackedFill:
    """One fill of one of our orders."""

    symbol: str
    trade_id: int
    order_id: int
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    source: str  # "stream", "rest" or "order" (a FULL placement answer)


class OrderTracker:
    """Latest known state of every order, every fill, and the balances; see the module docstring."""

    def __init__(self, *, keep_settled: int = KEEP_SETTLED) -> None:
        if keep_settled < 0:
            raise ValueError(f"keep_settled must be >= 0, not {keep_settled!r}")
        self.keep_settled = keep_settled
        self.orders: dict[tuple[str, int], Order] = {}
        self._by_client: dict[str, tuple[str, int]] = {}
        self.fills: dict[tuple[str, int], TrackedFill] = {}
        self.balances: dict[str, Balance] = {}
        # order lists by (symbol, orderListId): placement answers, queries, `listStatus` events
        self.lists: dict[tuple[str, int], OrderList] = {}
        self._balance_time = -1
        self.last_event_ms = 0  # event time of the last user data event
        self.stale_updates = 0  # updates older than what was known (late), ignored
        self.repeats = 0  # updates equal to what was known (duplicated), ignored
        # settled orders and lists, oldest settled first: the ones forgotten past keep_settled
        self._settled: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._settled_lists: OrderedDict[tuple[str, int], None] = OrderedDict()
        # keys of forgotten settled orders and lists: a later update of one is stale
        self._gone: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._gone_lists: OrderedDict[tuple[str, int], None] = OrderedDict()
        self.forgotten = 0  # settled orders and lists forgotten past keep_settled

    # -- reading ----------------------------------------------------------------------------
    def get(
        self,
        *,
        client_order_id: str | None = None,
        order_id: int | None = None,
        symbol: str | None = None,
    ) -> Order | None:
        if client_order_id is not None:
            key = self._by_client.get(client_order_id)
            return self.orders.get(key) if key else None
        if order_id is not None and symbol is not None:
            return self.orders.get((symbol, order_id))
        return None

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [
            o for o in self.orders.values() if o.is_open and (symbol is None or o.symbol == symbol)
        ]

    def symbols(self) -> set[str]:
        return {symbol for symbol, _ in self.orders}

    def trade_ids(self) -> set[int]:
        return {trade_id for _, trade_id in self.fills}

    # -- merging ----------------------------------------------------------------------------
    def update_order(self, order: Order) -> bool:
        """Keep `order` if it is not older than what is known; True when it changed anything."""
        key = (order.symbol, order.order_id)
        known = self.orders.get(key)
        if known is None and key in self._gone:
            self.stale_updates += 1  # it settled and was forgotten: nothing newer can come
            return False
        if known is not None:
            if (order.executed_qty, _rank(order.status)) < (
                known.executed_qty,
                _rank(known.status),
            ):
                self.stale_updates += 1
                return False
            if known == order:
                self.repeats += 1
                return False
            if not order.client_order_id:
                order = _with_client_id(order, known.client_order_id)
        self.orders[key] = order
        if order.client_order_id:
            self._by_client[order.client_order_id] = key
        if is_final(order.status):
            settled = self._settled
            settled[key] = None
            if len(settled) > self.keep_settled:
                self._drop(settled.popitem(last=False)[0])
        return True

    def _drop(self, key: tuple[str, int]) -> None:
        """Forget the settled order `key` (past keep_settled); remember that it is gone."""
        gone = self.orders.pop(key, None)
        if gone is not None:
            self.forgotten += 1
            if self._by_client.get(gone.client_order_id) == key:
                del self._by_client[gone.client_order_id]
        _remember(self._gone, key, self.keep_settled)

    def update_list(self, lst: OrderList) -> bool:
        """Keep a list's state unless a final one is known already (a late EXECUTING never
        overwrites ALL_DONE); True when it changed anything. Its orders are tracked apart."""
        key = (lst.symbol, lst.order_list_id)
        known = self.lists.get(key)
        if (known is not None and known.is_final and not lst.is_final) or (
            known is None and key in self._gone_lists
        ):
            self.stale_updates += 1
            return False
        self.lists[key] = lst
        if lst.is_final:
            settled = self._settled_lists
            settled[key] = None
            if len(settled) > self.keep_settled:
                old = settled.popitem(last=False)[0]
                del self.lists[old]
                self.forgotten += 1
                _remember(self._gone_lists, old, self.keep_settled)
        return True

    def get_list(self, list_client_order_id: str) -> OrderList | None:
        for lst in self.lists.values():
            if lst.list_client_order_id == list_client_order_id:
                return lst
        return None

    def forget(
        self,
        *,
        client_order_id: str | None = None,
        order_id: int | None = None,
        symbol: str | None = None,
    ) -> bool:
        """Stop tracking an order the exchange no longer has (-2026 ORDER_ARCHIVED): it is
        final, so it is polled and caught up no more. Its fills stay. True if it was tracked."""
        key = self._by_client.get(client_order_id) if client_order_id is not None else None
        if key is None and order_id is not None and symbol is not None:
            key = (symbol, order_id)
        if key is None or key not in self.orders:
            return False
        order = self.orders.pop(key)
        self._by_client.pop(order.client_order_id, None)
        self._settled.pop(key, None)
        return True

    def add_fill(self, fill: TrackedFill) -> bool:
        key = (fill.symbol, fill.trade_id)
        if key in self.fills:
            return False
        self.fills[key] = fill
        return True

    def add_trade(self, trade: Trade) -> bool:
        """A fill learnt through REST (myTrades)."""
        return self.add_fill(
            TrackedFill(
                trade.symbol,
                trade.id,
                trade.order_id,
                trade.price,
                trade.qty,
                trade.commission,
                trade.commission_asset,
                trade.time,
                "rest",
            )
        )

    def add_order_fills(self, order: Order) -> None:
        """Fills carried by a FULL placement answer."""
        for f in order.fills:
            if f.trade_id is not None:
                self.add_fill(
                    TrackedFill(
                        order.symbol,
                        int(f.trade_id),
                        order.order_id,
                        f.price,
                        f.qty,
                        f.commission,
                        f.commission_asset,
                        order.time or 0,
                        "order",
                    )
                )

    def apply_execution_report(self, ev: Mapping[str, Any]) -> Order:
        """An `executionReport` (user-data-stream.md): the order's new state, and its fill."""
        self.last_event_ms = max(self.last_event_ms, int(ev.get("E", 0)))
        symbol = str(ev["s"])
        order = Order(
            symbol=symbol,
            order_id=int(ev["i"]),
            client_order_id=_client_id(ev),
            side=str(ev.get("S", "")),
            type=str(ev.get("o", "")),
            status=str(ev["X"]),
            price=Decimal(str(ev.get("p", "0"))),
            orig_qty=Decimal(str(ev.get("q", "0"))),
            executed_qty=Decimal(str(ev.get("z", "0"))),
            cummulative_quote_qty=Decimal(str(ev.get("Z", "0"))),
            time_in_force=ev.get("f"),
            time=ev.get("O"),
            update_time=ev.get("T"),
        )
        if ev.get("x") == "TRADE" and int(ev.get("t", -1)) >= 0:
            self.add_fill(
                TrackedFill(
                    symbol,
                    int(ev["t"]),
                    order.order_id,
                    Decimal(str(ev.get("L", "0"))),
                    Decimal(str(ev.get("l", "0"))),
                    Decimal(str(ev.get("n", "0"))),
                    str(ev.get("N") or ""),
                    int(ev.get("T", 0)),
                    "stream",
                )
            )
        self.update_order(order)
        return self.orders.get((symbol, order.order_id), order)

    def apply_account_position(self, ev: Mapping[str, Any]) -> bool:
        """An `outboundAccountPosition`: free/locked of the assets that changed."""
        self.last_event_ms = max(self.last_event_ms, int(ev.get("E", 0)))
        update = int(ev.get("u", 0))
        if update < self._balance_time:
            self.stale_updates += 1
            return False
        self._balance_time = update
        for row in ev.get("B", ()):
            asset = str(row["a"])
            self.balances[asset] = Balance(asset, Decimal(str(row["f"])), Decimal(str(row["l"])))
        return True


def _remember(gone: OrderedDict[tuple[str, int], None], key: tuple[str, int], keep: int) -> None:
    """Add a forgotten key, dropping the oldest past max(keep, REMEMBER_GONE)."""
    gone[key] = None
    if len(gone) > max(keep, REMEMBER_GONE):
        gone.popitem(last=False)


def _client_id(ev: Mapping[str, Any]) -> str:
    """The order's own client id in an executionReport. On a cancel `c` is the cancel request's
    id and `C` the order's (user-data-stream.md: "the ID of the order being canceled"); on an
    amendment (`x` REPLACED, enums.md) `c` is the order's id from now on and `C` the one before."""
    if ev.get("x") == "REPLACED":
        return str(ev.get("c") or "")
    return str(ev.get("C") or ev.get("c") or "")


def _with_client_id(order: Order, client_order_id: str) -> Order:
    from dataclasses import replace

    return replace(order, client_order_id=client_order_id)
