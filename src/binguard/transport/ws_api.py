"""The WebSocket API client: one supervised socket, signing, logon, and request → gate → classify.

    api = WsApiClient(url, name="ws-orders", credentials=(api_key, signer), time=sync, gate=budget)
    api.serve()                     # the supervisor; a part may give on_open/on_message/...
    api.start()
    result = await api.request("order.place", params, signed=True, deadline=deadline)

The twin of `RestTransport` for web-socket-api.md: every request is admitted by the gate at its
WebSocket API weight (`ws_api_cost`; the same pool as REST, as Binance counts per IP), stamped
and signed once admitted (a wait for the budget must not age the timestamp), sent, settled with
the answer's `rateLimits` (read as REST headers: `policy.budget.ws_rate_headers`), and an error
answer is classified into a typed BinanceError and reported to the gate (`gate.admit`, its 429
pause, 418 ban, -1015). The result, or that error, is what `request` gives back.

Signing: every parameter but `signature`, sorted by name (`signing.ws_payload`), with `apiKey`,
`timestamp` and `recvWindow`. With an Ed25519 key a socket may log on once (`session.logon`,
weight 2) on every new socket, with one clock resync on -1021; a logged-on socket's requests
carry only the timestamp. Signatures and secrets never reach an event, a log or an exception:
only method names and codes.

A request with no `link` goes to the newest socket that is open and not announced to end, and
waits for one until its deadline: if none comes, or the socket died while the budget was
waited for, nothing was sent (`ConnectFailedError`), so even an order may be sent again.
`ready` says whether a socket takes requests right now (ws_orders.py goes over REST otherwise).

A refusal while opening a socket that no reconnection cures (`policy.retry.needs_a_fix`: the
logon or the part's subscription refused for the credentials or the request) ends the
supervisor after that one request (`WsSupervisor(fatal=...)`): `failure` keeps it, and
`wait_connected` and every later request raise it instead of reconnecting forever.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import replace
from typing import Any, Protocol
from urllib.parse import unquote

from binguard.errors import (
    BinanceError,
    ClockSkewError,
    ConnectFailedError,
    RequestInfo,
    UnclassifiedError,
    classify,
)
from binguard.policy.budget import ws_rate_headers
from binguard.policy.endpoints import ws_api_cost, ws_endpoint
from binguard.policy.gate import RateGate, admit
from binguard.policy.retry import needs_a_fix

from .signing import Signer, ws_payload
from .ws import Emit, Frame, WsLink, WsOptions, WsSupervisor, raw_key
from .ws_limits import ConnectLimiter

Record = Callable[[BinanceError], None]


class TimeSource(Protocol):
    def now_ms(self) -> int: ...


def _nothing(*_args: Any, **_kw: Any) -> None:
    return None


class WsApiClient:
    """A supervised WebSocket API socket and its requests; see the module docstring.

    `resync`: measures the server clock again (after a -1021 on logon); `record`: counts an
    error answer of a request made outside the retry loop (logon, subscriptions), which counts
    its own; `logon`: log on with Ed25519 keys (other key types sign every request)."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        credentials: tuple[str, Signer],
        time_source: TimeSource,
        recv_window_ms: int,
        options: WsOptions,
        gate: RateGate | None = None,
        resync: Callable[[], Awaitable[None]] | None = None,
        record: Record | None = None,
        emit: Emit = _nothing,
        limiter: ConnectLimiter | None = None,
        local_addr: str | None = None,
        logon: bool = True,
    ) -> None:
        self._url = url
        self.name = name
        self._api_key, self._signer = credentials
        self._time = time_source
        self._recv_window_ms = recv_window_ms
        # The WebSocket API limits by weight, not messages; connecting costs 2 weight.
        self.options = replace(options, max_outgoing_per_s=None, connect_weight=2)
        self._gate = gate
        self._resync = resync
        self._record = record or _nothing
        self._emit = emit
        self._limiter = limiter
        self._local_addr = local_addr
        self.logon_mode = logon and self._signer.key_type == "ED25519"
        self.sup: WsSupervisor | None = None
        self._on_open_part: Callable[[WsLink], Awaitable[None]] | None = None
        self._on_refused: Callable[[BinanceError], None] = _nothing
        self._refused: BinanceError | None = None  # a refusal no reconnection cures
        self._fresh: WsLink | None = None  # the newest socket, ready (logged on, subscribed)
        self._opened = asyncio.Event()  # set whenever a new socket is ready
        self.requests = 0  # requests that left on a socket
        self.lost = 0  # answers lost: socket ended or timed out after sending
        self.not_sent = 0  # requests that found no live socket: nothing left

    def __repr__(self) -> str:
        return f"WsApiClient({self.name!r}, logon={self.logon_mode})"

    def serve(
        self,
        *,
        on_open: Callable[[WsLink], Awaitable[None]] | None = None,
        on_message: Callable[[Frame], None] | None = None,
        on_down: Callable[[str], None] = _nothing,
        on_up: Callable[[bool], None] = _nothing,
        on_refused: Callable[[BinanceError], None] = _nothing,
        key: Callable[[str, Frame], Hashable] = raw_key,
    ) -> WsSupervisor:
        """Create the supervisor (once); `on_open` runs on every new socket after the logon.

        A refusal while opening that no reconnection cures (`needs_a_fix`: -1002, -1022,
        -2014, -2015, a bad request) ends the supervisor after that one request: `on_refused`
        hears of it, `failure` keeps it, and requests and `wait_connected` raise it."""
        self._on_open_part = on_open
        self._on_refused = on_refused
        extra: dict[str, Any] = {} if on_message is None else {"on_message": on_message}
        self.sup = WsSupervisor(
            self._url,
            name=self.name,
            on_open=self._on_open,
            on_down=on_down,
            on_up=on_up,
            key=key,
            options=self.options,
            emit=self._emit,
            limiter=self._limiter,
            gate=self._gate,
            on_error=self._gate.on_error if self._gate is not None else None,
            local_addr=self._local_addr,
            fatal=self._is_refusal,
            **extra,
        )
        return self.sup

    def _is_refusal(self, err: BinanceError) -> bool:
        return err is self._refused

    @property
    def failure(self) -> BinanceError | None:
        """The refusal that ended this client's socket for good (bad credentials), if any."""
        return self._refused

    @property
    def supervisor(self) -> WsSupervisor:
        if self.sup is None:
            raise RuntimeError(f"{self.name}: serve() was not called")
        return self.sup

    # -- the socket -------------------------------------------------------------------------
    async def _on_open(self, link: WsLink) -> None:
        """Log on (Ed25519), then the part's own opening; the socket then takes requests,
        even before a rotation switches to it."""
        try:
            if self.logon_mode:
                await self.logon(link)
            if self._on_open_part is not None:
                await self._on_open_part(link)
        except BinanceError as err:
            if needs_a_fix(err):
                # Reconnecting would send the same refused request again, forever.
                self._refused = err
                self._on_refused(err)
                self._opened.set()  # requests waiting for a socket: none will come
            raise
        self._fresh = link
        self._opened.set()

    async def logon(self, link: WsLink) -> None:
        """`session.logon` on `link` unless it is logged on (web-socket-api.md "Log in with API
        key (SIGNED)"); one clock resync and a second try on -1021."""
        if link.context.get("logged_on"):
            return
        for attempt in range(2):
            try:
                await self.request(
                    "session.logon",
                    signed=True,
                    deadline=time.monotonic() + self.options.open_timeout,
                    link=link,
                    record=True,
                )
            except ClockSkewError:
                if attempt or self._resync is None:
                    raise
                await self._resync()
                continue
            link.context["logged_on"] = True
            return

    def stamp(self, params: Mapping[str, object] | None, *, sign: bool) -> dict[str, Any]:
        """Params with timestamp + recvWindow, and apiKey + signature when `sign` (a logged-on
        socket's requests carry no signature: Binance authenticates the session)."""
        out: dict[str, Any] = dict(params or {})
        out["recvWindow"] = self._recv_window_ms
        out["timestamp"] = self._time.now_ms()
        if sign:
            out["apiKey"] = self._api_key
            # Signers percent-encode base64 for URLs; a JSON parameter carries it as is.
            out["signature"] = unquote(self._signer.sign(ws_payload(out)))
        return out

    def _usable(self) -> WsLink | None:
        """The newest socket that is open and not announced to end. During a rotation (before
        the 24-hour mark, after `serverShutdown`) the new socket is used as soon as it is open:
        the old one may stop answering; it is kept only until the answers owed on it arrive."""
        for link in (self._fresh, self.sup.link if self.sup is not None else None):
            if link is not None and link.alive and not link.planned:
                return link
        return None

    @property
    def ready(self) -> bool:
        """A socket is open and takes requests now (no waiting for one)."""
        return self._usable() is not None

    async def live_link(self, deadline: float) -> WsLink:
        """The socket to send on, waiting for one until `deadline`; ConnectFailedError if none
        came: then nothing was sent."""
        while True:
            link = self._usable()
            if link is not None:
                return link
            if self._refused is not None:
                raise self._refused  # no socket will come: the credentials were refused
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectFailedError(f"WebSocket API ({self.name}) is down; nothing was sent")
            # Down, or the server said this socket ends: wait for the next one to open (the
            # supervisor reconnects or rotates), or for this one to end.
            self._opened.clear()
            current = self.sup.link if self.sup is not None else None
            waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._opened.wait())]
            if current is not None:
                waits.append(current.done)
            try:
                await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waits[0].cancel()

    # -- one request ------------------------------------------------------------------------
    async def request(
        self,
        method: str,
        params: Mapping[str, object] | None = None,
        *,
        signed: bool,
        deadline: float,
        link: WsLink | None = None,
        record: bool = False,
    ) -> Any:
        """Send one request through the gate: its `result`, or a typed BinanceError.

        `signed`: stamped and signed (or only stamped on a logged-on socket); `link`: the socket
        to use (one being opened), else the live one; `record`: count an error answer (for
        requests outside the retry loop, which counts its own)."""
        row = ws_endpoint(method)
        request = RequestInfo.of(
            "POST" if row is not None and row.is_order else "GET", method, params
        )
        chosen = link or await self.live_link(deadline)
        async with admit(self._gate, ws_api_cost(method, params), deadline=deadline) as slot:
            if link is None and not chosen.alive:
                # Lost while waiting for the budget, before anything left: nothing reached
                # Binance. The charge stays (conservative); the retry rule sends it again.
                self.not_sent += 1
                raise ConnectFailedError(f"WebSocket API ({self.name}) dropped; nothing was sent")
            within = None  # a socket being opened answers within its own request timeout
            if link is None:
                within = max(0.05, min(self.options.request_timeout, deadline - time.monotonic()))
            sent = self.stamp(params, sign=not chosen.context.get("logged_on")) if signed else None
            slot.sent_ms = self._time.now_ms()
            reply = await self._exchange(
                chosen, method, sent or dict(params or {}), within, request
            )
            slot.headers = ws_rate_headers(reply.get("rateLimits") or ())
            if reply.get("status") != 200:
                failure = classify(reply) or UnclassifiedError(f"{method}: unreadable answer")
                failure.request = request
                if record:
                    self._record(failure)
                raise failure
            slot.ok = True
        return reply.get("result")

    async def _exchange(
        self,
        link: WsLink,
        method: str,
        params: dict[str, Any],
        within: float | None,
        request: RequestInfo,
    ) -> Frame:
        """Send on `link`; the raw answer. A drop or timeout after sending is a lost answer
        (counted, typed by the socket: ConnectionDroppedError, RequestTimeoutError)."""
        self.requests += 1
        try:
            # No await lies between the `alive` check and WsLink.send's own check, so a drop
            # from here on means the bytes may have left.
            return await link.request({"method": method, "params": params}, within)
        except BinanceError as err:
            self.lost += 1
            err.request = request
            raise

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        self.supervisor.start()

    async def close(self) -> None:
        """Stop the socket for good.

        `WsSupervisor.close()` cancels the supervisor's task once. On Python 3.11,
        `asyncio.wait_for` returns the inner result instead of raising when a cancellation
        arrives just as the inner step completes (CPython gh-86296), and the supervisor's
        `_connect` runs `on_open` under a timeout: a close during a reconnect could then wait
        forever. So the cancellation is repeated until it lands."""
        sup = self.sup
        if sup is None:
            return
        closing = asyncio.ensure_future(sup.close())
        try:
            while not closing.done():
                await asyncio.wait({closing}, timeout=0.25)
                main = sup._main
                if not closing.done() and main is not None and not main.done():
                    main.cancel()
        except BaseException:
            closing.cancel()
            raise
        closing.result()
