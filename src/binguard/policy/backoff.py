"""Capped exponential backoff with full jitter.

Attempt n (0-based) waits a uniform random time in [0, min(cap, base * factor**n)]: the ceiling
grows exponentially up to `cap`, and full jitter spreads clients that failed together so they do
not retry together (the "thundering herd" after an outage). Randomness is injected, so tests pin it.
"""

from __future__ import annotations

import random as _random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Backoff:
    """Immutable backoff settings; `delay(n)` is pure given `random`, `delays()` iterates."""

    base: float = 0.1
    cap: float = 10.0
    factor: float = 2.0
    random: Callable[[], float] = field(default=_random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (self.base > 0 and self.cap >= self.base and self.factor >= 1):
            raise ValueError("need base > 0, cap >= base and factor >= 1")

    def ceiling(self, attempt: int) -> float:
        """The largest delay attempt `attempt` (0-based) may wait."""
        if attempt < 0:
            raise ValueError("attempt is 0-based and never negative")
        if self.factor == 1:
            return self.base
        ceiling = self.base
        for _ in range(attempt):  # multiply step by step: no overflow for huge attempts
            ceiling *= self.factor
            if ceiling >= self.cap:
                return self.cap
        return min(ceiling, self.cap)

    def delay(self, attempt: int) -> float:
        return self.random() * self.ceiling(attempt)

    def delays(self) -> Iterator[float]:
        """Endless delays for attempts 0, 1, 2, ...; the caller's deadline ends the loop."""
        attempt = 0
        while True:
            yield self.delay(attempt)
            attempt += 1
