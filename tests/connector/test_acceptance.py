"""The connector against the simulator's faults: each case ends with the connector's orders equal
to the simulator's ground truth — nothing lost, nothing duplicated (issue: resilient connector).

Faults target POST /api/v3/order once (`times: 1`); "executed" faults let the engine place the order
and then hide the answer, which is exactly Binance's "execution status unknown".
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from binguard.connector.client import SpotConnector
from binguard.connector.events import Event
from binguard.connector.journal import Stage
from binguard.errors import IpBannedError
from binguard.policy.budget import BAN_MARGIN_MS
from binguard.sim import Simulator

from .conftest import MakeConnector, ground_truth, load_faults, request_count

BAN_MARGIN = timedelta(milliseconds=BAN_MARGIN_MS)
ORDER = {"path": "/api/v3/order", "method": "POST", "times": 1}


@pytest.fixture(params=["http1", "aiohttp"])
def connect(connect: MakeConnector, request: pytest.FixtureRequest) -> MakeConnector:
    """Every case on both REST backends: binguard's HTTP/1.1 client (the default) and aiohttp."""

    async def make(**overrides: Any) -> SpotConnector:
        options = {**overrides.pop("options", {}), "http": request.param}
        return await connect(options=options, **overrides)

    return make


async def place(bn: Any) -> Any:
    return await bn.place_order(
        "BTCUSDT", "BUY", "LIMIT", quantity="0.01", price="29000", time_in_force="GTC"
    )


async def assert_exactly_once(sim: Simulator, bn: Any, client_order_id: str) -> dict[str, Any]:
    truth = [o for o in await ground_truth(sim) if o["clientOrderId"] == client_order_id]
    assert len(truth) == 1, f"{len(truth)} orders on the exchange for {client_order_id}"
    entry = bn.journal.get(client_order_id)
    assert entry is not None and entry.stage is Stage.ACKED
    assert entry.order_id == truth[0]["orderId"]
    return truth[0]


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"action": "reset"}, id="ECONNRESET before execution"),
        pytest.param({"action": "reset_after"}, id="ECONNRESET after execution"),
        pytest.param({"action": "close_after"}, id="FIN after execution"),
        pytest.param({"action": "partial_after"}, id="partial body after execution"),
        pytest.param(
            {"action": "stall_after", "stall_s": 4}, id="stall past timeout after execution"
        ),
        pytest.param(
            {"action": "error", "status": 500, "code": -1006, "executed": True}, id="-1006 executed"
        ),
        pytest.param({"action": "error", "status": 500, "code": -1006}, id="-1006 not executed"),
        pytest.param(
            {"action": "error", "status": 503, "code": -1007, "executed": True}, id="-1007 executed"
        ),
        pytest.param({"action": "error", "status": 503, "code": -1007}, id="-1007 not executed"),
        pytest.param(
            {"action": "error", "status": 503, "code": -1008}, id="-1008 server busy (5XX)"
        ),
        pytest.param({"action": "html", "status": 502}, id="HTML 502"),
        pytest.param({"action": "html", "status": 503, "executed": True}, id="HTML 503 executed"),
    ],
)
async def test_order_exactly_once_through_fault(
    sim: Simulator, connect: MakeConnector, fault: dict[str, Any]
) -> None:
    bn = await connect()
    load_faults(sim, {**ORDER, **fault})
    order = await place(bn)
    log = sim.state.faults.log
    assert log, "the fault must have fired"
    await assert_exactly_once(sim, bn, order.client_order_id)
    assert bn.stats.reconciliations == 1
    assert order.status == "NEW"


async def test_reset_before_execution_is_resent_only_after_proof(
    sim: Simulator, connect: MakeConnector
) -> None:
    bn = await connect()
    load_faults(sim, {**ORDER, "action": "reset"})
    order = await place(bn)
    assert bn.stats.reconciled_absent == 1 and bn.stats.resends == 1
    await assert_exactly_once(sim, bn, order.client_order_id)


async def test_a_reset_cancel_is_seen_by_the_connector_not_resent_behind_it(
    sim: Simulator, connect: MakeConnector
) -> None:
    """A cancel (DELETE) on a kept-alive connection reset before the engine: the connector sees
    the reset and decides (aiohttp alone would re-send the "idempotent" DELETE once, unseen by
    the budget and the request loop; binguard's backend turns that off)."""
    bn = await connect()
    order = await place(bn)  # the connection is now kept alive: the next request reuses it
    load_faults(sim, {"path": "/api/v3/order", "method": "DELETE", "action": "reset", "times": 1})
    sent_before = bn.stats.requests
    cancelled = await bn.cancel_order("BTCUSDT", order_id=order.order_id)
    assert cancelled.status == "CANCELED"
    deletes = [
        r for r in sim.state.requests if r["path"] == "/api/v3/order" and r["method"] == "DELETE"
    ]
    assert sim.state.faults.log, "the reset must have fired"
    # every DELETE that reached the exchange is one the connector sent and counted
    assert bn.stats.requests - sent_before >= len(deletes) == 2


@pytest.mark.parametrize("skew_ms", [30_000, -30_000])
async def test_clock_skew_is_absorbed(sim: Simulator, connect: MakeConnector, skew_ms: int) -> None:
    sim.state.clock.set(offset_ms=skew_ms)  # the server runs 30 s ahead of / behind this machine
    bn = await connect()
    order = await place(bn)
    await assert_exactly_once(sim, bn, order.client_order_id)
    assert bn.stats.clock_errors == 0
    sim.state.clock.jump(-2 * skew_ms)  # an NTP step on the exchange: the next order gets -1021
    order2 = await place(bn)
    await assert_exactly_once(sim, bn, order2.client_order_id)
    assert bn.stats.clock_errors == 1  # seen once, resynced, retried once: absorbed
    assert bn.stats.resyncs >= 1


@pytest.mark.parametrize("drift_ms_per_s", [100.0, -100.0])
async def test_clock_drift_is_followed(
    sim: Simulator, connect: MakeConnector, drift_ms_per_s: float
) -> None:
    """The issue's ±100 ms per minute, compressed 60x: ±100 ms per second, so a 4 s run drifts
    as far as 4 minutes would. Periodic resync keeps every request inside a 1 s recvWindow."""
    bn = await connect(options={"resync_every": 0.5})
    sim.state.clock.set(drift_ms_per_s=drift_ms_per_s)
    placed = []
    for _ in range(16):
        placed.append(await place(bn))
        await bn.depth("BTCUSDT", limit=5)  # spreads the orders over a few seconds of drift
        await bn.depth("BTCUSDT", limit=5)
    for order in placed:
        await assert_exactly_once(sim, bn, order.client_order_id)
    assert bn.stats.clock_errors_after_sync == 0


async def test_ban_stops_every_request(sim: Simulator, connect: MakeConnector) -> None:
    bn = await connect()
    load_faults(sim, {"action": "http_418", "path": "/api/v3/depth", "times": 1, "ban_s": 60})
    with pytest.raises(IpBannedError) as first:
        await bn.depth("BTCUSDT")
    assert first.value.banned_until is not None
    seen = await request_count(sim)
    for call in (bn.depth("BTCUSDT"), bn.book_ticker("BTCUSDT"), place(bn)):
        with pytest.raises(IpBannedError) as again:
            await call
        # refused locally until the stated end plus a margin (policy/budget.py, _ban_end)
        assert again.value.banned_until == first.value.banned_until + BAN_MARGIN
    assert await request_count(sim) == seen, "no request may leave during a known ban"


async def test_429_then_418_pauses_then_stops_everything_until_the_ban_ends(
    sim: Simulator, connect: MakeConnector
) -> None:
    """The seeds' escalation: a 429 (paused for Retry-After, then retried), then a 418 with its
    ban-until: from then on nothing reaches the exchange, orders included, and none is lost."""
    bn = await connect()
    depth = {"path": "/api/v3/depth", "times": 1}
    load_faults(
        sim,
        {**depth, "action": "http_429"},
        {**depth, "action": "http_418", "every_nth": 2, "ban_s": 60},
    )
    with pytest.raises(IpBannedError) as banned:
        await bn.depth("BTCUSDT", limit=5)
    assert banned.value.http_status == 418 and banned.value.banned_until is not None
    async with aiohttp.ClientSession() as s, s.get(f"{sim.url}/_sim/requests") as r:
        log = [e for e in await r.json() if e["path"] == "/api/v3/depth"]
    assert [e["status"] for e in log] == [429, 418]
    assert log[1]["time"] - log[0]["time"] >= 950, "Retry-After (1 s) was waited out"
    seen = await request_count(sim)
    for call in (bn.depth("BTCUSDT"), bn.account(), place(bn)):
        with pytest.raises(IpBannedError):
            await call
    assert await request_count(sim) == seen, "no request may leave during a known ban"
    assert await ground_truth(sim) == [], "no order reached the exchange"
    assert all(e.order_id is None for e in bn.journal.all()), "nothing believed placed"
    assert bn.stats.bans == 1


async def test_ban_start_and_end_are_told_once_and_requests_resume(
    sim: Simulator, connect: MakeConnector
) -> None:
    bn = await connect()
    events: list[Event] = []
    ended = asyncio.Event()

    def hook(event: Event) -> None:
        if event.kind in ("ban_start", "ban_end"):
            events.append(event)
        if event.kind == "ban_end":
            ended.set()

    bn.on(hook)
    load_faults(sim, {"action": "http_418", "path": "/api/v3/depth", "times": 1, "ban_s": 1})
    with pytest.raises(IpBannedError) as first:
        await bn.depth("BTCUSDT")
    with pytest.raises(IpBannedError):
        await bn.book_ticker("BTCUSDT")  # refused locally: no second ban_start
    assert [e.kind for e in events] == ["ban_start"]
    until = first.value.banned_until
    assert until is not None and events[0].data["banned_until"] == until + BAN_MARGIN
    await asyncio.wait_for(ended.wait(), timeout=10)
    assert [e.kind for e in events] == ["ban_start", "ban_end"]
    assert bn.time.now_ms() >= events[0].data["until_ms"]
    assert (await bn.depth("BTCUSDT", limit=5)).bids  # the breaker closed with the ban's end


async def test_reads_retry_through_transient_faults(sim: Simulator, connect: MakeConnector) -> None:
    """Three failures on three successive depth requests, then success. (Resets are covered by
    the order and cancel cases.)"""
    bn = await connect()
    depth_rule = {"path": "/api/v3/depth", "times": 1}
    load_faults(
        sim,
        {**depth_rule, "action": "error", "status": 500, "code": -1001},
        {**depth_rule, "action": "error", "status": 503, "code": -1008, "every_nth": 2},
        {**depth_rule, "action": "html", "status": 502, "every_nth": 3},
    )
    depth = await bn.depth("BTCUSDT", limit=5)
    assert depth.bids and depth.asks
    assert bn.stats.retries == 3
    assert dict(bn.stats.errors_by_code) == {"-1001": 1, "-1008": 1, "ExecutionUnknownError": 1}
