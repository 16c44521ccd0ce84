"""Limits as Binance counts them: endpoint weights and headers, 429 then escalating 418 bans and
their expiry, per-IP accounting, fixed aligned windows, -1015 and its decrement on fills."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from binguard.sim import FlowConfig, LimitsConfig, RateLimitSpec, SimConfig, Simulator
from binguard.sim.engine.core import INTERNAL_ACCOUNT
from binguard.sim.numbers import to_atoms

from .helpers import Api, msg


def _align(sim: Simulator, period_ms: int, slack_ms: int = 20) -> None:
    """Put the server clock just after a window boundary, so a test owns a whole window."""
    now = sim.state.clock.now_ms()
    sim.state.clock.jump(period_ms - now % period_ms + slack_ms)


async def _wait_until(predicate: Callable[[], Any], within: float) -> None:
    """Poll a condition on the real clock (ban and window expiry are time-based)."""
    deadline = time.monotonic() + within
    while not await predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def _weight(api: Api) -> int:
    return int((await api.get("/api/v3/ping")).headers["X-MBX-USED-WEIGHT-1M"]) - 1


@pytest.mark.parametrize(
    ("method", "path", "params", "signed", "weight"),
    [
        ("GET", "/api/v3/time", {}, False, 1),
        ("GET", "/api/v3/exchangeInfo", {}, False, 20),
        ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 100}, False, 5),
        ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 101}, False, 25),
        ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1000}, False, 50),
        ("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5000}, False, 250),
        ("GET", "/api/v3/trades", {"symbol": "BTCUSDT"}, False, 25),
        ("GET", "/api/v3/ticker/price", {"symbol": "BTCUSDT"}, False, 2),
        ("GET", "/api/v3/ticker/price", {}, False, 4),
        ("GET", "/api/v3/ticker/bookTicker", {}, False, 4),
        ("GET", "/api/v3/avgPrice", {"symbol": "BTCUSDT"}, False, 2),
        ("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, True, 6),
        ("GET", "/api/v3/openOrders", {}, True, 80),
        ("GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"}, True, 20),
        ("GET", "/api/v3/account", {}, True, 20),
        ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"}, True, 20),
        ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT", "orderId": 1}, True, 5),
        ("GET", "/api/v3/rateLimit/order", {}, True, 40),
        ("GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": 1}, True, 4),
        # successful order and cancel: 0; failures pay 1 (CHANGELOG 2026-03-27)
        (
            "POST",
            "/api/v3/order",
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.001",
                "price": "20000",
            },
            True,
            0,
        ),
        (
            "POST",
            "/api/v3/order",
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.001",
                "price": "0",
            },
            True,
            1,
        ),
        ("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": 424242}, True, 1),
        ("DELETE", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, True, 1),
    ],
)
async def test_endpoint_weights(
    api: Api, method: str, path: str, params: dict[str, Any], signed: bool, weight: int
) -> None:
    before = await _weight(api)
    reply = await api.call(method, path, params, signed=signed)
    used = int(reply.headers["X-MBX-USED-WEIGHT-1M"])
    assert used - before - 1 == weight, reply.body


async def test_successful_cancel_costs_nothing(api: Api) -> None:
    placed = await api.order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price="20000",
    )
    before = int(placed.headers["X-MBX-USED-WEIGHT-1M"])
    canceled = await api.delete(
        "/api/v3/order", {"symbol": "BTCUSDT", "orderId": placed.body["orderId"]}, signed=True
    )
    assert canceled.status == 200
    assert int(canceled.headers["X-MBX-USED-WEIGHT-1M"]) == before


def _limited(weight: int, interval: str, orders: int = 50, **limits: Any) -> SimConfig:
    return SimConfig(
        flow=FlowConfig(enabled=False),
        limits=LimitsConfig(
            rate_limits=(
                RateLimitSpec("REQUEST_WEIGHT", interval, 1, weight),  # type: ignore[arg-type]
                RateLimitSpec("ORDERS", "SECOND", 10, orders),
                RateLimitSpec("ORDERS", "DAY", 1, 1000),
            ),
            **limits,
        ),
    )


@pytest.fixture
async def strict() -> AsyncIterator[Simulator]:
    # first ban 120 s x 1/120 = 1 s, second 600 s x 1/120 = 5 s
    async with Simulator(_limited(10, "MINUTE", ban_scale=1 / 120, requests_before_ban=2)) as s:
        yield s


async def test_429_then_418_escalation_and_expiry(
    strict: Simulator, ip_session: Callable[[str], aiohttp.ClientSession]
) -> None:
    _align(strict, 60_000)
    a = Api(ip_session("127.0.0.2"), strict.url)
    b = Api(ip_session("127.0.0.3"), strict.url)
    for i in range(10):
        ok = await a.get("/api/v3/ping")
        assert (ok.status, ok.headers["X-MBX-USED-WEIGHT-1M"]) == (200, str(i + 1))
    first = await a.get("/api/v3/ping")
    assert (first.status, first.code, first.msg) == (
        429,
        -1003,
        msg(-1003, 1, 10, "1 MINUTE"),
    )
    assert 1 <= int(first.headers["Retry-After"]) <= 60
    still = await a.get("/api/v3/ping")
    assert still.status == 429
    banned = await a.get("/api/v3/ping")
    until = strict.state.limits.ips["127.0.0.2"].banned_until_ms
    assert (banned.status, banned.code, banned.msg) == (418, -1003, msg(-1003, 2, until))
    assert banned.headers["Retry-After"] == "1"
    # another IP is unaffected: limits are per IP
    assert (await b.get("/api/v3/ping")).status == 200
    truth = await b.admin("limits")
    assert truth["ips"]["127.0.0.2"]["banned_until"] == until

    async def ban_over() -> bool:
        return (await a.get("/api/v3/ping")).status == 200

    await _wait_until(ban_over, within=5)
    for _ in range(9):
        await a.get("/api/v3/ping")
    assert (await a.get("/api/v3/ping")).status == 429
    await a.get("/api/v3/ping")
    second = await a.get("/api/v3/ping")
    assert (second.status, second.headers["Retry-After"]) == (418, "5")  # escalated
    assert strict.state.limits.ips["127.0.0.2"].ban_level == 2


async def test_one_second_window_resets() -> None:
    async with Simulator(_limited(3, "SECOND")) as sim, aiohttp.ClientSession() as s:
        api = Api(s, sim.url)
        _align(sim, 1000)
        replies = [await api.get("/api/v3/ping") for _ in range(4)]
        assert [r.status for r in replies] == [200, 200, 200, 429]
        assert replies[2].headers["X-MBX-USED-WEIGHT-1S"] == "3"
        assert replies[3].msg == msg(-1003, 1, 3, "1 SECOND")

        async def window_reset() -> bool:
            # watch ground truth: pinging while over the limit would earn a ban
            return (await api.admin("limits"))["ips"]["127.0.0.1"]["weight"]["1S"] == 0

        await _wait_until(window_reset, within=3)
        again = await api.get("/api/v3/ping")
        assert (again.status, again.headers["X-MBX-USED-WEIGHT-1S"]) == (200, "1")


async def test_unfilled_order_count_1015_and_decrement_on_fill() -> None:
    async with Simulator(_limited(6000, "MINUTE", orders=3)) as sim, aiohttp.ClientSession() as s:
        key = sim.config.demo.keys[0]
        api = Api(s, sim.url, key.api_key, key.secret)
        _align(sim, 10_000)
        api.clock_offset_ms = sim.state.clock.now_ms() - api.timestamp()
        order = {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "0.001",
        }
        placed = [await api.order(**order, price=str(29000 + i)) for i in range(3)]
        assert [p.headers["X-MBX-ORDER-COUNT-10S"] for p in placed] == ["1", "2", "3"]
        refused = await api.order(**order, price="29010")
        assert (refused.status, refused.code, refused.msg) == (
            429,
            -1015,
            msg(-1015, 1, 3, "10 SECOND"),
        )
        # rest-api.md §Unfilled Order Count: "a 429 error with the `Retry-After` header"
        assert 1 <= int(refused.headers["Retry-After"]) <= 10
        # another trader fills one of them: the count drops by one
        sim.state.engine.place(
            INTERNAL_ACCOUNT,
            "BTCUSDT",
            "SELL",
            "LIMIT",
            "GTC",
            to_atoms("0.001"),
            None,
            to_atoms("29002"),
        )
        usage = await api.get("/api/v3/rateLimit/order", signed=True)
        assert [u["count"] for u in usage.body] == [2, 2]
        accepted = await api.order(**order, price="29011")
        assert accepted.status == 200
        assert accepted.headers["X-MBX-ORDER-COUNT-10S"] == "3"
