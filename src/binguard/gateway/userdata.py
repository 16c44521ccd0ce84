"""Keys mode's user data: one subscription per real key, and the account and order caches it keeps.

Per real key, one supervised WebSocket API socket (transport/ws_api.py `WsApiClient`, on the
gateway's budget and clock) subscribes to the key's user data (web-socket-api.md §User Data
Stream requests): `session.logon` then `userDataStream.subscribe` with an Ed25519 real key,
`userDataStream.subscribe.signature` with any other. It is started by the first signed request
a bot makes with that key, and reconnects forever.

Never staler than the stream: the caches answer only while the subscription is live. Every gap
(the socket lost, a rotation without overlap, `eventStreamTerminated`) starts a new *epoch*:
both caches are emptied; when the subscription is live again the account is snapshotted anew
(`GET /api/v3/account` with the real key through the gateway's forwarder: budget and ban
breaker apply) and orders are learnt again from reports and from upstream answers. An upstream
answer is learnt only if one epoch held from before the request left until its answer came, so
no order that changed while the stream was down is ever answered from what was known before.

Bots' own subscriptions (gateway/user_subs.py) are `Subscriber`s of a stream: each event is
handed to every one of them as JSON text; every gap ends all of them (`Subscriber.ended`), so a
bot is told of a gap exactly when the caches are dropped, and subscribes again once live.

The socket is the supervisor's own aiohttp session (a `--proxy` does not apply to it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Final, Protocol
from urllib.parse import urlencode

import orjson
from aiohttp import web

from binguard._aio import reap
from binguard.errors import BinanceError
from binguard.policy.backoff import Backoff
from binguard.transport.ws import Frame, WsLink
from binguard.transport.ws_api import WsApiClient
from binguard.transport.ws_link import WsOptions

from .account_cache import AccountCache
from .answers import GATEWAY_HEADER, TIME_UNIT
from .cache_queries import account_answer, order_answer, query_params
from .forward import Call, Forwarder
from .gate import Gate
from .keys import RealKey
from .metrics import NOT_HELD, NOT_READY, Metrics
from .order_cache import OrderCache

log = logging.getLogger("binguard.gateway")

ACCOUNT, ORDER = "/api/v3/account", "/api/v3/order"
SNAPSHOT_BACKOFF = Backoff(base=0.2, cap=10.0)
_ORDER_ANSWERS: Final = ("/api/v3/order", "/api/v3/openOrders", "/api/v3/allOrders")


# (real key, path, params) -> the upstream answer's (status, body)
class Fetch(Protocol):
    """A signed GET with a real key: (HTTP status, body). `time_unit`: the answer's times in
    that unit (`X-MBX-TIME-UNIT`), milliseconds when None."""

    def __call__(
        self, real: RealKey, path: str, params: dict[str, str], time_unit: str | None = None
    ) -> Awaitable[tuple[int, bytes]]: ...


Learn = Callable[[int, bytes], None]


class Subscriber(Protocol):
    """A bot's subscription to a real key's user data (gateway/user_subs.py)."""

    def deliver(self, event: str) -> None:
        """One event, as the JSON text of Binance's `event` object."""

    def ended(self) -> None:
        """The upstream subscription had a gap: this subscriber is detached already."""


def forwarder_fetch(forwarder: Forwarder, gate: Gate) -> Fetch:
    """`Fetch` through the gateway's forwarder: the budget, the ban breaker and the retries of
    a signed read apply, as to any bot's request (rest-api.md §SIGNED Endpoint security)."""

    async def fetch(
        real: RealKey, path: str, params: dict[str, str], time_unit: str | None = None
    ) -> tuple[int, bytes]:
        query = urlencode({**params, "timestamp": str(gate.now_ms())})
        query += "&signature=" + real.signer.sign(query.encode())
        headers = {"X-MBX-APIKEY": real.api_key}
        if time_unit is not None:
            headers[TIME_UNIT] = time_unit
        call = forwarder.call("GET", path, query, b"", headers, resign=False)
        answer = await forwarder.forward(call)
        body = answer.body if isinstance(answer, web.Response) else None
        return answer.status, body if isinstance(body, bytes) else b""

    return fetch


def _event_key(raw: str, frame: Frame) -> Hashable:
    """The same event on two sockets (a rotation) differs only in its subscription id."""
    return json.dumps(frame.get("event"), sort_keys=True, separators=(",", ":"))


class UserStream:
    """One real key's subscription and caches; see the module docstring."""

    def __init__(
        self, real: RealKey, url: str, gate: Gate, fetch: Fetch, options: WsOptions
    ) -> None:
        self.real = real
        self.account = AccountCache()
        self.orders = OrderCache()
        self.epoch = 0
        self.live = False
        self.gaps = 0
        self.snapshots = 0
        self.failure: BinanceError | None = None
        self.bots_ended = 0  # bot subscriptions ended by gaps
        self._fetch = fetch
        self._bots: set[Subscriber] = set()
        self._up = asyncio.Event()  # set while live
        self._snapshot: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Task[None]] = set()  # snapshots of ended epochs, cancelled
        self._api = WsApiClient(
            url,
            name=f"gateway-user-data-{real.name}",
            credentials=(real.api_key, real.signer),
            time_source=gate.sync,
            recv_window_ms=5000,
            options=options,
            gate=gate.budget,
            logon=True,
        )
        self.sup = self._api.serve(
            on_open=self._subscribe,
            on_message=self._on_message,
            on_down=self._on_down,
            on_up=self._on_up,
            on_refused=self._on_refused,
            key=_event_key,
        )

    def __repr__(self) -> str:
        return f"UserStream({self.real!r}, live={self.live}, epoch={self.epoch})"

    def start(self) -> None:
        self._api.start()

    async def close(self) -> None:
        self._new_epoch(live=False)
        try:
            await reap(*self._stopping)
        finally:
            await self._api.close()

    async def _subscribe(self, link: WsLink) -> None:
        """Subscribe on a new socket (logged on already with an Ed25519 key)."""
        api = self._api
        deadline = time.monotonic() + api.options.open_timeout
        if api.logon_mode:
            method, signed = "userDataStream.subscribe", False
        else:
            method, signed = "userDataStream.subscribe.signature", True
        result = await api.request(method, signed=signed, deadline=deadline, link=link)
        link.context["subscription"] = result.get("subscriptionId")

    def attach(self, bot: Subscriber) -> None:
        """Hand `bot` every event from now on, until it detaches or a gap ends it; only
        while live (`wait_live`)."""
        assert self.live
        self._bots.add(bot)

    def detach(self, bot: Subscriber) -> None:
        self._bots.discard(bot)

    async def wait_live(self, deadline: float) -> bool:
        """Whether the subscription is live, waiting for it until `deadline` (monotonic) or
        until it is refused for good (`failure`)."""
        if not self.live and self.failure is None:
            wait = max(0.0, deadline - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._up.wait(), wait)
        return self.live

    def _new_epoch(self, *, live: bool) -> None:
        """Empty both caches and end every bot's subscription (a gap for them: they learn of
        it); a snapshot in flight belongs to the old epoch and stops."""
        self.epoch += 1
        self.live = live
        if live:
            self._up.set()
        else:
            self._up.clear()
        bots, self._bots = self._bots, set()
        self.bots_ended += len(bots)
        for bot in bots:
            bot.ended()
        self.account.reset()
        self.orders.clear()
        if self._snapshot is not None:
            self._snapshot.cancel()
            self._stopping.add(self._snapshot)
            self._snapshot.add_done_callback(self._stopping.discard)
            self._snapshot = None

    def _on_up(self, reconnected: bool) -> None:
        self._new_epoch(live=True)
        self._snapshot = asyncio.create_task(
            self._take_snapshot(self.epoch), name=f"gateway-account-{self.real.name}"
        )

    def _on_down(self, reason: str) -> None:
        self.gaps += 1
        self._new_epoch(live=False)
        log.info("gateway user data %s down (%s): caches dropped", self.real.name, reason)

    def _on_refused(self, err: BinanceError) -> None:
        self.failure = err
        self._new_epoch(live=False)
        self._up.set()  # wakes `wait_live`: it will not be live
        log.warning("gateway user data %s refused: code %s", self.real.name, err.code)

    def _on_message(self, frame: Frame) -> None:
        event = frame.get("event")
        if not isinstance(event, dict):
            return
        kind = event.get("e")
        if kind == "executionReport":
            self.orders.on_report(event)
        elif kind == "eventStreamTerminated":
            self.gaps += 1
            self._new_epoch(live=False)  # the bots get their own
            self.sup.drop("eventStreamTerminated")  # a new socket subscribes again
            return
        else:
            self.account.on_event(event)
        if self._bots:
            text = orjson.dumps(event).decode()  # once, whatever the number of bots
            for bot in list(self._bots):
                bot.deliver(text)

    async def _take_snapshot(self, epoch: int) -> None:
        """The account snapshot of this epoch, retried with backoff until it is in."""
        attempt = 0
        while epoch == self.epoch:
            self.account.expect()  # (the budget may hold the request a little: held too)
            status, body = await self._fetch(self.real, ACCOUNT, {})
            if epoch != self.epoch:
                return
            try:
                data = orjson.loads(body) if status == 200 else None
            except orjson.JSONDecodeError:
                data = None
            if data is not None and self.account.load(data):
                self.snapshots += 1
                return
            await asyncio.sleep(SNAPSHOT_BACKOFF.delay(attempt))
            attempt += 1

    def learner(self) -> Learn | None:
        """What to do with the upstream answer of an order request leaving now: learn from it
        if this epoch still holds when it comes (None: the stream is down, learn nothing)."""
        if not self.live:
            return None
        epoch = self.epoch

        def learn(status: int, body: bytes) -> None:
            if status != 200 or epoch != self.epoch or not self.live:
                return
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                return
            if isinstance(data, dict):  # cancelReplace: the two answers inside
                for part in ("cancelResponse", "newOrderResponse"):
                    self.orders.on_answer(data.get(part))
            self.orders.on_answer(data)

        return learn

    def summary(self) -> dict[str, Any]:
        return {
            "live": self.live,
            "epoch": self.epoch,
            "gaps": self.gaps,
            "account_ready": self.account.ready,
            "account_snapshots": self.snapshots,
            "orders": len(self.orders),
            "failed": None if self.failure is None else self.failure.code,
            "bots": len(self._bots),
            "bots_ended_by_gaps": self.bots_ended,
        }


class UserData:
    """Every real key's `UserStream`, started on first use, and the answers they make."""

    def __init__(
        self,
        reals: dict[str, RealKey],
        url: str,
        gate: Gate,
        fetch: Fetch,
        metrics: Metrics,
        options: WsOptions | None = None,
    ) -> None:
        self._reals = reals  # by real API key
        self._url = url
        self._gate = gate
        self._fetch = fetch
        self._metrics = metrics
        self.options = options or WsOptions()  # read when a stream starts (tests shrink it)
        self.streams: dict[str, UserStream] = {}
        self.hits = 0
        self.misses = 0

    def stream(self, api_key: str) -> UserStream | None:
        """The stream of the real key `api_key`, started now if it was not (None: not ours)."""
        stream = self.streams.get(api_key)
        if stream is None:
            real = self._reals.get(api_key)
            if real is None:
                return None
            stream = self.streams[api_key] = UserStream(
                real, self._url, self._gate, self._fetch, self.options
            )
            stream.start()
        return stream

    def answer(self, call: Call, time_unit: str | None) -> web.Response | None:
        """A bot's account or order query answered from the caches, or None (forward it). Only
        for calls the re-signer accepted (`call` is re-signed: its key is the real one)."""
        if call.method != "GET" or call.path not in (ACCOUNT, ORDER):
            return None
        if "signature=" not in call.query:
            return None
        stream = self.stream(call.headers.get("X-MBX-APIKEY", ""))
        if stream is None:
            return None
        body = None
        if stream.live and time_unit is None:  # microsecond times: Binance's own answer
            params = query_params(call.query)
            if params is None:
                body = None
            elif call.path == ACCOUNT:
                body = account_answer(stream.account, params)
            else:
                body = order_answer(stream.orders, params)
        if body is None:
            self.misses += 1
            held = stream.live and (call.path == ORDER or stream.account.ready)
            self._metrics.miss(call.path, NOT_HELD if held else NOT_READY)
            return None
        self.hits += 1
        self._metrics.hit(call.path)
        return web.Response(
            body=body, headers={GATEWAY_HEADER: "cache", "Content-Type": "application/json"}
        )

    def learner(self, call: Call) -> Learn | None:
        """For a signed order request (place, query, cancel, lists) about to be forwarded."""
        if not call.path.startswith(_ORDER_ANSWERS) or "signature=" not in (
            call.query + call.body.decode("latin-1")
        ):
            return None
        stream = self.stream(call.headers.get("X-MBX-APIKEY", ""))
        return None if stream is None else stream.learner()

    def summary(self) -> dict[str, Any]:
        return {s.real.name: s.summary() for s in self.streams.values()}

    async def close(self) -> None:
        for stream in list(self.streams.values()):
            await stream.close()
