"""The simulator's whole state in one object: the handle tests use as ground truth."""

from __future__ import annotations

from collections import deque
from typing import Any

from .auth import KeyRing
from .bugs import BugLog
from .clock import ServerClock
from .config import SimConfig
from .engine import Engine, Listener
from .engine.flow import Crowd
from .faults import FaultInjector, FaultPlan
from .limits import RateLimiter
from .market import MarketData


class SimState:
    """Clock, engine, crowd, limits, faults, keys and the request log of one simulator."""

    def __init__(self, config: SimConfig, plan: FaultPlan | None = None) -> None:
        self.config = config
        self.keys = KeyRing(config.accounts)
        self.faults = FaultInjector(plan, config.log_size)
        self.requests: deque[dict[str, Any]] = deque(maxlen=config.log_size)
        self.clock = ServerClock(config.clock_offset_ms, config.clock_drift_ms_per_s)
        self.latency_ms = config.latency_ms
        self.listeners: list[Listener] = []
        # Unexpected exceptions caught by the HTTP and WebSocket guards (tests assert none).
        self.bugs = BugLog()
        self.reset()

    def subscribe(self, listener: Listener) -> None:
        """Receive every engine event (trades, depth diffs, user data), across resets."""
        self.listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def reset(self) -> None:
        """Back to the configured start: fresh books, balances, limits and logs (clock kept)."""
        self.engine = Engine(self.config, self.clock)
        self.engine.listeners = self.listeners  # shared, so subscribers survive a reset
        self.limits = RateLimiter(self.config.limits)
        self.engine.first_fill_hooks.append(self._on_first_fill)
        c = self.config
        self.market = MarketData(c.market, c.symbols, c.seed, self.clock, self.engine)
        self.engine.average_price = self._average_price
        self.crowd = Crowd(self.engine, self.config.flow, self.config.seed)
        if self.config.flow.enabled:
            self.crowd.seed_books()
        self.requests.clear()
        self.faults.log.clear()

    def _average_price(self, symbol: str) -> int:
        return self.market.avg_price(symbol, self.clock.now_ms())[0]

    def _on_first_fill(self, account: str) -> None:
        self.limits.order_filled(account, self.clock.now_ms())
