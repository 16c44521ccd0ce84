"""The rate budget: a request leaves only when every Binance limit has room for it.

Binance counts REQUEST_WEIGHT and RAW_REQUESTS per IP and ORDERS per account, in fixed windows
aligned to its own clock (binance-api-semantics.md §3). The life of one request:

    ticket = await budget.acquire(rest_cost("POST", "/api/v3/order"), deadline=...)
    ... send, with the server-corrected timestamp ...
    await budget.settle(ticket, ok=True, headers=parse_rate_headers(resp.headers))
    # or, on a failure: await budget.settle(ticket, ok=False); await budget.on_error(err)

- `acquire` waits, in FIFO order, until the windows reset, or raises `BudgetExhaustedError` at
  once when that would be after the caller's `deadline` (monotonic seconds of the `Clock`). While
  a ban is known it raises `BanInForceError` with `banned_until` at once: a ban is never probed.
- `settle` gives back the failure weight of an order/cancel that succeeded (0 weight since
  2026-04-02) and applies the response's X-MBX-USED-WEIGHT-* / X-MBX-ORDER-COUNT-* headers.
- `on_error` turns a 429 into a pause of the pool (Retry-After), -1015 into a full ORDERS window,
  and a 418 / "IP banned until" into the ban breaker.

Windows follow Binance's clock: pass `server_time=ServerTimeSync(...).now_ms`.
Waiting costs no polling: the first caller in line sleeps (injected `sleep`) until the window
that blocks it resets, and is woken early when capacity comes back or a ban starts.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from binguard.backends import (
    BlockKind,
    BudgetStore,
    Granted,
    Held,
    Limit,
    LimitKind,
    MemoryStore,
    Refused,
    Snapshot,
)
from binguard.errors import (
    BinanceError,
    Interval,
    IpBannedError,
    RateHeaders,
    RateLimitedError,
    parse_rate_limits,
)

from .clock import Clock, SystemClock
from .gate import Admission, Admits
from .refusals import BanInForceError, BudgetExhaustedError
from .weights import Cost

__all__ = [  # the refusals are re-exported: callers meet them from acquire()
    "BAN_MARGIN_MS",
    "BanInForceError",
    "BudgetExhaustedError",
    "RateBudget",
    "Ticket",
    "effective_limits",
    "ws_rate_headers",
]

BAN_MARGIN_MS = 1000  # waited past a ban's stated end before the first request (see _ban_end)
DEFAULT_BAN_S = 120.0  # rest-api.md: bans last "from 2 minutes to 3 days"; assume the shortest
_CHARGE_MEMO_SIZE = 256  # distinct request costs remembered (a handful of endpoints in practice)


@dataclass(slots=True)
class Ticket:
    """A granted reservation; hand it back to `settle` when the request has ended."""

    cost: Cost
    held: tuple[Held, ...]
    granted_ms: int  # server time of the grant, taken as the send time
    settled: bool = False


@dataclass(slots=True)
class _Waiter:
    deadline: float | None
    turn: asyncio.Future[None]


def effective_limits(limits: Iterable[Limit], margin: float) -> tuple[Limit, ...]:
    """Limits scaled by the safety margin (0 < margin <= 1), never below 1."""
    if not 0 < margin <= 1:
        raise ValueError("margin must be in (0, 1]")
    return tuple(Limit(x.kind, x.interval, max(1, int(x.limit * margin))) for x in limits)


def ws_rate_headers(rate_limits: Iterable[Mapping[str, Any]]) -> RateHeaders:
    """A WebSocket API response's `rateLimits` [{rateLimitType, interval, intervalNum, count}]
    as the REST headers they stand for, for `settle` / `observe` (web-socket-api.md).

    Read by `errors.parse_rate_limits`, which lives beside the REST header parser and keys both
    alike ('1M', '10S', '1D'), so the two paths agree on what a count is."""
    return parse_rate_limits(rate_limits if isinstance(rate_limits, list) else list(rate_limits))


class RateBudget(Admits):
    """Binance's rate limits for one IP and account, kept in a `BudgetStore`."""

    def __init__(
        self,
        limits: Iterable[Limit],
        *,
        store: BudgetStore | None = None,
        clock: Clock | None = None,
        server_time: Callable[[], int] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        margin: float = 1.0,
        edge_ms: int = 20,
        on_block: Callable[[BlockKind, int, int], None] | None = None,
    ) -> None:
        """`on_block(kind, until_ms, now_ms)`: told whenever this budget learns of a ban or a
        pause (the connector turns it into ban_start / ban_end events)."""
        self._on_block = on_block
        self._banned_until = 0  # the latest ban end seen (server ms): check()'s local answer
        self._margin = margin
        self._edge_ms = edge_ms
        self._set(limits)
        self._store: BudgetStore = store if store is not None else MemoryStore()
        # The in-process store (exactly a MemoryStore: a subclass or a wrapper may add awaits or
        # watch the calls) is called through its synchronous steps, the same code without the
        # coroutines: the hot path of every request.
        self._local = self._store if type(self._store) is MemoryStore else None
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._server_ms = server_time or (lambda: int(self._clock.time() * 1000))
        self._sleep = sleep or asyncio.sleep
        self._line: deque[_Waiter] = deque()
        self._ready_at = float("-inf")  # monotonic time the head of the line waits for
        self._wake: asyncio.Future[None] | None = None

    @classmethod
    def from_exchange_info(cls, info: Mapping[str, Any], **options: Any) -> RateBudget:
        """From `GET /api/v3/exchangeInfo` (its `rateLimits`); options as for the constructor."""
        return cls([Limit.from_exchange_info(x) for x in info.get("rateLimits", ())], **options)

    @property
    def limits(self) -> tuple[Limit, ...]:
        return self._limits

    def set_limits(self, limits: Iterable[Limit]) -> None:
        """New limits (exchangeInfo refreshed); the counts of the current windows are kept."""
        self._set(limits)
        self._wake_head()

    def _set(self, limits: Iterable[Limit]) -> None:
        self._limits = effective_limits(limits, self._margin)
        # the limits Binance reports in headers: X-MBX-USED-WEIGHT-<letter>, X-MBX-ORDER-COUNT-<letter>
        self._weight_headed = [
            (x, x.interval.letter) for x in self._limits if x.kind is LimitKind.REQUEST_WEIGHT
        ]
        self._order_headed = [
            (x, x.interval.letter) for x in self._limits if x.kind is LimitKind.ORDERS
        ]
        self._charge_memo: dict[Cost, tuple[tuple[Limit, int], ...]] = {}  # per limits: reset here
        # The last cost seen and its charges: a transport hands the same Cost object again and
        # again for an endpoint (an identity check is cheaper than hashing the dataclass).
        self._last: tuple[Cost | None, tuple[tuple[Limit, int], ...]] = (None, ())

    def admit(self, cost: Cost, *, deadline: float | None = None) -> Admission:
        """`async with budget.admit(cost, deadline=...) as slot:`; see policy/gate.py."""
        return Admission(self, cost, deadline)

    # -- acquiring --------------------------------------------------------------------------
    async def acquire(self, cost: Cost, *, deadline: float | None = None) -> Ticket:
        """Reserve `cost` on every limit, waiting in line; see the module docstring."""
        last, charges = self._last
        if cost is not last:
            found = self._charge_memo.get(cost)
            charges = self._charges(cost) if found is None else found
            self._last = (cost, charges)
        wait: float | None = None
        if not self._line:
            # The common case, inlined (hot path): nobody waits, the store grants at once.
            now = self._server_ms()
            outcome: Granted | Refused | None = None
            edge = self._edge_ms
            for limit, _ in charges:  # _at_edge(), inlined
                if limit.interval_ms - now % limit.interval_ms <= edge:
                    outcome = self._at_edge(now, charges)
                    break
            if outcome is None:
                local = self._local
                if local is not None:
                    held = local.reserve(now, charges)
                    if type(held) is tuple:
                        return Ticket(cost, held, now)
                    assert isinstance(held, Refused)
                    outcome = held
                else:
                    outcome = await self._store.try_reserve(now, charges)
            if type(outcome) is Granted:
                return Ticket(cost, outcome.held, now)
            assert isinstance(outcome, Refused)
            wait = self._refused(outcome, now, deadline)
        elif deadline is not None and deadline < self._ready_at:
            raise self._exhausted(self._ready_at - self._clock.monotonic(), None)
        waiter = _Waiter(deadline, asyncio.get_running_loop().create_future())
        self._line.append(waiter)
        try:
            if self._line[0] is not waiter:
                await waiter.turn  # given to the head of the line only; it stays head until done
                wait = None
            while True:
                if wait is not None:
                    await self._nap(wait)
                result = await self._attempt(cost, charges, deadline)
                if isinstance(result, Ticket):
                    return result
                wait = result
        finally:
            self._leave(waiter)

    def _charges(self, cost: Cost) -> tuple[tuple[Limit, int], ...]:
        amount = {
            LimitKind.REQUEST_WEIGHT: cost.weight,
            LimitKind.ORDERS: cost.orders,
            LimitKind.RAW_REQUESTS: cost.raw,
        }
        charges = tuple((x, amount[x.kind]) for x in self._limits if amount[x.kind] > 0)
        for limit, n in charges:
            if n > limit.limit:
                raise BudgetExhaustedError(
                    f"Rate budget: a request costing {n} can never fit {limit.key} <= "
                    f"{limit.limit}; nothing was sent.",
                    wait=None,
                    limit=limit,
                )
        if len(self._charge_memo) >= _CHARGE_MEMO_SIZE:
            self._charge_memo.clear()
        self._charge_memo[cost] = charges
        return charges

    async def _attempt(
        self, cost: Cost, charges: Sequence[tuple[Limit, int]], deadline: float | None
    ) -> Ticket | float:
        """A ticket, or the seconds to wait; raises when banned or the deadline can't be met."""
        now = self._server_ms()
        outcome = self._at_edge(now, charges) or await self._store.try_reserve(now, charges)
        if isinstance(outcome, Granted):
            return Ticket(cost, outcome.held, now)
        return self._refused(outcome, now, deadline)

    def _refused(self, outcome: Refused, now: int, deadline: float | None) -> float:
        """The seconds to wait after a refusal; raises when banned or past the deadline."""
        if outcome.kind is BlockKind.BAN:
            self._banned_until = max(self._banned_until, outcome.until_ms)
            raise BanInForceError(outcome.until_ms, now)
        wait = max(0, outcome.until_ms - now) / 1000
        ready_at = self._clock.monotonic() + wait
        if deadline is not None and ready_at > deadline:
            raise self._exhausted(wait, outcome)
        self._ready_at = ready_at
        for w in list(self._line)[1:]:  # they wait at least as long: tell them now
            if w.deadline is not None and w.deadline < ready_at and not w.turn.done():
                w.turn.set_exception(self._exhausted(wait, outcome))
        return wait

    def _at_edge(self, now: int, charges: Sequence[tuple[Limit, int]]) -> Refused | None:
        """No grant in the last `edge_ms` of a charged window: Binance counts a request in the
        window it *arrives* in, so one granted at 999 ms would land in the next window on top of
        that window's full budget (429s, then a ban, seen under bursty load). Such a request waits
        for the edge and is charged in the next window, where Binance counts it too."""
        edge = self._edge_ms
        for limit, _ in charges:
            left = limit.interval_ms - now % limit.interval_ms
            if left <= edge:
                return Refused(BlockKind.LIMIT, now + left, limit)
        return None

    def _exhausted(self, wait: float, outcome: Refused | None) -> BudgetExhaustedError:
        if outcome is not None and outcome.kind is BlockKind.PAUSE:
            what = "the pool is paused (Retry-After)"
        elif outcome is not None and outcome.limit is not None:
            what = f"{outcome.limit.key} is at its limit of {outcome.limit.limit}"
        else:
            what = "requests ahead in line are waiting"
        return BudgetExhaustedError(
            f"Rate budget: {what}; room in {wait:.3f} s, after the caller's deadline; "
            "nothing was sent.",
            wait=wait,
            limit=outcome.limit if outcome is not None else None,
        )

    async def _nap(self, seconds: float) -> None:
        """Sleep until the window resets, or until `_wake_head` (capacity back, ban, new limits)."""
        self._wake = asyncio.get_running_loop().create_future()
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        try:
            await asyncio.wait((sleeper, self._wake), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            self._wake = None

    def _wake_head(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _leave(self, waiter: _Waiter) -> None:
        was_head = self._line[0] is waiter
        self._line.remove(waiter)
        if not was_head:
            return
        if self._line:
            nxt = self._line[0]
            if not nxt.turn.done():
                nxt.turn.set_result(None)
        else:
            self._ready_at = float("-inf")

    # -- feedback from responses --------------------------------------------------------------
    async def settle(self, ticket: Ticket, *, ok: bool, headers: RateHeaders | None = None) -> None:
        """The request ended: `ok` gives back what a success does not cost; apply the headers.

        Call it exactly once per ticket, also when the outcome is unknown (`ok=False`: keep the
        charge, it may have been counted). A second call does nothing.
        """
        if ticket.settled:
            return
        ticket.settled = True
        held = ticket.held
        refund = ticket.cost.refund_if_ok if ok else 0
        local = self._local
        if local is not None:  # the same steps in one synchronous call (hot path)
            counts: list[tuple[Limit, int]] = []
            decreases = False
            if headers is not None and (headers.used_weight or headers.order_count):
                counts, decreases = self._counts(headers)
            now = self._server_ms() if counts else 0
            local.settle_observe(held, refund, ticket.granted_ms, now, counts)
            if (decreases or refund) and self._wake is not None:  # _wake_head(), inlined
                self._wake_head()
            return
        if refund:
            refunds = [refund if h.limit.kind is LimitKind.REQUEST_WEIGHT else 0 for h in held]
        else:
            refunds = [0] * len(held)
        await self._store.settle(held, refunds)
        if headers is not None and (headers.used_weight or headers.order_count):
            counts, decreases = self._counts(headers)  # observe(), inlined: every answer has them
            if counts:
                await self._store.observe(ticket.granted_ms, self._server_ms(), counts)
            if decreases or refund:
                self._wake_head()
        elif refund:
            self._wake_head()

    def check(self) -> None:
        """Raise BanInForceError if a ban this budget knows of is in force: the transport asks
        right before writing a request that was admitted earlier and then waited (for a new
        connection), so a ban learnt meanwhile stops it too. Local and synchronous: a ban another
        process learnt is seen by the next acquire()."""
        if self._banned_until:
            now = self._server_ms()
            if self._banned_until > now:
                raise BanInForceError(self._banned_until, now)

    async def observe(self, headers: RateHeaders, *, sent_ms: int) -> None:
        """Correct the counts from X-MBX-USED-WEIGHT-* and X-MBX-ORDER-COUNT-* of a response."""
        counts, decreases = self._counts(headers)
        if counts:
            await self._store.observe(sent_ms, self._server_ms(), counts)
            if decreases:
                self._wake_head()

    def _counts(self, headers: RateHeaders) -> tuple[list[tuple[Limit, int]], bool]:
        """The counts the headers give for this budget's limits, and whether an ORDERS count is
        among them (it can decrease: fills free room, so the head of the line is woken)."""
        weight, orders = headers.used_weight, headers.order_count
        counts = []
        for x, letter in self._weight_headed:  # a loop, not a comprehension: one frame less
            if letter in weight:
                counts.append((x, weight[letter]))
        decreases = False
        if orders:
            for limit, letter in self._order_headed:
                if letter in orders:
                    counts.append((limit, orders[letter]))
                    decreases = True
        return counts, decreases

    async def on_error(self, error: BinanceError, *, sent_ms: int | None = None) -> None:
        """Apply what a failure says about the limits: counts, 429 pause, -1015, 418 ban."""
        if error.http_status is None and isinstance(error, RateLimitedError):
            return  # the budget's own refusal (BudgetExhaustedError, BanInForceError): no news
        now = self._server_ms()
        if error.used_weight or error.order_count:
            rate = RateHeaders(error.used_weight, error.order_count, None)
            await self.observe(rate, sent_ms=now if sent_ms is None else sent_ms)
        if isinstance(error, IpBannedError) or error.http_status == 418:
            await self.ban(self._ban_end(error, now))
        elif isinstance(error, RateLimitedError):
            if error.code == -1015 and await self._fill_orders(error.interval, now):
                return
            if error.retry_after is not None:
                await self.pause(now + int(error.retry_after * 1000))
            else:
                named = error.interval or Interval(1, "MINUTE")
                step = named.seconds * 1000
                await self.pause(now - now % step + step)

    def _ban_end(self, error: BinanceError, now: int) -> int:
        """When requests may go again: the ban's stated end plus BAN_MARGIN_MS (our estimate of
        Binance's clock is off by up to half an RTT, and one request that lands a ms early earns
        a new, longer ban)."""
        stated = error.params.get("banned_until")  # "IP banned until <ms>" (Binance's clock)
        if isinstance(stated, datetime):
            return int(stated.timestamp() * 1000) + BAN_MARGIN_MS
        if error.retry_after is not None:  # REST 418: Retry-After = seconds until the ban ends
            return now + int(error.retry_after * 1000) + BAN_MARGIN_MS
        return now + int(DEFAULT_BAN_S * 1000)

    async def _fill_orders(self, interval: Interval | None, now: int) -> bool:
        """-1015: the named ORDERS window (else the shortest) is full until it resets; reads
        go on. False when no ORDERS limit is known: then the caller pauses everything."""
        orders = [x for x in self._limits if x.kind is LimitKind.ORDERS]
        named = [x for x in orders if x.interval == interval]
        chosen = named or sorted(orders, key=lambda x: x.interval_ms)[:1]
        await self._store.observe(now, now, [(x, x.limit) for x in chosen])
        return bool(chosen)

    async def pause(self, until_ms: int) -> None:
        """429: nobody sends before `until_ms` (server time); waiters wait or fail fast."""
        await self._store.block(BlockKind.PAUSE, until_ms)
        if self._on_block is not None:
            self._on_block(BlockKind.PAUSE, until_ms, self._server_ms())
        self._wake_head()

    async def ban(self, until_ms: int) -> None:
        """418: the breaker opens; every acquire raises `BanInForceError` until `until_ms`."""
        await self._store.block(BlockKind.BAN, until_ms)
        self._banned_until = max(self._banned_until, until_ms)
        if self._on_block is not None:
            self._on_block(BlockKind.BAN, until_ms, self._server_ms())
        self._wake_head()

    async def snapshot(self) -> Snapshot:
        return await self._store.snapshot(self._server_ms(), self._limits)
