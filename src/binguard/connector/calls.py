"""The request loop: every request of the connector goes through it, REST or WebSocket API.

It owns the server-time sync, the REST transport, the retry policy, the event bus and the stats,
and gives the parts of the connector (orders, book, user data, WebSocket API orders) what they
need without the connector itself:

- `call(method, path, params, signed=..., is_order=..., deadline=...)`: one logical REST request
  with the retry policy applied;
- `retrying(once, ...)`: the same loop around any attempt (the WebSocket API's `order.place`);
- `sync_time()`: measure the server clock now;
- `observe_ws_error(err)`: a WebSocket API error answer, counted and fed to the gate.

On failure the retry policy (`options.retry`, policy/retry.py) decides: retry after a backoff,
resync the clock and send once more, raise, or — for an order whose request may have executed —
raise `OutcomeUnknown`, which the order manager reconciles (orders.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from binguard.backends import BlockKind
from binguard.errors import BinanceError, ClockSkewError, IpBannedError
from binguard.policy.budget import RateBudget
from binguard.policy.clock import Clock
from binguard.policy.endpoints import BY_NAME
from binguard.policy.gate import RateGate
from binguard.policy.retry import Action, Attempt
from binguard.policy.servertime import ServerTimeSync
from binguard.transport.rest import RestResponse, RestTransport

from .events import EventBus, Stats
from .options import ConnectorOptions

T = TypeVar("T")


class OutcomeUnknown(Exception):  # noqa: N818 - a signal between request loop and order manager
    """Internal: the request may have executed; the order manager reconciles it."""

    def __init__(self, error: BinanceError) -> None:
        super().__init__(str(error))
        self.error = error


class BanNotices:
    """Turns what the budget learns of bans and pauses into events: `ban_start` once per ban
    (however many 418s announce it), `ban_end` when it lapses, `pause` for a 429 pause."""

    def __init__(self, emit: Callable[..., None]) -> None:
        self._emit = emit
        self._banned_until_ms = 0  # the latest ban learnt of (server ms)
        self._timer: asyncio.TimerHandle | None = None

    def on_block(self, kind: BlockKind, until_ms: int, now_ms: int) -> None:
        """RateBudget's `on_block` callback."""
        if kind is not BlockKind.BAN:
            self._emit("pause", until_ms=until_ms)
            return
        if until_ms <= self._banned_until_ms:
            return  # a ban already known (or a shorter one inside it)
        self._banned_until_ms = until_ms
        self._emit(
            "ban_start",
            banned_until=datetime.fromtimestamp(until_ms / 1000, UTC),
            until_ms=until_ms,
            known_at_ms=now_ms,
        )
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(
            max(0.0, (until_ms - now_ms) / 1000), self._ended, until_ms
        )

    def _ended(self, until_ms: int) -> None:
        self._timer = None
        self._emit("ban_end", until_ms=until_ms)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class RequestLoop:
    """Clock sync, retries, events and stats around one REST transport; see the module docstring.

    `budget`: the connector's own RateBudget (None when it was given another `gate`); `gate`:
    whatever admits every request (REST, WebSocket API, connection attempts)."""

    def __init__(
        self,
        transport: RestTransport,
        *,
        options: ConnectorOptions,
        clock: Clock,
        time_sync: ServerTimeSync,
        events: EventBus,
        stats: Stats,
        gate: RateGate | None,
        budget: RateBudget | None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.transport = transport
        self.options = options
        self.time = time_sync
        self.stats = stats
        self.events = events
        self.gate = gate
        self.budget = budget
        self._clock = clock
        self._sleep = sleep
        self._synced_once = False
        self._sync_lock = asyncio.Lock()

    def emit(self, kind: str, **data: Any) -> None:
        self.events.emit(kind, **data)

    # -- clock ------------------------------------------------------------------------------------
    async def sync_time(self) -> None:
        """Measure the server clock now (a few /api/v3/time samples), whatever the last sync."""
        self.time.invalidate()
        await self.ensure_time()

    async def ensure_time(self) -> None:
        """Sync the server clock if it was never synced or is due for a resync."""
        if self.time.synced and not self.time.needs_resync():
            return
        async with self._sync_lock:
            if self.time.synced and not self.time.needs_resync():
                return
            for _ in range(self.options.time_samples):
                await self._sample_time()
            if self._synced_once:
                self.stats.resyncs += 1
                self.emit("resync", offset_ms=self.time.offset_ms, rtt_ms=self.time.rtt_ms)
            self._synced_once = True

    async def _sample_time(self) -> None:
        # A plain read through the retry loop; a sample slowed by retries has a large RTT and is
        # discarded by ServerTimeSync as an outlier.
        sent = self._clock.monotonic()
        response = await call_endpoint(self, "time", sync=False)
        received = self._clock.monotonic()
        self.time.add(sent, int(response.data["serverTime"]), received)

    # -- the loop ---------------------------------------------------------------------------------
    async def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        signed: bool = False,
        is_order: bool = False,
        deadline: float | None = None,
        sync: bool = True,
    ) -> RestResponse:
        """One logical request with the retry policy applied. Raises a typed BinanceError, or
        `OutcomeUnknown` (for orders) when the request may have executed."""
        deadline = deadline or time.monotonic() + self.options.request_deadline
        transport = self.transport
        sync = signed and sync
        # The first attempt inline (the usual request succeeds at once: no closure, no frame of
        # `retrying`); a failure goes on in the same loop, from its second attempt.
        if sync and (not self.time.synced or self.time.needs_resync()):
            await self.ensure_time()
        self.stats.requests += 1
        try:
            return await transport.send(method, path, params, signed=signed, deadline=deadline)
        except BinanceError as err:
            facts = Attempt.of(
                method,
                path,
                is_order=is_order,
                attempt=1,
                time_left=deadline - time.monotonic(),
                resynced=False,
            )
            resynced = await self._after(err, facts)

        def once() -> Awaitable[RestResponse]:
            return transport.send(method, path, params, signed=signed, deadline=deadline)

        return await self.retrying(
            once,
            method=method,
            path=path,
            is_order=is_order,
            deadline=deadline,
            sync=sync,
            attempt=1,
            resynced=resynced,
        )

    async def retrying(
        self,
        once: Callable[[], Awaitable[T]],
        *,
        method: str,
        path: str,
        is_order: bool,
        deadline: float,
        sync: bool,
        attempt: int = 0,
        resynced: bool = False,
    ) -> T:
        """The retry loop every request path shares: `once()` is one attempt; the retry policy
        decides what a failure calls for. `sync`: the attempt is signed, so the clock must be
        synced first. `path` is a REST path or a WebSocket API method (the endpoint table,
        policy/endpoints.py, tells reads from writes). `attempt`: attempts made already (`call`
        makes its first one inline), `resynced`: the clock was resynced for them."""
        while True:
            attempt += 1
            if sync and (not self.time.synced or self.time.needs_resync()):
                await self.ensure_time()  # (checked here first: a call per request costs)
            self.stats.requests += 1
            try:
                return await once()
            except BinanceError as err:
                facts = Attempt.of(
                    method,
                    path,
                    is_order=is_order,
                    attempt=attempt,
                    time_left=deadline - time.monotonic(),
                    resynced=resynced,
                )
                resynced = await self._after(err, facts)

    async def _after(self, err: BinanceError, facts: Attempt) -> bool:
        """Act on the retry policy's decision for a failed attempt (raise, or wait / resync for
        the next one); whether the clock has been resynced for this request."""
        decision = self.options.retry.decide(err, facts)
        self.record(err)
        if decision.action is Action.RAISE:
            raise err
        if decision.action is Action.RECONCILE:
            raise OutcomeUnknown(err) from err
        if decision.action is Action.RESYNC_CLOCK:
            self.time.invalidate()
            await self.ensure_time()
            return True
        self.stats.retries += 1
        self.emit("retry", path=facts.path, code=err.code, rule=decision.rule, delay=decision.delay)
        await self._sleep(decision.delay)
        return facts.resynced

    # -- what failures tell -------------------------------------------------------------------
    def record(self, err: BinanceError) -> None:
        """Count a failure (stats, `request_error` event; `ban_start` without a budget)."""
        key = str(err.code) if err.code is not None else type(err).__name__
        if err.http_status in (418, 429) and err.code is None:
            key = f"HTTP {err.http_status}"
        self.stats.errors_by_code[key] += 1
        if isinstance(err, ClockSkewError):
            self.stats.clock_errors += 1
            if self._synced_once:
                self.stats.clock_errors_after_sync += 1
        if isinstance(err, IpBannedError) and err.http_status == 418:
            self.stats.bans += 1
            if self.budget is None:  # otherwise the budget tells (BanNotices), once per ban
                self.emit("ban_start", banned_until=err.banned_until)
        self.emit("request_error", code=err.code, type=type(err).__name__, msg=err.msg)

    async def observe_ws_error(self, err: BinanceError, *, sent_ms: int | None = None) -> None:
        """A WebSocket API error answer outside the retry loop: counted, and its limits fed to
        the gate that admits every request."""
        self.record(err)
        if self.gate is not None:
            await self.gate.on_error(err, sent_ms=sent_ms)


class TimeNow(Protocol):
    """The server clock as the parts read it (ServerTimeSync)."""

    def now_ms(self) -> int: ...


class Requests(Protocol):
    """The request loop as the parts of the connector see it (RequestLoop; a test may give a
    fake): the options, the server clock, the stats, events, and the two ways to send."""

    options: ConnectorOptions
    stats: Stats

    @property
    def time(self) -> TimeNow: ...

    def emit(self, kind: str, **data: Any) -> None: ...

    def record(self, err: BinanceError) -> None: ...

    async def sync_time(self) -> None: ...

    async def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        signed: bool = False,
        is_order: bool = False,
        deadline: float | None = None,
        sync: bool = True,
    ) -> RestResponse: ...

    async def retrying(
        self,
        once: Callable[[], Awaitable[T]],
        *,
        method: str,
        path: str,
        is_order: bool,
        deadline: float,
        sync: bool,
    ) -> T: ...


async def call_endpoint(
    loop: Requests,
    name: str,
    params: Mapping[str, object] | None = None,
    *,
    sync: bool = True,
) -> RestResponse:
    """`loop.call` for a row of the endpoint table (policy/endpoints.py): its REST method and
    path, signed by its security type, reconciled when it changes orders."""
    row = BY_NAME[name]
    if row.rest is None:
        raise ValueError(f"endpoint {name!r} has no REST form")
    method, path = row.rest
    return await loop.call(
        method, path, params, signed=row.signed, is_order=row.is_order, sync=sync
    )
