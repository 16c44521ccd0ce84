"""The gateway as an aiohttp application, and `Gateway`, which runs it on a port.

    async with Gateway(GatewayConfig(upstream=sim.url).validate()) as gw:
        gw.url          # "http://127.0.0.1:<port>": the bot's new base URL
        await gw.drain()   # what SIGTERM does: in-flight finish, new requests get 503 -1008

Routes (access rules, access.py, apply to all; a `/t/<token>` prefix is removed first):
- `/status` (JSON; 200 ready, 503 draining: health and readiness in one), `/metrics`
  (Prometheus): the gateway's own pages;
- `/ws`, `/ws/<streams>`, `/stream?streams=` (WebSocket upgrades): streams fan-out (streams.py);
  `/ws-api/v3`: the WebSocket API (ws_api.py);
- `GET` exchangeInfo, ticker/bookTicker, ticker/price, depth, klines, uiKlines, ticker/24hr,
  avgPrice: from the caches when they hold the answer (cache.py, books.py, market.py);
- keys mode (caches on): a signed `GET` account or order, once the re-signer has accepted it,
  from the real key's user data caches when they hold the answer (userdata.py);
- every other path: forwarded to the upstream REST host (forward.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from binguard.connector.journal import OrderJournal
from binguard.transport.http_backends import no_auto_resend

from . import answers
from .access import Access, Passed, Refused
from .books import Books
from .cache import Caches
from .config import GatewayConfig
from .forward import Forwarder
from .gate import Gate
from .keys import KeyRing, LocalAuthError, ReplayGuard
from .market import Market
from .metrics import CONTENT_TYPE, Metrics
from .order_guard import OrderGuard
from .resign import Resigner
from .streams import StreamHub
from .streams import serve_bot as serve_stream_bot
from .userdata import UserData, forwarder_fetch
from .ws_api import serve_bot as serve_ws_api_bot

log = logging.getLogger("binguard.gateway")


class _TypeOnly(logging.Filter):
    """aiohttp's server logs a malformed request with its traceback, and the exception text
    quotes the start of the offending line (which may hold a key or a query string): keep the
    exception's type only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[0] is not None:
            record.msg = f"{record.getMessage()}: {record.exc_info[0].__name__}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


http_log = logging.getLogger("binguard.gateway.http")
http_log.addFilter(_TypeOnly())
PASSED = web.RequestKey("binguard_gateway_passed", Passed)
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Gateway:
    """One gateway: a listening site, an upstream session and the budget behind both."""

    def __init__(self, config: GatewayConfig, *, gate: Gate | None = None) -> None:
        self.config = config.validate()
        self.host, self.port = config.host_port
        self.gate = gate or Gate(config)
        self.metrics = Metrics()
        self.gate.observe = self.metrics.upstream  # its upkeep (time, exchangeInfo) is upstream too
        self._draining = False
        self._inflight = 0
        self._ws_api_bots = 0  # WebSocket API bot sockets open (each with its upstream twin)
        self._idle = asyncio.Event()
        self._idle.set()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._forwarder: Forwarder | None = None
        self.streams = StreamHub(config.stream_url, self.metrics, gate=self.gate.budget)
        self._micro_streams: StreamHub | None = None  # for bots asking microseconds
        self.caches = Caches(self.streams, config.cache_ttl_s, config.cache_idle_s, self.metrics)
        self.books: Books | None = None  # needs the forwarder: made in start()
        self.market: Market | None = None  # likewise
        self.user_data: UserData | None = None  # keys mode's account and order caches
        self.orders: OrderGuard | None = None  # keys mode's order journal (order_guard.py)
        self._access = Access(config, self.port)
        self._resigner = _resigner(config)  # keys mode; raises KeysFileError early
        self.started_at = time.time()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=self.config.max_body_bytes, middlewares=[self._guard])
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def start(self) -> None:
        http_proxy = self.config.proxy if self.config.proxy.startswith("http://") else None
        self._session = aiohttp.ClientSession(
            connector=upstream_connector(self.config.proxy),
            auto_decompress=False,  # bodies pass through as Binance sent them
            skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
            proxy=http_proxy,
        )
        self.streams.use_session(self._session)
        no_auto_resend(self._session)  # retries are the forwarder's decision alone
        self._forwarder = Forwarder(self.gate, self._session, self.metrics, self._resigner)
        if self.config.cache_ttl_s > 0:
            self.books = Books(
                self.streams, self._forwarder, self.config.cache_idle_s, self.metrics
            )
            self.market = Market(
                self.streams, self._forwarder, self.config.cache_idle_s, self.metrics
            )
            if self._resigner is not None:
                self.user_data = UserData(
                    self._resigner.ring.reals(),
                    self.config.ws_api_url,
                    self.gate,
                    forwarder_fetch(self._forwarder, self.gate),
                    self.metrics,
                )
        if self._resigner is not None:
            self.orders = OrderGuard(
                OrderJournal(self.config.journal_path),
                self._forwarder,
                self.gate,
                self._resigner.ring.reals(),
                wait_s=self.config.order_wait_s,
                margin_ms=int(self.config.reconcile_margin_s * 1000),
            )
        await self.gate.start(self._session)
        if self.orders is not None:
            self.orders.start()  # settles what a killed run left pending, while serving
        limit = self.config.max_header_bytes
        runner = web.AppRunner(
            self.build_app(),
            access_log=None,
            logger=http_log,
            max_line_size=limit,
            max_field_size=limit,
            max_headers=64,
            shutdown_timeout=self.config.drain_s,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        sockets = getattr(site._server, "sockets", None) or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]
            self._access.port = self.port
        log.info("binguard gateway on %s -> %s", self.url, self.config.rest_url)

    async def drain(self) -> None:
        """Refuse new requests (503 -1008, `X-Binguard-Gateway: draining`); wait up to drain_s
        for those in flight."""
        self._draining = True
        try:
            await asyncio.wait_for(self._idle.wait(), self.config.drain_s)
        except TimeoutError:
            log.warning("gateway drain: %d request(s) still in flight", self._inflight)

    async def stop(self) -> None:
        await self.drain()
        await self.caches.close()
        if self.orders is not None:
            await self.orders.close()
            self.orders = None
        if self.user_data is not None:
            await self.user_data.close()
        if self.books is not None:
            await self.books.close()
        if self.market is not None:
            await self.market.close()
        await self.streams.close()
        if self._micro_streams is not None:
            await self._micro_streams.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.gate.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Gateway:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- requests -----------------------------------------------------------------------------
    @web.middleware
    async def _guard(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """Access first (even for paths no route matches), then the handler; a failure of ours
        is logged by type (an aiohttp error's text may hold the query) and answered in
        Binance's words."""
        verdict = self._access.check(request)
        if isinstance(verdict, Refused):
            self.metrics.local.labels("forbidden").inc()
            log.warning(
                "gateway refused %s from %s: %s", request.method, request.remote, verdict.why
            )
            return answers.forbidden(verdict.why)
        request[PASSED] = verdict
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:
            return answers.too_large()
        except web.HTTPException:
            raise
        except Exception as e:  # noqa: BLE001 - answered in Binance's words, logged by type
            log.error("gateway bug on %s %s: %s", request.method, verdict.path, type(e).__name__)
            read = request.method in ("GET", "HEAD")
            return answers.internal() if read else answers.execution_unknown()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        passed = request[PASSED]
        if passed.path == "/status":
            return await self._status()
        if passed.path == "/metrics":
            self._socket_gauges()
            body = self.metrics.render(await self.gate.snapshot())
            return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
        if self._draining:
            self.metrics.local.labels("draining").inc()
            return answers.draining()
        if _is_stream(passed.path) or passed.path == "/ws-api/v3":
            return await self._websocket(request, passed)
        assert self._forwarder is not None
        # The caches hold milliseconds: a bot asking microseconds is neither answered from them
        # nor lets its answers into them (they would give its times to every other bot).
        micros = request.headers.get(answers.TIME_UNIT) in answers.MICROS
        cached = None if micros else self.caches.answer(request.method, passed.path, passed.query)
        if cached is None and self.books is not None and not micros:
            cached = self.books.answer(request.method, passed.path, passed.query)
        if cached is None and self.market is not None and not micros:
            cached = self.market.answer(request.method, passed.path, passed.query)
        if cached is not None:
            self.metrics.local.labels("cache").inc()
            cached.headers.update(await self.gate.used_headers())
            return cached
        self._inflight += 1
        self._idle.clear()
        try:
            body = await request.read()
            try:
                call = self._forwarder.call(
                    request.method, passed.path, passed.query, body, request.headers
                )
            except LocalAuthError as e:
                self.metrics.local.labels("keys").inc()
                log.info("gateway %s %s refused by keys mode: %s", request.method, passed.path, e)
                return answers.local("keys", e.status, e.code, e.msg)
            learn = None if self.user_data is None or micros else self.user_data.learner(call)
            if self.orders is not None and self.orders.handles(call):
                return await self.orders.place(call, learn)
            seed = None if micros else self.caches.seed(request.method, passed.path, passed.query)
            if self.user_data is not None:
                mine = self.user_data.answer(call, request.headers.get(answers.TIME_UNIT))
                if mine is not None:
                    self.metrics.local.labels("cache").inc()
                    mine.headers.update(await self.gate.used_headers())
                    return mine
            answer = await self._forwarder.forward(call)
            if (
                isinstance(answer, web.Response)
                and isinstance(answer.body, bytes)
                and answers.GATEWAY_HEADER not in answer.headers  # Binance's answers only
                and "Content-Encoding" not in answer.headers  # kept bytes must suit any bot
            ):
                for use in (seed, learn):
                    if use is not None:
                        use(answer.status, answer.body)
            return answer
        finally:
            self._inflight -= 1
            if not self._inflight:
                self._idle.set()

    async def _websocket(self, request: web.Request, passed: Passed) -> web.StreamResponse:
        if not web.WebSocketResponse().can_prepare(request).ok:
            return answers.local(
                "forbidden", 400, -1000, "binguard gateway: not a WebSocket upgrade"
            )
        if passed.path == "/ws-api/v3":
            assert self._session is not None
            self._ws_api_bots += 1
            try:
                return await serve_ws_api_bot(
                    self.gate,
                    self._session,
                    self.config.ws_api_url,
                    request,
                    passed.query,
                    self._resigner,
                    self.user_data,
                    self.orders,
                )
            finally:
                self._ws_api_bots -= 1
        unit = answers.url_time_unit(passed.query)
        if unit is not None and unit not in answers.UNITS:  # as Binance: errors.md -1194
            return answers.local("forbidden", 400, -1194, answers.catalog_text(-1194))
        hub = self._micros_hub() if unit in answers.MICROS else self.streams
        return await serve_stream_bot(hub, request, passed.path, passed.query)

    def _micros_hub(self) -> StreamHub:
        """The upstream stream socket in microseconds, opened for the first bot that asks (one
        shared socket has one time unit; web-socket-streams.md `timeUnit`)."""
        if self._micro_streams is None:
            self._micro_streams = StreamHub(
                self.config.stream_url, self.metrics, gate=self.gate.budget, micros=True
            )
            if self._session is not None:
                self._micro_streams.use_session(self._session)
        return self._micro_streams

    def _hubs(self) -> list[StreamHub]:
        return [h for h in (self.streams, self._micro_streams) if h is not None]

    def _socket_gauges(self) -> None:
        m = self.metrics
        m.bot_sockets.labels("streams").set(sum(len(h.bots) for h in self._hubs()))
        m.bot_sockets.labels("ws_api").set(self._ws_api_bots)
        m.upstream_sockets.labels("streams").set(sum(h.upstream_connected for h in self._hubs()))
        m.upstream_sockets.labels("ws_api").set(self._ws_api_bots)
        if self.user_data is not None:  # keys mode: one user data socket per real key in use
            live = sum(1 for s in self.user_data.streams.values() if s.sup.connected)
            m.upstream_sockets.labels("user_data").set(live)
        m.reconnects.set(sum(h.reconnects for h in self._hubs()))

    async def _status(self) -> web.Response:
        return web.json_response(await self.status(), status=503 if self._draining else 200)

    async def status(self) -> dict[str, Any]:
        """Ban state, budget, clock and upstream health, as /status serves them."""
        snap = await self.gate.snapshot()
        sync = self.gate.sync
        assert self._forwarder is not None
        return {
            "ready": not self._draining,
            "draining": self._draining,
            "upstream": self.config.rest_url,
            "banned_until_ms": snap.banned_until_ms,
            "paused_until_ms": snap.paused_until_ms,
            "budget": [
                {
                    "limit": u.limit.key,
                    "used": u.used,
                    "in_flight": u.in_flight,
                    "max": u.limit.limit,
                }
                for u in snap.usage
            ],
            "limits_from_upstream": self.gate.limits_from_upstream,
            "clock": {"synced": sync.synced, "offset_ms": sync.offset_ms, "rtt_ms": sync.rtt_ms},
            "upstream_health": self._forwarder.health(),
            "in_flight": self._inflight,
            "caches": {
                "hits": self.caches.hits,
                "misses": self.caches.misses,
                "books": self.books.summary() if self.books is not None else {},
                "market": self.market.summary() if self.market is not None else {},
                "market_hits": self.market.hits if self.market is not None else 0,
                "market_misses": self.market.misses if self.market is not None else 0,
            },
            "streams": {
                "upstream_connected": self.streams.upstream_connected,
                "bot_sockets": sum(len(h.bots) for h in self._hubs()),
                "reconnects": sum(h.reconnects for h in self._hubs()),
                # the microsecond socket, once a bot asked for it (None: none has)
                "microsecond_upstream_connected": (
                    None if self._micro_streams is None else self._micro_streams.upstream_connected
                ),
            },
            "ws_api": {"bot_sockets": self._ws_api_bots},
            "user_data": self.user_data.summary() if self.user_data is not None else {},
            "orders": self.orders.summary() if self.orders is not None else {},
        }


def upstream_connector(proxy: str) -> aiohttp.TCPConnector:
    """The upstream session's connector: a SOCKS5 proxy's (aiohttp-socks, the `socks` extra;
    `socks5h://` resolves names at the proxy) or a plain one (an http:// proxy, if any, is the
    session's `proxy`). Every upstream request and socket uses it."""
    if proxy.startswith(("socks5://", "socks5h://")):
        from ._socks import socks_connector  # optional: config.validate() checked it exists

        return socks_connector(proxy, limit=256, ttl_dns_cache=300)
    return aiohttp.TCPConnector(limit=256, ttl_dns_cache=300)


def _is_stream(path: str) -> bool:
    return path in ("/ws", "/stream") or path.startswith("/ws/")


def _resigner(config: GatewayConfig) -> Resigner | None:
    """Keys mode's re-signer when a keys file is configured (read once, at construction)."""
    if not config.keys:
        return None
    window_ms = int(config.keys_window_s * 1000)
    return Resigner(
        KeyRing.load(config.keys),
        ReplayGuard(window_ms=window_ms),
        order_window_ms=config.order_window_ms,
    )
