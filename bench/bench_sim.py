"""Signed order placements per second the simulator sustains, next to a bare aiohttp server.

Both servers run alone in a child process (one core each at most) and receive the same
pre-signed `POST /api/v3/order` requests from the same client loop in this process, with the
same concurrency. The hello-world server answers a fixed small JSON body; the simulator checks
the HMAC signature, timestamp, weights and order count, validates filters and matches the order.
Goal: the simulator at >= 0.45x the hello-world rate (issue 18). The order mix: LIMIT GTC buys
at 500 prices below the market (they rest), newOrderRespType RESULT.

Memory: RSS growth per 100,000 terminal orders once the retention rule (engine/retention.py)
holds the simulator at its plateau, with the default rule (300 s, 10,000 orders per account) and
orders arriving at 212 orders/s of server time (the rate measured in the fault soak; the server
clock is advanced per order, so the run takes seconds, not minutes). Its peer in the same run:
the same orders with retention off (every order kept, as before the rule). Each runs in a fresh
child process. Goal: <= 10 MB per 100,000 terminal orders. The measured stretch also fills the
simulator's aggTrades ring (market.py: 100,000 aggregate trades, about 200 bytes each; this mix
makes 25,000 per 100,000 orders), a bounded cost: past it (after 400,000 orders) what still grows
is the retention archive's 8 bytes and 1 bit per evicted order (engine/retention.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import multiprocessing
import queue
import time
from multiprocessing.queues import Queue
from typing import Any

import aiohttp

from ._goals import goal

REQUESTS = 4000
WARMUP = 300
CONCURRENCY = 16
GOAL = 0.45


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


RSS_ORDERS = 100_000  # terminal orders per measured stretch (and as many before, to warm up)
RSS_RATE = 212.0  # orders per second of server time
RSS_GOAL_MB = 10.0


def _rss_bytes() -> int:
    import gc
    import os

    gc.collect()
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _terminal_orders(engine: Any, n: int, clock_ms: list[float]) -> None:
    """`n` terminal orders in a fixed mix: expired IOC, canceled GTC, and filled pairs."""
    step_ms = 1000.0 / RSS_RATE
    below, above, qty = 2 * 10**12, 4 * 10**12, 100_000  # 20,000 / 40,000 USDT, 0.001 BTC
    for i in range(n // 4):
        clock_ms[0] += 4 * step_ms
        engine.place("bench", "BTCUSDT", "BUY", "LIMIT", "IOC", qty, None, below)
        resting = engine.place(
            "bench", "BTCUSDT", "BUY", "LIMIT", "GTC", qty, None, below + (i % 97) * 10**6
        )
        engine.cancel("bench", "BTCUSDT", resting.order_id, None)
        engine.place("bench", "BTCUSDT", "SELL", "LIMIT", "GTC", qty, None, above)
        engine.place("bench", "BTCUSDT", "BUY", "LIMIT", "IOC", qty, None, above)


def _rss_child(retain: bool, out: Queue[tuple[float, int]]) -> None:
    """In a fresh process: warm up to the plateau, then measure RSS over RSS_ORDERS more."""
    from binguard.sim import Simulator
    from binguard.sim.config import RetentionConfig

    config = _sim_config()
    if not retain:
        config = config.with_(retention=RetentionConfig(horizon_s=1e12, max_orders=2**62))
    engine = Simulator(config).state.engine
    clock_ms = [float(engine.clock.now_ms())]
    engine.clock.now_ms = lambda: int(clock_ms[0])  # type: ignore[method-assign]
    _terminal_orders(engine, RSS_ORDERS, clock_ms)
    before = _rss_bytes()
    _terminal_orders(engine, RSS_ORDERS, clock_ms)
    out.put(((_rss_bytes() - before) / 1e6, engine.retention.retained))


def _rss_growth(retain: bool) -> tuple[float, int]:
    ctx = multiprocessing.get_context("spawn")
    out: Queue[tuple[float, int]] = ctx.Queue()
    proc = ctx.Process(target=_rss_child, args=(retain, out), daemon=True)
    proc.start()
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                return out.get(timeout=1)
            except queue.Empty:
                if not proc.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError("the memory benchmark's child failed") from None
    finally:
        proc.join(10)
        if proc.is_alive():
            proc.terminate()


def run_memory() -> None:
    growth, retained = _rss_growth(retain=True)
    peer, peer_retained = _rss_growth(retain=False)
    goal(
        "simulator RSS growth per terminal orders, default retention rule",
        f"{growth:.1f} MB per {RSS_ORDERS:,} ({retained:,} kept)",
        f"retention off {peer:.1f} MB ({peer_retained:,} kept)",
        f"<= {RSS_GOAL_MB:.0f} MB",
        growth <= RSS_GOAL_MB,
    )


def run() -> None:
    run_memory()
    hello = _measure("hello")
    sim = _measure("sim")
    ratio = sim / hello
    goal(
        f"simulator signed orders/s ({REQUESTS - WARMUP} LIMIT GTC, {CONCURRENCY} concurrent)",
        f"{sim:.0f} orders/s ({ratio:.2f}x)",
        f"aiohttp hello-world {hello:.0f} req/s",
        f">= {GOAL}x",
        ratio >= GOAL,
    )


if __name__ == "__main__":
    run()
