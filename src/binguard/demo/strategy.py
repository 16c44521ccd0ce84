"""A small market maker: quote around the book, keep a few orders open, edit and then cancel
stale ones, and keep protective orders (brackets.py: an OCO or OTOCO and a stop-loss in turn).

A stale quote is first amended (half its quantity, keeping its place in the book), the next time
cancel-replaced to a fresh price, then cancelled: every edit the connector offers, each with its
no-loss guarantee, under the demo's chaos.

It is the application on top of the connector, so it decides what to do with typed errors: wait
out a ban (the connector fails fast with its end), skip a tick on a rejected order, and count
anything that is not a BinanceError as unhandled — the demo's verdict requires none.

It stops when its time is up: a call still running then (an order being reconciled while the
weight budget is spent can take most of a minute) gets a short grace and is cancelled; its order
stays in the connector's journal, and `recover()` settles it. `adopt()` takes back the orders
recover() found open, so `flatten()` cancels them too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from binguard.connector.book import BookNotReadyError, OrderBook
from binguard.connector.client import SpotConnector
from binguard.connector.models import Order
from binguard.errors import BinanceError, IpBannedError, RateLimitedError

from .brackets import QTY, SYMBOL, TICK, Brackets

log = logging.getLogger("binguard.demo")

__all__ = ["QTY", "SYMBOL", "TICK", "MarketMaker", "StrategyState"]


@dataclass
class StrategyState:
    open: dict[str, tuple[Order, float]] = field(default_factory=dict)  # coid -> (order, placed)
    placed: int = 0
    cancelled: int = 0
    filled: int = 0
    rejected: int = 0
    unhandled: int = 0
    ban_waits: int = 0
    budget_waits: int = 0
    banned_until: datetime | None = None
    book_reads: int = 0  # ticks quoted from the local book
    book_waits: int = 0  # ticks the book was resyncing (quoted from REST instead)
    cut_short: int = 0  # steps still running when time was up, cancelled after the grace
    amended: int = 0  # stale quotes amended (keepPriority)
    replaced: int = 0  # stale quotes cancel-replaced


class MarketMaker:
    def __init__(
        self,
        bn: SpotConnector,
        *,
        max_per_side: int = 2,
        stale_after: float = 3.0,
        book: OrderBook | None = None,
    ):
        self.bn = bn
        self.book = book
        self.state = StrategyState()
        self.max_per_side = max_per_side
        self.stale_after = stale_after
        self._tick = 0
        self._end = float("inf")
        self.brackets = Brackets(bn)
        self._edits: dict[int, int] = {}  # orderId -> edits made to it (amend, then replace)

    def _left(self) -> float:
        return max(0.0, self._end - time.monotonic())

    async def run(self, seconds: float, interval: float = 0.2, grace: float = 1.0) -> None:
        """Trade for `seconds`; a step still running then gets `grace` seconds, then is cut."""
        self._end = time.monotonic() + seconds
        while self._left() > 0:
            step = asyncio.ensure_future(self.step())
            done, _ = await asyncio.wait({step}, timeout=self._left() + grace)
            if not done:
                step.cancel()
                await asyncio.wait({step})  # (its CancelledError stays in the task)
                self.state.cut_short += 1
                return
            await asyncio.sleep(min(interval, self._left()))

    async def step(self) -> None:
        self._tick += 1
        try:
            await self._quote()
        except IpBannedError as ban:
            await self._wait_out(ban)
        except RateLimitedError as limited:
            # The budget refused: the window has no room before our deadline. Wait as told.
            self.state.budget_waits += 1
            await asyncio.sleep(min(limited.retry_after or 1.0, 5.0, self._left()))
        except BinanceError as err:
            self.state.rejected += 1
            log.info("tick %d: %s", self._tick, err)
        except Exception:
            self.state.unhandled += 1
            log.exception("unhandled exception in the strategy")

    async def _wait_out(self, ban: IpBannedError) -> None:
        """Nothing may be sent until the ban ends: wait for it (the connector would refuse)."""
        self.state.ban_waits += 1
        until = ban.banned_until
        self.state.banned_until = until
        delay = (until - datetime.now(tz=UTC)).total_seconds() if until else 1.0
        await asyncio.sleep(min(max(0.0, delay) + 0.05, self._left()))
        self.state.banned_until = None

    async def _quote(self) -> None:
        bid_price, ask_price = await self._top()
        if self._tick % 10 == 0:
            await self._refresh()
        await self.brackets.tick(bid_price, ask_price)
        now = time.monotonic()
        for coid, (order, placed) in list(self.state.open.items()):
            if now - placed > self.stale_after:
                await self._retire(coid, order, bid_price, ask_price)
        sides = [o.side for o, _ in self.state.open.values()]
        for side, price in (
            ("BUY", bid_price - 5 * TICK),
            ("SELL", ask_price + 5 * TICK),
        ):
            if sides.count(side) < self.max_per_side:
                order = await self.bn.place_order(
                    SYMBOL, side, "LIMIT", quantity=QTY, price=price, time_in_force="GTC"
                )
                self.state.placed += 1
                if order.is_open:
                    self.state.open[order.client_order_id] = (order, time.monotonic())
                else:
                    self.state.filled += order.status == "FILLED"

    async def _retire(self, coid: str, order: Order, bid: Decimal, ask: Decimal) -> None:
        """A stale quote: amended the first time, cancel-replaced the second, then cancelled.
        An edit the exchange refuses (the order filled or went meanwhile) drops it from the
        quotes; the next openOrders refresh counts what filled."""
        try:
            await self._edit(coid, order, bid, ask)
        except (IpBannedError, RateLimitedError):
            raise  # waited out by step()
        except BinanceError as err:
            self.state.open.pop(coid, None)
            log.info("stale quote %s left the book: %s", coid, err)

    async def _edit(self, coid: str, order: Order, bid: Decimal, ask: Decimal) -> None:
        done = self._edits.get(order.order_id, 0)
        if done == 0:
            amendment, _ = await self.bn.amend(SYMBOL, order_id=order.order_id, new_qty=QTY / 2)
            self.state.open.pop(coid, None)
            self.state.open[amendment.new_client_order_id] = (order, time.monotonic())
            self._edits[order.order_id] = 1
            self.state.amended += 1
            return
        if done == 1:
            price = bid - 5 * TICK if order.side == "BUY" else ask + 5 * TICK
            result = await self.bn.cancel_replace(
                SYMBOL,
                order.side,
                "LIMIT",
                cancel_order_id=order.order_id,
                quantity=QTY / 2,
                price=price,
                time_in_force="GTC",
            )
            self.state.open.pop(coid, None)
            self.state.replaced += 1
            new = result.new_order
            if new is not None and (new.is_open or new.status is None):
                self.state.open[new.client_order_id] = (new, time.monotonic())
                self._edits[new.order_id] = 2  # a replacement is cancelled when stale
            return
        cancelled = await self.bn.cancel_order(SYMBOL, order_id=order.order_id)
        self.state.open.pop(coid, None)
        self.state.cancelled += cancelled.status == "CANCELED"
        self.state.filled += cancelled.status == "FILLED"

    async def _top(self) -> tuple[Decimal, Decimal]:
        """Best bid and ask: from the local book (WebSocket diffs, no weight) when it is
        consistent; while it resyncs, polled over REST like a bot without streams (depth weight
        5 + bookTicker 2 per tick: this is what reaches the demo's weight limit, and the
        connector's budget then holds the bot just under it)."""
        if self.book is not None:
            try:
                bid, ask = self.book.best()
            except BookNotReadyError:
                self.state.book_waits += 1
            else:
                if bid is not None and ask is not None:
                    self.state.book_reads += 1
                    return bid[0], ask[0]
        await self.bn.depth(SYMBOL, limit=20)
        ticker = await self.bn.book_ticker(SYMBOL)
        return ticker.bid_price, ticker.ask_price

    async def _refresh(self) -> None:
        """Orders filled by the market leave the open set (one openOrders call, weight 6)."""
        live = {o.client_order_id for o in await self.bn.open_orders(SYMBOL)}
        for coid in list(self.state.open):
            if coid not in live:
                self.state.open.pop(coid)
                self.state.filled += 1

    def adopt(self, orders: Iterable[Order | None]) -> None:
        """Track the open ones among `orders` (recover()'s answer), so flatten() cancels them."""
        for order in orders:
            if order is not None and order.is_open:
                self.state.open[order.client_order_id] = (order, time.monotonic())

    async def flatten(self) -> None:
        """Cancel what is still open at the end: quotes, then lists and stops."""
        await self.brackets.flatten()
        for coid, (order, _) in list(self.state.open.items()):
            try:
                await self.bn.cancel_order(SYMBOL, order_id=order.order_id)
            except BinanceError as err:
                log.info("final cancel of %s: %s", coid, err)
            self.state.open.pop(coid, None)
