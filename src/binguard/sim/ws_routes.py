"""Wires the WebSocket faces into the simulator's application (same port as REST).

GET /ws, /ws/<stream>[/<stream>...]    raw market data streams
GET /stream?streams=a/b                  combined streams
GET /ws-api/v3[?returnRateLimits=false]  WebSocket API
GET /_sim/ws                             ground truth: open connections per IP with their
                                         streams / sessions / user data subscriptions, recently
                                         closed ones with close code and reason, attempt counts
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from binguard._aio import reap

from . import ws_api, ws_streams
from .state import SimState
from .ws_hub import WsHub
from .ws_market import MarketStreams

HUB_KEY = web.AppKey("binguard_sim_ws_hub", WsHub)


def add_ws_routes(app: web.Application, state: SimState) -> WsHub:
    """Add the stream and WebSocket API routes, their admin view, start and stop hooks."""
    hub = WsHub(state)
    app[HUB_KEY] = hub
    market = MarketStreams(state, hub.streams, hub._publish)
    hub.on_step = market.on_step

    async def raw(request: web.Request) -> web.StreamResponse:
        return await ws_streams.handle(request, hub, combined=False)

    async def combined(request: web.Request) -> web.StreamResponse:
        return await ws_streams.handle(request, hub, combined=True)

    async def api(request: web.Request) -> web.StreamResponse:
        return await ws_api.handle(request, hub)

    async def ground_truth(_request: web.Request) -> web.Response:
        return web.json_response(hub.snapshot())

    app.router.add_get("/ws", raw)
    app.router.add_get("/ws/{streams:.*}", raw)
    app.router.add_get("/stream", combined)
    app.router.add_get("/ws-api/v3", api)
    app.router.add_get("/_sim/ws", ground_truth)

    async def batchers(_app: web.Application) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(b.run(state.clock.now_ms), name="ws-depth")
            for b in (hub.depth, hub.depth_fast)
        ]
        tasks.append(asyncio.create_task(market.run(), name="ws-market"))
        yield
        await reap(*tasks)

    async def on_shutdown(_app: web.Application) -> None:
        await hub.shutdown()

    app.cleanup_ctx.append(batchers)
    app.on_shutdown.append(on_shutdown)
    return hub
