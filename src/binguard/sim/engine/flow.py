"""The crowd: seeded liquidity and a deterministic flow of other traders' orders.

Without other traders a client's passive order would never fill. `Crowd.seed_books()` lays a
ladder of bids and asks around each symbol's initial price; each `step()` then does one random
thing per symbol (add a quote near the touch, take liquidity with a small market order, or cancel
its oldest quote), drawing every choice from `random.Random(seed)`. Same seed and same client
requests give the same trades.
"""

from __future__ import annotations

import random

from ..config import FlowConfig
from ..errors import SimError
from ..numbers import SCALE, to_atoms
from .core import INTERNAL_ACCOUNT, Engine


class Crowd:
    """Other traders, trading through the same engine under one unlimited internal account."""

    def __init__(self, engine: Engine, config: FlowConfig, seed: int) -> None:
        self.engine = engine
        self.config = config
        self.rng = random.Random(seed)
        self.level_qty = to_atoms(config.level_qty)
        self.steps = 0

    def _qty(self, symbol: str, price: int, scale: float) -> int:
        rules = self.engine.rules[symbol]
        qty = int(self.level_qty * scale)
        # every crowd order passes the symbol's filters: enough notional, on the step grid
        min_for_notional = rules.min_notional * SCALE // max(price, 1) + rules.step
        qty = max(qty, rules.min_qty, min_for_notional)
        return min(rules.round_qty(qty), rules.max_qty)

    def _mid(self, symbol: str) -> int:
        book = self.engine.books[symbol]
        bid, _, ask, _ = book.top()
        if bid and ask:
            return (bid + ask) // 2
        return self.engine.last_price[symbol]

    def _quote(self, symbol: str, is_bid: bool, ticks_away: int) -> None:
        rules = self.engine.rules[symbol]
        mid = self._mid(symbol)
        offset = ticks_away * rules.tick
        price = mid - offset if is_bid else mid + offset
        price = max(rules.min_price, price - (price - rules.min_price) % rules.tick)
        qty = self._qty(symbol, price, 0.5 + self.rng.random())
        self._place(symbol, "BUY" if is_bid else "SELL", "LIMIT", qty, price)

    def _place(self, symbol: str, side: str, order_type: str, qty: int, price: int | None) -> None:
        try:
            self.engine.place(
                INTERNAL_ACCOUNT,
                symbol,
                side,
                order_type,
                "GTC",
                qty,
                None,
                price,
            )
        except SimError:
            # a crowd order that breaks a filter (extreme prices) is simply not sent
            return

    def seed_books(self) -> None:
        """Lay the initial ladder on every symbol."""
        c = self.config
        for symbol in self.engine.books:
            for level in range(c.levels):
                ticks = c.spread_ticks + level * c.level_gap_ticks
                self._quote(symbol, True, ticks)
                self._quote(symbol, False, ticks)

    def step(self) -> None:
        """One round of the crowd on every symbol (in a fixed order, for determinism)."""
        self.steps += 1
        c = self.config
        for symbol in self.engine.books:
            roll = self.rng.random()
            is_bid = self.rng.random() < 0.5
            if roll < 0.45:
                ticks = self.rng.randint(1, c.spread_ticks + c.levels * c.level_gap_ticks // 4)
                self._quote(symbol, is_bid, ticks)
            elif roll < 0.8:
                price = self.engine.last_price[symbol]
                qty = self._qty(symbol, price, 0.2 + self.rng.random() * 0.6)
                self._place(symbol, "BUY" if is_bid else "SELL", "MARKET", qty, None)
            else:
                self._cancel_oldest(symbol)
            self._trim(symbol)

    def _cancel_oldest(self, symbol: str) -> None:
        orders = self.engine.open.get((INTERNAL_ACCOUNT, symbol))
        if orders:
            oldest = min(orders)
            self.engine.cancel(INTERNAL_ACCOUNT, symbol, oldest, None)

    def _trim(self, symbol: str) -> None:
        """Keep the crowd's book bounded (about four times the seeded depth)."""
        orders = self.engine.open.get((INTERNAL_ACCOUNT, symbol))
        while orders and len(orders) > self.config.levels * 4:
            self._cancel_oldest(symbol)
            orders = self.engine.open.get((INTERNAL_ACCOUNT, symbol))
