"""Candles served per second: `GET /api/v3/klines?interval=5m&limit=1000` next to a bare aiohttp.

The simulator and an aiohttp hello-world each run in a child process of their own, both started
before the first round; the hello-world answers a pre-built body of the same size as the
simulator's reply (fetched first), so both move the same bytes. The same client loop in this
process (the load generator) sends the same requests with the same concurrency to each, in
ROUNDS interleaved rounds (the order flips every round, so a drift in the machine's load meets
both sides alike). The simulator parses and checks the parameters, charges the weight, and serves
1000 rows (formatted once from its seeded history, then cached).

The figure is the best round of each side: on a shared machine, other work only ever slows a
round down, so a side's fastest round is the closest to what it can do undisturbed, and it
needs no disturbance-free pairing of rounds; the median of the per-round ratios is printed beside
it (both held within 0.02x over three runs on a loaded 2-core machine). Each server's own CPU
time per request (its process, read over a pipe) is shown too: it hardly depends on how busy the
machine is, and it tells what the rate ratio hides: the hello-world's rate is capped by this
aiohttp load generator reading 165 kB bodies, so its server CPU is far below the simulator's.
Goal: the simulator at >= 0.3x the hello-world rate.

    python -m bench klines
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import threading
import time
import urllib.request
from multiprocessing.connection import Connection
from typing import Any

import aiohttp

from ._goals import goal

REQUESTS = 320  # per round and side
ROUNDS = 25
WARMUP = 200
CONCURRENCY = 16
GOAL = 0.3
PATH = "/api/v3/klines?symbol=BTCUSDT&interval=5m&limit=1000"


def _sim_config() -> Any:
    from binguard.sim import FlowConfig, LimitsConfig, RateLimitSpec, SimConfig

    limits = LimitsConfig(rate_limits=(RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, 10**9),))
    return SimConfig(limits=limits, flow=FlowConfig(enabled=False))


async def _serve_sim(pipe: Connection) -> None:
    from binguard.sim import Simulator

    async with Simulator(_sim_config()) as sim:
        pipe.send(sim.port)
        await asyncio.Event().wait()


async def _serve_hello(pipe: Connection, body: bytes) -> None:
    from aiohttp import web

    async def hello(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/api/v3/klines", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    pipe.send(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await asyncio.Event().wait()


def _answer_cpu(pipe: Connection) -> None:
    """Answer each message on `pipe` with this process's CPU seconds (all threads)."""
    while True:
        pipe.recv()
        pipe.send(time.process_time())


def _child(kind: str, pipe: Connection, body: bytes) -> None:
    threading.Thread(target=_answer_cpu, args=(pipe,), daemon=True).start()
    asyncio.run(_serve_sim(pipe) if kind == "sim" else _serve_hello(pipe, body))


class _Server:
    """A server in a child process: its URL and its CPU clock."""

    def __init__(self, kind: str, body: bytes = b"") -> None:
        ctx = multiprocessing.get_context("spawn")
        self._pipe, theirs = ctx.Pipe()
        self._proc = ctx.Process(target=_child, args=(kind, theirs, body), daemon=True)
        self._proc.start()
        if not self._pipe.poll(60):
            self.close()
            raise RuntimeError(f"bench: the {kind} server did not start")
        self.url = f"http://127.0.0.1:{self._pipe.recv()}{PATH}"

    def cpu(self) -> float:
        self._pipe.send(None)
        return float(self._pipe.recv())

    def close(self) -> None:
        self._proc.terminate()
        self._proc.join(10)


async def _drive(session: aiohttp.ClientSession, url: str, n: int) -> float:
    """`n` GETs with CONCURRENCY workers; seconds taken."""

    async def worker(k: int) -> None:
        for _ in range(k):
            async with session.get(url) as r:
                await r.read()
                if r.status != 200:
                    raise RuntimeError(f"bench request failed: {r.status}")

    started = time.perf_counter()
    await asyncio.gather(*(worker(n // CONCURRENCY) for _ in range(CONCURRENCY)))
    return time.perf_counter() - started


async def _rounds(servers: dict[str, _Server]) -> dict[str, list[tuple[float, float]]]:
    """(req/s, server CPU µs per request) of each side per round, interleaved."""
    n = REQUESTS // CONCURRENCY * CONCURRENCY
    out: dict[str, list[tuple[float, float]]] = {name: [] for name in servers}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as s:
        for server in servers.values():
            await _drive(s, server.url, WARMUP)
        order = list(servers)
        for _ in range(ROUNDS):
            for name in order:
                cpu = servers[name].cpu()
                elapsed = await _drive(s, servers[name].url, n)
                out[name].append((n / elapsed, (servers[name].cpu() - cpu) / n * 1e6))
            order.reverse()
    return out


def run() -> None:
    servers: dict[str, _Server] = {}
    try:
        servers["sim"] = _Server("sim")
        with urllib.request.urlopen(servers["sim"].url, timeout=30) as r:
            body = r.read()
        servers["hello"] = _Server("hello", body)
        results = asyncio.run(_rounds(servers))
    finally:
        for server in servers.values():
            server.close()
    sim, hello = (max(rate for rate, _ in results[k]) for k in ("sim", "hello"))
    paired = statistics.median(
        s / h for (s, _), (h, _) in zip(results["sim"], results["hello"], strict=True)
    )
    print(f"   body size                  : {len(body):8d} bytes (1000 candles)")
    for label, key in (("aiohttp hello-world", "hello"), ("simulator klines limit=1000", "sim")):
        rates = " ".join(f"{rate:.0f}" for rate, _ in results[key])
        cpu = statistics.median(c for _, c in results[key])
        print(f"   {label:27s}: rounds {rates} req/s; server CPU {cpu:.0f} µs/req (median)")
    print(f"   median of the per-round ratios: {paired:.2f}x")
    ratio = sim / hello
    goal(
        "simulator klines?limit=1000 vs aiohttp hello-world",
        f"{sim:.0f} req/s = {ratio:.2f}x (best of {ROUNDS} rounds each)",
        f"hello-world, same body: {hello:.0f} req/s ({REQUESTS} requests a round, "
        f"{CONCURRENCY} concurrent)",
        f">= {GOAL}x",
        ratio >= GOAL,
    )


if __name__ == "__main__":
    run()
