"""A seeded random walk through the engine (in-process: this tests the book's bookkeeping, one
layer, no sockets): plain and iceberg orders on both sides, IOC takers, STP modes, amends,
cancels. After every step each level's total is the sum of its orders' remaining quantities,
its hidden part the sum of its icebergs' unshown quantities, and no order is in a level twice."""

from __future__ import annotations

import random

from binguard.sim.clock import ServerClock
from binguard.sim.config import STP_MODES
from binguard.sim.engine import Engine
from binguard.sim.engine.book import BookSide
from binguard.sim.errors import SimError

from .conftest import EMPTY

ATOM = 10**8


def _check(side: BookSide) -> None:
    for price, level in side.levels.items():
        assert level, price
        assert len({id(o) for o in level}) == len(level)
        assert side.totals[price] == sum(o.remaining for o in level)
        hidden = sum(o.remaining - o.shown for o in level if o.iceberg_qty is not None)
        assert side.hidden.get(price, 0) == hidden
        assert all(o.remaining > 0 and o.is_open for o in level)
    assert set(side.levels) == set(side.prices) == set(side.totals)


def test_levels_stay_consistent() -> None:
    engine = Engine(EMPTY, ServerClock())
    rng = random.Random(7)
    for _ in range(3000):
        side = rng.choice(("BUY", "SELL"))
        price = (29990 + rng.randrange(20)) * ATOM
        qty = rng.randrange(1, 40) * 10**5  # 0.001 .. 0.039
        roll = rng.random()
        try:
            if roll < 0.5:
                iceberg = rng.randrange(1, 10) * 10**5 if rng.random() < 0.4 else None
                if iceberg is not None and iceberg > qty:
                    iceberg = qty
                engine.place(
                    "demo", "BTCUSDT", side, "LIMIT", "GTC", qty, None, price,
                    self_trade_prevention=rng.choice(STP_MODES), iceberg=iceberg,
                )  # fmt: skip
            elif roll < 0.75:
                engine.place(
                    "other", "BTCUSDT", side, "LIMIT", "IOC", qty, None, price,
                    self_trade_prevention=rng.choice(STP_MODES),
                )  # fmt: skip
            elif roll < 0.9:
                opened = engine.open_orders("demo", "BTCUSDT")
                if opened:
                    o = rng.choice(opened)
                    engine.amend("demo", "BTCUSDT", o.order_id, None, None, max(1, o.orig_qty // 2))
            else:
                opened = engine.open_orders("demo", "BTCUSDT")
                if opened:
                    engine.cancel("demo", "BTCUSDT", rng.choice(opened).order_id, None)
        except SimError:
            pass  # a refusal (funds, amend limit, ...) changes nothing
        book = engine.books["BTCUSDT"]
        _check(book.bids)
        _check(book.asks)
