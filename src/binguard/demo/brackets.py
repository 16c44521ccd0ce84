"""The market maker's protective orders: a bracket (an OCO or an OTOCO list, in turn) and a
stop-loss every `every_s`, each cancelled after `keep_s` if still open.

They exercise what a real strategy needs beyond plain limits (issue 16): order lists and stop
orders placed through the connector with its no-loss guarantee, under the same chaos. Prices sit
1-2 % away from the top of the book, so they rest (a stop that the market reaches fires, as on
Binance). The lists and stops still open at the end are cancelled by `flatten()`.
"""

from __future__ import annotations

import logging
import time
from decimal import ROUND_DOWN, Decimal

from binguard.connector.client import SpotConnector
from binguard.connector.list_models import Leg
from binguard.errors import BinanceError

log = logging.getLogger("binguard.demo")

SYMBOL = "BTCUSDT"
TICK = Decimal("0.01")
QTY = Decimal("0.00100")


def _at(price: Decimal, factor: str) -> Decimal:
    return (price * Decimal(factor)).quantize(TICK, rounding=ROUND_DOWN)


def _stop_loss(bid: Decimal, stop: str, limit: str) -> Leg:
    """A STOP_LOSS_LIMIT sell below the market (`stop`, `limit`: factors of the best bid)."""
    return Leg(
        "SELL",
        "STOP_LOSS_LIMIT",
        quantity=QTY,
        stop_price=_at(bid, stop),
        price=_at(bid, limit),
        time_in_force="GTC",
    )


class Brackets:
    """Places and retires the brackets and stops; counts what it did in `counts`."""

    def __init__(self, bn: SpotConnector, *, every_s: float = 12.0, keep_s: float = 8.0) -> None:
        self.bn = bn
        self.every_s = every_s
        self.keep_s = keep_s
        self._next = 0.0  # the first ones at the first tick
        self._turn = 0
        self._lists: dict[int, float] = {}  # orderListId -> placed (monotonic)
        self._stops: dict[int, float] = {}  # orderId -> placed
        self.counts = {"lists": 0, "stops": 0, "lists_cancelled": 0, "stops_cancelled": 0}

    async def tick(self, bid: Decimal, ask: Decimal) -> None:
        """Retire what is due, then place the next bracket and stop when their time has come."""
        now = time.monotonic()
        await self._retire(now)
        if now < self._next:
            return
        self._next = now + self.every_s
        await self._bracket(bid, ask)
        leg = _stop_loss(bid, "0.99", "0.985")
        stop = await self.bn.place_order(
            SYMBOL,
            leg.side,
            leg.type,
            quantity=leg.quantity,
            stop_price=leg.stop_price,
            price=leg.price,
            time_in_force=leg.time_in_force,
        )
        self.counts["stops"] += 1
        if stop.is_open or stop.status is None:
            self._stops[stop.order_id] = time.monotonic()

    async def _bracket(self, bid: Decimal, ask: Decimal) -> None:
        self._turn += 1
        if self._turn % 2:
            placed = await self.bn.place_order_list(
                "OCO",
                SYMBOL,
                above=Leg("SELL", "LIMIT_MAKER", quantity=QTY, price=_at(ask, "1.01")),
                below=_stop_loss(bid, "0.99", "0.985"),
            )
        else:
            placed = await self.bn.place_order_list(
                "OTOCO",
                SYMBOL,
                working=Leg(
                    "BUY", "LIMIT", quantity=QTY, price=_at(bid, "0.99"), time_in_force="GTC"
                ),
                pending_above=Leg("SELL", "LIMIT_MAKER", quantity=QTY, price=_at(ask, "1.02")),
                pending_below=_stop_loss(bid, "0.98", "0.975"),
            )
        self.counts["lists"] += 1
        if placed.list_order_status != "ALL_DONE":
            self._lists[placed.order_list_id] = time.monotonic()

    async def _retire(self, now: float) -> None:
        for list_id, placed in list(self._lists.items()):
            if now - placed > self.keep_s:
                self._lists.pop(list_id)
                try:
                    await self.bn.cancel_order_list(SYMBOL, order_list_id=list_id)
                    self.counts["lists_cancelled"] += 1
                except BinanceError as err:  # done meanwhile (a leg filled): nothing to cancel
                    log.info("cancel of list %d: %s", list_id, err)
        for order_id, placed in list(self._stops.items()):
            if now - placed > self.keep_s:
                self._stops.pop(order_id)
                try:
                    await self.bn.cancel_order(SYMBOL, order_id=order_id)
                    self.counts["stops_cancelled"] += 1
                except BinanceError as err:  # fired or filled meanwhile
                    log.info("cancel of stop %d: %s", order_id, err)

    async def flatten(self) -> None:
        """Cancel every list still open (recovered ones too) and the stops kept."""
        self._lists.clear()
        try:
            for left in await self.bn.open_order_lists():
                try:
                    await self.bn.cancel_order_list(SYMBOL, order_list_id=left.order_list_id)
                except BinanceError as err:
                    log.info("final cancel of list %d: %s", left.order_list_id, err)
        except BinanceError as err:
            log.info("open order lists: %s", err)
        for order_id in list(self._stops):
            self._stops.pop(order_id)
            try:
                await self.bn.cancel_order(SYMBOL, order_id=order_id)
            except BinanceError as err:
                log.info("final cancel of stop %d: %s", order_id, err)
