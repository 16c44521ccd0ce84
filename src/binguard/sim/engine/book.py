"""One side of an order book: price levels in a sorted list, FIFO queues per level."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterator

from .orders import Order


class BookSide:
    """Bids (best = highest) or asks (best = lowest), with per-level total quantity."""

    __slots__ = ("is_bid", "levels", "prices", "totals")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.prices: list[int] = []  # ascending
        self.levels: dict[int, deque[Order]] = {}
        self.totals: dict[int, int] = {}

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

    def remove(self, order: Order) -> None:
        level = self.levels[order.price]
        level.remove(order)
        self.totals[order.price] -= order.remaining
        if not level:
            self.drop(order.price)

    def drop(self, price: int) -> None:
        """Remove an emptied level."""
        del self.levels[price]
        del self.totals[price]
        i = bisect_left(self.prices, price)
        del self.prices[i]

    def depth(self, limit: int) -> list[tuple[int, int]]:
        """(price, total qty) of the best `limit` levels."""
        prices = self.prices[-limit:][::-1] if self.is_bid else self.prices[:limit]
        return [(p, self.totals[p]) for p in prices]

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
        bid_qty = self.bids.totals[bid] if bid is not None else 0
        ask_qty = self.asks.totals[ask] if ask is not None else 0
        return bid or 0, bid_qty, ask or 0, ask_qty
