"""Signed OCO placements per second next to single LIMIT placements, same run, same simulator
configuration (rest-api.md §New Order list - OCO).

Each kind runs against a fresh simulator in a child process (one core at most) and receives
pre-signed requests from the same client loop with the same concurrency: `POST /api/v3/order`
(a resting LIMIT BUY, RESULT) and `POST /api/v3/orderList/oco` (a SELL pair: LIMIT_MAKER above,
STOP_LOSS below, RESULT). An OCO places two orders, checks both orders' filters and the OCO
rules, and answers both order reports. Best of two alternated runs of each. Goal: the OCO rate
>= 0.5x the single-order rate.

(b), the client side (issue 16): the connector's typed `place_order_list` (an OTO whose working
leg is a LIMIT IOC below the market, so it expires at once and the list is ALL_DONE) next to a
typed `place_order` (the same LIMIT IOC), client CPU per call, same run, same simulator process,
a file journal; interleaved rounds, best of each. Goal: the list <= 1.5x the single order.

Run: `.venv/bin/python -m bench lists`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import multiprocessing
import time
from multiprocessing.queues import Queue
from typing import Any

from bench._goals import goal
from bench.bench_sim import CONCURRENCY, WARMUP, _drive

REQUESTS = 3000
ROUNDS = 2
GOAL = 0.5
MANY = 10**9


def _config() -> Any:
    from binguard.sim import (
        AccountSpec,
        FlowConfig,
        KeySpec,
        LimitsConfig,
        RateLimitSpec,
        SimConfig,
        SymbolSpec,
    )

    symbol = SymbolSpec(
        "BTCUSDT", "BTC", "USDT", initial_price="30000.00", max_num_orders=MANY,
        max_num_algo_orders=MANY, max_num_order_lists=MANY,
    )  # fmt: skip
    limits = LimitsConfig(
        rate_limits=(
            RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, MANY),
            RateLimitSpec("ORDERS", "SECOND", 10, MANY),
            RateLimitSpec("ORDERS", "DAY", 1, MANY),
        )
    )
    account = AccountSpec(
        "bench", 1, (KeySpec("benchkey", "HMAC", "benchsecret"),),
        {"USDT": "1000000000", "BTC": "1000"},
    )  # fmt: skip
    return SimConfig(
        symbols=(symbol,), accounts=(account,), limits=limits, flow=FlowConfig(enabled=False)
    )


async def _serve(port_queue: Queue[int]) -> None:
    from binguard.sim import Simulator

    async with Simulator(_config()) as sim:
        port_queue.put(sim.port)
        await asyncio.Event().wait()


def _child(port_queue: Queue[int]) -> None:
    asyncio.run(_serve(port_queue))


def _sign(payload: str) -> bytes:
    sig = hmac.new(b"benchsecret", payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}&signature={sig}".encode()


def _bodies(kind: str, n: int) -> list[bytes]:
    now = int(time.time() * 1000)
    tail = f"&newOrderRespType=RESULT&recvWindow=60000&timestamp={now}"
    out = []
    for i in range(n):
        if kind == "limit":
            price = 20000 + (i % 500) / 100
            payload = (
                "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001"
                f"&price={price:.2f}"
            )
        else:
            price = 31000 + (i % 500) / 100
            payload = (
                "symbol=BTCUSDT&side=SELL&quantity=0.001&aboveType=LIMIT_MAKER"
                f"&abovePrice={price:.2f}&belowType=STOP_LOSS&belowStopPrice=29000.00"
            )
        out.append(_sign(payload + tail))
    return out


def _measure(kind: str) -> float:
    ctx = multiprocessing.get_context("spawn")
    ports: Queue[int] = ctx.Queue()
    proc = ctx.Process(target=_child, args=(ports,), daemon=True)
    proc.start()
    try:
        port = ports.get(timeout=30)
        path = "/api/v3/order" if kind == "limit" else "/api/v3/orderList/oco"
        return asyncio.run(_drive(f"http://127.0.0.1:{port}{path}", _bodies(kind, REQUESTS)))
    finally:
        proc.terminate()
        proc.join(10)


def run() -> None:
    _server_rates()
    _client_cpu()


def _server_rates() -> None:
    # alternated, best of two each: the machine is shared, a burst of load hits one run only
    limit = oco = 0.0
    for _ in range(ROUNDS):
        limit = max(limit, _measure("limit"))
        oco = max(oco, _measure("oco"))
    ratio = oco / limit
    print(f"   single LIMIT placements    : {limit:8.0f} orders/s")
    print(f"   OCO placements (2 orders)  : {oco:8.0f} lists/s")
    print(
        f"   [{REQUESTS - WARMUP} requests, {CONCURRENCY} concurrent, fresh simulator each,"
        f" best of {ROUNDS} alternated runs]"
    )
    goal(
        "OCO placements per second",
        f"{oco:.0f} lists/s",
        f"single LIMIT {limit:.0f} orders/s ({ratio:.2f}x)",
        f">= {GOAL}x",
        ratio >= GOAL,
    )


if __name__ == "__main__":
    run()


# -- (b) client CPU: typed place_order_list vs typed place_order ------------------------------
CLIENT_N, CLIENT_ROUNDS, CLIENT_WARM = 300, 5, 50


def _client_cpu() -> None:
    import os
    import tempfile

    from bench._common import SimProcess
    from bench.bench_connector import _cpu_config

    with tempfile.TemporaryDirectory() as tmp, SimProcess(_cpu_config()) as sim:
        key = next(k for k in sim.config.demo.keys if k.kind == "HMAC")
        order, listed = asyncio.run(
            _client_rounds(sim.url, key.api_key, key.secret, os.path.join(tmp, "journal.db"))
        )
    ratio = listed / order
    print(f"   typed place_order (LIMIT IOC)        : {order:7.1f} µs CPU per call")
    print(f"   typed place_order_list (OTO, IOC leg): {listed:7.1f} µs CPU per call")
    goal(
        "typed place_order_list client CPU",
        f"{listed:.1f} µs ({ratio:.2f}x)",
        f"typed place_order {order:.1f} µs",
        "<= 1.5x place_order",
        ratio <= 1.5,
    )


async def _client_rounds(url: str, api_key: str, secret: str, journal: str) -> tuple[float, float]:
    from bench.bench_connector import _cpu_round
    from binguard.connector import ConnectorOptions, Leg, SpotConnector

    bn = SpotConnector(
        api_key=api_key,
        secret=secret,
        base_url=url,
        options=ConnectorOptions(journal_path=journal),
    )
    await bn.open()
    working = Leg("BUY", "LIMIT", quantity="0.001", price="10000.00", time_in_force="IOC")
    pending = Leg("SELL", "LIMIT_MAKER", quantity="0.001", price="40000.00")

    async def one_order() -> object:
        return await bn.place_order(
            "BTCUSDT", "BUY", "LIMIT", time_in_force="IOC", quantity="0.001", price="10000.00"
        )

    async def one_list() -> object:
        return await bn.place_order_list("OTO", "BTCUSDT", working=working, pending=pending)

    best = [float("inf"), float("inf")]
    try:
        for call in (one_order, one_list):
            for _ in range(CLIENT_WARM):
                await call()
        bn.journal.flush()  # (the warm-up's deferred rows, before any timed round)
        for _ in range(CLIENT_ROUNDS):
            for i, call in enumerate((one_order, one_list)):
                # each round ends with the journal's deferred commit, timed with it
                cpu = (await _cpu_round(call, CLIENT_N, bn.journal.flush))[0]
                best[i] = min(best[i], cpu)
    finally:
        await bn.close()
    return best[0], best[1]
