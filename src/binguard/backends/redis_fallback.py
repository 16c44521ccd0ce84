"""The local share: what one process may admit on its own while Redis cannot be reached.

With `share` <= 1/N for a fleet of N processes, the processes together stay within every limit
even though none of them can see the others. The share of a window is cut further by what the
fleet had already used in it when Redis went away (`seed`): a process that last saw U of L units
used keeps share * (L - U) for the rest of that window, so losing Redis mid-window is no licence to
start the window over.

Counts are kept in a `MemoryStore` under limits scaled by the share (same `Limit.key`, so held
reservations settle in either store). Header counts are whole-IP / whole-account figures and are
scaled the same way before they are applied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from .base import BlockKind, Granted, Held, Limit, Refused, Usage
from .memory import MemoryStore


@dataclass(slots=True)
class _Seen:
    """Fleet usage of one limit's window as last read from Redis."""

    limit: Limit
    window: int
    used: int


@dataclass(slots=True)
class LocalShare:
    """A `MemoryStore` over `share` of every limit, seeded from the last counts seen in Redis."""

    share: float
    store: MemoryStore = field(default_factory=MemoryStore)
    # (limit key, window) -> the scaled units the window started with (from `seed`)
    seeded: dict[tuple[str, int], int] = field(default_factory=dict)
    # limit key -> (original, scaled) for every limit charged or seeded locally
    limits: dict[str, tuple[Limit, Limit]] = field(default_factory=dict)
    # Server ms at which Redis was lost: that window is closed to this share (see try_reserve).
    fell_at_ms: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.share <= 1:
            raise ValueError("fallback share must be in (0, 1]")

    def scaled(self, limit: Limit) -> Limit:
        """`limit` cut to this process's share (at least 1 unit, so a lone process can work)."""
        pair = self.limits.get(limit.key)
        if pair is None or pair[0] != limit:
            pair = (limit, Limit(limit.kind, limit.interval, max(1, int(limit.limit * self.share))))
            self.limits[limit.key] = pair
        return pair[1]

    def is_local(self, held: Held) -> bool:
        """Was `held` granted by this share (its limit is a scaled one)?"""
        pair = self.limits.get(held.limit.key)
        return pair is not None and pair[1] == held.limit

    def _units(self, count: int) -> int:
        return math.ceil(count * self.share)

    async def seed(self, seen: Sequence[tuple[Limit, int, int]]) -> None:
        """Start from the fleet counts (limit, window start, used) last seen in Redis.

        Each is applied at its own window start, so no clock is needed: a window that has
        passed is simply replaced by the next one the memory store is asked about.
        """
        for limit, window, used in seen:
            if used <= 0:
                continue
            units = self._units(used)
            await self.store.observe(window, window, [(self.scaled(limit), units)])
            self.seeded[(limit.key, window)] = units

    async def absorb(self, now_ms: int, charges: Sequence[tuple[Limit, int]]) -> None:
        """Count a grant Redis made after this share took over (a reply that crossed the fall)."""
        scaled = [self.scaled(x) for x, _ in charges]
        snap = await self.store.snapshot(now_ms, scaled)
        counts = [
            (x, u.used - (u.in_flight if x.can_decrease else 0) + self._units(n))
            for x, u, (_, n) in zip(scaled, snap.usage, charges, strict=True)
        ]
        await self.store.observe(now_ms, now_ms, counts)

    async def try_reserve(
        self, now_ms: int, charges: Sequence[tuple[Limit, int]]
    ) -> Granted | Refused:
        blocked = await self.store.blocked(now_ms)
        if blocked is not None:  # a known ban or pause outranks everything
            return blocked
        if self.fell_at_ms is not None:
            # The window Redis was lost in is taken as spent: after this process's last reply the
            # fleet may have used all of it, and nothing here can know. Admitting from the seed
            # ran a window over by a unit or two; waiting for the next window cannot.
            for limit, _ in charges:
                if limit.window(now_ms) == limit.window(self.fell_at_ms):
                    return Refused(BlockKind.LIMIT, limit.window(now_ms) + limit.interval_ms, limit)
        outcome = await self.store.try_reserve(
            now_ms, [(self.scaled(x), amount) for x, amount in charges]
        )
        if isinstance(outcome, Refused) and outcome.limit is not None:
            original = self.limits[outcome.limit.key][0]
            return Refused(outcome.kind, outcome.until_ms, original)
        return outcome

    async def settle(self, held: Sequence[Held], refunds: Sequence[int]) -> None:
        """Refunds only for what this share granted; others were counted by the seed, if at all."""
        fixed = [r if self.is_local(h) else 0 for h, r in zip(held, refunds, strict=True)]
        await self.store.settle(held, fixed)

    async def observe(self, sent_ms: int, now_ms: int, counts: Sequence[tuple[Limit, int]]) -> None:
        scaled = [(self.scaled(x), self._units(n)) for x, n in counts]
        await self.store.observe(sent_ms, now_ms, scaled)

    async def own_usage(self, now_ms: int) -> list[tuple[Limit, Usage, int]]:
        """(original limit, current-window usage, seeded units) for every limit used locally."""
        originals = [pair[0] for pair in self.limits.values()]
        scaled = [pair[1] for pair in self.limits.values()]
        snap = await self.store.snapshot(now_ms, scaled)
        return [
            (original, u, self.seeded.get((u.limit.key, u.window), 0))
            for original, u in zip(originals, snap.usage, strict=True)
        ]
