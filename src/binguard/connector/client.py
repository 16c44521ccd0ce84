"""SpotConnector: Binance Spot over REST, surviving network faults, clock drift, limits and bans.

    async with SpotConnector(api_key=KEY, secret=SECRET, base_url=URL) as bn:
        order = await bn.place_order("BTCUSDT", "BUY", "LIMIT", quantity="0.01", price="30000",
                                     time_in_force="GTC")

Every call goes through one loop: the budget admits it, the transport signs it with the server-
corrected clock and sends it, and on failure the retry policy decides (retry with backoff, resync the
clock then retry once, reconcile, or raise). Orders are journalled before they leave and reconciled
when their outcome is unknown (see `orders.py`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar

from binguard.backends import BlockKind, BudgetStore, Limit
from binguard.errors import BinanceError, ClockSkewError, IpBannedError
from binguard.policy.budget import RateBudget
from binguard.policy.clock import Clock, SystemClock
from binguard.policy.retry import Action, Attempt
from binguard.policy.servertime import ServerTimeSync
from binguard.transport.rest import RateGate, RestOptions, RestResponse, RestTransport
from binguard.transport.signing import Signer, load_signer
from binguard.transport.ws_limits import ConnectLimiter

from .book import OrderBook
from .events import Event, EventBus, Hook, Stats
from .journal import OrderJournal, Stage
from .models import Account, BookTicker, Depth, Order, Trade
from .options import BINANCE_REST, ConnectorOptions
from .orders import FINAL_STATUSES, OrderManager, OutcomeUnknown
from .streams import MarketStreams, Subscription
from .tracker import OrderTracker
from .userdata import UserDataStream
from .ws_orders import WsOrderSession

T = TypeVar("T")


class SpotConnector:
    """An async Binance Spot client that keeps a bot alive; see the module docstring."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        secret: str | None = None,
        private_key: str | bytes | None = None,
        private_key_password: str | bytes | None = None,
        base_url: str = BINANCE_REST,
        options: ConnectorOptions | None = None,
        clock: Clock | None = None,
        gate: RateGate | None = None,
        store: BudgetStore | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.options = options or ConnectorOptions()
        self._clock = clock or SystemClock()
        self._sleep = sleep
        signer: Signer | None = None
        if secret is not None or private_key is not None:
            signer = load_signer(
                secret=secret, private_key=private_key, password=private_key_password
            )
        self._api_key = api_key
        self._signer = signer
        self.time = ServerTimeSync(self._clock, resync_every=self.options.resync_every)
        self.stats = Stats()
        self._events = EventBus(self.stats)
        if gate is None:
            # No limits until exchangeInfo is read in open(); headers are observed from the start.
            self.budget: RateBudget | None = RateBudget(
                [],
                store=store,
                clock=self._clock,
                server_time=self.time.now_ms,
                sleep=sleep,
                margin=self.options.budget_share,
                on_block=self._on_block,
            )
            gate = self.budget
        else:
            self.budget = None
        self._transport = RestTransport(
            base_url,
            api_key=api_key,
            signer=signer,
            time_source=self.time,
            gate=gate,
            options=RestOptions(
                timeout=self.options.timeout,
                connect_timeout=self.options.connect_timeout,
                recv_window_ms=self.options.recv_window_ms,
                http=self.options.http,
            ),
            local_addr=self.options.local_addr,
        )
        self.journal = OrderJournal(self.options.journal_path)
        self.orders = OrderManager(self, self.journal)
        self._synced_once = False
        self._sync_lock = asyncio.Lock()
        # WebSockets (streams.py, book.py, userdata.py): one connection-attempt budget per process
        self.ws_limiter = ConnectLimiter()
        self._streams: MarketStreams | None = None
        self._books: dict[str, OrderBook] = {}
        self._banned_until_ms = 0  # the latest ban this connector learnt of (server ms)
        self._ban_end_timer: asyncio.TimerHandle | None = None
        # Order state from every source (REST answers, user data), merged idempotently.
        self.tracker = OrderTracker()
        self.user_data: UserDataStream | None = None
        # Orders over the WebSocket API (ws_orders.py) when asked; else over REST.
        self.ws_orders: WsOrderSession | None = None
        if self.options.orders_via == "ws":
            if api_key is None or signer is None:
                raise ValueError("orders_via='ws' needs an API key and a secret or private key")
            self.ws_orders = WsOrderSession(self, api_key=api_key, signer=signer, gate=gate)
        self._gate = gate  # what admits every request: REST, WebSocket API orders, user data

    def __repr__(self) -> str:
        return f"SpotConnector({self._transport.base_url!r})"

    # -- lifecycle --------------------------------------------------------------------------------
    async def __aenter__(self) -> SpotConnector:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Open the session, measure the server clock and read the rate limits."""
        await self._transport.open()
        await self._ensure_time()
        if self.budget is not None:
            response = await self.call("GET", "/api/v3/exchangeInfo")
            limits = response.data.get("rateLimits", ())
            self.budget.set_limits(Limit.from_exchange_info(x) for x in limits)
            # The start-up requests went out before any limit was known; this answer's headers
            # count them (and any other program on this IP), so the first window starts right.
            await self.budget.observe(response.rate, sent_ms=self.time.now_ms())
        if self.ws_orders is not None:
            self.ws_orders.start()  # connects (and logs on) in the background

    async def close(self) -> None:
        if self.ws_orders is not None:
            await self.ws_orders.close()
        if self.user_data is not None:
            await self.user_data.close()
            self.user_data = None
        for book in list(self._books.values()):
            await book.close()
        self._books.clear()
        if self._streams is not None:
            await self._streams.close()
            self._streams = None
        await self._transport.close()
        self.journal.close()
        if self._ban_end_timer is not None:
            self._ban_end_timer.cancel()
            self._ban_end_timer = None

    # -- events -----------------------------------------------------------------------------------
    def on(self, hook: Hook) -> None:
        """Call `hook(event)` for every event (retry, resync, ban_start, reconcile_*, ...)."""
        self._events.on(hook)

    def events(self) -> AsyncIterator[Event]:
        return self._events.stream()

    def emit(self, kind: str, **data: Any) -> None:
        self._events.emit(kind, **data)

    # -- clock ------------------------------------------------------------------------------------
    async def sync_time(self) -> None:
        """Measure the server clock now (a few /api/v3/time samples), whatever the last sync."""
        self.time.invalidate()
        await self._ensure_time()

    async def _sample_time(self) -> None:
        # A plain read through the retry loop; a sample slowed by retries has a large RTT and is
        # discarded by ServerTimeSync as an outlier.
        sent = self._clock.monotonic()
        response = await self.call("GET", "/api/v3/time", sync=False)
        received = self._clock.monotonic()
        self.time.add(sent, int(response.data["serverTime"]), received)

    async def _ensure_time(self) -> None:
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

    # -- the request loop -------------------------------------------------------------------------
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
        transport = self._transport

        def once() -> Awaitable[RestResponse]:
            return transport.send(method, path, params, signed=signed, deadline=deadline)

        return await self.retrying(
            once,
            method=method,
            path=path,
            is_order=is_order,
            deadline=deadline,
            sync=signed and sync,
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
    ) -> T:
        """The retry loop every request path shares (REST here, the WebSocket API in
        ws_orders.py): `once()` is one attempt; the retry policy decides what a failure calls for.
        `sync`: the attempt is signed, so the clock must be synced first."""
        attempt = 0
        resynced = False
        while True:
            attempt += 1
            if sync and (not self.time.synced or self.time.needs_resync()):
                await self._ensure_time()  # (checked here first: a call per request costs)
            self.stats.requests += 1
            try:
                return await once()
            except BinanceError as err:
                decision = self.options.retry.decide(
                    err,
                    Attempt(
                        method=method,
                        path=path,
                        is_order=is_order,
                        attempt=attempt,
                        time_left=deadline - time.monotonic(),
                        resynced=resynced,
                    ),
                )
                self._record(err)
                if decision.action is Action.RAISE:
                    raise
                if decision.action is Action.RECONCILE:
                    raise OutcomeUnknown(err) from err
                if decision.action is Action.RESYNC_CLOCK:
                    self.time.invalidate()
                    resynced = True
                    await self._ensure_time()
                    continue
                self.stats.retries += 1
                self.emit(
                    "retry", path=path, code=err.code, rule=decision.rule, delay=decision.delay
                )
                await self._sleep(decision.delay)

    def _record(self, err: BinanceError) -> None:
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
            if self.budget is None:  # otherwise the budget tells (_on_block), once per ban
                self.emit("ban_start", banned_until=err.banned_until)
        self.emit("request_error", code=err.code, type=type(err).__name__, msg=err.msg)

    def _on_block(self, kind: BlockKind, until_ms: int, now_ms: int) -> None:
        """The budget learnt of a ban or a 429 pause: `ban_start` now (once per ban, however
        many 418s announce it) and `ban_end` when it lapses; `pause` for a pause."""
        if kind is not BlockKind.BAN:
            self.emit("pause", until_ms=until_ms)
            return
        if until_ms <= self._banned_until_ms:
            return  # a ban already known (or a shorter one inside it)
        self._banned_until_ms = until_ms
        self.emit(
            "ban_start",
            banned_until=datetime.fromtimestamp(until_ms / 1000, UTC),
            until_ms=until_ms,
            known_at_ms=now_ms,
        )
        if self._ban_end_timer is not None:
            self._ban_end_timer.cancel()
        self._ban_end_timer = asyncio.get_running_loop().call_later(
            max(0.0, (until_ms - now_ms) / 1000), self._ban_ended, until_ms
        )

    def _ban_ended(self, until_ms: int) -> None:
        self._ban_end_timer = None
        self.emit("ban_end", until_ms=until_ms)

    # -- market data ------------------------------------------------------------------------------
    async def server_time(self) -> int:
        return int((await self.call("GET", "/api/v3/time")).data["serverTime"])

    async def exchange_info(self, symbol: str | None = None) -> dict[str, Any]:
        params = {"symbol": symbol} if symbol else None
        data: dict[str, Any] = (await self.call("GET", "/api/v3/exchangeInfo", params)).data
        return data

    async def depth(self, symbol: str, limit: int = 100) -> Depth:
        return Depth.from_api(
            (await self.call("GET", "/api/v3/depth", {"symbol": symbol, "limit": limit})).data
        )

    async def book_ticker(self, symbol: str) -> BookTicker:
        data = (await self.call("GET", "/api/v3/ticker/bookTicker", {"symbol": symbol})).data
        return BookTicker.from_api(data)

    # -- market data over WebSockets (streams.py, book.py) ----------------------------------------
    @property
    def streams(self) -> MarketStreams:
        """Every market data socket of this connector (created on first use)."""
        if self._streams is None:
            self._streams = MarketStreams(
                self.options.stream_url,
                options=self.options.ws,
                emit=self.emit,
                limiter=self.ws_limiter,
                local_addr=self.options.local_addr,
            )
        return self._streams

    def stream(self, *names: str, maxsize: int = 10_000) -> Subscription:
        """`async with bn.stream("btcusdt@trade", ...) as sub: async for event in sub: ...`"""
        return Subscription(self.streams, names, maxsize)

    async def order_book(
        self,
        symbol: str,
        *,
        limit: int | None = None,
        speed: str = "100ms",
        wait: float | None = 30.0,
    ) -> OrderBook:
        """The strict local book of `symbol` (one per symbol), synced within `wait` seconds."""
        key = symbol.upper()
        book = self._books.get(key)
        if book is None:
            book = OrderBook(
                self, self.streams, key, limit=limit or self.options.book_limit, speed=speed
            )
            self._books[key] = book
            book.start()
        if wait:
            await book.wait_ready(wait)
        return book

    # -- user data over the WebSocket API (userdata.py, tracker.py) ------------------------------
    async def start_user_data(
        self, symbols: tuple[str, ...] | list[str] = (), *, within: float | None = 30.0
    ) -> UserDataStream:
        """Subscribe to this account's user data; order state and fills then come pushed.

        `symbols`: where to catch up over REST after a reconnect, besides the symbols of the
        orders already tracked or journalled."""
        if self.user_data is None:
            if self._api_key is None or self._signer is None:
                raise RuntimeError("user data needs an API key and a secret or private key")
            self.user_data = UserDataStream(
                self,
                api_key=self._api_key,
                signer=self._signer,
                tracker=self.tracker,
                symbols=symbols,
                logon=self.options.user_data_logon,
                gate=self._gate,
            )
            await self.user_data.start(within)
        return self.user_data

    async def order_status(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        """An order's state: from the user data stream while it is healthy, else over REST."""
        ud = self.user_data
        if ud is not None and ud.healthy:
            known = self.tracker.get(
                client_order_id=client_order_id, order_id=order_id, symbol=symbol
            )
            if known is not None:
                self.stats.order_states_from_stream += 1
                return known
        self.stats.order_states_from_rest += 1
        return await self.get_order(symbol, order_id=order_id, client_order_id=client_order_id)

    def _order_seen(self, order: Order) -> None:
        """An order's state from any source: track it, and settle its journal entry."""
        self.tracker.update_order(order)
        entry = self.journal.get(order.client_order_id) if order.client_order_id else None
        if entry is None:
            return
        if order.status in FINAL_STATUSES:
            if entry.stage is not Stage.FINAL or entry.status != order.status:
                self.journal.mark_final(order.client_order_id, order.status, order.order_id)
        elif entry.stage in (Stage.INTENT, Stage.SENT, Stage.UNKNOWN):
            self.journal.mark_acked(order.client_order_id, order.order_id, order.status)

    def _journal_symbols(self) -> set[str]:
        return self.journal.symbols()

    async def observe_ws_error(self, err: BinanceError, *, sent_ms: int | None = None) -> None:
        """A WebSocket API error answer: counted, and its limits fed to the gate that admits
        every request (the budget, or the gate this connector was given)."""
        self._record(err)
        if self._gate is not None:
            await self._gate.on_error(err, sent_ms=sent_ms)

    # -- account ----------------------------------------------------------------------------------
    async def account(self) -> Account:
        return Account.from_api((await self.call("GET", "/api/v3/account", signed=True)).data)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        params = {"symbol": symbol} if symbol else None
        data = (await self.call("GET", "/api/v3/openOrders", params, signed=True)).data
        orders = [Order.from_api(o) for o in data]
        for order in orders:
            self.tracker.update_order(order)
        return orders

    async def my_trades(self, symbol: str, **params: object) -> list[Trade]:
        data = (
            await self.call("GET", "/api/v3/myTrades", {"symbol": symbol, **params}, signed=True)
        ).data
        trades = [Trade.from_api(t) for t in data]
        for trade in trades:
            self.tracker.add_trade(trade)
        return trades

    # -- orders (see orders.py) -------------------------------------------------------------------
    async def place_order(
        self,
        symbol: str,
        side: str,
        type: str,  # Binance's parameter name
        *,
        quantity: object = None,
        quote_order_qty: object = None,
        price: object = None,
        time_in_force: str | None = None,
        client_order_id: str | None = None,
        **extra: object,
    ) -> Order:
        """Place an order exactly once, even through resets, timeouts and 5XX answers."""
        params: dict[str, object] = {"symbol": symbol, "side": side, "type": type}
        for key, value in (
            ("timeInForce", time_in_force),
            ("quantity", quantity),
            ("quoteOrderQty", quote_order_qty),
            ("price", price),
        ):
            if value is not None:
                params[key] = value
        params.update(extra)
        order = await self.orders.place(params, client_order_id)
        self.tracker.update_order(order)
        self.tracker.add_order_fills(order)
        return order

    async def get_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        order = await self.orders.query(symbol, order_id=order_id, client_order_id=client_order_id)
        self.tracker.update_order(order)
        return order

    async def cancel_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        order = await self.orders.cancel(symbol, order_id=order_id, client_order_id=client_order_id)
        self.tracker.update_order(order)
        return order

    async def cancel_all(self, symbol: str) -> list[Order]:
        return await self.orders.cancel_all(symbol)

    async def recover(self) -> list[Order | None]:
        """Reconcile every order the journal does not know the outcome of (after a crash)."""
        return await self.orders.recover()
