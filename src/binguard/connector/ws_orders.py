"""Order placement and cancel over the WebSocket API (`orders_via="ws"`), reconciled like REST.

    bn = SpotConnector(..., options=ConnectorOptions(orders_via="ws"))
    await bn.place_order(...)      # `order.place` on a supervised WebSocket API socket

Why a socket: no TCP/TLS handshake per order and no HTTP framing, so an order leaves sooner. What
does not change is the safety rule (orders.py): the client order id is journalled first, and an
answer that is lost — the socket dropped or reset after the request left, a timeout, a 5XX
`status`, -1006 / -1007 — is never re-sent blindly. It surfaces as `OutcomeUnknown`, and the
order manager looks the order up by its client order id (over REST, a path independent of the
socket that just failed) and re-sends with the same id only once the server clock has passed the
attempt's timestamp + recvWindow + margin.

One thing is clearer than over REST: a request whose socket is not up, or ended before the bytes
could leave, provably reached nobody (`ConnectFailedError`), so it is simply sent again once a
socket is back (retry rule `nothing_sent`).

Requests are signed as web-socket-api.md documents: every parameter but `signature`, sorted by
name (`transport/signing.py` `ws_payload`), with `apiKey`, `timestamp` and `recvWindow`; with an
Ed25519 key the socket logs on once (`session.logon`) and later requests carry only the timestamp.
Each request is admitted by the connector's budget at its WebSocket API weight (`ws_api_cost`;
the same pool as REST, as Binance counts per IP) and settled with the response's `rateLimits`
(`ws_rate_headers`); error answers also go through `budget.on_error` (429 pause, 418 ban,
-1015). The socket is a `WsSupervisor`: reconnects forever, logs on again on every new socket.
Signatures and secrets never reach an event, a log or an exception: only method names and codes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any
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
from binguard.policy.weights import ws_api_cost
from binguard.transport.rest import RateGate
from binguard.transport.signing import Signer, ws_payload
from binguard.transport.ws import WsLink, WsSupervisor

if TYPE_CHECKING:
    from .client import SpotConnector

# Methods that change orders: their lost answers are reconciled, never retried.
ORDER_METHODS = frozenset({"order.place", "order.cancel", "openOrders.cancelAll"})


class WsOrderSession:
    """A supervised WebSocket API socket for orders; see the module docstring."""

    def __init__(
        self,
        connector: SpotConnector,
        *,
        api_key: str,
        signer: Signer,
        gate: RateGate | None = None,
    ) -> None:
        self._bn = connector
        self._api_key = api_key
        self._signer = signer
        self._gate = gate  # the connector's budget (or the gate it was given): shared with REST
        self.logon = signer.key_type == "ED25519"
        opts = connector.options
        self.sup = WsSupervisor(
            opts.ws_api_url,
            name="ws-orders",
            on_open=self._on_open,
            # The WebSocket API limits by weight, not messages; connecting costs 2 weight.
            options=replace(opts.ws, max_outgoing_per_s=None, connect_weight=2),
            emit=connector.emit,
            limiter=connector.ws_limiter,
            gate=gate,
            on_error=gate.on_error if gate is not None else None,
            local_addr=opts.local_addr,
        )
        self._fresh: WsLink | None = None  # the newest socket, logged on
        self._opened = asyncio.Event()  # set whenever a new socket is ready
        self.requests = 0  # requests that left on a socket
        self.lost = 0  # answers lost: socket ended or timed out after sending
        self.not_sent = 0  # requests that found no live socket: nothing left, sent again

    def __repr__(self) -> str:
        return f"WsOrderSession(connected={self.sup.connected}, logon={self.logon})"

    def start(self) -> None:
        """Connect in the background; the first request waits for the socket."""
        self.sup.start()

    async def close(self) -> None:
        """Stop the socket for good.

        `WsSupervisor.close()` cancels the supervisor's task once. On Python 3.11,
        `asyncio.wait_for` returns the inner result instead of raising when a cancellation
        arrives just as the inner step completes (CPython gh-86296), and the supervisor's
        `_connect` wraps `on_open` in it: a close during a reconnect then waits forever. So the
        cancellation is repeated until it lands (a fix in transport/ws.py belongs to its owner).
        """
        closing = asyncio.ensure_future(self.sup.close())
        try:
            while not closing.done():
                await asyncio.wait({closing}, timeout=0.25)
                main = self.sup._main
                if not closing.done() and main is not None and not main.done():
                    main.cancel()
        except BaseException:
            closing.cancel()
            raise
        closing.result()

    # -- the socket -------------------------------------------------------------------------
    async def _on_open(self, link: WsLink) -> None:
        """Log on (Ed25519 keys) on every new socket; one clock resync on -1021. The socket
        then becomes the one requests go to, even before a rotation switches to it."""
        if self.logon:
            for attempt in range(2):
                try:
                    await self._logon(link)
                except ClockSkewError:
                    if attempt:
                        raise
                    await self._bn.sync_time()
                    continue
                link.context["logged_on"] = True
                break
        self._fresh = link
        self._opened.set()

    def _stamp(self, *, signed: bool, params: Mapping[str, object] | None = None) -> dict[str, Any]:
        """Params with timestamp + recvWindow, and apiKey + signature unless `signed` is False
        (a logged-on socket: Binance authenticates the session, not the request)."""
        out: dict[str, Any] = dict(params or {})
        out["recvWindow"] = self._bn.options.recv_window_ms
        out["timestamp"] = self._bn.time.now_ms()
        if signed:
            out["apiKey"] = self._api_key
            # Signers percent-encode base64 for URLs; a JSON parameter carries it as is.
            out["signature"] = unquote(self._signer.sign(ws_payload(out)))
        return out

    async def _logon(self, link: WsLink) -> None:
        """`session.logon` on a new socket (not yet the supervisor's live one), through the
        budget at its weight (2, web-socket-api.md), settled with the answer's `rateLimits`."""
        gate = self._gate
        deadline = time.monotonic() + self.sup.options.open_timeout
        ticket = (
            await gate.acquire(ws_api_cost("session.logon"), deadline=deadline)
            if gate is not None
            else None
        )
        params = self._stamp(signed=True)
        sent_ms = self._bn.time.now_ms()
        try:
            reply = await link.request({"method": "session.logon", "params": params})
        except BaseException:
            if gate is not None:
                await asyncio.shield(gate.settle(ticket, ok=False))
            raise
        headers = ws_rate_headers(reply.get("rateLimits") or ())
        ok = reply.get("status") == 200
        if gate is not None:
            await gate.settle(ticket, ok=ok, headers=headers)
        if not ok:
            err = classify(reply) or UnclassifiedError("session.logon: unreadable answer")
            await self._bn.observe_ws_error(err, sent_ms=sent_ms)
            raise err

    def _usable(self) -> WsLink | None:
        """Where a request goes: the newest socket that is open and not announced to end.

        During a rotation (before the 24-hour mark, after `serverShutdown`) the new socket is
        used as soon as it is open: the old one may stop answering (a server going down); it is
        kept only until the answers still owed on it arrive (transport/ws.py drains it)."""
        for link in (self._fresh, self.sup.link):
            if link is not None and link.alive and not link.planned:
                return link
        return None

    async def _live_link(self, deadline: float) -> WsLink:
        """The socket to send on, waiting for one until `deadline`; ConnectFailedError if none
        came: then nothing was sent, so even an order may be sent again."""
        while True:
            link = self._usable()
            if link is not None:
                return link
            left = deadline - time.monotonic()
            if left <= 0:
                raise ConnectFailedError("WebSocket API (orders) is down; nothing was sent")
            # Down, or the server said this socket ends: wait for the next one to open (the
            # supervisor reconnects or rotates), or for this one to end.
            self._opened.clear()
            current = self.sup.link
            waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._opened.wait())]
            if current is not None:
                waits.append(current.done)
            try:
                await asyncio.wait(waits, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waits[0].cancel()

    # -- one request --------------------------------------------------------------------------
    async def send(self, method: str, params: Mapping[str, object], *, deadline: float) -> Any:
        """Send one request through the budget; its `result`, or a typed BinanceError."""
        request = RequestInfo.of("POST" if method in ORDER_METHODS else "GET", method, params)
        link = await self._live_link(deadline)
        gate = self._gate
        ticket = None
        if gate is not None:
            ticket = await gate.acquire(ws_api_cost(method, params), deadline=deadline)
        if not link.alive:
            # Lost while waiting for the budget, before anything left: nothing reached Binance.
            # The charge stays (conservative); the retry rule sends it again.
            if gate is not None:
                await gate.settle(ticket, ok=False)
            self.not_sent += 1
            raise ConnectFailedError("WebSocket API (orders) dropped; nothing was sent")
        # Signed after the budget admitted it, like REST: a wait must not age the timestamp.
        sent = self._stamp(signed=not link.context.get("logged_on"), params=params)
        sent_ms = self._bn.time.now_ms()
        within = max(0.05, min(self.sup.options.request_timeout, deadline - time.monotonic()))
        self.requests += 1
        try:
            # No await lies between the `alive` check above and WsLink.send's own check, so a
            # drop from here on means the bytes may have left.
            reply = await link.request({"method": method, "params": sent}, within)
        except BinanceError as err:  # ConnectionDroppedError, RequestTimeoutError
            self.lost += 1
            err.request = request
            if gate is not None:
                await gate.settle(ticket, ok=False)
                await gate.on_error(err, sent_ms=sent_ms)
            raise
        except BaseException:
            # Cancelled mid-flight: the request may have left, so its weight counts.
            if gate is not None:
                await asyncio.shield(gate.settle(ticket, ok=False))
            raise
        headers = ws_rate_headers(reply.get("rateLimits") or ())
        if reply.get("status") == 200:
            if gate is not None:
                await gate.settle(ticket, ok=True, headers=headers)
            return reply.get("result")
        failure = classify(reply) or UnclassifiedError(f"{method}: unreadable answer")
        failure.request = request
        if gate is not None:
            await gate.settle(ticket, ok=False, headers=headers)
            await gate.on_error(failure, sent_ms=sent_ms)
        raise failure

    # -- the request loop -----------------------------------------------------------------------
    async def call(
        self,
        method: str,
        params: Mapping[str, object],
        *,
        deadline: float | None = None,
    ) -> Any:
        """One logical request with the connector's retry policy. Raises a typed BinanceError,
        or `OutcomeUnknown` for an order method whose request may have executed."""
        is_order = method in ORDER_METHODS
        until = deadline or time.monotonic() + self._bn.options.request_deadline
        return await self._bn.retrying(
            lambda: self.send(method, params, deadline=until),
            method="POST" if is_order else "GET",
            path=method,
            is_order=is_order,
            deadline=until,
            sync=True,
        )
