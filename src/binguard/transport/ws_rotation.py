"""Rotation and handover: replacing a live WebSocket without losing or repeating a message.

Before `max_lifetime` (Binance closes at 24 h) or on a `serverShutdown` event, a new socket is
opened next to the live one (BUFFERING, transport/ws_link.py) *while the old one still
delivers*; the new one's messages are buffered until the old one has delivered one of them, then
the switch happens (new → LIVE, old → DRAINING) and buffered messages the old one already
delivered are dropped (by `key`), so nothing is lost or repeated. Frames still in flight on the
new socket that the old one delivered are dropped for `handover_grace` after the switch.

A request-only socket (WebSocket API: answers, never unsolicited data) has no data to overlap:
the switch happens as soon as the new socket has proven it answers. A replaced socket is closed
once the answers still owed on it have come (within `request_timeout`), so a rotation never
fails a request in flight. If the old socket ended before catching up, the layer above is told
as for a reconnect (`gap`), so it can check what it may have missed.

The supervisor (transport/ws.py) owns a `Rotator` and gives it what it needs as functions: this
module does not import the supervisor.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

from binguard.errors import BinanceError

from .ws_link import Frame, LinkState, WsLink, WsOptions, WsStats, first_of

KeyFn = Callable[[str, Frame], Hashable]


@dataclass(slots=True)
class Handover:
    """One rotation in progress: what the old socket delivered since it began."""

    old: WsLink
    new: WsLink | None = None
    seen: set[Hashable] = field(default_factory=set)
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(slots=True, kw_only=True)
class RotationHooks:
    """What a rotation does through its supervisor."""

    name: str
    options: WsOptions
    stats: WsStats
    request_only: bool
    key: KeyFn
    connect: Callable[[], Awaitable[WsLink]]  # a new socket, BUFFERING, `on_open` done
    reap: Callable[[WsLink, bool], None]  # close a link in the background (drain first: True)
    make_current: Callable[[WsLink], None]
    deliver: Callable[[Frame], None]
    emit: Callable[..., None]
    gap: Callable[[], None]  # the old socket ended before catching up: tell the layer above


class Rotator:
    """Rotates a supervisor's live socket when due; see the module docstring."""

    def __init__(self, hooks: RotationHooks) -> None:
        self._h = hooks
        self.handover: Handover | None = None
        self._seen_after_switch: set[Hashable] = set()
        self._seen_until = 0.0
        self.now = asyncio.Event()  # set: rotate at once (serverShutdown, `rotate()`)

    # -- frames -----------------------------------------------------------------------------
    def passes(self, link: WsLink, raw: str, frame: Frame) -> bool:
        """Whether a frame of a delivering `link` is delivered: during a rotation the old
        socket's frames are remembered; just after one, repeats of them are dropped."""
        key: Hashable = None
        repeat = False
        if self._seen_after_switch:
            # Checked first: the next rotation may begin while the last one's window is open.
            if link._loop.time() > self._seen_until:
                self._seen_after_switch = set()
            else:
                key = self._h.key(raw, frame)
                repeat = key in self._seen_after_switch
        handover = self.handover
        if handover is not None and link is handover.old:
            if key is None:
                key = self._h.key(raw, frame)
            handover.seen.add(key)
            if handover.new is not None and key in handover.new.buffer_keys:
                handover.caught_up.set()
        if repeat:
            self._h.stats.duplicates_dropped += 1
            return False
        return True

    # -- when ---------------------------------------------------------------------------------
    async def serve(self, current: Callable[[], WsLink | None]) -> None:
        """Hold the live socket, rotating it when due, until one is lost."""
        opts = self._h.options
        loop = asyncio.get_running_loop()
        retry_rotation_at: float | None = None
        failures = 0
        while True:
            link = current()
            assert link is not None
            if link.done.done():
                return
            jitter = 1.0 - opts.lifetime_jitter * opts.backoff.random()
            due = retry_rotation_at or link.opened + opts.max_lifetime * jitter
            waiter = asyncio.ensure_future(self.now.wait())
            try:
                await first_of(max(0.0, due - loop.time()), link.done, waiter)
            finally:
                waiter.cancel()
            if link.done.done():
                return
            self.now.clear()
            if await self.rotate(link):
                retry_rotation_at = None
                failures = 0
            else:
                self._h.stats.rotation_failures += 1
                retry_rotation_at = loop.time() + opts.backoff.delay(failures) + 0.05
                failures += 1

    # -- how ------------------------------------------------------------------------------------
    async def rotate(self, old: WsLink) -> bool:
        """Open a new socket next to `old`, switch once it is proven; False if it failed."""
        h = self._h
        h.stats.rotations += 1
        h.emit("ws_rotate", name=h.name, serial=old.serial)
        # From now on, remember what the old socket delivers: the new one will repeat some of it.
        handover = self.handover = Handover(old)
        try:
            try:
                new = await h.connect()
            except BinanceError as err:
                h.emit("ws_rotate_failed", name=h.name, error=type(err).__name__)
                return False
            handover.new = new
            if not await self._proven(handover, new):
                h.reap(new, False)
                return False
        finally:
            self.handover = None
        if h.request_only:
            self.switch(old, new, set())
            return True
        # Clean: the old socket delivered up to where the new one starts, or both are quiet.
        clean = handover.caught_up.is_set() or (old.alive and not new.buffer)
        self.switch(old, new, handover.seen)
        if not clean:
            # The old socket ended (or stalled) before catching up: events may be missing
            # between the two. Tell the layer above as for a reconnect, so it can check.
            h.emit("ws_handover_gap", name=h.name, old=old.serial, new=new.serial)
            h.gap()
        return True

    async def _proven(self, handover: Handover, new: WsLink) -> bool:
        """Whether `new` may take over: it answers (request-only), or its data has caught up
        with the old socket's within `handover_grace` (or the old one ended meanwhile)."""
        opts, old = self._h.options, handover.old
        if self._h.request_only:
            # No data to overlap: proven once it answers; the old one drains its answers.
            return await new.prove(opts.handover_timeout)
        first = asyncio.ensure_future(new.first_data.wait())
        try:
            await first_of(opts.handover_timeout, first, old.done, new.done)
        finally:
            first.cancel()
        if new.done.done():
            return False
        if not new.buffer and handover.seen and old.alive:
            # The old socket delivered data and the new one none: it is not subscribed yet, and
            # switching now would lose what is published before it is (a silent hole).
            return False
        if new.buffer and old.alive:
            if any(key in handover.seen for key in new.buffer_keys):
                handover.caught_up.set()  # the old socket is ahead already
            caught = asyncio.ensure_future(handover.caught_up.wait())
            try:
                await first_of(opts.handover_grace, caught, old.done, new.done)
            finally:
                caught.cancel()
            if new.done.done():
                return False
        return True

    def switch(self, old: WsLink, new: WsLink, seen: set[Hashable]) -> None:
        """Make `new` the live socket: deliver its buffer minus what `old` delivered."""
        h = self._h
        old.planned = True
        if old.state is LinkState.LIVE:
            old.move(LinkState.DRAINING)
        new.move(LinkState.LIVE)
        h.make_current(new)
        buffered, new.buffer = new.buffer, deque()
        new.buffer_keys = set()
        for key, frame in buffered:
            if key in seen:
                h.stats.duplicates_dropped += 1
                continue
            h.stats.messages += 1
            h.deliver(frame)
        if seen:
            # Frames in flight on the new socket that the old one delivered: drop them briefly.
            self._seen_after_switch = seen
            self._seen_until = new._loop.time() + h.options.handover_grace
        h.emit("ws_switch", name=h.name, old=old.serial, new=new.serial)
        h.reap(old, True)
