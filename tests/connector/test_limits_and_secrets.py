"""Rate limits from the connector's side (429 → pause, never a 418; -1015) and secrets that never
reach a log line, an exception or a repr."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest

from binguard.connector.client import SpotConnector
from binguard.errors import BinanceError
from binguard.sim import FlowConfig, SimConfig, Simulator
from binguard.sim.config import LimitsConfig, RateLimitSpec

from .conftest import (
    FAST,
    MakeConnector,
    admin,
    credentials,
    ground_truth,
    load_faults,
    running,
)

SIGNATURE = re.compile(r"signature=[0-9a-fA-F]{64}")


def _sim_with(*limits: RateLimitSpec) -> SimConfig:
    return SimConfig(flow=FlowConfig(interval_ms=0), limits=LimitsConfig(rate_limits=limits))


@pytest.fixture
async def tight_sim() -> AsyncIterator[Simulator]:
    """60 weight per second, 3 orders per second: limits a test reaches in moments."""
    config = _sim_with(
        RateLimitSpec("REQUEST_WEIGHT", "SECOND", 1, 60),
        RateLimitSpec("ORDERS", "SECOND", 1, 3),
        RateLimitSpec("ORDERS", "DAY", 1, 160000),
    )
    async with running(config) as sim:
        yield sim


async def _connector(sim: Simulator) -> SpotConnector:
    bn = SpotConnector(base_url=sim.url, options=FAST, **credentials(sim))
    await bn.open()
    return bn


async def _log(sim: Simulator) -> list[dict[str, object]]:
    log: list[dict[str, object]] = await admin(sim, "requests")
    return log


async def test_forced_429_pauses_then_succeeds_without_a_ban(
    sim: Simulator, connect: MakeConnector
) -> None:
    bn = await connect()
    load_faults(sim, {"action": "http_429", "path": "/api/v3/depth", "times": 1})
    depth = await bn.depth("BTCUSDT", limit=5)
    assert depth.bids
    log = await _log(sim)
    statuses = [e["status"] for e in log]
    assert 429 in statuses and 418 not in statuses
    after = log[statuses.index(429) + 1 :]
    first_429_ms = int(str(log[statuses.index(429)]["time"]))
    # Retry-After: 1 → nothing is sent for at least a second (server clock, loopback RTT aside).
    assert int(str(after[0]["time"])) - first_429_ms >= 950


async def test_real_429_from_another_program_on_the_ip(tight_sim: Simulator) -> None:
    """Another program on this IP spends the window; the connector learns it only from the
    answer (429 + X-MBX-USED-WEIGHT-1S), pauses, and continues in the next window: no 418."""
    bn = await _connector(tight_sim)
    try:
        async with aiohttp.ClientSession() as other:
            # A burst may straddle a 1 s window boundary and then cause no 429 for the connector
            # (or, on a loaded machine, a 429 for the other program only): try again then.
            for _ in range(5):
                for _ in range(59):  # the other program: 59 of the 60 weight of this second
                    async with other.get(f"{tight_sim.url}/api/v3/ping") as r:
                        if r.status != 200:
                            break
                depth = await bn.depth("BTCUSDT", limit=5)  # weight 5: refused, then admitted
                assert depth.bids
                log = await _log(tight_sim)
                statuses = [e["status"] for e in log]
                if any(e["status"] == 429 and e["path"] == "/api/v3/depth" for e in log):
                    break
            else:
                pytest.fail("the scenario never produced a 429 for the connector")
        assert 418 not in statuses
        assert bn.stats.errors_by_code["-1003"] >= 1
    finally:
        await bn.close()


async def test_orders_limit_is_never_exceeded(tight_sim: Simulator) -> None:
    """3 orders per second: the budget spaces 7 orders over the windows, so Binance never has to
    answer -1015, and every order is placed once."""
    bn = await _connector(tight_sim)
    try:
        placed = [
            await bn.place_order(
                "BTCUSDT",
                "BUY",
                "LIMIT",
                quantity="0.001",
                price=str(20000 + i),
                time_in_force="GTC",
            )
            for i in range(7)
        ]
    finally:
        await bn.close()
    assert len({o.client_order_id for o in placed}) == 7
    truth = [o for o in await ground_truth(tight_sim) if str(o["clientOrderId"]).startswith("bg-")]
    assert sorted(o["clientOrderId"] for o in truth) == sorted(o.client_order_id for o in placed)
    assert 429 not in [e["status"] for e in await _log(tight_sim)]


async def test_forced_1015_is_waited_out_and_placed_once(
    tight_sim: Simulator,
) -> None:
    load_faults(
        tight_sim,
        {
            "path": "/api/v3/order",
            "method": "POST",
            "times": 1,
            "action": "error",
            "status": 429,
            "code": -1015,
        },
    )
    bn = await _connector(tight_sim)
    try:
        order = await bn.place_order(
            "BTCUSDT", "BUY", "LIMIT", quantity="0.001", price="20000", time_in_force="GTC"
        )
    finally:
        await bn.close()
    truth = [
        o for o in await ground_truth(tight_sim) if o["clientOrderId"] == order.client_order_id
    ]
    assert len(truth) == 1
    assert bn.stats.errors_by_code["-1015"] == 1


@pytest.mark.parametrize("http", ["http1", "aiohttp"])
async def test_no_secret_in_logs_errors_or_reprs(
    sim: Simulator, connect: MakeConnector, caplog: pytest.LogCaptureFixture, http: str
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, aiohttp's included
    key = sim.config.demo.keys[0]
    bn = await connect(options={"http": http})
    load_faults(
        sim,
        {"path": "/api/v3/order", "method": "POST", "times": 1, "action": "reset_after"},
        {"path": "/api/v3/account", "times": 1, "action": "error", "status": 400, "code": -1022},
    )
    texts = [repr(bn), repr(bn._transport), repr(bn.options)]
    await bn.place_order(
        "BTCUSDT", "BUY", "LIMIT", quantity="0.001", price="20000", time_in_force="GTC"
    )
    with pytest.raises(BinanceError) as info:
        await bn.account()
    err: BaseException | None = info.value
    while err is not None:  # the whole chain, as a traceback would print it
        texts += [str(err), repr(err)]
        if isinstance(err, BinanceError):
            texts.append(repr(err.as_dict()))
        err = err.__cause__ or err.__context__
    texts += [r.getMessage() for r in caplog.records]
    everything = "\n".join(texts)
    assert caplog.records, "the run must have logged something for this test to mean anything"
    assert key.secret not in everything
    assert not SIGNATURE.search(everything)
