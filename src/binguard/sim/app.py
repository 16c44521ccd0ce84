"""The aiohttp application and the `Simulator` that runs it on a loopback port.

    async with Simulator(SimConfig()) as sim:
        sim.url                    # "http://127.0.0.1:<ephemeral port>"
        sim.state.engine           # ground truth: books, orders, balances
        sim.state.subscribe(fn)    # engine events, for WebSocket layers
        sim.ws_url                 # "ws://127.0.0.1:<port>": /ws, /stream, /ws-api/v3

Other faces (WebSocket streams, WebSocket API) plug in through extensions: callables
`(app, state) -> None` that add routes, given to `Simulator(..., extensions=[...])` or
`build_app()`. They run before the router is frozen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from types import TracebackType

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from binguard._aio import reap

from .admin import STATE_KEY, add_admin_routes
from .bugs import BugLog
from .call import Endpoint
from .config import SimConfig
from .errors import SimError
from .faults import FaultPlan
from .pipeline import serve
from .rest_account import ENDPOINTS as ACCOUNT_ENDPOINTS
from .rest_edit import ENDPOINTS as EDIT_ENDPOINTS
from .rest_history import ENDPOINTS as HISTORY_ENDPOINTS
from .rest_lists import ENDPOINTS as LIST_ENDPOINTS
from .rest_market import ENDPOINTS as MARKET_ENDPOINTS
from .rest_sor import ENDPOINTS as SOR_ENDPOINTS
from .rest_tickers import ENDPOINTS as TICKER_ENDPOINTS
from .rest_trade import ENDPOINTS as TRADE_ENDPOINTS
from .sapi import ENDPOINTS as START_UP_ENDPOINTS
from .sapi import add_unknown_log, note_unknown
from .server import SimRunner
from .state import SimState
from .ws_routes import add_ws_routes

log = logging.getLogger("binguard.sim")
Extension = Callable[[web.Application, SimState], None]
ENDPOINTS: tuple[Endpoint, ...] = (
    MARKET_ENDPOINTS
    + HISTORY_ENDPOINTS
    + TICKER_ENDPOINTS
    + TRADE_ENDPOINTS
    + LIST_ENDPOINTS
    + EDIT_ENDPOINTS
    + SOR_ENDPOINTS
    + ACCOUNT_ENDPOINTS
    + START_UP_ENDPOINTS
)
BUGS_KEY = web.AppKey("binguard_sim_bugs", BugLog)


def _route(
    endpoint: Endpoint, state: SimState
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        return await serve(request, endpoint, state)

    return handle


@web.middleware
async def guard(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every reply is Binance-shaped: unknown routes, bad methods and bugs included.

    A body aiohttp cannot read (a broken chunk after the headers) is -1100, like the requests
    aiohttp refuses before routing (server.py). An unexpected exception is a simulator bug: one
    log line with a running count, recorded for tests (`state.bugs`, bugs.py), and answered as
    -1000 like Binance's own internal errors.
    """
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status in (404, 405):
            return SimError.of(-1020, status=e.status).response()
        if e.status == 413:
            return SimError.of(-1101, 0, status=413).response()
        if e.status < 400:
            raise
        return SimError.of(-1000, status=e.status).response()
    except RequestPayloadError:
        return SimError.of(-1100, status=400).response()
    except Exception as e:  # noqa: BLE001 - a bug: counted and logged in one line by record()
        request.app[BUGS_KEY].record(f"{request.method} {request.path}", e)
        return SimError.of(-1000, status=500).response()


async def _crowd_loop(state: SimState) -> None:
    interval = state.config.flow.interval_ms / 1000.0
    while True:
        await asyncio.sleep(interval)
        try:
            state.crowd.step()
        except Exception as e:  # noqa: BLE001 - a bug: one counted line, and the crowd goes on
            state.bugs.record("crowd step", e)


def build_app(state: SimState, extensions: Iterable[Extension] = ()) -> web.Application:
    """The whole simulator as an aiohttp application (REST, admin, WebSockets, extensions)."""
    app = web.Application(middlewares=[guard, note_unknown], client_max_size=1 << 20)
    app[STATE_KEY] = state
    add_unknown_log(app)
    app[BUGS_KEY] = state.bugs  # shared with the WebSocket guard in ws_conn.receive_loop
    for endpoint in ENDPOINTS:
        app.router.add_route(endpoint.method, endpoint.path, _route(endpoint, state))
    add_admin_routes(app)
    add_ws_routes(app, state)
    for extension in extensions:
        extension(app, state)

    async def crowd(_app: web.Application) -> AsyncIterator[None]:
        task = None
        if state.config.flow.enabled and state.config.flow.interval_ms > 0:
            task = asyncio.create_task(_crowd_loop(state))
        yield
        await reap(task)

    app.cleanup_ctx.append(crowd)
    return app


class Simulator:
    """Runs the simulator on `host:port` (port 0: an ephemeral one) until stopped."""

    def __init__(
        self,
        config: SimConfig | None = None,
        faults: FaultPlan | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        extensions: Iterable[Extension] = (),
    ) -> None:
        self.config = config or SimConfig()
        self.state = SimState(self.config, faults)
        self.host = host
        self.port = port
        self.extensions = list(extensions)
        self._runner: web.AppRunner | None = None
        self.app: web.Application | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    base_url = url

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def bugs(self) -> BugLog:
        """Unexpected exceptions caught by the guards (tests assert this stays empty)."""
        return self.state.bugs

    async def start(self) -> None:
        self.app = build_app(self.state, self.extensions)
        runner = SimRunner(
            self.app,
            self.state.bugs,
            access_log=None,
            shutdown_timeout=0.5,
            handler_cancellation=True,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        server = site._server
        sockets = getattr(server, "sockets", None) or ()
        if sockets:
            self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
