"""A strict local order book: Binance's documented procedure, never served while inconsistent.

    book = await bn.order_book("BTCUSDT")     # subscribed and synced
    await book.wait_ready()
    bid, ask = book.best()                    # BookNotReadyError while resyncing

The procedure (web-socket-streams.md §How to manage a local order book correctly, as corrected by
CHANGELOG 2025-11-12):
1. subscribe to `<symbol>@depth@100ms` and buffer its events;
2. take a snapshot (`GET /api/v3/depth`, through the connector, so its weight goes through the
   budget); if its `lastUpdateId` is older than the first buffered event's `U`, take another;
3. drop buffered events with `u <= lastUpdateId`; the first one applied must have
   `U <= lastUpdateId + 1 <= u`;
4. from then on every event must continue the last: `U <= previous u + 1 <= u` (for a contiguous
   stream that is `U == previous u + 1`). Anything else is a gap: the book stops serving and
   resyncs from step 2, keeping the events that arrive meanwhile.

Quantities are absolute, 0 removes the level. A socket lost and replaced (not a seamless rotation)
also stops serving; the first event on the new socket either continues the old sequence exactly
(nothing happened meanwhile: served again, no snapshot) or a snapshot resync follows. A snapshot
holds at most `limit` levels per side: levels beyond its worst price are unknown until they change,
so reads stop at that price (`bound`) instead of serving a book with holes.

Prices are kept as Binance's text with trailing zeros stripped (one key per price whatever the
rendering) and quantities as text; reads convert to Decimal. Each side is a `_levels.Side`: an
update is one `dict.update` of the event's rows, `best()` is O(1) amortized and the top N
O(N + log n), from a list of exact integer price keys kept sorted (never a Decimal sort).
Counters: `stats.gaps`, `stats.resyncs` (snapshots taken), `stats.continued` (reconnects that
needed none).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from binguard._aio import reap
from binguard.errors import BinanceError
from binguard.policy.backoff import Backoff
from binguard.policy.retry import needs_a_fix

from ._levels import Side
from .models import Level

if TYPE_CHECKING:
    from .streams import MarketStreams

# `GET /api/v3/depth` for (symbol, limit) through the request loop (its weight through the budget)
FetchSnapshot = Callable[[str, int], Awaitable[dict[str, Any]]]
Emit = Callable[..., None]

log = logging.getLogger("binguard.connector.book")


class BookState(Enum):
    SYNCING = "syncing"  # buffering, snapshot on its way: not served
    LIVE = "live"  # consistent with the exchange as of `last_update_id`
    CLOSED = "closed"
    FAILED = "failed"  # the snapshot request must change (a bad symbol, bad keys): never served


# An Enum member read through its class costs more than a dict lookup (3.11): the hot paths use this.
_LIVE = BookState.LIVE


class BookNotReadyError(RuntimeError):
    """The book is resyncing (gap, lost socket, start): it is not served until consistent.
    For a FAILED book, `failure` is the exchange's refusal of its snapshot request."""

    def __init__(
        self, symbol: str, state: BookState, reason: str, failure: BinanceError | None = None
    ) -> None:
        super().__init__(f"order book {symbol} is {state.value}: {reason}")
        self.symbol = symbol
        self.state = state
        self.reason = reason
        self.failure = failure


@dataclass(slots=True)
class BookStats:
    events: int = 0
    stale: int = 0  # events already covered (u <= last applied), dropped
    gaps: int = 0
    resyncs: int = 0  # snapshots taken (the first one included)
    continued: int = 0  # socket replaced, sequence continued: no snapshot needed
    snapshot_retries: int = 0
    overflows: int = 0


@dataclass(frozen=True, slots=True)
class BookView:
    """A consistent copy of the book at `last_update_id`, best levels first."""

    symbol: str
    last_update_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]


class OrderBook:
    """One symbol's local book; see the module docstring."""

    def __init__(
        self,
        streams: MarketStreams,
        fetch_snapshot: FetchSnapshot,
        emit: Emit,
        symbol: str,
        *,
        limit: int = 1000,
        speed: str = "100ms",
        max_buffer: int = 50_000,
        continuity_wait: float | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.symbol = symbol.upper()
        self.stream = f"{self.symbol.lower()}@depth" + ("@100ms" if speed == "100ms" else "")
        self.limit = limit
        self.stats = BookStats()
        self._fetch_snapshot = fetch_snapshot
        self._emit = emit
        self._streams = streams
        self._max_buffer = max_buffer
        # after a lost socket, how long to wait for an event continuing the old sequence
        self._continuity_wait = continuity_wait or (0.3 if speed == "100ms" else 1.5)
        self._backoff = backoff or Backoff(base=0.2, cap=10.0)
        self._bids = Side(bids=True)
        self._asks = Side(bids=False)
        self._last_u = 0
        self._state = BookState.SYNCING
        self._reason = "starting"
        self._buffer: deque[dict[str, Any]] = deque()
        self._live = asyncio.Event()
        self._failed = asyncio.Event()
        self.failure: BinanceError | None = None  # why the book FAILED (needs_a_fix), if it did
        self._resync_needed = asyncio.Event()
        self._continuity = False  # a lost socket came back: the next event may continue
        self._gap_seen = asyncio.Event()
        self._epoch = 0  # bumped when the socket is lost
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"OrderBook({self.symbol}, {self._state.value}, u={self._last_u})"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._streams.add([self.stream], self)
            self._resync_needed.set()
            self._task = asyncio.create_task(self._run(), name=f"book-{self.symbol}")

    async def close(self) -> None:
        self._streams.remove([self.stream], self)
        self._set_state(BookState.CLOSED, "closed")
        await reap(self._task)

    # -- reading ----------------------------------------------------------------------------
    @property
    def state(self) -> BookState:
        return self._state

    @property
    def ready(self) -> bool:
        return self._state is _LIVE

    @property
    def last_update_id(self) -> int:
        return self._last_u

    async def wait_ready(self, within: float | None = None) -> None:
        """Wait until the book is consistent (TimeoutError after `within` seconds); raises the
        exchange's refusal at once if the snapshot request can never succeed (FAILED)."""
        await asyncio.wait_for(self._settled(), within)

    async def _settled(self) -> None:
        live = asyncio.ensure_future(self._live.wait())
        failed = asyncio.ensure_future(self._failed.wait())
        try:
            await asyncio.wait({live, failed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            live.cancel()
            failed.cancel()
        if self.failure is not None and self._state is BookState.FAILED:
            raise self.failure

    def _check(self) -> None:
        if self._state is not _LIVE:
            raise BookNotReadyError(self.symbol, self._state, self._reason, self.failure)

    def bids(self, depth: int | None = None) -> list[Level]:
        """Best bids first (within what the snapshot covered); raises BookNotReadyError."""
        self._check()
        return self._bids.top(depth)

    def asks(self, depth: int | None = None) -> list[Level]:
        self._check()
        return self._asks.top(depth)

    def best(self) -> tuple[Level | None, Level | None]:
        """(best bid, best ask); raises BookNotReadyError while not consistent."""
        if self._state is not _LIVE:
            raise BookNotReadyError(self.symbol, self._state, self._reason, self.failure)
        return self._bids.best(), self._asks.best()

    def view(self, depth: int | None = None) -> BookView:
        """A consistent copy (raises BookNotReadyError while not consistent)."""
        return BookView(self.symbol, self._last_u, tuple(self.bids(depth)), tuple(self.asks(depth)))

    # -- stream events (the socket's task) ---------------------------------------------------
    def on_event(self, stream: str, data: dict[str, Any]) -> None:
        self.stats.events += 1
        first, last = data["U"], data["u"]
        if self._state is _LIVE:
            nxt = self._last_u + 1
            if first <= nxt <= last:
                self._bids.apply(data["b"])
                self._asks.apply(data["a"])
                self._last_u = last
                return
            if last < nxt:
                self.stats.stale += 1
                return
            self.stats.gaps += 1
            self._resync(f"gap: expected update {nxt}, got {first}..{last}")
            self._emit("book_gap", symbol=self.symbol, expected=nxt, first=first, last=last)
        elif self._continuity and self._state is BookState.SYNCING:
            nxt = self._last_u + 1
            if last < nxt:
                self.stats.stale += 1
                return
            self._continuity = False
            if first <= nxt:
                # The new socket continues exactly where the lost one stopped.
                self._bids.apply(data["b"])
                self._asks.apply(data["a"])
                self._last_u = last
                self._buffer.clear()
                self.stats.continued += 1
                self._set_state(BookState.LIVE, "continued after reconnect")
                return
            self.stats.gaps += 1
            self._gap_seen.set()
            self._emit("book_gap", symbol=self.symbol, expected=nxt, first=first, last=last)
        buffer = self._buffer
        buffer.append(data)
        if len(buffer) > self._max_buffer:
            self.stats.overflows += 1
            buffer.clear()
            self._resync("buffer overflow while syncing")

    def on_down(self, reason: str) -> None:
        self._epoch += 1
        if self._state is BookState.LIVE:
            self._continuity = True
            self._set_state(BookState.SYNCING, f"stream down: {reason}")
            self._resync_needed.set()

    def on_up(self, reconnected: bool) -> None:
        return None

    # -- syncing ----------------------------------------------------------------------------
    def _set_state(self, state: BookState, reason: str) -> None:
        if state is self._state and reason == self._reason:
            return
        self._state, self._reason = state, reason
        if state is BookState.LIVE:
            self._live.set()
            self._emit("book_synced", symbol=self.symbol, last_update_id=self._last_u)
        else:
            self._live.clear()

    def _fail(self, err: BinanceError) -> None:
        self.failure = err
        self._streams.remove([self.stream], self)
        self._set_state(BookState.FAILED, f"snapshot refused: {err}")
        self._failed.set()
        self._emit("book_failed", symbol=self.symbol, error=type(err).__name__, code=err.code)

    def _resync(self, reason: str) -> None:
        self._continuity = False
        self._set_state(BookState.SYNCING, reason)
        self._resync_needed.set()

    async def _run(self) -> None:
        while True:
            await self._resync_needed.wait()
            self._resync_needed.clear()
            if self._state is not BookState.SYNCING:
                continue
            if self._continuity:
                # A lost socket: give the new one a moment to continue the sequence.
                with contextlib.suppress(TimeoutError):
                    await self._streams.wait_synced([self.stream], self._continuity_wait + 10.0)
                    live = asyncio.ensure_future(self._live.wait())
                    gap = asyncio.ensure_future(self._gap_seen.wait())
                    try:
                        await asyncio.wait(
                            {live, gap},
                            timeout=self._continuity_wait,
                            return_when=asyncio.FIRST_COMPLETED,
                        )
                    finally:
                        live.cancel()
                        gap.cancel()
                self._gap_seen.clear()
                if self._state is not BookState.SYNCING:
                    continue
                self._continuity = False
            await self._sync()

    async def _sync(self) -> None:
        """Snapshot and replay until consistent (forever, backing off between failures), unless
        the exchange refuses the snapshot request itself (a bad symbol or limit, bad keys:
        policy/retry.py `needs_a_fix`): asking again would only earn more refusals, so the book
        FAILS with that error and leaves its stream."""
        attempt = 0
        while self._state is BookState.SYNCING:
            if attempt:
                await asyncio.sleep(self._backoff.delay(attempt))
            attempt += 1
            # Subscribed on a live socket first: then every update after the snapshot arrives.
            await self._streams.wait_synced([self.stream])
            epoch = self._epoch
            self.stats.resyncs += 1
            self._emit("book_resync", symbol=self.symbol, reason=self._reason)
            try:
                snapshot = await self._fetch_snapshot(self.symbol, self.limit)
            except BinanceError as err:
                log.info("book %s: snapshot failed: %s", self.symbol, err)
                if needs_a_fix(err):
                    self._fail(err)
                    return
                if err.retry_after:
                    await asyncio.sleep(err.retry_after)
                continue
            trusted = epoch == self._epoch and self._streams.connected(self.stream)
            if self._install(snapshot, trusted=trusted):
                return
            self.stats.snapshot_retries += 1

    def _install(self, snap: dict[str, Any], *, trusted: bool) -> bool:
        """Apply a snapshot and the buffered events; True when the book is consistent.

        `trusted`: the stream was subscribed on a live socket from before the snapshot was asked
        for until now, so every later update will arrive: with nothing buffered the snapshot
        alone is consistent (a quiet market sends no event to confirm it).
        """
        lid = int(snap["lastUpdateId"])
        buffer = self._buffer
        while buffer and buffer[0]["u"] <= lid:
            buffer.popleft()
        if buffer and buffer[0]["U"] > lid + 1:
            return False  # the snapshot is older than the events: take another
        if not buffer and not trusted:
            return False
        bids, asks = Side(bids=True), Side(bids=False)
        bids.apply(snap["bids"])
        asks.apply(snap["asks"])
        # levels beyond the snapshot's worst price are unknown until they change: reads stop there
        bids.set_bound(len(snap["bids"]) >= self.limit)
        asks.set_bound(len(snap["asks"]) >= self.limit)
        self._bids, self._asks = bids, asks
        last = lid
        while buffer:
            event = buffer.popleft()
            if not event["U"] <= last + 1 <= event["u"]:
                self.stats.gaps += 1
                buffer.appendleft(event)
                return False
            bids.apply(event["b"])
            asks.apply(event["a"])
            last = event["u"]
        self._last_u = last
        self._set_state(BookState.LIVE, "synced")
        return True
