"""Signed order placements per second the simulator sustains, next to a bare aiohttp server.

Both servers run alone in a child process (one core each at most) and receive the same
pre-signed `POST /api/v3/order` requests from the same client loop in this process, with the
same concurrency. The hello-world server answers a fixed small JSON body; the simulator checks
the HMAC signature, timestamp, weights and order count, validates filters and matches the order.
Goal: the simulator at >= 0.4x the hello-world rate.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import multiprocessing
import time
from multiprocessing.queues import Queue
from typing import Any

import aiohttp

REQUESTS = 4000
WARMUP = 300
CONCURRENCY = 16
GOAL = 0.4


def _sim_config() -> Any:
    from binguard.sim import (
        AccountSpec,
        FlowConfig,
        KeySpec,
        LimitsConfig,
        RateLimitSpec,
        SimConfig,
        SymbolSpec,
    )

    return SimConfig(
        symbols=(
            SymbolSpec("BTCUSDT", "BTC", "USDT", initial_price="30000.00", max_num_orders=10**9),
        ),
        accounts=(
            AccountSpec(
                "bench",
                1,
                (KeySpec("benchkey", "HMAC", "benchsecret"),),
                {"USDT": "1000000000", "BTC": "1000"},
            ),
        ),
        limits=LimitsConfig(
            rate_limits=(
                RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, 10**9),
                RateLimitSpec("ORDERS", "SECOND", 10, 10**9),
                RateLimitSpec("ORDERS", "DAY", 1, 10**9),
            )
        ),
        flow=FlowConfig(enabled=False),
    )


async def _serve_sim(port_queue: Queue[int]) -> None:
    from binguard.sim import Simulator

    async with Simulator(_sim_config()) as sim:
        port_queue.put(sim.port)
        await asyncio.Event().wait()


async def _serve_hello(port_queue: Queue[int]) -> None:
    from aiohttp import web

    async def hello(_request: web.Request) -> web.Response:
        return web.Response(body=b'{"hello":"world"}', content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/api/v3/order", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port_queue.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await asyncio.Event().wait()


def _child(kind: str, port_queue: Queue[int]) -> None:
    asyncio.run(_serve_sim(port_queue) if kind == "sim" else _serve_hello(port_queue))


def _bodies(n: int) -> list[bytes]:
    """Pre-signed order bodies (a 60 s recvWindow keeps them valid for the whole run)."""
    now = int(time.time() * 1000)
    out = []
    for i in range(n):
        price = 20000 + (i % 500) / 100
        payload = (
            f"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price={price:.2f}"
            f"&newOrderRespType=RESULT&recvWindow=60000&timestamp={now}"
        )
        sig = hmac.new(b"benchsecret", payload.encode(), hashlib.sha256).hexdigest()
        out.append(f"{payload}&signature={sig}".encode())
    return out


async def _drive(url: str, bodies: list[bytes]) -> float:
    """Send every body with CONCURRENCY workers; returns requests per second."""
    headers = {"X-MBX-APIKEY": "benchkey", "Content-Type": "application/x-www-form-urlencoded"}
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:
        queue = iter(bodies)

        async def worker() -> None:
            for body in queue:
                async with session.post(url, data=body, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"bench request failed: {r.status} {await r.text()}")

        warm = iter(bodies[:WARMUP])
        queue = warm
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        queue = iter(bodies[WARMUP:])
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return (len(bodies) - WARMUP) / (time.perf_counter() - started)


def _measure(kind: str) -> float:
    ctx = multiprocessing.get_context("spawn")
    ports: Queue[int] = ctx.Queue()
    proc = ctx.Process(target=_child, args=(kind, ports), daemon=True)
    proc.start()
    try:
        port = ports.get(timeout=30)
        return asyncio.run(_drive(f"http://127.0.0.1:{port}/api/v3/order", _bodies(REQUESTS)))
    finally:
        proc.terminate()
        proc.join(10)


def run() -> None:
    hello = _measure("hello")
    sim = _measure("sim")
    ratio = sim / hello
    print(f"   aiohttp hello-world        : {hello:8.0f} req/s")
    print(f"   simulator signed orders    : {sim:8.0f} orders/s")
    print(
        f"   ratio sim / hello-world    : {ratio:8.2f}x  (goal >= {GOAL}x)"
        f"  [{REQUESTS - WARMUP} requests, {CONCURRENCY} concurrent]"
    )


if __name__ == "__main__":
    run()
