"""The WebSocket supervisor: one logical connection to Binance that never gives up.

    sup = WsSupervisor(url=lambda: f"{base}/stream?streams=btcusdt@trade", on_message=handle)
    sup.start()
    await sup.wait_connected()
    ...
    await sup.close()        # the only way it stops

Each physical socket is a `WsLink`; the supervisor keeps one live at a time and replaces it:

- lost (reset, close frame, error, silence) → reconnect forever with capped full-jitter backoff
  (policy/backoff.py). The backoff resets once a socket has lived `healthy_after` seconds, so a
  flapping server is not hammered and a healthy one is rejoined within tens of milliseconds. A
  planned close (1000 at Binance's 24-hour mark, 1001 going away) reconnects at once; a 1008 policy
  close escalates like a failure (reconnecting at once would loop, hummingbot #7044).
- silent → no frame at all (data, ping, pong) for `silence_timeout` seconds means a stalled socket
  (python-binance #670): it is dropped and replaced. After `probe_after` seconds of quiet the
  supervisor pings the server itself, so an idle but healthy socket answers with a pong.
- old → before `max_lifetime` (Binance closes at 24 h) or on a `serverShutdown` event, the socket
  is rotated with overlap (transport/ws_rotation.py): nothing lost or repeated, no request in
  flight failed. A request-only socket (`request_only`, by default when no `on_message` is
  given: a WebSocket API socket) switches as soon as the new socket has proven it answers.

When to reconnect after a socket ended is a pure decision (policy/reconnect.py `after_end`); each
socket's lifecycle is a state machine (transport/ws_link.py `LinkState`).

Server pings are answered with their payload (aiohttp's autoping is off so the watchdog sees every
frame; the answer is the same). Requests (`SUBSCRIBE`, WebSocket API methods) carry an id and
their answer is matched by it; outgoing messages stay under Binance's 5 per second per socket
(`ws_limits.MessageWindow`) and connection attempts under 300 per 5 minutes per IP
(`ws_limits.ConnectLimiter`, shared between the sockets of one connector). Every failure to connect
is classified through `binguard.errors.classify` into a typed `BinanceError`; URLs and reasons
carry no secrets (WebSocket URLs hold none, signed params never reach a log or an event).

The layer above (market streams, user data) gives `on_open(link)`, which runs on every new socket
before it counts as up (subscribe, log on), `on_message(frame)` for every data frame, and
`on_down(reason)` / `on_up(reconnected)` around unplanned gaps (a rotation is no gap).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import aiohttp
import orjson

from binguard._aio import reap
from binguard.errors import (
    BinanceError,
    ConnectFailedError,
    ConnectionDroppedError,
    RequestTimeoutError,
    classify,
)
from binguard.policy.gate import RateGate
from binguard.policy.reconnect import Ended, after_end
from binguard.policy.weights import Cost

from .http_backends import orjson_exact
from .ws_limits import ConnectLimiter
from .ws_link import (
    GOING_AWAY,
    NORMAL,
    POLICY,
    Frame,
    LinkState,
    WsLink,
    WsOptions,
    WsStats,
    nothing,
    raw_key,
)
from .ws_rotation import RotationHooks, Rotator

__all__ = [
    "GOING_AWAY",
    "NORMAL",
    "POLICY",
    "Emit",
    "Frame",
    "KeyFn",
    "WsLink",
    "WsOptions",
    "WsStats",
    "WsSupervisor",
    "decode_text",
    "raw_key",
]

log = logging.getLogger("binguard.ws")

KeyFn = Callable[[str, Frame], Hashable]
Emit = Callable[..., None]


def decode_text(raw: str) -> Any:
    """A text frame decoded as `json.loads(raw)` decodes it: same result, same errors.

    orjson (about twice as fast as json on a depth frame) unless the frame has a run of 19
    digits (an integer orjson would turn into a float: the test `http_backends.loads` makes for
    REST answers) or orjson refuses it (NaN, 1e400, a BOM...): then json decides.
    """
    try:
        body = raw.encode()
    except UnicodeEncodeError:  # a lone surrogate (aiohttp never hands one over)
        return json.loads(raw)
    if orjson_exact(body):
        try:
            return orjson.loads(body)
        except ValueError:
            pass
    return json.loads(raw)


class WsSupervisor:
    """One supervised WebSocket; see the module docstring."""

    def __init__(
        self,
        url: str | Callable[[], str],
        *,
        name: str = "ws",
        on_message: Callable[[Frame], None] = nothing,
        on_open: Callable[[WsLink], Awaitable[None]] | None = None,
        on_down: Callable[[str], None] = nothing,
        on_up: Callable[[bool], None] = nothing,
        key: KeyFn = raw_key,
        options: WsOptions | None = None,
        emit: Emit = nothing,
        limiter: ConnectLimiter | None = None,
        gate: RateGate | None = None,
        on_error: Callable[[BinanceError], Awaitable[None]] | None = None,
        session: aiohttp.ClientSession | None = None,
        local_addr: str | None = None,
        request_only: bool | None = None,
        fatal: Callable[[BinanceError], bool] | None = None,
    ) -> None:
        """`request_only`: the socket carries answers to requests, never unsolicited data, so
        a rotation switches once the new socket answers (default: True when no `on_message`
        is given). `fatal`: a failure to connect or open that no reconnection can cure (the
        WebSocket API refusing the credentials): supervision ends, `failure` holds it and
        `wait_connected` raises it (default: none; reconnect forever)."""
        self._url = url if callable(url) else (lambda: url)
        self.request_only = on_message is nothing if request_only is None else request_only
        self.name = name
        self.options = options or WsOptions()
        self._on_message = on_message
        self._on_open = on_open
        self._on_down = on_down
        self._on_up = on_up
        self._key = key
        self._emit = emit
        self._limiter = limiter or ConnectLimiter()
        self._gate = gate
        self._on_error = on_error
        self._fatal = fatal
        self.failure: BinanceError | None = None  # what ended supervision (`fatal`), if any
        self._session = session
        self._own_session = session is None
        self._local_addr = local_addr
        self.stats = WsStats()
        self._ids = itertools.count(1)
        self._serials = itertools.count(1)
        self._current: WsLink | None = None
        self._up = asyncio.Event()
        self._rotator = self._make_rotator(key, on_message, emit)
        self._closing = False
        self._main: asyncio.Task[None] | None = None
        self._reaping: set[asyncio.Task[None]] = set()
        self._links: set[WsLink] = set()

    def _make_rotator(self, key: KeyFn, on_message: Callable[[Frame], None], emit: Emit) -> Rotator:
        return Rotator(
            RotationHooks(
                name=self.name,
                options=self.options,
                stats=self.stats,
                request_only=self.request_only,
                key=key,
                connect=lambda: self._connect(buffering=True),
                reap=lambda link, drain: self._reap(link, drain=drain),
                make_current=self._make_current,
                deliver=on_message,
                emit=emit,
                gap=self._gap,
            )
        )

    def __repr__(self) -> str:
        return f"WsSupervisor({self.name!r}, connected={self.connected})"

    # -- public -----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        link = self._current
        return link is not None and link.alive

    @property
    def link(self) -> WsLink | None:
        """The live socket, if any."""
        return self._current if self.connected else None

    def start(self) -> None:
        """Start supervising (idempotent); returns at once, see `wait_connected`."""
        if self._main is None:
            if self._session is None:
                connector = aiohttp.TCPConnector(
                    local_addr=(self._local_addr, 0) if self._local_addr else None
                )
                self._session = aiohttp.ClientSession(connector=connector)
            self._main = asyncio.create_task(self._run(), name=f"ws-{self.name}")

    async def wait_connected(self, within: float | None = None) -> None:
        """Wait until a socket is up (raises TimeoutError after `within` seconds)."""
        self._raise_if_failed()
        waiter = asyncio.ensure_future(self._up.wait())
        tasks: set[asyncio.Future[Any]] = {waiter}
        if self._main is not None:
            tasks.add(self._main)
        try:
            await asyncio.wait(tasks, timeout=within, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        self._raise_if_failed()
        if not self._up.is_set():
            raise TimeoutError(f"WebSocket {self.name} not connected within {within} s")

    async def request(self, payload: Frame, within: float | None = None) -> Frame:
        """A request on the live socket (waits up to `within` seconds for one to be up)."""
        wait = self.options.request_timeout if within is None else within
        try:
            await self.wait_connected(wait)
        except TimeoutError:
            raise ConnectionDroppedError(f"WebSocket {self.name} is down") from None
        link = self._current
        assert link is not None
        return await link.request(payload, wait)

    def rotate(self) -> None:
        """Replace the socket now, with overlap (as before the 24-hour mark)."""
        self._rotator.now.set()

    def drop(self, reason: str = "dropped by client") -> None:
        """Abort the live socket as if the network failed (tests, operators); it reconnects."""
        if self._current is not None:
            self._current.abort(reason)

    async def close(self) -> None:
        """Stop for good: close every socket and the session."""
        self._closing = True
        await reap(self._main)
        for link in list(self._links):
            await link.finish()
        # Sockets being closed in the background (replaced, lost): their close is awaited, not
        # cancelled, so each still says goodbye to the server within `close_timeout`.
        await reap(*self._reaping, cancel=False)
        self._up.clear()
        self.stats.connected = False
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _raise_if_failed(self) -> None:
        if self.failure is not None:
            raise self.failure
        main = self._main
        if main is not None and main.done() and not main.cancelled():
            exc = main.exception()
            if exc is not None:
                raise exc

    # -- what links need (ws_link.LinkHost) --------------------------------------------------
    def next_request_id(self) -> int:
        return next(self._ids)

    def on_text(self, link: WsLink, raw: str) -> None:
        """A text frame of `link`: an answer to its request, a shutdown notice, or data
        (delivered, buffered during a rotation, or dropped as a repeat)."""
        try:
            frame = decode_text(raw)
        except ValueError:
            self.stats.malformed += 1
            return
        if type(frame) is not dict:
            self.stats.malformed += 1
            return
        if "id" in frame and ("result" in frame or "error" in frame or "status" in frame):
            link.messages += 1  # an answered request shows a working socket (reconnect policy)
            future = link.pending.get(frame["id"])
            if future is not None and not future.done():
                future.set_result(frame)
            return
        kind = frame.get("e")
        if kind is None:
            inner = frame.get("event")
            if type(inner) is dict:
                kind = inner.get("e")
        if kind == "serverShutdown":
            self._server_shutdown(link)
            return
        link.messages += 1
        if link.buffering:
            key = self._key(raw, frame)
            link.buffer.append((key, frame))
            link.buffer_keys.add(key)
            link.first_data.set()
            return
        if not link.delivering or not self._rotator.passes(link, raw, frame):
            return
        self.stats.messages += 1
        link.first_data.set()
        self._on_message(frame)

    def _server_shutdown(self, link: WsLink) -> None:
        self.stats.server_shutdowns += 1
        link.planned = True
        self._emit("ws_server_shutdown", name=self.name, serial=link.serial)
        if link is self._current:
            self._rotator.now.set()

    # -- the loop ---------------------------------------------------------------------------
    async def _run(self) -> None:
        attempt = 0
        down_since: float | None = None
        loop = asyncio.get_running_loop()
        while not self._closing:
            try:
                link = await self._connect(buffering=False)
            except BinanceError as err:
                if self._fatal is not None and self._fatal(err):
                    self._give_up(err)
                    return
                await self._connect_failed(err, attempt)
                attempt += 1
                continue
            self._went_up(link, down_since, attempt)
            await self._rotator.serve(lambda: self._current)
            last = self._current  # the live socket when it ended (rotations replace it)
            assert last is not None
            down_since = loop.time()
            self._went_down(last)
            if self._closing:
                return
            ended = Ended(last.close_code, last.planned, loop.time() - last.opened, last.messages)
            decision = after_end(ended, attempt, self.options.healthy_after)
            attempt = decision.attempt
            if decision.at_once:
                continue  # the server said so (24 h mark, shutdown): reconnect at once
            await asyncio.sleep(self.options.backoff.delay(attempt))
            attempt += 1

    def _make_current(self, link: WsLink) -> None:
        self._current = link

    def _went_up(self, link: WsLink, down_since: float | None, attempt: int) -> None:
        """`link` is the live socket now: told, counted, and `on_up` called."""
        link.move(LinkState.LIVE)
        self._current = link
        self._up.set()
        self.stats.connected = True
        self.stats.connects += 1
        self._emit("ws_connect", name=self.name, serial=link.serial)
        if down_since is not None:
            self.stats.reconnects += 1
            downtime_ms = round((asyncio.get_running_loop().time() - down_since) * 1000, 1)
            self._emit("ws_reconnect", name=self.name, downtime_ms=downtime_ms, attempt=attempt)
            self._on_up(True)
        else:
            self._on_up(False)

    def _went_down(self, link: WsLink) -> None:
        """The live socket `link` ended: told, counted, `on_down` called, and closed."""
        reason = link.done.result()
        self._up.clear()
        self.stats.connected = False
        self.stats.disconnects += 1
        self.stats.last_reason = reason
        self._emit(
            "ws_disconnect",
            name=self.name,
            reason=reason,
            code=link.close_code,
            planned=link.planned,
        )
        self._on_down(reason)
        self._reap(link)

    def _gap(self) -> None:
        """A rotation without overlap: the layer above hears of it as of a reconnect."""
        self._on_down("rotation without overlap")
        self._on_up(True)

    def _give_up(self, err: BinanceError) -> None:
        """A fatal failure: no more attempts; told once (`ws_failed`), kept in `failure`."""
        self.failure = err
        self._emit("ws_failed", name=self.name, error=type(err).__name__, code=err.code)

    async def _connect_failed(self, err: BinanceError, attempt: int) -> None:
        """A failed connection attempt: counted, told, and waited out (backoff, or the
        error's Retry-After when longer)."""
        self.stats.connect_failures += 1
        self._emit(
            "ws_connect_failed",
            name=self.name,
            error=type(err).__name__,
            code=err.code,
            http_status=err.http_status,
            attempt=attempt,
        )
        delay = self.options.backoff.delay(attempt)
        if err.retry_after is not None:
            delay = max(delay, err.retry_after)
        await asyncio.sleep(delay)

    def _reap(self, link: WsLink, *, drain: bool = False) -> None:
        """Close `link` in the background: at once, or (`drain`: a replaced socket, no longer
        used for new requests) once the answers still owed on it have come."""
        if not drain:
            link.abort(link.done.result() if link.done.done() else "replaced")
        task = asyncio.create_task(self._retire(link, drain), name=f"ws-close-{link.serial}")
        self._reaping.add(task)

        def forget(t: asyncio.Task[None]) -> None:
            self._reaping.discard(t)
            self._links.discard(link)

        task.add_done_callback(forget)

    async def _retire(self, link: WsLink, drain: bool) -> None:
        if drain:
            await link.drain(self.options.request_timeout)
        await link.finish()

    def _gate_check(self) -> None:
        """No connection attempt during a ban the gate knows of (a handshake is a request to the
        banned IP too): raised as a failed attempt, and every attempt waits for the ban's end."""
        assert self._gate is not None
        try:
            self._gate.check()
        except BinanceError as err:
            if err.retry_after is not None:
                self._limiter.pause(err.retry_after)
            raise

    async def _connect(self, *, buffering: bool) -> WsLink:
        """Open, start reading, run `on_open`; a typed BinanceError on any failure."""
        opts = self.options
        await self._limiter.acquire()
        if self._gate is not None:
            self._gate_check()
        if self._gate is not None and opts.connect_weight:
            async with self._gate.admit(Cost(weight=opts.connect_weight)) as slot:
                slot.ok = True  # a connection costs its weight whatever follows
        url = self._url()
        session = self._session
        assert session is not None
        try:
            async with asyncio.timeout(opts.open_timeout):
                ws = await session.ws_connect(
                    url,
                    autoping=False,
                    autoclose=True,
                    timeout=aiohttp.ClientWSTimeout(ws_close=opts.close_timeout),
                    max_msg_size=opts.max_msg_size,
                )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            err = classify(exc) or ConnectFailedError(
                f"WebSocket connect failed: {type(exc).__name__}"
            )
            if err.retry_after is not None:
                self._limiter.pause(err.retry_after)
            if self._on_error is not None:
                await self._on_error(err)
            raise err from exc
        link = WsLink(self, ws, next(self._serials), url, buffering=buffering)
        self._links.add(link)
        link.start()
        if self._on_open is not None:
            try:
                async with asyncio.timeout(opts.open_timeout):
                    await self._on_open(link)
            except TimeoutError:
                self._reap(link)
                raise RequestTimeoutError(f"WebSocket {self.name}: opening took too long") from None
            except BaseException:
                self._reap(link)
                raise
        if not link.alive:
            self._reap(link)
            raise ConnectionDroppedError(f"WebSocket {self.name} closed while opening")
        return link
