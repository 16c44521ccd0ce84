"""The rate-budget store interface: what every backend (memory, Redis) must do, atomically.

The budget (`binguard.policy.budget`) decides *what* to charge; a store keeps the counters. Each
method is one atomic step so that a Redis store can implement it as one Lua script:

- `try_reserve`: check the ban, then the pause, then every limit; reserve on all of them or on
  none. Windows are fixed and aligned to Binance's clock: the window of `now_ms` on a limit is
  `now_ms // interval_ms` (1 MINUTE resets each minute, 10 SECOND at :00/:10/..., 1 DAY at 00:00 UTC).
- `settle`: a request ended; forget it as in flight and give back the part it did not cost.
- `observe`: correct from response headers. Weight never goes down inside a window (`max`): other
  programs on the same IP show up only there. ORDERS may go down (fills decrement them): the
  server's count plus what is still in flight. Applied only when request and response fall in
  the same window, since a count from the previous window says nothing about this one.
- `block` / `blocked`: the shared ban and pause (Retry-After) state.

Counters are kept per window and may be dropped once their window has passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from binguard.errors import Interval


class StoreConfigError(ValueError):
    """A budget store or limit was configured wrongly; raised when the object is built.

    A `ValueError`, so code that caught the old plain errors still does. The message names the
    setting and the value, except a URL's password, which is masked.
    """


class LimitKind(StrEnum):
    """Binance's `rateLimitType` values (enums.md §Rate limiters)."""

    REQUEST_WEIGHT = "REQUEST_WEIGHT"
    ORDERS = "ORDERS"
    RAW_REQUESTS = "RAW_REQUESTS"


class Scope(StrEnum):
    """Whom a limit counts: weight and raw requests per IP, orders per (sub)account."""

    IP = "ip"
    ACCOUNT = "account"


def _positive_interval(interval: object) -> bool:
    if not isinstance(interval, Interval) or isinstance(interval.num, bool):
        return False
    try:
        return isinstance(interval.num, int) and interval.seconds > 0
    except KeyError:  # a unit Binance does not have
        return False


@dataclass(frozen=True, slots=True)
class Limit:
    """One rate limiter: at most `limit` units of `kind` per fixed window of `interval`.

    The derived fields are computed once: a limit is read on every request (hot path).
    """

    kind: LimitKind
    interval: Interval
    limit: int
    key: str = field(init=False, compare=False, repr=False)
    """Stable name, e.g. 'REQUEST_WEIGHT:1M'; the letters are Binance's header suffix."""
    interval_ms: int = field(init=False, compare=False, repr=False)
    scope: Scope = field(init=False, compare=False, repr=False)
    """Whom it counts: weight and raw requests per IP, orders per (sub)account."""
    can_decrease: bool = field(init=False, compare=False, repr=False)
    """ORDERS counts unfilled orders: a fill lowers it inside a window; weight never does."""

    def __post_init__(self) -> None:
        if not isinstance(self.kind, LimitKind):
            raise StoreConfigError(f"rate limit kind must be a LimitKind, got {self.kind!r}")
        if not _positive_interval(self.interval):
            raise StoreConfigError(
                f"{self.kind.value}: interval must be a positive Interval, got {self.interval!r}"
            )
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit <= 0:
            raise StoreConfigError(
                f"{self.kind.value} per {self.interval}: limit must be a positive integer, "
                f"got {self.limit!r}"
            )
        orders = self.kind is LimitKind.ORDERS
        object.__setattr__(self, "key", f"{self.kind.value}:{self.interval.letter}")
        object.__setattr__(self, "interval_ms", self.interval.seconds * 1000)
        object.__setattr__(self, "scope", Scope.ACCOUNT if orders else Scope.IP)
        object.__setattr__(self, "can_decrease", orders)

    def window(self, now_ms: int) -> int:
        """Start (server epoch ms) of the fixed window holding `now_ms`."""
        return now_ms - now_ms % self.interval_ms

    def to_exchange_info(self) -> dict[str, Any]:
        """The `exchangeInfo.rateLimits[]` item this limit was read from (for `from_exchange_info`)."""
        return {
            "rateLimitType": self.kind.value,
            "interval": self.interval.unit,
            "intervalNum": self.interval.num,
            "limit": self.limit,
        }

    @classmethod
    def from_exchange_info(cls, entry: Mapping[str, Any]) -> Limit:
        """One `exchangeInfo.rateLimits[]` item: {rateLimitType, interval, intervalNum, limit}.

        Raises `StoreConfigError` for an item that is not a usable limit (unknown type, bad
        interval, a limit that is not a positive integer).
        """
        try:
            kind = LimitKind(entry["rateLimitType"])
            interval = Interval.parse(f"{entry.get('intervalNum', 1)} {entry['interval']}")
            limit = int(entry["limit"])
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise StoreConfigError(f"unusable rate limit {entry!r}: {exc!r}") from None
        if interval is None or interval.num <= 0:
            raise StoreConfigError(f"unusable rate limit interval in {entry!r}")
        return cls(kind, interval, limit)


@dataclass(frozen=True, slots=True)
class Held:
    """Units reserved on one limit in one window; what `settle` gives back refers to it."""

    limit: Limit
    window: int
    amount: int


@dataclass(frozen=True, slots=True)
class Granted:
    """All charges were reserved."""

    held: tuple[Held, ...]


class BlockKind(StrEnum):
    BAN = "ban"  # 418 / "IP banned until": nothing may be sent
    PAUSE = "pause"  # 429 Retry-After: wait, then continue
    LIMIT = "limit"  # a limit is full until its window resets


@dataclass(frozen=True, slots=True)
class Refused:
    """Nothing was reserved. Capacity (or the end of the ban) comes at `until_ms` at the earliest."""

    kind: BlockKind
    until_ms: int
    limit: Limit | None = None  # the full limit whose window ends last, for LIMIT


@dataclass(frozen=True, slots=True)
class Usage:
    """One limit's counters in the current window, for dashboards and tests."""

    limit: Limit
    window: int
    used: int
    in_flight: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    usage: tuple[Usage, ...]
    banned_until_ms: int | None
    paused_until_ms: int | None


class BudgetStore(Protocol):
    """Counters and block state behind a `RateBudget`; every method is atomic."""

    async def try_reserve(
        self, now_ms: int, charges: Sequence[tuple[Limit, int]]
    ) -> Granted | Refused:
        """Ban first, then pause, then reserve `amount` on every limit, or on none."""
        ...

    async def settle(self, held: Sequence[Held], refunds: Sequence[int]) -> None:
        """The request of `held` ended: no longer in flight; `refunds[i]` units were not spent."""
        ...

    async def observe(self, sent_ms: int, now_ms: int, counts: Sequence[tuple[Limit, int]]) -> None:
        """Server counts from a response; only limits whose window holds both times change."""
        ...

    async def block(self, kind: BlockKind, until_ms: int) -> None:
        """Ban or pause every user of the store until `until_ms` (a later block wins)."""
        ...

    async def blocked(self, now_ms: int) -> Refused | None:
        """The ban, else the pause, in force at `now_ms`."""
        ...

    async def snapshot(self, now_ms: int, limits: Sequence[Limit]) -> Snapshot: ...


@runtime_checkable
class SharesLimits(Protocol):
    """A store that keeps the fleet's rate limits (as exchangeInfo gave them) for later members.

    A process that starts while its fleet is busy must have its start-up requests
    (`/api/v3/time`, `exchangeInfo`) admitted by the shared windows like any other, before it has
    read exchangeInfo itself: it loads the limits an earlier member saved. Both calls are best
    effort: an unreachable store loads nothing and saves nothing (the caller goes on as before).
    """

    async def save_limits(self, limits: Sequence[Limit]) -> None:
        """Publish `limits` (exchangeInfo's, before any safety margin); the last writer wins."""
        ...

    async def load_limits(self) -> tuple[Limit, ...]:
        """The limits a member saved, or () when none are known or the store is unreachable."""
        ...
