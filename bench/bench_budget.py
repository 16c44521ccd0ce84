"""Hot-path cost of the rate budget: `acquire()` (+ `settle()`) per request on the memory store.

Every request the connector sends passes through `RateBudget.acquire`, so its cost is paid once
per request. Measured with Binance's four default limiters (weight 1M, orders 10S and 1D, raw
requests 5M) scaled up so that nothing ever waits: this is the pure bookkeeping cost. The peer is
aiolimiter's `AsyncLimiter.acquire` (a single in-process leaky bucket), measured in the same run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from binguard.backends import Limit, LimitKind
from binguard.errors import Interval, RateHeaders
from binguard.policy import RateBudget, rest_cost

N = 40_000
BIG = 10**12  # never reached: nothing waits, only the bookkeeping is measured
LIMITS = [
    Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "MINUTE"), BIG),
    Limit(LimitKind.ORDERS, Interval(10, "SECOND"), BIG),
    Limit(LimitKind.ORDERS, Interval(1, "DAY"), BIG),
    Limit(LimitKind.RAW_REQUESTS, Interval(5, "MINUTE"), BIG),
]
READ = rest_cost("GET", "/api/v3/depth", {"limit": 100})
PLACE = rest_cost("POST", "/api/v3/order")
HEADERS = RateHeaders({"1M": 10}, {"10S": 1, "1D": 1}, None)


async def _rate(step: Callable[[], Awaitable[None]], n: int = N) -> float:
    for _ in range(1000):  # warm-up
        await step()
    best = 0.0
    for _ in range(3):  # best of three: the machine is shared
        started = time.perf_counter()
        for _ in range(n):
            await step()
        best = max(best, n / (time.perf_counter() - started))
    return best


async def _main() -> None:
    budget = RateBudget(LIMITS)

    async def acquire_read() -> None:
        await budget.acquire(READ)

    async def read_round_trip() -> None:
        ticket = await budget.acquire(READ)
        await budget.settle(ticket, ok=True, headers=HEADERS)

    async def order_round_trip() -> None:
        ticket = await budget.acquire(PLACE)
        await budget.settle(ticket, ok=True, headers=HEADERS)

    figures = {
        "acquire (read)": await _rate(acquire_read),
        "acquire+settle+headers (read)": await _rate(read_round_trip),
        "acquire+settle+headers (order)": await _rate(order_round_trip),
    }
    try:
        from aiolimiter import AsyncLimiter
    except ImportError:
        peer = None
    else:
        limiter = AsyncLimiter(BIG, 60)

        async def peer_acquire() -> None:
            await limiter.acquire(READ.weight)

        peer = await _rate(peer_acquire)
    for name, rate in figures.items():
        ratio = f"  ({rate / peer:.2f}x aiolimiter)" if peer else ""
        print(f"   binguard {name:32s} {rate:>10,.0f} ops/s  {1e6 / rate:6.1f} µs/op{ratio}")
    if peer:
        print(
            f"   aiolimiter AsyncLimiter.acquire          {peer:>10,.0f} ops/s  {1e6 / peer:6.1f} µs/op"
        )
    else:
        print("   aiolimiter not installed: no peer figure")


def run() -> None:
    asyncio.run(_main())
