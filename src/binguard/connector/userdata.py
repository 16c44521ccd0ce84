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

`session.logon` and the subscribe requests go through the WebSocket API client
(transport/ws_api.py, shared with ws_orders.py): admitted by the connector's rate budget at their
WebSocket API weight (`ws_api_cost`: 2 each, web-socket-api.md), settled with the answer's
`rateLimits`, classified. This module keeps only what is subscription-specific.

A -1021 while logging on or subscribing resyncs the clock and is retried once. A refusal that no
repetition cures (`policy.retry.needs_a_fix`: -1002, -1022, -2014, -2015, a bad request) is never
sent again: at start it is raised by `start()` after that one request; later (a resubscription,
a catch-up or a fallback poll refused for the credentials) the stream stops asking and keeps it
in `failure` (event `user_data_failed`). An archived order (-2026) is final and no longer
tracked. Other failures replace the socket with backoff; a failed REST catch-up is retried
after the error's Retry-After, else a capped full-jitter backoff (policy/backoff.py).
Signatures and secrets never reach an event or a log: only method names and error codes do.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import time
from collections.abc import Hashable, Iterable

from binguard._aio import reap
from binguard.errors import (
    AuthError,
    BinanceError,
    ClockSkewError,
    InvalidRequestError,
    OrderArchivedError,
    OrderNotFoundError,
)
from binguard.policy.backoff import Backoff
from binguard.policy.retry import needs_a_fix
from binguard.transport.ws import Frame, WsLink, WsSupervisor
from binguard.transport.ws_api import WsApiClient

from . import account
from .calls import Requests
from .ledger import OrderLedger
from .ledger_lists import ListLedger
from .list_models import OrderList
from .tracker import OrderTracker

log = logging.getLogger("binguard.connector.userdata")

CATCH_UP_MARGIN_MS = 5_000  # myTrades from a little before the last event: clocks differ
MAX_TRADES_WINDOW_MS = 23 * 3600 * 1000  # myTrades covers at most 24 hours per call
CATCH_UP_BACKOFF = Backoff(base=0.2, cap=10.0)  # between failed catch-ups

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
        ws_api: WsApiClient,
        loop: Requests,
        ledger: OrderLedger,
        *,
        symbols: Iterable[str] = (),
        lists: ListLedger | None = None,
    ) -> None:
        """`ws_api`: the WebSocket API client (not yet served: this stream serves it, and it
        logs on first when it is set to); `loop`: the request loop for the REST catch-up and
        fallback; `ledger`: where order states and fills go; `lists`: where order lists'
        states go (`listStatus` events)."""
        self._api = ws_api
        self._loop = loop
        self._ledger = ledger
        self._lists = lists
        self.tracker: OrderTracker = ledger.tracker
        self.symbols: set[str] = {s.upper() for s in symbols}
        self.sup: WsSupervisor = ws_api.serve(
            on_message=self._on_message,
            on_open=self._on_open,
            on_down=self._on_down,
            on_up=self._on_up,
            on_refused=self._refused,
            key=_event_key,
        )
        self.failure: BinanceError | None = None  # what stopped this stream for good, if any
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

    @property
    def logon(self) -> bool:
        """The socket logs on (`session.logon`, Ed25519) rather than signing the subscription."""
        return self._api.logon_mode

    def __repr__(self) -> str:
        return f"UserDataStream(healthy={self.healthy}, logon={self.logon})"

    @property
    def healthy(self) -> bool:
        """Subscribed on a live socket: order state can be taken from the stream."""
        return self.subscribed and self.sup.connected

    async def start(self, within: float | None = 30.0) -> None:
        """Connect and subscribe within `within` seconds (TimeoutError). A refusal of the
        credentials or the request (-1002, -1022, -2014, -2015, ...) is raised after that one
        request: reconnecting would only send it again."""
        self._started_ms = self._loop.time.now_ms()
        self.sup.start()
        self._poller = asyncio.create_task(self._fallback(), name="user-data-fallback")
        await self.sup.wait_connected(within)

    async def close(self) -> None:
        try:
            await reap(self._poller, self._catching, self._resubscribing)
        finally:
            await self._api.close()

    # -- subscribing ----------------------------------------------------------------------
    async def _subscribe(self, link: WsLink) -> None:
        """Subscribe on `link` (logged on: `userDataStream.subscribe`; else the signed
        `userDataStream.subscribe.signature`); one clock resync on -1021."""
        api = self._api
        for attempt in range(2):
            deadline = time.monotonic() + api.options.open_timeout
            try:
                if api.logon_mode:
                    await api.logon(link)  # (done already on a new socket)
                    result = await api.request(
                        "userDataStream.subscribe",
                        signed=False,
                        deadline=deadline,
                        link=link,
                        record=True,
                    )
                else:
                    result = await api.request(
                        "userDataStream.subscribe.signature",
                        signed=True,
                        deadline=deadline,
                        link=link,
                        record=True,
                    )
            except ClockSkewError:
                if attempt:
                    raise
                await self._loop.sync_time()
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
            self._ledger.seen(order)
        elif kind == "outboundAccountPosition":
            self.tracker.apply_account_position(event)
        elif kind == "listStatus" and self._lists is not None:
            self._lists.list_seen(OrderList.from_event(event))
        elif kind == "eventStreamTerminated":
            self.terminated += 1
            self.subscribed = False
            self._loop.emit("user_data_terminated")
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
            if needs_a_fix(err):
                # A new socket would send the same refused subscription: stop for good.
                self._refused(err)
                await self._api.close()
                return
            log.info("user data: resubscribing failed (%s); replacing the socket", err)
            self.sup.drop("resubscribe failed")
            return
        self.subscribed = True
        self._start_catch_up("terminated")

    def _refused(self, err: BinanceError) -> None:
        """A refusal no repetition cures (bad credentials, a bad request): this stream stops
        asking (`failure`, event `user_data_failed`); start it again once fixed."""
        if self.failure is None:
            self.failure = err
            log.warning("user data stopped: %s (code %s)", type(err).__name__, err.code)
            self._loop.emit("user_data_failed", error=type(err).__name__, code=err.code)
        self.subscribed = False

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
        since = max(since, self._loop.time.now_ms() - MAX_TRADES_WINDOW_MS)
        symbols = self.symbols | tracker.symbols() | self._ledger.symbols()
        new_fills = 0
        for symbol in sorted(symbols):
            new_fills += await self._catch_up_symbol(symbol, since)
        self.fills_caught_up += new_fills
        self._loop.emit("user_data_catch_up", reason=reason, new_fills=new_fills)
        return new_fills

    async def _catch_up_symbol(self, symbol: str, since: int) -> int:
        """One symbol's catch-up: trades since `since`, then the open orders; the new fills."""
        loop, ledger, tracker = self._loop, self._ledger, self.tracker
        trades = await account.my_trades(loop, ledger, symbol, startTime=since, limit=1000)
        unknown = {
            t.order_id for t in trades if tracker.get(order_id=t.order_id, symbol=symbol) is None
        }
        for order_id in sorted(unknown):  # filled while we were away: its final state
            with contextlib.suppress(OrderArchivedError):  # gone already: its fills still count
                ledger.seen(await account.query_order(loop, symbol, order_id=order_id))
        # Fills after their orders: an application never sees a fill of an unknown order.
        new_fills = 0
        for trade in trades:
            new_fills += tracker.add_trade(trade)
        listed = await account.open_orders(loop, ledger, symbol)
        for order in listed:
            ledger.seen(order)
        still_open = {o.order_id for o in listed}
        for order in tracker.open_orders(symbol):
            if order.order_id not in still_open:
                try:
                    current = await account.query_order(loop, symbol, order_id=order.order_id)
                except OrderArchivedError as err:  # final, nothing executed: no longer tracked
                    ledger.archived_order(symbol, order.order_id, error=repr(err))
                    continue
                ledger.seen(current)
        return new_fills

    async def _catch_up(self, reason: str) -> None:
        attempt = 0
        while True:
            try:
                await self.catch_up(reason)
                return
            except BinanceError as err:
                if isinstance(err, AuthError):
                    self._refused(err)  # every request would be refused again
                    return
                if needs_a_fix(err):  # this catch-up would be refused again; the next may not
                    log.warning("user data catch-up refused (%s); not retried", err)
                    return
                log.info("user data catch-up failed (%s); retrying", err)
                await asyncio.sleep(err.retry_after or CATCH_UP_BACKOFF.delay(attempt))
                attempt += 1

    async def _fallback(self) -> None:
        """While the stream is down: poll tracked open orders over REST, a few per round."""
        opts = self._loop.options
        while self.failure is None:
            await asyncio.sleep(opts.fallback_poll)
            if self.healthy or self._down_since is None:
                continue
            await self._poll_round(opts.fallback_max_orders)

    async def _poll_round(self, limit: int) -> list[OrderKey]:
        """Query up to `limit` tracked open orders, going on from the last round's turn; the
        orders polled. A failure about one order (unknown to the exchange, refused) passes its
        turn; an archived one (-2026: final, nothing executed) is no longer tracked; bad
        credentials stop the polling for good (`failure`); any other failure (transport, rate
        limit) ends the round, and the next starts there."""
        tracked = {(o.symbol, o.order_id): o for o in self.tracker.open_orders()}
        polled: list[OrderKey] = []
        for key in next_round(tracked, self._poll_after, limit):
            order = tracked[key]
            try:
                current = await account.query_order(
                    self._loop, order.symbol, order_id=order.order_id
                )
            except OrderArchivedError as err:
                self._ledger.archived_order(order.symbol, order.order_id, error=repr(err))
                self._poll_after = key
                continue
            except (OrderNotFoundError, InvalidRequestError) as err:
                log.info("user data fallback: order %s %s not polled: %s", *key, err)
                self._poll_after = key
                continue
            except AuthError as err:
                self._refused(err)
                break
            except BinanceError as err:
                log.info("user data fallback poll failed: %s", err)
                break
            self._poll_after = key
            self.polls += 1
            polled.append(key)
            self._ledger.seen(current)
        if polled:
            self._loop.emit("user_data_poll", orders=[i for _, i in polled], tracked=len(tracked))
        return polled
