"""Safe retries: reads are re-sent on transient failures within the bot's recvWindow; orders
and cancels never are, and an order whose outcome is unknown gets Binance's execution-unknown
answer (rest-api.md §General API Information: "HTTP 5XX ... the execution status is UNKNOWN";
errors.md -1007), never an HTML page or a bare 502."""

from __future__ import annotations

import socket
import time
from typing import Any

import aiohttp
import pytest
from tests.sim.helpers import Api, limit_buy, msg

from binguard.gateway import GATEWAY_HEADER, Gateway
from binguard.sim import Simulator

from .conftest import gw_config, load_faults


def _count(sim: Simulator, method: str, path: str) -> int:
    return sum(1 for r in sim.state.requests if r["method"] == method and r["path"] == path)


@pytest.mark.parametrize(
    "fault",
    [
        {"action": "reset"},
        {"action": "close"},
        {"action": "html", "status": 502},
        {"action": "error", "status": 503, "code": -1008},
        {"action": "error", "status": 500, "code": -1001},
        {"action": "reset_after"},
        {"action": "partial_after"},
    ],
    ids=lambda f: f"{f['action']}-{f.get('code', f.get('status', ''))}",
)
async def test_reads_are_retried_through_transient_faults(
    sim: Simulator, gw_api: Api, fault: dict[str, Any]
) -> None:
    load_faults(sim, {**fault, "path": "/api/v3/depth", "times": 2})
    reply = await gw_api.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5})
    assert reply.status == 200 and "lastUpdateId" in reply.body
    assert _count(sim, "GET", "/api/v3/depth") == 3


async def test_signed_reads_are_retried_too(sim: Simulator, gw_api: Api) -> None:
    load_faults(sim, {"action": "reset", "path": "/api/v3/openOrders", "times": 1})
    reply = await gw_api.get("/api/v3/openOrders", {"symbol": "BTCUSDT"}, signed=True)
    assert reply.status == 200 and reply.body == []
    assert _count(sim, "GET", "/api/v3/openOrders") == 2


async def test_a_signed_read_is_not_retried_past_its_recv_window(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """recvWindow=600: every attempt fails; the last one starts before timestamp + 600 ms."""
    async with Gateway(gw_config(sim.url, read_retries=50, read_deadline_s=10)) as gw:
        key = sim.config.demo.keys[0]
        api = Api(session, gw.url, key.api_key, key.secret)
        load_faults(sim, {"action": "reset", "path": "/api/v3/openOrders"})
        started = time.monotonic()
        reply = await api.get(
            "/api/v3/openOrders", {"symbol": "BTCUSDT", "recvWindow": 600}, signed=True
        )
    assert time.monotonic() - started < 1.0
    assert reply.status == 503 and reply.headers[GATEWAY_HEADER] == "failed"
    assert reply.body == {"code": -1001, "msg": msg(-1001)}
    assert _count(sim, "GET", "/api/v3/openOrders") >= 2


async def test_an_html_page_after_every_retry_becomes_binance_words(
    sim: Simulator, gw_api: Api
) -> None:
    load_faults(sim, {"action": "html", "status": 502, "path": "/api/v3/depth"})
    reply = await gw_api.get("/api/v3/depth", {"symbol": "BTCUSDT"})
    assert reply.status == 503 and reply.code == -1001
    assert reply.headers[GATEWAY_HEADER] == "failed"


@pytest.mark.parametrize(
    "fault",
    [
        {"action": "reset_after"},
        {"action": "close_after"},
        {"action": "partial_after"},
        {"action": "html", "status": 502},
        {"action": "reset"},
    ],
    ids=lambda f: f["action"],
)
async def test_an_order_is_sent_once_and_unknown_is_said_in_binance_words(
    sim: Simulator, gw_api: Api, sim_api: Api, fault: dict[str, Any]
) -> None:
    load_faults(sim, {**fault, "path": "/api/v3/order", "method": "POST", "times": 1})
    reply = await gw_api.order(**limit_buy("0.001", "20000"))
    assert reply.status == 503 and reply.headers[GATEWAY_HEADER] == "unknown"
    assert reply.body == {"code": -1007, "msg": msg(-1007)}
    assert _count(sim, "POST", "/api/v3/order") == 1  # never re-sent
    executed = len(await sim_api.admin("orders?account=demo"))
    assert executed == (1 if fault["action"].endswith("_after") else 0)


async def test_a_stalled_order_times_out_as_unknown(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    async with Gateway(gw_config(sim.url, upstream_timeout_s=0.5)) as gw:
        key = sim.config.demo.keys[0]
        api = Api(session, gw.url, key.api_key, key.secret)
        load_faults(
            sim, {"action": "stall_after", "path": "/api/v3/order", "stall_s": 2, "times": 1}
        )
        reply = await api.order(**limit_buy("0.001", "20000"))
    assert reply.status == 503 and reply.code == -1007
    assert _count(sim, "POST", "/api/v3/order") == 1


async def test_binance_own_5xx_for_an_order_passes_through(sim: Simulator, gw_api: Api) -> None:
    load_faults(
        sim,
        {
            "action": "error",
            "status": 503,
            "code": -1006,
            "executed": True,
            "path": "/api/v3/order",
        },
    )
    reply = await gw_api.order(**limit_buy("0.001", "20000"))
    assert reply.code == -1006 and GATEWAY_HEADER not in reply.headers
    assert _count(sim, "POST", "/api/v3/order") == 1


async def test_a_cancel_is_never_resent(sim: Simulator, gw_api: Api) -> None:
    placed = await gw_api.order(**limit_buy("0.001", "20000"))
    load_faults(sim, {"action": "reset", "path": "/api/v3/order", "method": "DELETE"})
    reply = await gw_api.delete(
        "/api/v3/order", {"symbol": "BTCUSDT", "orderId": placed.body["orderId"]}, signed=True
    )
    assert reply.code == -1007
    assert _count(sim, "DELETE", "/api/v3/order") == 1


async def test_upstream_down_means_nothing_was_sent(session: aiohttp.ClientSession) -> None:
    """No connection could be opened: the order cannot have executed (-1001, not -1007)."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with Gateway(gw_config(f"http://127.0.0.1:{port}")) as gw:
        api = Api(session, gw.url, "k", "s")
        reply = await api.order(**limit_buy("0.001", "20000"))
        status = await api.get("/status")
    assert reply.status == 503 and reply.code == -1001
    assert reply.headers[GATEWAY_HEADER] == "failed"
    assert status.body["limits_from_upstream"] is False
    assert status.body["upstream_health"]["last_failure"]["what"] == "connect_failed"
