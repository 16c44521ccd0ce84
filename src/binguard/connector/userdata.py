"""User data over the WebSocket API: fills and order states pushed, never missed.

    await bn.start_user_data(symbols=["BTCUSDT"])
    bn.user_data.healthy        # subscribed on a live socket
    bn.tracker.fills            # every fill, whichever way it was learnt

listenKeys are gone since 2026-02-20: user data comes through a WebSocket API socket
(user-data-stream.md; web-socket-api.md §User Data Stream requests). On every new socket this
module subscribes, either

- `session.logon` (Ed25519 keys only) then `userDataStream.subscribe`: the socket is
  authenticated once, later requests need no signature; or
- `userDataStream.subscribe.signature` (any key type: HMAC, RSA, Ed25519), signed like any
  WebSocket API request (params sorted by name; transport/signing.py `ws_payload`).

Events (`{"subscriptionId", "event"}`) feed the connector's `OrderTracker` (tracker.py):
`executionReport` → order state and fills, `outboundAccountPosition` → balances; merges are
idempotent, so a duplicated or late report changes nothing. After any reconnect or an
`eventStreamTerminated`, the subscription is renewed and a REST catch-up runs (open orders, and
`myTrades` since the last event, per symbol; then a query for every order the tracker still
thinks open but the exchange does not list), so a fill that happened while the socket was down
is still learnt. While the stream is down, tracked open orders are polled over REST, a bounded
number per round (`fallback_max_orders` every `fallback_poll` seconds), through the budget, in
turn: each round goes on where the last one stopped (`next_round`), so with more open orders than
a round holds every one is still polled within ceil(open / fallback_max_orders) rounds.

`session.logon` and the subscribe requests are admitted by the connector's rate budget at their
WebSocket API weight (`ws_api_cost`: 2 each, web-socket-api.md) and settled with the answer's
`rateLimits`, like every other request (ws_orders.py does the same for orders).

A -1021 while subscribing resyncs the clock and is retried; other refusals are typed errors
(classify) and the socket is replaced with backoff. Signatures and secrets never reach an event
or a log: only method names and error codes do.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import time
from collections.abc import Hashable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from binguard._aio import reap
from binguard.errors import (
    BinanceError,
    ClockSkewError,
    InvalidRequestError,
    OrderNotFoundError,
    UnclassifiedError,
    classify,
)
from binguard.policy.budget import ws_rate_headers
from binguard.policy.weights import ws_api_cost
from binguard.transport.rest import RateGate
from binguard.transport.signing import Signer, ws_payload
from binguard.transport.ws import Frame, WsLink, WsSupervisor

from .tracker import OrderTracker

if TYPE_CHECKING:
    from .client import SpotConnector

log = logging.getLogger("binguard.connector.userdata")

CATCH_UP_MARGIN_MS = 5_000  # myTrades from a little before the last event: clocks differ
MAX_TRADES_WINDOW_MS = 23 * 3600 * 1000  # myTrades covers at most 24 hours per call

OrderKey = tuple[str, int]  # (symbol, orderId): order ids are unique per symbol only


def next_round(keys: Iterable[OrderKey], after: OrderKey | None, limit: int) -> list[OrderKey]:
    """The orders to poll this round: up to `limit` of `keys`, in (symbol, orderId) order around
    a ring, starting just after `after` (the last one polled).

    Orders that appeared or vanished since do not reset the turn: the ring is rebuilt from the
    keys every round and `after` need not be in it any more. Each key appears at most once.
    """
    ring = sorted(set(keys))
    if not ring or limit <= 0:
        return []
    start = bisect.bisect_right(ring, after) if after is not None else 0
    return (ring[start:] + ring[:start])[:limit]


def _event_key(raw: str, frame: Frame) -> Hashable:
    """The same event on two sockets differs only in its subscription id."""
    return json.dumps(frame.get("event"), sort_keys=True, separators=(",", ":"))


class UserDataStream:
    """One account's user data on a supervised WebSocket API socket; see the module docstring."""

    def __init__(
        self,
        connector: SpotConnector,
        *,
        api_key: str,
        signer: Signer,
        tracker: OrderTracker,
        symbols: Iterable[str] = (),
        logon: bool = True,
        gate: RateGate | None = None,
    ) -> None:
        """`gate`: what admits the subscribe requests (default: the connector's budget, which
        the supervisor also charges for connecting)."""
        self._bn = connector
        self._gate: RateGate | None = gate if gate is not None else connector.budget
        self._api_key = api_key
        self._signer = signer
        self.tracker = tracker
        self.symbols: set[str] = {s.upper() for s in symbols}
        self.logon = logon and signer.key_type == "ED25519"
        opts = connector.options
        self.sup = WsSupervisor(
            opts.ws_api_url,
            name="user-data",
            on_message=self._on_message,
            on_open=self._on_open,
            on_down=self._on_down,
            on_up=self._on_up,
            key=_event_key,
            # The WebSocket API limits by weight, not messages; connecting costs 2 weight.
            options=replace(opts.ws, max_outgoing_per_s=None, connect_weight=2),
            emit=connector.emit,
            limiter=connector.ws_limiter,
            gate=self._gate,
            on_error=self._gate.on_error if self._gate is not None else None,
            local_addr=opts.local_addr,
        )
        self.subscribed = False
        self.subscription_id: int | None = None
        self.catch_ups = 0
        self.fills_caught_up = 0
        self.reports = 0
        self.terminated = 0
        self.polls = 0
        self._down_since: float | None = time.monotonic()
        self._catching: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self._resubscribing: asyncio.Task[None] | None = None
        self._poll_after: OrderKey | None = None  # the fallback's turn: the last order polled
        self._started_ms = 0

    def __repr__(self) -> str:
        return f"UserDataStream(healthy={self.healthy}, logon={self.logon})"

    @property
    def healthy(self) -> bool:
        """Subscribed on a live socket: order state can be taken from the stream."""
        return self.subscribed and self.sup.connected

    async def start(self, within: float | None = 30.0) -> None:
        self._started_ms = self._bn.time.now_ms()
        self.sup.start()
        self._poller = asyncio.create_task(self._fallback(), name="user-data-fallback")
        await self.sup.wait_connected(within)

    async def close(self) -> None:
        try:
            await reap(self._poller, self._catching, self._resubscribing)
        finally:
            await self.sup.close()

    # -- requests -------------------------------------------------------------------------
    def _signed(self, extra: dict[str, object] | None = None) -> dict[str, object]:
        params: dict[str, object] = {
            "apiKey": self._api_key,
            "recvWindow": self._bn.options.recv_window_ms,
            "timestamp": self._bn.time.now_ms(),
            **(extra or {}),
        }
        # Signers percent-encode base64 for URLs; a JSON parameter carries it as is.
        params["signature"] = unquote(self._signer.sign(ws_payload(params)))
        return params

    async def _call(self, link: WsLink, method: str, *, signed: bool = False) -> Any:
        """One request on `link`, admitted by the budget at its weight and settled with the
        answer's `rateLimits`; the `result`, or a typed BinanceError. A `signed` request is
        stamped and signed once admitted, so waiting for the budget does not age it."""
        gate = self._gate
        ticket = None
        if gate is not None:
            deadline = time.monotonic() + self.sup.options.open_timeout
            ticket = await gate.acquire(ws_api_cost(method), deadline=deadline)
        params = self._signed() if signed else {}
        sent_ms = self._bn.time.now_ms()
        try:
            reply = await link.request({"method": method, "params": params})
        except BaseException:
            # Dropped, timed out or cancelled after sending: it may have been counted.
            if gate is not None:
                await asyncio.shield(gate.settle(ticket, ok=False))
            raise
        ok = reply.get("status") == 200
        if gate is not None:
            headers = ws_rate_headers(reply.get("rateLimits") or ())
            await gate.settle(ticket, ok=ok, headers=headers)
        if ok:
            return reply.get("result")
        err = classify(reply) or UnclassifiedError(f"{method}: unreadable answer")
        await self._bn.observe_ws_error(err, sent_ms=sent_ms)  # stats, and the gate
        raise err

    async def _subscribe(self, link: WsLink) -> None:
        """Log on (Ed25519) or sign, then subscribe; one clock resync on -1021."""
        for attempt in range(2):
            try:
                if self.logon:
                    if not link.context.get("logged_on"):
                        await self._call(link, "session.logon", signed=True)
                        link.context["logged_on"] = True
                    result = await self._call(link, "userDataStream.subscribe")
                else:
                    result = await self._call(
                        link, "userDataStream.subscribe.signature", signed=True
                    )
            except ClockSkewError:
                if attempt:
                    raise
                await self._bn.sync_time()
                continue
            self.subscription_id = int(result["subscriptionId"])
            link.context["subscription"] = self.subscription_id
            return

    async def _on_open(self, link: WsLink) -> None:
        await self._subscribe(link)
        self.subscribed = True

    # -- events ---------------------------------------------------------------------------
    def _on_message(self, frame: Frame) -> None:
        event = frame.get("event")
        if not isinstance(event, dict):
            return
        kind = event.get("e")
        if kind == "executionReport":
            self.reports += 1
            order = self.tracker.apply_execution_report(event)
            self._bn._order_seen(order)
        elif kind == "outboundAccountPosition":
            self.tracker.apply_account_position(event)
        elif kind == "eventStreamTerminated":
            self.terminated += 1
            self.subscribed = False
            self._bn.emit("user_data_terminated")
            if self._resubscribing is None or self._resubscribing.done():
                self._resubscribing = asyncio.create_task(self._resubscribe())

    def _on_down(self, reason: str) -> None:
        self.subscribed = False
        self._down_since = time.monotonic()

    def _on_up(self, reconnected: bool) -> None:
        self._down_since = None
        self._start_catch_up("reconnect" if reconnected else "start")

    async def _resubscribe(self) -> None:
        link = self.sup.link
        if link is None:
            return  # the next socket subscribes in on_open
        try:
            await self._subscribe(link)
        except BinanceError as err:
            log.info("user data: resubscribing failed (%s); replacing the socket", err)
            self.sup.drop("resubscribe failed")
            return
        self.subscribed = True
        self._start_catch_up("terminated")

    # -- catching up ----------------------------------------------------------------------
    def _start_catch_up(self, reason: str) -> None:
        if self._catching is not None and not self._catching.done():
            self._catching.cancel()
        self._catching = asyncio.create_task(self._catch_up(reason), name="user-data-catch-up")

    async def catch_up(self, reason: str = "asked") -> int:
        """Learn over REST what the stream may have missed; the number of new fills."""
        self.catch_ups += 1
        tracker = self.tracker
        since = max(tracker.last_event_ms or self._started_ms, self._started_ms)
        since -= CATCH_UP_MARGIN_MS
        since = max(since, self._bn.time.now_ms() - MAX_TRADES_WINDOW_MS)
        symbols = self.symbols | tracker.symbols() | self._bn._journal_symbols()
        new_fills = 0
        for symbol in sorted(symbols):
            trades = await self._bn.my_trades(symbol, startTime=since, limit=1000)
            unknown = {
                t.order_id
                for t in trades
                if tracker.get(order_id=t.order_id, symbol=symbol) is None
            }
            for order_id in sorted(unknown):  # filled while we were away: its final state
                self._bn._order_seen(await self._bn.orders.query(symbol, order_id=order_id))
            # Fills after their orders: an application never sees a fill of an unknown order.
            for trade in trades:
                new_fills += tracker.add_trade(trade)
            listed = await self._bn.open_orders(symbol)
            for order in listed:
                tracker.update_order(order)
                self._bn._order_seen(order)
            still_open = {o.order_id for o in listed}
            for order in tracker.open_orders(symbol):
                if order.order_id not in still_open:
                    current = await self._bn.orders.query(symbol, order_id=order.order_id)
                    tracker.update_order(current)
                    self._bn._order_seen(current)
        self.fills_caught_up += new_fills
        self._bn.emit("user_data_catch_up", reason=reason, new_fills=new_fills)
        return new_fills

    async def _catch_up(self, reason: str) -> None:
        delay = 0.2
        while True:
            try:
                await self.catch_up(reason)
                return
            except BinanceError as err:
                log.info("user data catch-up failed (%s); retrying", err)
                await asyncio.sleep(err.retry_after or delay)
                delay = min(delay * 2, 10.0)

    async def _fallback(self) -> None:
        """While the stream is down: poll tracked open orders over REST, a few per round."""
        opts = self._bn.options
        while True:
            await asyncio.sleep(opts.fallback_poll)
            if self.healthy or self._down_since is None:
                continue
            await self._poll_round(opts.fallback_max_orders)

    async def _poll_round(self, limit: int) -> list[OrderKey]:
        """Query up to `limit` tracked open orders, going on from the last round's turn; the
        orders polled. A failure about one order (unknown to the exchange, refused) passes its
        turn; any other (transport, rate limit) ends the round, and the next starts there."""
        tracked = {(o.symbol, o.order_id): o for o in self.tracker.open_orders()}
        polled: list[OrderKey] = []
        for key in next_round(tracked, self._poll_after, limit):
            order = tracked[key]
            try:
                current = await self._bn.orders.query(order.symbol, order_id=order.order_id)
            except (OrderNotFoundError, InvalidRequestError) as err:
                log.info("user data fallback: order %s %s not polled: %s", *key, err)
                self._poll_after = key
                continue
            except BinanceError as err:
                log.info("user data fallback poll failed: %s", err)
                break
            self._poll_after = key
            self.polls += 1
            polled.append(key)
            self.tracker.update_order(current)
            self._bn._order_seen(current)
        if polled:
            self._bn.emit("user_data_poll", orders=[i for _, i in polled], tracked=len(tracked))
        return polled
