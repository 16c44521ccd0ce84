"""The local share: what one process may admit on its own while Redis cannot be reached.

With `share` <= 1/N for a fleet of N processes, the processes together stay within every limit
even though none of them can see the others. A process keeps trading in the *current* window of
every limit: it starts from the fleet's count Redis last told it (`seed`), so of L units with U
used it keeps share * (L - U) for the rest of the window, and a count from a response header
(X-MBX-USED-WEIGHT-*, X-MBX-ORDER-COUNT-*, whole-IP / whole-account figures, fed in by the budget
through `observe`) raises what it takes as used, scaled the same way. A header is Binance's own
count of everything the fleet (and any other program on the IP) did, so it corrects a seed that was
stale. A window that starts during the outage begins at share * L.

Counts are kept in a `MemoryStore` under limits scaled by the share (same `Limit.key`, so held
reservations settle in either store). What this process admitted on its own (`own`) and the
header counts it heard are kept apart from the scaled counts, for the merge back into Redis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from .base import Granted, Held, Limit, Refused, StoreConfigError, Usage
from .memory import MemoryStore


def check_share(share: object) -> None:
    """Raise `StoreConfigError` unless `share` is a number in (0, 1]."""
    if (
        isinstance(share, bool)
        or not isinstance(share, int | float)
        or not 0 < share <= 1  # also false for NaN
    ):
        raise StoreConfigError(
            f"fallback_share must be a number in (0, 1] (at most 1/N for a fleet of N processes), "
            f"got {share!r}"
        )


@dataclass(slots=True)
class LocalShare:
    """A `MemoryStore` over `share` of every limit, seeded from the last counts seen in Redis."""

    share: float
    store: MemoryStore = field(default_factory=MemoryStore)
    # limit key -> (original, scaled) for every limit charged or seeded locally
    limits: dict[str, tuple[Limit, Limit]] = field(default_factory=dict)
    # True while this share admits alone (Redis away); False while it only caps after a return.
    lone: bool = False
    # (limit key, window) -> units this process admitted alone (net of refunds): merged on return
    own: dict[tuple[str, int], int] = field(default_factory=dict)
    # (limit key, window) -> the latest whole-fleet count from a header (weight: the highest)
    heard: dict[tuple[str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_share(self.share)

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

    async def seed(self, seen: Sequence[tuple[Limit, int, int]], fell_at_ms: int | None) -> None:
        """Start from the fleet counts (limit, window start, used) last seen in Redis.

        A count from an earlier window than the one Redis was lost in (`fell_at_ms`, server ms)
        is carried into that window: this process saw nothing of it, and the fleet's use of one
        window is the best guess for the next (a fleet that filled every 1 s window within its
        first milliseconds had filled this one too). Windows that start later begin empty.
        """
        for limit, window, used in seen:
            if used <= 0:
                continue
            if fell_at_ms is not None and window < limit.window(fell_at_ms):
                window = limit.window(fell_at_ms)
            await self.store.observe(window, window, [(self.scaled(limit), self._units(used))])

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
        # A known ban or pause outranks everything (the memory store checks it first).
        outcome = await self.store.try_reserve(
            now_ms, [(self.scaled(x), amount) for x, amount in charges]
        )
        if isinstance(outcome, Refused):
            if outcome.limit is not None:
                original = self.limits[outcome.limit.key][0]
                return Refused(outcome.kind, outcome.until_ms, original)
            return outcome
        if self.lone:
            for h in outcome.held:
                slot = (h.limit.key, h.window)
                self.own[slot] = self.own.get(slot, 0) + h.amount
        return outcome

    async def settle(self, held: Sequence[Held], refunds: Sequence[int]) -> None:
        """Refunds only for what this share granted; others were counted by the seed, if at all."""
        fixed = [r if self.is_local(h) else 0 for h, r in zip(held, refunds, strict=True)]
        await self.store.settle(held, fixed)
        for h, refund in zip(held, fixed, strict=True):
            slot = (h.limit.key, h.window)
            if refund and slot in self.own:
                self.own[slot] = max(0, self.own[slot] - refund)

    async def observe(self, sent_ms: int, now_ms: int, counts: Sequence[tuple[Limit, int]]) -> None:
        """Header counts (whole IP / account), applied scaled; remembered whole for the merge."""
        for x, n in counts:
            if x.window(sent_ms) == x.window(now_ms):
                slot = (x.key, x.window(now_ms))
                self.heard[slot] = n if x.can_decrease else max(n, self.heard.get(slot, 0))
        scaled = [(self.scaled(x), self._units(n)) for x, n in counts]
        await self.store.observe(sent_ms, now_ms, scaled)

    async def own_usage(self, now_ms: int) -> list[tuple[Limit, Usage, int, int]]:
        """(original limit, current-window usage, units admitted alone, header count) for every
        limit used locally; the usage's `in_flight` counts this share's unsettled grants."""
        originals = [pair[0] for pair in self.limits.values()]
        scaled = [pair[1] for pair in self.limits.values()]
        snap = await self.store.snapshot(now_ms, scaled)
        return [
            (
                original,
                u,
                self.own.get((u.limit.key, u.window), 0),
                self.heard.get((u.limit.key, u.window), 0),
            )
            for original, u in zip(originals, snap.usage, strict=True)
        ]

    def merged(self) -> None:
        """What was admitted alone is in Redis now: from here on this share only caps."""
        self.lone = False
        self.own.clear()
        self.heard.clear()
