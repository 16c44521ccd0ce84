"""Candles served per second: `GET /api/v3/klines?interval=5m&limit=1000` next to a bare aiohttp.

The simulator and an aiohttp hello-world each run alone in a child process; the hello-world
answers a pre-built body of the same size as the simulator's reply (fetched first), so both move
the same bytes. The same client loop in this process (the load generator) sends the same
requests with the same concurrency to each in turn. The simulator parses and checks the
parameters, charges the weight, and serves 1000 rows (formatted once from its seeded history,
then cached). Goal: the simulator at >= 0.3x the hello-world rate.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
import urllib.request
from multiprocessing.queues import Queue
from typing import Any

import aiohttp

from ._goals import goal

REQUESTS = 2000
WARMUP = 200
CONCURRENCY = 16
GOAL = 0.3
PATH = "/api/v3/klines?symbol=BTCUSDT&interval=5m&limit=1000"


def _sim_config() -> Any:
    from binguard.sim import FlowConfig, LimitsConfig, RateLimitSpec, SimConfig

    limits = LimitsConfig(rate_limits=(RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, 10**9),))
    return SimConfig(limits=limits, flow=FlowConfig(enabled=False))


async def _serve_sim(ports: Queue[int]) -> None:
    from binguard.sim import Simulator

    async with Simulator(_sim_config()) as sim:
        ports.put(sim.port)
        await asyncio.Event().wait()


async def _serve_hello(ports: Queue[int], body: bytes) -> None:
    from aiohttp import web

    async def hello(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v3/klines", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    ports.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await asyncio.Event().wait()


def _child(kind: str, ports: Queue[int], body: bytes) -> None:
    asyncio.run(_serve_sim(ports) if kind == "sim" else _serve_hello(ports, body))


async def _drive(url: str) -> float:
    """REQUESTS GETs with CONCURRENCY workers after a warm-up; requests per second."""
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(n: int) -> None:
            for _ in range(n):
                async with session.get(url) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"bench request failed: {r.status}")

        await asyncio.gather(*(worker(WARMUP // CONCURRENCY) for _ in range(CONCURRENCY)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(REQUESTS // CONCURRENCY) for _ in range(CONCURRENCY)))
        return REQUESTS / (time.perf_counter() - started)


def _start(kind: str, body: bytes = b"") -> tuple[Any, int]:
    ctx = multiprocessing.get_context("spawn")
    ports: Queue[int] = ctx.Queue()
    proc = ctx.Process(target=_child, args=(kind, ports, body), daemon=True)
    proc.start()
    return proc, ports.get(timeout=60)


def _stop(proc: Any) -> None:
    proc.terminate()
    proc.join(10)


def run() -> None:
    sim_proc, sim_port = _start("sim")
    try:
        url = f"http://127.0.0.1:{sim_port}{PATH}"
        with urllib.request.urlopen(url, timeout=30) as r:
            body = r.read()
        sim = asyncio.run(_drive(url))
    finally:
        _stop(sim_proc)
    hello_proc, hello_port = _start("hello", body)
    try:
        hello = asyncio.run(_drive(f"http://127.0.0.1:{hello_port}{PATH}"))
    finally:
        _stop(hello_proc)
    ratio = sim / hello
    print(f"   body size                  : {len(body):8d} bytes (1000 candles)")
    print(f"   aiohttp hello-world        : {hello:8.0f} req/s")
    print(f"   simulator klines limit=1000: {sim:8.0f} req/s")
    goal(
        "simulator klines?limit=1000 vs aiohttp hello-world",
        f"{sim:.0f} req/s = {ratio:.2f}x",
        f"hello-world, same body: {hello:.0f} req/s ({REQUESTS} requests, {CONCURRENCY} concurrent)",
        f">= {GOAL}x",
        ratio >= GOAL,
    )


if __name__ == "__main__":
    run()
