"""Timing security (rest-api.md §Timing security, CHANGELOG 2025-05-22 / 2025-08-28): the +1 s
rule, recvWindow (default 5000, max 60000, up to 3 decimals), µs timestamps, and the second check
just before the matching engine."""

from __future__ import annotations

import pytest

from binguard.sim import Simulator

from .helpers import Api, limit_buy, msg, own_window

AHEAD = msg(-1021, 1)
OUTSIDE = msg(-1021, 0)


def _server_ms(sim: Simulator) -> int:
    return sim.state.clock.now_ms()


@pytest.fixture
def frozen(sim: Simulator) -> Simulator:
    """Server time stands still, so timing edges are exact."""
    fixed = 1_800_000_000.0
    sim.state.clock._wall = lambda: fixed  # the wall clock is the clock's injection point
    sim.state.clock.set(offset_ms=0, drift_ms_per_s=0)
    return sim


@pytest.mark.parametrize(
    ("delta_ms", "recv_window", "expected"),
    [
        (0, None, None),
        (999, None, None),  # timestamp < serverTime + 1000: fine
        (1000, None, AHEAD),  # not strictly less: ahead by 1000 ms
        (5000, None, AHEAD),
        (-5000, None, None),  # exactly recvWindow old (default 5000): fine
        (-5001, None, OUTSIDE),
        (-60000, "60000", None),
        (-60001, "60000", OUTSIDE),
        (-10, "9.999", OUTSIDE),
        (-9, "9.999", None),
    ],
)
async def test_timing_rule_edges(
    frozen: Simulator, api: Api, delta_ms: int, recv_window: str | None, expected: str | None
) -> None:
    params = {} if recv_window is None else {"recvWindow": recv_window}
    reply = await api.get(
        "/api/v3/account", params, signed=True, timestamp=_server_ms(frozen) + delta_ms
    )
    if expected is None:
        assert reply.status == 200, reply.body
    else:
        assert (reply.status, reply.code, reply.msg) == (400, -1021, expected)


async def test_microsecond_timestamps(frozen: Simulator, api: Api) -> None:
    now_us = frozen.state.clock.now_us()
    ok = await api.get(
        "/api/v3/account", {"recvWindow": "0.5"}, signed=True, timestamp=now_us - 400
    )
    assert ok.status == 200, ok.body
    old = await api.get(
        "/api/v3/account", {"recvWindow": "0.5"}, signed=True, timestamp=now_us - 600
    )
    assert (old.code, old.msg) == (-1021, OUTSIDE)


@pytest.mark.parametrize(
    ("recv_window", "code", "message"),
    [
        ("60001", -1102, msg(-1102, 5, "recvWindow", 60000)),
        ("5000.1234", -1111, msg(-1111, 0, "recvWindow")),
        ("abc", -1102, msg(-1102, 1, "recvWindow")),
    ],
)
async def test_bad_recv_window(api: Api, recv_window: str, code: int, message: str) -> None:
    reply = await api.get("/api/v3/account", {"recvWindow": recv_window}, signed=True)
    assert (reply.status, reply.code, reply.msg) == (400, code, message)


async def test_server_clock_offset_and_drift_are_adjustable(sim: Simulator, api: Api) -> None:
    before = (await api.get("/api/v3/time")).body["serverTime"]
    await api.admin("clock", "POST", '{"offset_ms": 3600000}')
    after = (await api.get("/api/v3/time")).body["serverTime"]
    assert after - before >= 3_600_000
    # a client that still uses its own time is now an hour behind: -1021
    stale = await api.get("/api/v3/account", signed=True)
    assert (stale.code, stale.msg) == (-1021, OUTSIDE)
    await api.admin("clock", "POST", '{"offset_ms": 0, "drift_ms_per_s": 1000}')
    clock = await api.admin("clock")
    assert clock["drift_ms_per_s"] == 1000


async def test_second_check_before_engine_counts_the_order(sim: Simulator, api: Api) -> None:
    """Latency between receipt and the engine expires the request: -1021, no order, counted."""
    own_window(sim, api)
    sim.state.latency_ms = 150
    reply = await api.order(**limit_buy("0.001", "20000"), recvWindow="100")
    assert (reply.code, reply.msg) == (-1021, OUTSIDE)
    assert await api.admin("orders?account=demo") == []
    usage = await api.get("/api/v3/rateLimit/order", signed=True)
    assert [u["count"] for u in usage.body] == [1, 1]
