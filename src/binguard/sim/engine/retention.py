"""How long terminal orders stay queryable, and what an evicted one answers (-2026 ORDER_ARCHIVED).

Binance archives orders (errors.md -2026 ORDER_ARCHIVED: "Order was canceled or expired with no
executed qty over 90 days ago and has been archived."); a simulator that kept every order would
grow without end (about 0.85 KB per order). So a terminal order (FILLED, CANCELED, EXPIRED, ...)
is evicted once BOTH hold: it ended more than `horizon_s` ago, and its account has more than
`max_orders` newer terminal orders. Each account therefore keeps at least every order that ended
within the horizon and at least its last `max_orders` terminal orders; memory is bounded by the
larger of the two. Open orders are never evicted. Orders of the simulated crowd are forgotten as
soon as they end (nobody queries them).

An evicted order answers GET /api/v3/order and WebSocket API `order.status` exactly as Binance
answers for an archived one: HTTP 400, -2026 with the catalog's text, by orderId and by
origClientOrderId. The simulator evicts FILLED orders too (Binance archives only orders without
an execution); it is a bounded stand-in, not an archive. The `Archive` remembers evicted orders
compactly: one bit per order id and eight bytes (a BLAKE2b digest) per client order id, so an
unknown order still answers -2013 and an evicted one -2026.

Trades for myTrades follow the same rule per account (kept while younger than the horizon or
among the last `max_orders`).
"""

from __future__ import annotations

import hashlib
from collections import deque

from ..config import RetentionConfig
from .orders import Order


def _digest(client_order_id: str) -> bytes:
    return hashlib.blake2b(client_order_id.encode(), digest_size=8).digest()


class Archive:
    """Which orders were evicted, per (account, symbol): ids as a bitmap, client ids as digests."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], bytearray] = {}
        self._client_ids: dict[tuple[str, str], bytearray] = {}

    def add(self, order: Order) -> None:
        key = (order.account, order.symbol)
        bits = self._ids.setdefault(key, bytearray())
        byte = order.order_id >> 3
        if byte >= len(bits):
            bits.extend(bytes(byte + 1 - len(bits) + len(bits) // 2))  # amortised growth
        bits[byte] |= 1 << (order.order_id & 7)
        self._client_ids.setdefault(key, bytearray()).extend(_digest(order.client_order_id))

    def has_id(self, account: str, symbol: str, order_id: int) -> bool:
        bits = self._ids.get((account, symbol))
        byte = order_id >> 3
        return bits is not None and 0 <= byte < len(bits) and bool(bits[byte] >> (order_id & 7) & 1)

    def has_client_id(self, account: str, symbol: str, client_order_id: str) -> bool:
        """A linear scan in C over 8-byte digests: only a query that found nothing pays it."""
        digests = self._client_ids.get((account, symbol))
        if not digests:
            return False
        digest = _digest(client_order_id)
        at = digests.find(digest)
        while at != -1 and at % 8:
            at = digests.find(digest, at + 1)
        return at != -1


class Retention:
    """Terminal orders per account in the order they ended; evicts by the module's rule."""

    def __init__(self, config: RetentionConfig, internal: str) -> None:
        self.config = config
        self.horizon_ms = config.horizon_s * 1000.0
        self.internal = internal
        self.archive = Archive()
        self.ended: dict[str, deque[tuple[int, Order]]] = {}
        self.evicted = 0

    @property
    def retained(self) -> int:
        """Terminal orders still queryable, all accounts together."""
        return sum(len(q) for q in self.ended.values())

    def retire(self, order: Order, now: int) -> list[Order]:
        """Note that `order` ended at `now`; return the orders to evict now (oldest first)."""
        if order.account == self.internal:
            return [order]
        queue = self.ended.setdefault(order.account, deque())
        queue.append((now, order))
        return self._evict(queue, now)

    def prune(self, now: int) -> list[Order]:
        """Orders whose horizon passed since the last retire (a query runs this first)."""
        out: list[Order] = []
        for queue in self.ended.values():
            out.extend(self._evict(queue, now))
        return out

    def _evict(self, queue: deque[tuple[int, Order]], now: int) -> list[Order]:
        out: list[Order] = []
        limit, oldest = self.config.max_orders, now - self.horizon_ms
        while len(queue) > limit and queue[0][0] < oldest:
            _ended, order = queue.popleft()
            self.archive.add(order)
            out.append(order)
        self.evicted += len(out)
        return out
