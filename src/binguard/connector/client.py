"""SpotConnector: Binance Spot over REST, surviving network faults, clock drift, limits and bans.

    async with SpotConnector(api_key=KEY, secret=SECRET, base_url=URL) as bn:
        order = await bn.place_order("BTCUSDT", "BUY", "LIMIT", quantity="0.01", price="30000",
                                     time_in_force="GTC")

Every call goes through one loop (calls.py): the budget admits it, the transport signs it with the
server-corrected clock and sends it, and on failure the retry policy decides (retry with backoff,
resync the clock then retry once, reconcile, or raise). Orders are journalled before they leave and
reconciled when their outcome is unknown (orders.py, ledger.py).

Implementation note: this module is the composition root. It builds the parts once — request
loop, ledger, order manager, WebSocket API clients, book, user data — and hands each only what it
needs (a loop, a ledger, a fetch or emit function), never the connector itself; no other module
of the package imports this one, so the import graph stays a tree (tests/test_layers.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any, Literal, overload

from binguard.backends import BudgetStore, Limit, SharesLimits
from binguard.errors import BinanceError
from binguard.policy.budget import RateBudget
from binguard.policy.clock import Clock, SystemClock
from binguard.policy.gate import RateGate
from binguard.policy.servertime import ServerTimeSync
from binguard.transport.rest import RestOptions, RestResponse, RestTransport
from binguard.transport.signing import Signer, load_signer
from binguard.transport.ws_api import WsApiClient
from binguard.transport.ws_limits import ConnectLimiter

from . import account, market
from .book import OrderBook
from .calls import BanNotices, RequestLoop, call_endpoint
from .checks import ParamError
from .edit_models import Amendment, CancelReplaceResult
from .edits import EditManager
from .events import Event, EventBus, Hook, Stats
from .journal import OrderJournal
from .ledger import OrderLedger
from .ledger_lists import ListLedger
from .list_models import Leg, OrderList
from .lists import ListManager
from .market import TimeArg
from .market_models import AggTrade, AvgPrice, Candle, PublicTrade, Ticker
from .models import Account, BookTicker, Depth, Order, Trade
from .options import BINANCE_REST, ConnectorOptions
from .orders import OrderManager
from .placement import request_params, text
from .streams import MarketStreams, Subscription
from .tracker import OrderTracker
from .userdata import UserDataStream
from .ws_orders import WsOrderSession


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
        self.options = opts = options or ConnectorOptions()
        clock = clock or SystemClock()
        signer: Signer | None = None
        if secret is not None or private_key is not None:
            signer = load_signer(
                secret=secret, private_key=private_key, password=private_key_password
            )
        self._api_key = api_key
        self._signer = signer
        self.time = ServerTimeSync(clock, resync_every=opts.resync_every)
        self.stats = Stats()
        self._events = EventBus(self.stats)
        self._bans = BanNotices(self._events.emit)
        self.budget: RateBudget | None = None
        self._store = store
        if gate is None:
            gate = self.budget = self._own_budget(clock, store, sleep)
        self._gate = gate  # what admits every request: REST, WebSocket API orders, user data
        self._transport = self._rest(base_url, api_key, signer, gate)
        self._loop = RequestLoop(
            self._transport,
            options=opts,
            clock=clock,
            time_sync=self.time,
            events=self._events,
            stats=self.stats,
            gate=gate,
            budget=self.budget,
            sleep=sleep,
        )
        self.journal = OrderJournal(opts.journal_path)
        # Order state from every source (REST answers, user data), merged idempotently.
        self.tracker = OrderTracker(keep_settled=self.options.keep_settled)
        self._ledger = OrderLedger(self.journal, self.tracker)
        # WebSockets (streams.py, book.py, userdata.py): one connection-attempt budget per process
        self.ws_limiter = ConnectLimiter()
        self._streams: MarketStreams | None = None
        self._books: dict[str, OrderBook] = {}
        self.user_data: UserDataStream | None = None
        # Orders over the WebSocket API (ws_orders.py) when asked; else over REST.
        self.ws_orders = self._ws_order_session() if opts.orders_via == "ws" else None
        self.orders = OrderManager(self._loop, self._ledger, opts, ws=self.ws_orders)
        self._order_parts()

    def _order_parts(self) -> None:
        """Order lists and edits: the same journal, tracker, send path and local checks."""
        self._list_ledger = ListLedger(self.journal, self.tracker)
        self.lists = ListManager(self._loop, self._list_ledger, self.orders)
        self.edits = EditManager(self._loop, self._list_ledger, self.orders)

    def _own_budget(
        self,
        clock: Clock,
        store: BudgetStore | None,
        sleep: Callable[[float], Awaitable[None]],
    ) -> RateBudget:
        # No limits until exchangeInfo is read in open(); headers are observed from the start.
        return RateBudget(
            [],
            store=store,
            clock=clock,
            server_time=self.time.now_ms,
            sleep=sleep,
            margin=self.options.budget_share,
            on_block=self._bans.on_block,
        )

    def _rest(
        self, base_url: str, api_key: str | None, signer: Signer | None, gate: RateGate
    ) -> RestTransport:
        opts = self.options
        return RestTransport(
            base_url,
            api_key=api_key,
            signer=signer,
            time_source=self.time,
            gate=gate,
            options=RestOptions(
                timeout=opts.timeout,
                connect_timeout=opts.connect_timeout,
                recv_window_ms=opts.recv_window_ms,
                http=opts.http,
            ),
            local_addr=opts.local_addr,
        )

    def _ws_order_session(self) -> WsOrderSession:
        """Orders over the WebSocket API, over REST while its socket is down (ws_orders.py)."""
        if self._api_key is None or self._signer is None:
            raise ValueError("orders_via='ws' needs an API key and a secret or private key")
        api = self._ws_api("ws-orders", logon=True)
        return WsOrderSession(api, self._loop, rest=self._transport.send)

    def _ws_api(self, name: str, *, logon: bool) -> WsApiClient:
        """A WebSocket API client on this connector's credentials, clock, gate and limiter."""
        assert self._api_key is not None
        assert self._signer is not None
        loop = self._loop
        return WsApiClient(
            self.options.ws_api_url,
            name=name,
            credentials=(self._api_key, self._signer),
            time_source=self.time,
            recv_window_ms=self.options.recv_window_ms,
            options=self.options.ws,
            gate=self._gate,
            resync=loop.sync_time,
            record=loop.record,
            emit=loop.emit,
            limiter=self.ws_limiter,
            local_addr=self.options.local_addr,
            logon=logon,
        )

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
        """Open the session, measure the server clock and read the rate limits.

        A fleet member on a store that shares limits (`SharesLimits`, the Redis store) takes the
        limits an earlier member saved before its first request, so its start-up requests
        (`/api/v3/time`, `exchangeInfo`) wait for the fleet's windows like any other instead of
        earning a 429; it saves the limits exchangeInfo gives (as given: `set_limits` applies
        `budget_share`) for the members after it."""
        await self._transport.open()
        shared = self._store if isinstance(self._store, SharesLimits) else None
        if self.budget is not None and shared is not None:
            known = await shared.load_limits()
            if known:
                self.budget.set_limits(known)
        await self._loop.ensure_time()
        if self.budget is not None:
            response = await call_endpoint(self._loop, "exchange_info")
            limits = [Limit.from_exchange_info(x) for x in response.data.get("rateLimits", ())]
            self.orders.rules.learn(response.data)  # the symbols' filters, for local checks
            self.budget.set_limits(limits)
            # The start-up requests may have gone out before any limit was known; this answer's
            # headers count them (and any other program on this IP), so the window starts right.
            await self.budget.observe(response.rate, sent_ms=self.time.now_ms())
            if shared is not None and limits:
                await shared.save_limits(limits)
        if self.ws_orders is not None:
            # Connects (and logs on); orders go over REST until the socket is up.
            self.ws_orders.start()
            await self.ws_orders.wait_ready(self.options.ws.open_timeout)

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
        self._ledger.close()
        self._bans.close()

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
        await self._loop.sync_time()

    # -- the request loop (calls.py) --------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        signed: bool = False,
        is_order: bool = False,
        deadline: float | None = None,
        sync: bool = True,
    ) -> Awaitable[RestResponse]:
        """One logical request with the retry policy applied (await it). Raises a typed
        BinanceError, or `OutcomeUnknown` (for orders) when the request may have executed.

        (The request loop's coroutine is handed back as is: one frame less per request.)"""
        return self._loop.call(
            method, path, params, signed=signed, is_order=is_order, deadline=deadline, sync=sync
        )

    async def observe_ws_error(self, err: BinanceError, *, sent_ms: int | None = None) -> None:
        """A WebSocket API error answer: counted, and its limits fed to the gate that admits
        every request (the budget, or the gate this connector was given)."""
        await self._loop.observe_ws_error(err, sent_ms=sent_ms)

    # -- market data ------------------------------------------------------------------------------
    async def server_time(self) -> int:
        return int((await call_endpoint(self._loop, "time")).data["serverTime"])

    async def exchange_info(self, symbol: str | None = None) -> dict[str, Any]:
        params = {"symbol": symbol} if symbol else None
        data: dict[str, Any] = (await call_endpoint(self._loop, "exchange_info", params)).data
        self.orders.rules.learn(data)
        return data

    async def depth(self, symbol: str, limit: int = 100) -> Depth:
        return Depth.from_api(
            (await call_endpoint(self._loop, "depth", {"symbol": symbol, "limit": limit})).data
        )

    async def book_ticker(self, symbol: str) -> BookTicker:
        data = (await call_endpoint(self._loop, "book_ticker", {"symbol": symbol})).data
        return BookTicker.from_api(data)

    # -- market data: candles, trades, tickers (market.py; rest-api.md §Market Data endpoints) ---
    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        start_time: TimeArg | None = None,
        end_time: TimeArg | None = None,
        limit: int | None = None,
        time_zone: str | None = None,
        ui: bool = False,
    ) -> list[Candle]:
        """Candles, oldest first (rest-api.md §Kline/Candlestick data; `ui=True`: §UIKlines).

        `interval`: 1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M. Times are ms or aware
        datetimes, always UTC and matched on open time; `time_zone` ("+08:00", "-1") shifts
        the interval boundaries only. Without times: the latest candles, the open one last
        (`closed` False). `limit`: default 500, at most 1000. Weight 2."""
        return await market.klines(
            self._loop, symbol, interval, start_time=start_time, end_time=end_time,
            limit=limit, time_zone=time_zone, ui=ui,
        )  # fmt: skip

    def klines_range(
        self,
        symbol: str,
        interval: str,
        start: TimeArg,
        end: TimeArg,
        *,
        page: int = market.KLINES_MAX,
        time_zone: str | None = None,
        ui: bool = False,
    ) -> AsyncIterator[Candle]:
        """`async for candle in bn.klines_range("BTCUSDT", "1m", start, end)`: every candle
        opening in [start, end], oldest first, fetched `page` at a time; each page is one klines
        request (weight 2) admitted by the budget, so a long range waits for budget rather than
        earning a 429. No candle is missed or repeated at page edges."""
        return market.klines_range(
            self._loop, symbol, interval, start, end, page=page, time_zone=time_zone, ui=ui
        )

    async def agg_trades(
        self,
        symbol: str,
        *,
        from_id: int | None = None,
        start_time: TimeArg | None = None,
        end_time: TimeArg | None = None,
        limit: int | None = None,
    ) -> list[AggTrade]:
        """Aggregate trades, oldest first (rest-api.md §Compressed/Aggregate trades list):
        from `from_id` (inclusive), or within [start_time, end_time] (inclusive), else the
        latest. `from_id` with a time is refused by Binance (-1128). `limit` ≤ 1000. Weight 4."""
        return await market.agg_trades(
            self._loop, symbol, from_id=from_id, start_time=start_time, end_time=end_time,
            limit=limit,
        )  # fmt: skip

    async def historical_trades(
        self, symbol: str, *, from_id: int | None = None, limit: int | None = None
    ) -> list[PublicTrade]:
        """Older market trades from trade id `from_id` (default: the latest) (rest-api.md
        §Old trade lookup). `limit` ≤ 1000. Weight 25."""
        return await market.historical_trades(self._loop, symbol, from_id=from_id, limit=limit)

    async def avg_price(self, symbol: str) -> AvgPrice:
        """The average price of the last 5 minutes (rest-api.md §Current average price).
        Weight 2."""
        return await market.avg_price(self._loop, symbol)

    @overload
    async def ticker_24h(
        self, symbols: str, *, type: Literal["FULL", "MINI"] = ..., symbol_status: str | None = ...
    ) -> Ticker: ...
    @overload
    async def ticker_24h(
        self,
        symbols: list[str] | tuple[str, ...] | None = ...,
        *,
        type: Literal["FULL", "MINI"] = ...,
        symbol_status: str | None = ...,
    ) -> list[Ticker]: ...
    async def ticker_24h(
        self,
        symbols: str | list[str] | tuple[str, ...] | None = None,
        *,
        type: Literal["FULL", "MINI"] = "FULL",  # Binance's parameter name
        symbol_status: str | None = None,
    ) -> Ticker | list[Ticker]:
        """24-hour rolling statistics (rest-api.md §24hr ticker price change statistics): one
        Ticker for a symbol name, a list for a list of names or for all (None). Weight: 2 for
        one symbol or up to 20, 40 for 21-100, 80 for more or all symbols — poll with care."""
        params = {"type": type, "symbolStatus": symbol_status}
        return await market.tickers(self._loop, "ticker_24hr", "24h", symbols, params)

    @overload
    async def ticker(
        self,
        symbols: str,
        *,
        window_size: str = ...,
        type: Literal["FULL", "MINI"] = ...,
        symbol_status: str | None = ...,
    ) -> Ticker: ...
    @overload
    async def ticker(
        self,
        symbols: list[str] | tuple[str, ...],
        *,
        window_size: str = ...,
        type: Literal["FULL", "MINI"] = ...,
        symbol_status: str | None = ...,
    ) -> list[Ticker]: ...
    async def ticker(
        self,
        symbols: str | list[str] | tuple[str, ...],
        *,
        window_size: str = "1d",
        type: Literal["FULL", "MINI"] = "FULL",
        symbol_status: str | None = None,
    ) -> Ticker | list[Ticker]:
        """Rolling window statistics (rest-api.md §Rolling window price change statistics):
        `window_size` 1m-59m, 1h-23h, 1d-7d; the window opens on a minute, so it may be up to
        59999 ms wider. At most 100 symbols. Weight 4 per symbol, 200 above 50 symbols."""
        params = {"windowSize": window_size, "type": type, "symbolStatus": symbol_status}
        return await market.tickers(self._loop, "ticker", window_size, symbols, params)

    @overload
    async def trading_day_ticker(
        self,
        symbols: str,
        *,
        time_zone: str | None = ...,
        type: Literal["FULL", "MINI"] = ...,
        symbol_status: str | None = ...,
    ) -> Ticker: ...
    @overload
    async def trading_day_ticker(
        self,
        symbols: list[str] | tuple[str, ...],
        *,
        time_zone: str | None = ...,
        type: Literal["FULL", "MINI"] = ...,
        symbol_status: str | None = ...,
    ) -> list[Ticker]: ...
    async def trading_day_ticker(
        self,
        symbols: str | list[str] | tuple[str, ...],
        *,
        time_zone: str | None = None,
        type: Literal["FULL", "MINI"] = "FULL",
        symbol_status: str | None = None,
    ) -> Ticker | list[Ticker]:
        """Statistics of the current trading day in `time_zone` (default UTC) (rest-api.md
        §Trading Day Ticker). At most 100 symbols. Weight 4 per symbol, 200 above 50."""
        params = {"timeZone": time_zone, "type": type, "symbolStatus": symbol_status}
        return await market.tickers(self._loop, "ticker_trading_day", "tradingDay", symbols, params)

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
                gate=self._gate,
            )
        return self._streams

    def stream(self, *names: str, maxsize: int = 10_000) -> Subscription:
        """`async with bn.stream("btcusdt@kline_1m", ...) as sub: async for event in sub: ...`

        Each `StreamEvent` has Binance's payload (`data`) and its typed form (`value`: a Candle
        with `closed` for `kline_<interval>`, AggTrade, PublicTrade, Ticker for the ticker
        streams, AvgPrice, BookTicker; None for depth). See streams.py."""
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
                self.streams,
                self._depth_snapshot,
                self.emit,
                key,
                limit=limit or self.options.book_limit,
                speed=speed,
            )
            self._books[key] = book
            book.start()
        if wait:
            await book.wait_ready(wait)
        return book

    async def _depth_snapshot(self, symbol: str, limit: int) -> dict[str, Any]:
        """A book's snapshot: `GET /api/v3/depth` through the request loop (and the budget)."""
        data: dict[str, Any] = (
            await call_endpoint(self._loop, "depth", {"symbol": symbol, "limit": limit})
        ).data
        return data

    # -- user data over the WebSocket API (userdata.py, tracker.py) ------------------------------
    async def start_user_data(
        self, symbols: tuple[str, ...] | list[str] = (), *, within: float | None = 30.0
    ) -> UserDataStream:
        """Subscribe to this account's user data; order state and fills then come pushed.

        `symbols`: where to catch up over REST after a reconnect, besides the symbols of the
        orders already tracked or journalled. Refused credentials (-1002, -1022, -2014, -2015)
        raise AuthError after one subscription request; the stream is then closed, and a later
        call starts a new one."""
        if self.user_data is None:
            if self._api_key is None or self._signer is None:
                raise RuntimeError("user data needs an API key and a secret or private key")
            stream = self.user_data = UserDataStream(
                self._ws_api("user-data", logon=self.options.user_data_logon),
                self._loop,
                self._ledger,
                symbols=symbols,
                lists=self._list_ledger,
            )
            try:
                await stream.start(within)
            except BinanceError:
                self.user_data = None
                await stream.close()
                raise
        return self.user_data

    async def order_status(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        """An order's state: from the user data stream while it is healthy, else over REST
        (also while the stream has not yet told the status of an order placed with ACK)."""
        ud = self.user_data
        if ud is not None and ud.healthy:
            known = self.tracker.get(
                client_order_id=client_order_id, order_id=order_id, symbol=symbol
            )
            if known is not None and known.status is not None:
                self.stats.order_states_from_stream += 1
                return known
        self.stats.order_states_from_rest += 1
        return await self.get_order(symbol, order_id=order_id, client_order_id=client_order_id)

    # -- account ----------------------------------------------------------------------------------
    async def account(self) -> Account:
        return Account.from_api((await call_endpoint(self._loop, "account")).data)

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return await account.open_orders(self._loop, self._ledger, symbol)

    async def my_trades(self, symbol: str, **params: object) -> list[Trade]:
        return await account.my_trades(self._loop, self._ledger, symbol, **params)

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
        stop_price: object = None,
        trailing_delta: int | None = None,
        iceberg_qty: object = None,
        new_order_resp_type: str | None = None,
        self_trade_prevention_mode: str | None = None,
        strategy_id: int | None = None,
        strategy_type: int | None = None,
        peg_price_type: str | None = None,
        peg_offset_value: int | None = None,
        peg_offset_type: str | None = None,
        client_order_id: str | None = None,
        **extra: object,
    ) -> Order:
        """Place an order exactly once, even through resets, timeouts and 5XX answers.

        Every parameter of rest-api.md §New order by its snake_case name, or by Binance's
        camelCase name in `**extra` (placement.py; both forms of one parameter, or a name the
        endpoint does not take: TypeError). Checked before sending against the order type's
        rules and the symbol's filters (checks.py: ParamError / FilterError naming the
        parameter; nothing is sent). An ACK answer (`new_order_resp_type="ACK"`) gives an order
        whose `status` is None until user data or a query tells it."""
        typed: dict[str, object] = {
            "quantity": quantity,
            "quote_order_qty": quote_order_qty,
            "price": price,
            "time_in_force": time_in_force,
            "stop_price": stop_price,
            "trailing_delta": trailing_delta,
            "iceberg_qty": iceberg_qty,
            "new_order_resp_type": new_order_resp_type,
            "self_trade_prevention_mode": self_trade_prevention_mode,
            "strategy_id": strategy_id,
            "strategy_type": strategy_type,
            "peg_price_type": peg_price_type,
            "peg_offset_value": peg_offset_value,
            "peg_offset_type": peg_offset_type,
            "new_client_order_id": client_order_id,
        }
        fixed = {"symbol": symbol, "side": side, "type": type}
        params = request_params("place_order", "place", fixed, typed, extra)
        return await self.orders.place(params, params.pop("newClientOrderId", None))

    async def get_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        order = await self.orders.query(symbol, order_id=order_id, client_order_id=client_order_id)
        self._ledger.track(order)
        return order

    async def cancel_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        order = await self.orders.cancel(symbol, order_id=order_id, client_order_id=client_order_id)
        self._ledger.track(order)
        return order

    async def cancel_all(self, symbol: str) -> list[Order]:
        return await self.orders.cancel_all(symbol)

    async def recover(self) -> list[Order | None]:
        """Reconcile every order, order list and edit the journal does not know the outcome of
        (after a crash); never re-sends. Returns the single orders' results (the order, or None
        when it never existed or was archived); the lists' are in `recover_lists()`'s answer
        (called here too) and the journal (`journal.lists`)."""
        results = await self.orders.recover()
        await self.recover_lists()
        await self.edits.recover()
        return results

    async def recover_lists(self) -> list[OrderList | None]:
        """Settle the journalled order lists whose outcome is unknown (lists.py)."""
        return await self.lists.recover()

    # -- edits (see edits.py) ---------------------------------------------------------------------
    async def cancel_replace(
        self,
        symbol: str,
        side: str,
        type: str,  # Binance's parameter name
        *,
        cancel_replace_mode: str = "STOP_ON_FAILURE",
        cancel_order_id: int | None = None,
        cancel_orig_client_order_id: str | None = None,
        quantity: object = None,
        quote_order_qty: object = None,
        price: object = None,
        time_in_force: str | None = None,
        stop_price: object = None,
        trailing_delta: int | None = None,
        iceberg_qty: object = None,
        new_order_resp_type: str | None = None,
        client_order_id: str | None = None,
        **extra: object,
    ) -> CancelReplaceResult:
        """Cancel an order and place a new one in one request (POST /api/v3/order/cancelReplace),
        `cancel_replace_mode` STOP_ON_FAILURE or ALLOW_FAILURE. Always a CancelReplaceResult
        saying which half happened — also for -2021 / -2022 and for a lost answer, reconciled by
        querying both halves (edits.py). Any other parameter of the endpoint by Binance's name in
        `**extra` (selfTradePreventionMode, cancelRestrictions, pegPriceType...)."""
        typed: dict[str, object] = {
            "cancel_replace_mode": cancel_replace_mode,
            "cancel_order_id": cancel_order_id,
            "cancel_orig_client_order_id": cancel_orig_client_order_id,
            "quantity": quantity,
            "quote_order_qty": quote_order_qty,
            "price": price,
            "time_in_force": time_in_force,
            "stop_price": stop_price,
            "trailing_delta": trailing_delta,
            "iceberg_qty": iceberg_qty,
            "new_order_resp_type": new_order_resp_type,
            "new_client_order_id": client_order_id,
        }
        fixed = {"symbol": symbol, "side": side, "type": type}
        params = request_params("cancel_replace", "cancel_replace", fixed, typed, extra)
        return await self.edits.cancel_replace(params)

    async def amend(
        self,
        symbol: str,
        *,
        new_qty: object,
        order_id: int | None = None,
        client_order_id: str | None = None,
        new_client_order_id: str | None = None,
    ) -> tuple[Amendment, Order | None]:
        """Reduce an open order's quantity keeping its place in the book
        (PUT /api/v3/order/amend/keepPriority). The order's client id becomes
        `new_client_order_id` (fixed and journalled first; generated when not given); a lost
        answer is reconciled in the order's amendment history (edits.py). Returns the amendment
        and the amended order (None when it was found by reconciliation)."""
        if order_id is None:
            if client_order_id is None:
                raise TypeError("amend() needs order_id= or client_order_id=")
            known = self.tracker.get(client_order_id=client_order_id)
            order_id = (
                known or await self.get_order(symbol, client_order_id=client_order_id)
            ).order_id
        qty = text(new_qty, "new_qty")
        if not _positive(qty):  # rest-api.md: "newQty must be greater than 0"
            raise ParamError(f"newQty must be a positive number, not {qty!r}", param="newQty")
        return await self.edits.amend(symbol, order_id, qty, new_client_order_id)

    async def order_amendments(self, symbol: str, order_id: int) -> list[Amendment]:
        """GET /api/v3/order/amendments: every amendment of one order, oldest first."""
        return await self.edits.amendments(symbol, order_id)

    # -- order lists (see lists.py) ---------------------------------------------------------------
    async def place_order_list(
        self,
        kind: str,
        symbol: str,
        *,
        above: Leg | None = None,
        below: Leg | None = None,
        working: Leg | None = None,
        pending: Leg | None = None,
        pending_above: Leg | None = None,
        pending_below: Leg | None = None,
        list_client_order_id: str | None = None,
        new_order_resp_type: str | None = None,
        self_trade_prevention_mode: str | None = None,
        **extra: object,
    ) -> OrderList:
        """Place an order list exactly once: `kind` OCO (`above`, `below`), OTO or OPO
        (`working`, `pending`), OTOCO or OPOCO (`working`, `pending_above`, optional
        `pending_below`). Legs are `Leg(side, type, quantity=..., price=..., ...)`; Binance's
        camelCase names (`aboveStopPrice`...) are accepted in `**extra` (both forms: TypeError).
        Every client id is fixed and journalled first; a lost answer is reconciled by the list's
        `listClientOrderId` (lists.py). Checked against the symbol's filters leg by leg first."""
        legs = {
            "above": above,
            "below": below,
            "working": working,
            "pending": pending,
            "pending_above": pending_above,
            "pending_below": pending_below,
        }
        top = {
            "list_client_order_id": list_client_order_id,
            "new_order_resp_type": new_order_resp_type,
            "self_trade_prevention_mode": self_trade_prevention_mode,
        }
        return await self.lists.place(kind, symbol, legs, top, extra)

    async def cancel_order_list(
        self,
        symbol: str,
        *,
        order_list_id: int | None = None,
        list_client_order_id: str | None = None,
    ) -> OrderList:
        """Cancel a whole order list; a lost answer is resolved by a query (lists.py)."""
        return await self.lists.cancel(
            symbol, order_list_id=order_list_id, list_client_order_id=list_client_order_id
        )

    async def get_order_list(
        self, *, order_list_id: int | None = None, list_client_order_id: str | None = None
    ) -> OrderList:
        """GET /api/v3/orderList by orderListId or listClientOrderId."""
        return await self.lists.query(
            order_list_id=order_list_id, list_client_order_id=list_client_order_id
        )

    async def open_order_lists(self) -> list[OrderList]:
        return await self.lists.open_lists()

    async def all_order_lists(self, **params: object) -> list[OrderList]:
        return await self.lists.all_lists(**params)


def _positive(number: str) -> bool:
    try:
        return Decimal(number) > 0
    except InvalidOperation:
        return False
