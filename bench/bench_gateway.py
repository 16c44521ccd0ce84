"""binguard gateway: (b) pass-through overhead on loopback.

Three servers, each in a process of its own, and the load generator in this one:
- a static upstream (aiohttp) answering `/api/v3/depth`, `/api/v3/time` and `/api/v3/exchangeInfo`
  with pre-built Binance-shaped bodies and X-MBX-USED-WEIGHT-1M headers (limits large enough
  that the budget never waits: this measures the path, not the limiter);
- the peer: a minimal aiohttp forwarding proxy (read the request, send it with a keep-alive
  ClientSession, copy status, headers and body back) — what anyone would write in 30 lines;
- the gateway (`Gateway`, default settings but for the upstream and the port).

The generator sends N sequential GET /api/v3/depth?symbol=BTCUSDT&limit=5 over one keep-alive
connection to each target: direct, through the peer, through the gateway. Goals:
- added p50 latency of the gateway over direct <= 1 ms;
- gateway CPU time per forwarded request (user+system of its process, from /proc) <= 2x the
  peer's, over the same N requests.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import statistics
import time
from multiprocessing.queues import Queue
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from bench._goals import goal

N = 3000
WARMUP = 300
_DEPTH = orjson.dumps(
    {"lastUpdateId": 1, "bids": [["30000.00", "1.0"]] * 5, "asks": [["30001.00", "1.0"]] * 5}
)
_INFO = orjson.dumps(
    {
        "timezone": "UTC",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 10_000_000,
            },
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": 5,
                "limit": 10_000_000,
            },
        ],
        "symbols": [],
    }
)
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "upgrade"}


def _upstream_app() -> web.Application:
    used = [0]

    async def handle(request: web.Request) -> web.Response:
        used[0] += 1
        headers = {"X-MBX-USED-WEIGHT-1M": str(used[0]), "Content-Type": "application/json"}
        if request.path == "/api/v3/time":
            body = orjson.dumps({"serverTime": int(time.time() * 1000)})
        elif request.path == "/api/v3/exchangeInfo":
            body = _INFO
        else:
            body = _DEPTH
        return web.Response(body=body, headers=headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def _proxy_app(upstream: str) -> web.Application:
    """The peer: a minimal forwarding proxy."""
    app = web.Application()

    async def start(app: web.Application) -> Any:
        app["s"] = aiohttp.ClientSession(auto_decompress=False)
        yield
        await app["s"].close()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with app["s"].request(
            request.method, upstream + request.path_qs, data=body or None, headers=headers
        ) as r:
            data = await r.read()
            out = {k: v for k, v in r.headers.items() if k.lower() not in _HOP}
            return web.Response(body=data, status=r.status, headers=out)

    app.cleanup_ctx.append(start)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def _serve(kind: str, upstream: str, ports: Queue[int]) -> None:
    if kind == "gateway":
        from binguard.gateway import Gateway, GatewayConfig

        gw = Gateway(GatewayConfig(upstream=upstream, listen="127.0.0.1:0"))
        await gw.start()
        ports.put(gw.port)
        await asyncio.Event().wait()
    app = _upstream_app() if kind == "upstream" else _proxy_app(upstream)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    ports.put(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    await asyncio.Event().wait()


def _child(kind: str, upstream: str, ports: Queue[int]) -> None:
    asyncio.run(_serve(kind, upstream, ports))


def _start(kind: str, upstream: str = "") -> tuple[multiprocessing.Process, str]:
    ctx = multiprocessing.get_context("spawn")
    ports: Queue[int] = ctx.Queue()
    proc = ctx.Process(target=_child, args=(kind, upstream, ports), daemon=True)
    proc.start()
    return proc, f"http://127.0.0.1:{ports.get(timeout=30)}"


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _latencies(url: str) -> list[float]:
    path = url + "/api/v3/depth?symbol=BTCUSDT&limit=5"
    out: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as s:
        for i in range(WARMUP + N):
            t = time.perf_counter()
            async with s.get(path) as r:
                await r.read()
                assert r.status == 200, r.status
            if i >= WARMUP:
                out.append(time.perf_counter() - t)
    return out


def _measure(url: str, pid: int | None) -> tuple[float, float | None]:
    """(p50 latency in ms, CPU ms per request of `pid`)."""
    before = _cpu_s(pid) if pid else 0.0
    lat = asyncio.run(_latencies(url))
    cpu = (_cpu_s(pid) - before) * 1000 / (N + WARMUP) if pid else None
    return statistics.median(lat) * 1000, cpu


def run() -> None:
    procs = []
    try:
        up, up_url = _start("upstream")
        procs.append(up)
        peer, peer_url = _start("proxy", up_url)
        gw, gw_url = _start("gateway", up_url)
        procs += [peer, gw]
        direct, _ = _measure(up_url, None)
        peer_p50, peer_cpu = _measure(peer_url, peer.pid)
        gw_p50, gw_cpu = _measure(gw_url, gw.pid)
        print(
            f"   p50 latency: direct {direct:.3f} ms, peer proxy {peer_p50:.3f} ms, gateway {gw_p50:.3f} ms (N={N})"
        )
        print(f"   CPU per request: peer proxy {peer_cpu:.3f} ms, gateway {gw_cpu:.3f} ms")
        added = gw_p50 - direct
        goal(
            "gateway added p50 latency",
            f"{added:.3f} ms",
            f"direct p50 {direct:.3f} ms",
            "<= 1 ms",
            added <= 1.0,
        )
        assert gw_cpu is not None
        assert peer_cpu is not None
        ratio = gw_cpu / peer_cpu
        goal(
            "gateway CPU per forwarded request",
            f"{gw_cpu:.3f} ms ({ratio:.2f}x)",
            f"minimal aiohttp proxy {peer_cpu:.3f} ms",
            "<= 2x the proxy",
            ratio <= 2.0,
        )
    finally:
        for p in procs:
            p.terminate()
            p.join(5)
            if p.is_alive():
                p.kill()
