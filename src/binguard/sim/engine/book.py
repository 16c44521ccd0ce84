"""One side of an order book: price levels in a sorted list, FIFO queues per level.

Iceberg orders (`icebergQty`): only the current slice shows (depth, tickers, diffs); `hidden`
holds, per level, the rest of their quantity, which still trades (FOK and MARKET count it).
When a slice is used up, the next one shows at the back of the level's queue (book.refill)."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator

from .orders import Order


class BookSide:
    """Bids (best = highest) or asks (best = lowest), with per-level total quantity."""

    __slots__ = ("hidden", "is_bid", "levels", "prices", "totals")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.prices: list[int] = []  # ascending
        self.levels: dict[int, deque[Order]] = {}
        self.totals: dict[int, int] = {}
        self.hidden: dict[int, int] = {}

    def shown(self, price: int) -> int:
        """The quantity a level displays (icebergs' hidden parts left out)."""
        return self.totals.get(price, 0) - self.hidden.get(price, 0)

    def _hide(self, order: Order, sign: int) -> None:
        if order.iceberg_qty is not None:
            part = order.remaining - order.shown
            if part:
                self.hidden[order.price] = self.hidden.get(order.price, 0) + sign * part

    def best(self) -> int | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.is_bid else self.prices[0]

    def best_first(self) -> Iterator[int]:
        """Prices from best to worst; the book must not change during the iteration."""
        return reversed(self.prices) if self.is_bid else iter(self.prices)

    def add(self, order: Order) -> None:
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = deque()
            self.totals[order.price] = 0
            insort(self.prices, order.price)
        level.append(order)
        self.totals[order.price] += order.remaining
        if order.iceberg_qty is not None:
            order.shown = min(order.iceberg_qty, order.remaining)
            self._hide(order, 1)

    def remove(self, order: Order) -> None:
        level = self.levels[order.price]
        level.remove(order)
        self.totals[order.price] -= order.remaining
        self._hide(order, -1)
        if not level:
            self.drop(order.price)

    def drop(self, price: int) -> None:
        """Remove an emptied level."""
        del self.levels[price]
        del self.totals[price]
        self.hidden.pop(price, None)
        i = bisect_left(self.prices, price)
        del self.prices[i]

    def depth(self, limit: int) -> list[tuple[int, int]]:
        """(price, total qty) of the best `limit` levels."""
        prices = self.prices[-limit:][::-1] if self.is_bid else self.prices[:limit]
        return [(p, self.shown(p)) for p in prices]

    def cut(self, order: Order, qty: int, traded: bool) -> None:
        """`qty` of a resting order's remaining quantity is gone (traded, prevented, amended;
        the caller already lowered `order.remaining`). A traded iceberg slice that is used up
        shows the next slice at the back of the level's queue."""
        self.totals[order.price] -= qty
        if order.iceberg_qty is None:
            return
        price, left = order.price, order.remaining
        hidden_before = left + qty - order.shown
        shown = max(0, order.shown - qty) if traded else min(order.shown, left)
        if shown == 0 and left > 0:
            shown = min(order.iceberg_qty, left)
            level = self.levels[price]
            level.remove(order)
            level.append(order)
        order.shown = shown
        self.hidden[price] = self.hidden.get(price, 0) - hidden_before + (left - shown)

    def fillable(self, limit_price: int | None, wanted: int) -> int:
        """How much of `wanted` could trade now at `limit_price` or better (FOK check)."""
        got = 0
        for p in self.best_first():
            if limit_price is not None and (p < limit_price if self.is_bid else p > limit_price):
                break
            got += self.totals[p]
            if got >= wanted:
                return wanted
        return got


class Book:
    """A symbol's book plus the update id that depth snapshots and diffs share."""

    __slots__ = ("asks", "bids", "symbol", "update_id")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)
        self.update_id = 1

    def top(self) -> tuple[int, int, int, int]:
        """Best bid price and quantity, best ask price and quantity (0 for an empty side), as
        bookTicker shows them."""
        bid, ask = self.bids.best(), self.asks.best()
        bid_qty = self.bids.shown(bid) if bid is not None else 0
        ask_qty = self.asks.shown(ask) if ask is not None else 0
        return bid or 0, bid_qty, ask or 0, ask_qty
