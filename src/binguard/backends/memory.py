"""The in-process budget store: the default, and the model the Redis store must match.

One event loop, no awaits inside a method: each call is atomic by construction. Counters are keyed
by `Limit.key` (kind and interval), so a new limit value from exchangeInfo keeps the counts. Only
the current window of each limit is kept; an older one is forgotten when a newer one is touched.

Being in-process, it also offers the hot steps as plain synchronous methods (`reserve`,
`settle_observe`): the budget calls them directly when its store is exactly a `MemoryStore`, which
saves a coroutine per step and a `Granted` per request. The async `BudgetStore` methods are thin
wrappers over them, so both paths run the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .base import BlockKind, Granted, Held, Limit, LimitKind, Refused, Snapshot, Usage


@dataclass(slots=True)
class _Window:
    start: int
    used: int = 0
    in_flight: int = 0
    held: dict[int, Held] = field(default_factory=dict)  # by amount: one immutable Held each


class MemoryStore:
    """Budget counters for the processes of one event loop (not shared between processes)."""

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}
        self._until: dict[BlockKind, int] = {}
        self._limits: tuple[Limit, ...] = ()

    def _window(self, limit: Limit, now_ms: int) -> _Window:
        start = limit.window(now_ms)
        w = self._windows.get(limit.key)
        if w is None or w.start < start:
            w = self._windows[limit.key] = _Window(start)
        return w

    def _current(self, limit: Limit, start: int) -> _Window | None:
        """The counters of window `start` if it is still the one kept, else None (it has passed)."""
        w = self._windows.get(limit.key)
        return w if w is not None and w.start == start else None

    async def try_reserve(
        self, now_ms: int, charges: Sequence[tuple[Limit, int]]
    ) -> Granted | Refused:
        held = self.reserve(now_ms, charges)
        return held if isinstance(held, Refused) else Granted(held)

    def reserve(
        self, now_ms: int, charges: Sequence[tuple[Limit, int]]
    ) -> tuple[Held, ...] | Refused:
        """`try_reserve`, synchronous: the held reservations (what `Granted.held` would be), or
        the refusal.

        One pass that checks as it goes: a grant here is one the two-pass `_reserve_checked` makes
        too (amounts are positive, so each check saw at least the count it would have seen); a
        refusal (rare) undoes what was charged and leaves the decision to `_reserve_checked`."""
        if self._until:
            refused = self._blocked(now_ms)
            if refused is not None:
                return refused
        kept = self._windows
        held: list[Held] = []
        for limit, amount in charges:  # _window(), inlined: this runs for every request
            start = now_ms - now_ms % limit.interval_ms
            w = kept.get(limit.key)
            if w is None or w.start < start:
                w = kept[limit.key] = _Window(start)
            used = w.used + amount
            if used > limit.limit:
                for done in held:  # undo: nothing is reserved unless everything is
                    back = kept[done.limit.key]
                    back.used -= done.amount
                    back.in_flight -= done.amount
                return self._reserve_checked(now_ms, charges)
            w.used = used
            w.in_flight += amount
            h = w.held.get(amount)
            if h is None or h.limit is not limit:
                h = w.held[amount] = Held(limit, w.start, amount)
            held.append(h)
        return tuple(held)

    def _reserve_checked(
        self, now_ms: int, charges: Sequence[tuple[Limit, int]]
    ) -> tuple[Held, ...] | Refused:
        """Check every limit first, then charge them all (or refuse, charging none)."""
        windows = []
        full: tuple[int, Limit] | None = None  # the full window that resets last
        for limit, amount in charges:
            w = self._window(limit, now_ms)
            windows.append((limit, w, amount))
            if w.used + amount > limit.limit:
                until = w.start + limit.interval_ms
                if full is None or until > full[0]:
                    full = (until, limit)
        if full is not None:  # wait for the last of the full windows to reset (web-socket-api.md)
            return Refused(BlockKind.LIMIT, full[0], full[1])
        held = []
        for limit, w, amount in windows:
            w.used += amount
            w.in_flight += amount
            h = w.held.get(amount)
            if h is None or h.limit is not limit:
                h = w.held[amount] = Held(limit, w.start, amount)
            held.append(h)
        return tuple(held)

    async def settle(self, held: Sequence[Held], refunds: Sequence[int]) -> None:
        kept = self._windows
        for h, refund in zip(held, refunds, strict=True):
            w = kept.get(h.limit.key)
            if w is not None and w.start == h.window:  # _current(), inlined
                in_flight = w.in_flight - h.amount
                w.in_flight = in_flight if in_flight > 0 else 0
                if refund:
                    used = w.used - refund
                    w.used = used if used > 0 else 0

    async def observe(self, sent_ms: int, now_ms: int, counts: Sequence[tuple[Limit, int]]) -> None:
        self.settle_observe((), 0, sent_ms, now_ms, counts)

    def settle_observe(
        self,
        held: Sequence[Held],
        refund: int,
        sent_ms: int,
        now_ms: int,
        counts: Sequence[tuple[Limit, int]],
    ) -> None:
        """`settle(held, refunds)`, then `observe(sent_ms, now_ms, counts)`, in one synchronous
        step (what the budget does with every answer). `refund`: the weight a success gives
        back, on each REQUEST_WEIGHT reservation (the refunds the budget would list)."""
        kept = self._windows
        for h in held:
            w = kept.get(h.limit.key)
            if w is not None and w.start == h.window:  # _current(), inlined
                in_flight = w.in_flight - h.amount
                w.in_flight = in_flight if in_flight > 0 else 0
                if refund and h.limit.kind is LimitKind.REQUEST_WEIGHT:
                    used = w.used - refund
                    w.used = used if used > 0 else 0
        for limit, count in counts:  # runs for every answer with rate headers
            interval = limit.interval_ms
            start = now_ms - now_ms % interval
            if sent_ms - sent_ms % interval != start:
                continue
            w = kept.get(limit.key)  # _window(), inlined
            if w is None or w.start < start:
                w = kept[limit.key] = _Window(start)
            if limit.can_decrease:
                w.used = w.in_flight + count
            elif count > w.used:
                w.used = count

    async def block(self, kind: BlockKind, until_ms: int) -> None:
        self._until[kind] = max(self._until.get(kind, 0), until_ms)

    async def blocked(self, now_ms: int) -> Refused | None:
        return self._blocked(now_ms)

    def _blocked(self, now_ms: int) -> Refused | None:
        for kind in (BlockKind.BAN, BlockKind.PAUSE):
            until = self._until.get(kind, 0)
            if until > now_ms:
                return Refused(kind, until)
        return None

    async def save_limits(self, limits: Sequence[Limit]) -> None:
        """`SharesLimits`: kept for this process only (nobody else shares a memory store)."""
        self._limits = tuple(limits)

    async def load_limits(self) -> tuple[Limit, ...]:
        return self._limits

    async def snapshot(self, now_ms: int, limits: Sequence[Limit]) -> Snapshot:
        usage = []
        for limit in limits:
            w = self._current(limit, limit.window(now_ms)) or _Window(limit.window(now_ms))
            usage.append(Usage(limit, w.start, w.used, w.in_flight))
        ban, pause = self._until.get(BlockKind.BAN, 0), self._until.get(BlockKind.PAUSE, 0)
        return Snapshot(
            tuple(usage), ban if ban > now_ms else None, pause if pause > now_ms else None
        )
