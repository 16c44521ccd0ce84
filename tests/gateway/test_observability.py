"""/metrics (Prometheus text, prometheus-client) and /status (JSON: ban, budget, clock, upstream
health; 200 ready, 503 draining)."""

from __future__ import annotations

import asyncio

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from tests.sim.helpers import Api, poll

from binguard.gateway import GATEWAY_HEADER, Gateway
from binguard.sim import LimitsConfig, RateLimitSpec, Simulator

from .conftest import gw_config, load_faults
from .test_caches import _subscribed
from .test_streams import WS_QUIET


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


# 100 weight per second: a burst of 150 pings waits for the next window (queued), and a depth of
# limit 5000 (weight 250, rest-api.md §Order book) can never fit (refused at once).
SMALL_WS = WS_QUIET.with_(
    limits=LimitsConfig(
        rate_limits=(
            RateLimitSpec("REQUEST_WEIGHT", "SECOND", 1, 100),
            RateLimitSpec("ORDERS", "SECOND", 10, 50),
            RateLimitSpec("RAW_REQUESTS", "MINUTE", 5, 300000),
        )
    )
)


async def _cached(api: Api, path: str, params: dict[str, str]) -> str | None:
    return (await api.get(path, params)).headers.get(GATEWAY_HEADER)


async def test_metrics_name_every_item_of_the_issue(session: aiohttp.ClientSession) -> None:
    """One real scrape holds each metric issue 14 item 8 names, counted from what happened:
    upstream requests by endpoint and status, weight used and limit per window, local answers
    (refused, banned) and queued requests, cache hits and misses by cache and reason (not
    ready, not held, expired), queue wait, upstream latency, bot and upstream sockets,
    reconnects."""
    async with (
        Simulator(SMALL_WS) as sim,
        Gateway(gw_config(sim.url, cache_ttl_s=0.3, max_wait_s=5.0, margin=0.8)) as gw,
    ):
        api = Api(session, gw.url)
        info = {"symbol": "BTCUSDT"}
        assert await _cached(api, "/api/v3/exchangeInfo", info) is None  # not held
        assert await _cached(api, "/api/v3/exchangeInfo", info) == "cache"
        await poll(lambda: _cached(api, "/api/v3/exchangeInfo", info), lambda h: h is None)
        assert await _cached(api, "/api/v3/ticker/price", {}) is None  # all symbols: not held
        refused = await api.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5000})
        assert refused.headers[GATEWAY_HEADER] == "refused"  # and a depth miss: not held
        assert await _cached(api, "/api/v3/ticker/bookTicker", info) is None  # not ready
        await poll(lambda: _subscribed(sim), lambda n: n >= 1)
        sim.state.crowd.step()
        await poll(lambda: _cached(api, "/api/v3/ticker/bookTicker", info), lambda h: h == "cache")
        replies = await asyncio.gather(*(api.get("/api/v3/ping") for _ in range(150)))
        assert {r.status for r in replies} == {200}
        async with session.ws_connect("ws" + gw.url[4:] + "/ws/btcusdt@trade"):
            load_faults(sim, {"action": "http_418", "path": "/api/v3/time", "ban_s": 5})
            assert (await api.get("/api/v3/time")).status == 418
            assert (await api.get("/api/v3/time")).headers[GATEWAY_HEADER] == "banned"
            m = _samples((await api.raw("GET", "/metrics")).body)
        assert sim.bugs == []
    p = "binguard_gateway_"
    ping = (("endpoint", "/api/v3/ping"), ("status", "200"))
    assert m[(p + "upstream_requests_total", ping)] == 150
    upkeep = (("endpoint", "/api/v3/time"), ("status", "200"))  # the gateway's own clock sync
    assert m[(p + "upstream_requests_total", upkeep)] >= 1
    assert m[(p + "limit", (("window", "REQUEST_WEIGHT:1S"),))] == 80  # 100 x margin 0.8
    assert (p + "used", (("window", "REQUEST_WEIGHT:1S"),)) in m
    assert m[(p + "local_answers_total", (("reason", "refused"),))] == 1
    assert m[(p + "local_answers_total", (("reason", "banned"),))] == 1
    assert m[(p + "queued_total", (("endpoint", "/api/v3/ping"),))] >= 1
    hits = {k[1][0][1]: v for k, v in m.items() if k[0] == p + "cache_hits_total"}
    assert hits["exchangeInfo"] >= 1 and hits["ticker/bookTicker"] >= 1
    misses = {
        tuple(v for _, v in k[1]): n for k, n in m.items() if k[0] == p + "cache_misses_total"
    }
    assert misses[("exchangeInfo", "not_held")] == 1
    assert misses[("exchangeInfo", "expired")] == 1
    assert misses[("ticker/price", "not_held")] == 1
    assert misses[("depth", "not_held")] == 1
    assert misses[("ticker/bookTicker", "not_ready")] >= 1
    assert m[(p + "queue_wait_seconds_count", ())] >= 150
    assert m[(p + "queue_wait_seconds_bucket", (("le", "0.001"),))] < 150  # some waited
    assert m[(p + "upstream_latency_seconds_count", ())] >= 150
    assert m[(p + "bot_sockets", (("kind", "streams"),))] == 1
    assert m[(p + "upstream_sockets", (("kind", "streams"),))] == 1
    assert m[(p + "upstream_stream_reconnects", ())] == 0  # counted: test_streams.py
