"""/metrics (Prometheus text, prometheus-client) and /status (JSON: ban, budget, clock, upstream
health; 200 ready, 503 draining)."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families
from tests.sim.helpers import Api

from binguard.gateway import Gateway
from binguard.sim import Simulator

from .conftest import load_faults


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_count_what_happened(sim: Simulator, gateway: Gateway, gw_api: Api) -> None:
    await gw_api.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5})
    load_faults(sim, {"action": "reset", "path": "/api/v3/depth", "times": 1})
    await gw_api.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5})  # one retry
    load_faults(sim, {"action": "http_418", "path": "/api/v3/ping", "ban_s": 5, "times": 1})
    await gw_api.get("/api/v3/ping")
    await gw_api.get("/api/v3/time")  # answered locally: banned
    reply = await gw_api.raw("GET", "/metrics")
    assert reply.status == 200
    m = _samples(reply.body)
    p = "binguard_gateway_"
    depth = (("endpoint", "/api/v3/depth"), ("status", "200"))
    assert m[(p + "upstream_requests_total", depth)] == 2
    assert (
        m[(p + "upstream_requests_total", (("endpoint", "/api/v3/ping"), ("status", "418")))] == 1
    )
    assert m[(p + "retries_total", (("endpoint", "/api/v3/depth"),))] == 1
    assert m[(p + "local_answers_total", (("reason", "banned"),))] == 1
    assert m[(p + "limit", (("window", "REQUEST_WEIGHT:1M"),))] == 5700  # 6000 x margin 0.95
    assert m[(p + "used", (("window", "REQUEST_WEIGHT:1M"),))] >= 21 + 2 + 1
    assert m[(p + "banned", ())] == 1
    assert m[(p + "upstream_latency_seconds_count", ())] >= 4
    assert m[(p + "queue_wait_seconds_count", ())] >= 4


async def test_status_is_health_and_readiness(gateway: Gateway, gw_api: Api) -> None:
    ok = await gw_api.get("/status")
    assert ok.status == 200 and ok.body["ready"] is True
    assert ok.body["clock"]["synced"] and ok.body["limits_from_upstream"]
    assert {b["limit"] for b in ok.body["budget"]} >= {"REQUEST_WEIGHT:1M", "ORDERS:10S"}
    assert ok.body["banned_until_ms"] is None and ok.body["upstream_health"]["last_failure"] is None
    drained = asyncio.create_task(gateway.drain())
    for _ in range(200):  # a bounded poll: the drain task starts at the next loop turn
        if (reply := await gw_api.get("/status")).status == 503:
            break
        await asyncio.sleep(0.01)
    assert reply.body["draining"] is True
    await drained
