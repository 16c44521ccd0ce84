"""WebSockets: reconnect latency of the supervisor, and the order book's event rate.

1. Reconnect latency on loopback (goal: p50 < 250 ms): a supervised diff depth socket on the
   simulator with the market moving (one engine step every 2 ms, each published at once); the
   socket is dropped N times (`drop()`, as a reset would) and the time from the drop to the first
   message delivered by the new socket is measured. Default options: the first retry waits a
   uniform random time in [0, 100 ms] (full jitter), as in production; drops are spaced past
   `healthy_after` (0.2 s here, 10 s by default) so each one hits a healthy socket.
2. Book throughput: the same list of combined-stream depth messages (10 bid and 10 ask levels
   each, contiguous update ids) decoded with json.loads and applied by the book, next to
   json.loads alone in the same run; best of several rounds.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from typing import Any

from binguard.connector.book import OrderBook
from binguard.sim import FlowConfig, SimConfig, Simulator
from binguard.sim.config import WsConfig
from binguard.transport.ws import Frame, WsOptions, WsSupervisor

DROPS = 40


async def _reconnect_latencies() -> list[float]:
    config = SimConfig(flow=FlowConfig(interval_ms=0), ws=WsConfig(depth_ms=0, depth_fast_ms=0))
    latencies: list[float] = []
    async with Simulator(config) as sim:
        stop = asyncio.Event()

        async def market() -> None:
            while not stop.is_set():
                sim.state.crowd.step()
                await asyncio.sleep(0.002)

        mover = asyncio.create_task(market())
        dropped_at: list[float] = []
        got = asyncio.Event()

        def on_message(frame: Frame) -> None:
            if dropped_at and not got.is_set():
                latencies.append(time.perf_counter() - dropped_at[-1])
                got.set()

        # Drops spaced past `healthy_after`: each finds a healthy socket, as a real network blip
        # would (a socket that flaps faster escalates its backoff on purpose).
        options = WsOptions(healthy_after=0.2)
        sup = WsSupervisor(f"{sim.ws_url}/ws/btcusdt@depth", on_message=on_message, options=options)
        sup.start()
        await sup.wait_connected(5)
        try:
            for _ in range(DROPS):
                await asyncio.sleep(0.25)
                got.clear()
                dropped_at.append(time.perf_counter())
                sup.drop("bench")
                await asyncio.wait_for(got.wait(), 10)
        finally:
            await sup.close()
            stop.set()
            await mover
    return latencies


def _quiet_emit(kind: str, **data: Any) -> None:
    """The book's events on the hot path: none but `book_synced` (a gap would be a bench bug)."""
    if kind != "book_synced":
        raise AssertionError(f"unexpected {kind}: {data}")


async def _no_snapshot(symbol: str, limit: int) -> dict[str, Any]:
    raise AssertionError("the bench installs its snapshot itself")


def _messages(n: int, levels: int = 10) -> tuple[dict[str, Any], list[str]]:
    rng = random.Random(5)
    snapshot = {
        "lastUpdateId": 1000,
        "bids": [[f"{30000 - i * 0.01:.8f}", "1.00000000"] for i in range(500)],
        "asks": [[f"{30000.01 + i * 0.01:.8f}", "1.00000000"] for i in range(500)],
    }
    out = []
    u = 1000
    for _ in range(n):
        first, u = u + 1, u + rng.randint(1, 5)
        bids = [
            [f"{30000 - rng.randint(0, 600) * 0.01:.8f}", f"{rng.choice([0, rng.random()]):.8f}"]
            for _ in range(levels)
        ]
        asks = [
            [f"{30000.01 + rng.randint(0, 600) * 0.01:.8f}", f"{rng.choice([0, rng.random()]):.8f}"]
            for _ in range(levels)
        ]
        data = {
            "e": "depthUpdate",
            "E": 1,
            "s": "BTCUSDT",
            "U": first,
            "u": u,
            "b": bids,
            "a": asks,
        }
        out.append(json.dumps({"stream": "btcusdt@depth@100ms", "data": data}))
    return snapshot, out


def _book_rate(
    snapshot: dict[str, Any], messages: list[str], rounds: int = 5
) -> tuple[float, float]:
    loads = json.loads
    best_json = best_book = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for raw in messages:
            loads(raw)
        best_json = min(best_json, time.perf_counter() - start)
        book = OrderBook(None, _no_snapshot, _quiet_emit, "BTCUSDT", limit=5000)  # type: ignore[arg-type]
        assert book._install(snapshot, trusted=True)
        on_event = book.on_event
        start = time.perf_counter()
        for raw in messages:
            frame = loads(raw)
            on_event(frame["stream"], frame["data"])
        best_book = min(best_book, time.perf_counter() - start)
        assert book.ready
        assert book.stats.gaps == 0
    return len(messages) / best_json, len(messages) / best_book


def run() -> None:
    latencies = sorted(asyncio.run(_reconnect_latencies()))
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(f"reconnect latency (drop -> first message on the new socket), {len(latencies)} drops:")
    print(f"   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   max {latencies[-1] * 1000:7.1f} ms")
    print(
        f"   goal p50 < 250 ms: {'met' if p50 < 250 else 'NOT met'} (ratio {p50 / 250:.2f} of goal)"
    )
    snapshot, messages = _messages(20_000)
    json_rate, book_rate = _book_rate(snapshot, messages)
    print("order book, combined-stream depth messages (10 + 10 levels each):")
    print(f"   json.loads only          {json_rate:12,.0f} msg/s")
    print(f"   json.loads + book apply  {book_rate:12,.0f} msg/s")
    print(
        f"   ratio book / json.loads  {book_rate / json_rate:.2f}  (json time share {book_rate / json_rate:.0%})"
    )
