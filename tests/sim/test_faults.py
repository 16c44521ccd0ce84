"""Faults as an aiohttp client sees them, and whether the order exists in ground truth."""

from __future__ import annotations

import asyncio
import errno
import json
import time
from typing import Any

import aiohttp
import pytest

from binguard.sim import FaultPlan, FaultRule, Simulator

from .helpers import Api, msg

ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.001",
    "price": "20000",
    "newClientOrderId": "fault-1",
}


async def _plan(api: Api, *rules: dict[str, Any], seed: int = 0) -> None:
    await api.admin("faults", "POST", json.dumps({"seed": seed, "rules": list(rules)}))


async def _orders(api: Api) -> list[dict[str, Any]]:
    return list(await api.admin("orders?account=demo"))


@pytest.mark.parametrize(("action", "executed"), [("reset", False), ("reset_after", True)])
async def test_tcp_reset_is_econnreset(api: Api, action: str, executed: bool) -> None:
    await _plan(api, {"action": action, "path": "/api/v3/order", "method": "POST"})
    with pytest.raises((aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)) as info:
        await api.order(**ORDER)
    if isinstance(info.value, aiohttp.ClientOSError):
        assert info.value.errno == errno.ECONNRESET
    assert [o["clientOrderId"] for o in await _orders(api)] == (["fault-1"] if executed else [])


@pytest.mark.parametrize(("action", "executed"), [("close", False), ("close_after", True)])
async def test_clean_close(api: Api, action: str, executed: bool) -> None:
    await _plan(api, {"action": action, "path": "/api/v3/order"})
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.order(**ORDER)
    assert len(await _orders(api)) == (1 if executed else 0)


async def test_partial_body_after_execution(api: Api) -> None:
    await _plan(api, {"action": "partial_after", "path": "/api/v3/order"})
    with pytest.raises(aiohttp.ClientPayloadError):
        await api.order(**ORDER)
    assert [o["status"] for o in await _orders(api)] == ["NEW"]


async def test_stall_past_client_timeout_after_execution(sim: Simulator) -> None:
    key = sim.config.demo.keys[0]
    timeout = aiohttp.ClientTimeout(total=0.3)
    async with aiohttp.ClientSession(timeout=timeout) as s:
        api = Api(s, sim.url, key.api_key, key.secret)
        await _plan(api, {"action": "stall_after", "path": "/api/v3/order", "stall_s": 30})
        with pytest.raises(asyncio.TimeoutError):
            await api.order(**ORDER)
        assert len(await _orders(api)) == 1


@pytest.mark.parametrize(
    ("rule", "status", "code", "executed"),
    [
        ({"action": "error", "status": 503, "code": -1006}, 503, -1006, False),
        ({"action": "error", "status": 500, "code": -1006, "executed": True}, 500, -1006, True),
        ({"action": "error", "status": 503, "code": -1007, "executed": True}, 503, -1007, True),
        ({"action": "error", "status": 500, "code": -1001}, 500, -1001, False),
        ({"action": "error", "status": 503, "code": -1008}, 503, -1008, False),
    ],
)
async def test_binance_5xx_bodies(
    api: Api, rule: dict[str, Any], status: int, code: int, executed: bool
) -> None:
    await _plan(api, {**rule, "path": "/api/v3/order"})
    reply = await api.order(**ORDER)
    assert (reply.status, reply.code, reply.msg) == (status, code, msg(code))
    assert len(await _orders(api)) == (1 if executed else 0)


@pytest.mark.parametrize(("action", "status"), [("html", 502), ("html", 503), ("waf", 403)])
async def test_html_pages(api: Api, action: str, status: int) -> None:
    await _plan(api, {"action": action, "status": status})
    reply = await api.raw("GET", "/api/v3/ping")
    assert reply.status == status
    assert isinstance(reply.body, str) and reply.body.lstrip().startswith("<html>")


async def test_forced_429_and_418(sim: Simulator, api: Api) -> None:
    await _plan(api, {"action": "http_429", "times": 1})
    limited = await api.get("/api/v3/ping")
    assert (limited.status, limited.code) == (429, -1003)
    assert limited.headers["Retry-After"] == "1"
    assert (await api.get("/api/v3/ping")).status == 200
    await _plan(api, {"action": "http_418", "times": 1, "ban_s": 60})
    banned = await api.get("/api/v3/ping")
    assert (banned.status, banned.code) == (418, -1003)
    assert "IP banned until" in (banned.msg or "")
    # a real ban: the next request is refused too, without any rule firing
    assert (await api.get("/api/v3/ping")).status == 418


async def test_latency_and_clock_jump(sim: Simulator, api: Api) -> None:
    await _plan(api, {"action": "latency", "latency_ms": 200, "path": "/api/v3/ping"})
    started = time.monotonic()
    assert (await api.get("/api/v3/ping")).status == 200
    assert time.monotonic() - started >= 0.2
    before = (await api.get("/api/v3/time")).body["serverTime"]
    await _plan(
        api, {"action": "clock_jump", "jump_ms": -10000, "path": "/api/v3/time", "times": 1}
    )
    after = (await api.get("/api/v3/time")).body["serverTime"]
    assert before - after > 9000


async def test_selection_every_nth_times_method_window(api: Api) -> None:
    await _plan(
        api,
        {"action": "error", "status": 503, "code": -1008, "every_nth": 3, "path": "/api/v3/ping"},
    )
    statuses = [(await api.get("/api/v3/ping")).status for _ in range(6)]
    assert statuses == [200, 200, 503, 200, 200, 503]
    await _plan(
        api, {"action": "error", "code": -1001, "status": 500, "times": 1, "method": "POST"}
    )
    assert (await api.get("/api/v3/ping")).status == 200  # GET: not selected
    assert (await api.order(**ORDER)).status == 500
    assert (await api.order(**ORDER)).status == 200  # fired once only
    await _plan(api, {"action": "waf", "start_s": 3600})
    assert (await api.get("/api/v3/ping")).status == 200  # not yet in its window
    log = await api.admin("faults")
    assert log["rules"][0]["action"] == "waf"


async def test_one_fault_per_request_the_others_keep_their_times(api: Api) -> None:
    """Two faults due on one request: the first in plan order is injected; the second neither
    fires nor spends its `times`, so it hits the next request (it was spent unseen before)."""
    await _plan(
        api,
        {"action": "error", "status": 503, "code": -1008, "times": 1, "path": "/api/v3/ping"},
        {"action": "html", "status": 502, "times": 1, "path": "/api/v3/ping"},
        {"action": "latency", "latency_ms": 1, "times": 1, "path": "/api/v3/ping"},
    )
    first, second, third = [await api.get("/api/v3/ping") for _ in range(3)]
    assert (first.status, first.code) == (503, -1008)
    assert second.status == 502  # the html page, still due
    assert third.status == 200
    log = (await api.admin("faults"))["log"]
    # the latency rule came after a fault that ended the request: it waited for the third
    assert [e["action"] for e in log] == ["error", "html", "latency"]


async def test_probability_is_seeded(sim: Simulator, api: Api) -> None:
    async def pattern(seed: int) -> list[int]:
        await _plan(api, {"action": "html", "status": 503, "probability": 0.5}, seed=seed)
        return [(await api.get("/api/v3/ping")).status for _ in range(16)]

    first, again, other = await pattern(11), await pattern(11), await pattern(12)
    assert first == again
    assert 0 < first.count(503) < 16
    assert first != other


def test_plan_parsing() -> None:
    plan = FaultPlan.from_text(
        "seed: 3\nrules:\n  - {action: reset_after, path: /api/v3/order, probability: 0.1}\n"
    )
    assert plan.seed == 3 and plan.rules[0] == FaultRule(
        "reset_after", path="/api/v3/order", probability=0.1
    )
    assert plan.rules[0].after_engine
    with pytest.raises(ValueError, match="unknown fault action"):
        FaultPlan.from_text('[{"action": "meteor"}]')
    with pytest.raises(ValueError, match="unknown fault rule keys"):
        FaultPlan.from_text('[{"action": "reset", "colour": "red"}]')


async def test_faults_from_constructor(session: aiohttp.ClientSession) -> None:
    plan = FaultPlan((FaultRule("reset", path="/api/v3/time"),))
    async with Simulator(faults=plan) as sim:
        api = Api(session, sim.url)
        with pytest.raises((aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)):
            await api.get("/api/v3/time")
        assert (await api.get("/api/v3/ping")).status == 200
        fired = (await api.admin("faults"))["log"]
        # aiohttp may retry an idempotent GET once on a fresh connection: reset both times
        assert {f["action"] for f in fired} == {"reset"}
        assert sim.bugs == []
