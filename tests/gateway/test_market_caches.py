"""klines / uiKlines, ticker/24hr (FULL, MINI) and avgPrice from the market streams (market.py):
each cached answer equals the simulator's own REST answer for the same request, field for field
(rest-api.md §Market Data endpoints; web-socket-streams.md §Kline/Candlestick Streams, §Individual
Symbol Ticker Streams, §Average Price); a request the cache does not fully hold goes upstream; a
dropped stream sends requests upstream again until the new socket has spoken.

The simulator's clock is frozen where answers are compared: REST computes a ticker at request
time and the stream at push time, and the cache is exactly as fresh as the stream (never more).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from tests.sim.helpers import Api, poll

from binguard.gateway import GATEWAY_HEADER, Gateway
from binguard.sim import Simulator
from binguard.sim.config import MarketConfig, WsConfig
from binguard.sim.ws_routes import HUB_KEY
from binguard.sim.ws_streams import StreamConn

from .conftest import gw_config, load_faults, upstream_paths
from .test_streams import WS_QUIET

FAST = WS_QUIET.with_(market=MarketConfig(stream_ms=100))
# One stream connection per 2 s of the simulator's clock, which the test freezes: a dropped
# upstream socket stays down (its reconnects get HTTP 429) until the test moves the clock on.
ONE_CONNECTION = FAST.with_(
    ws=WsConfig(depth_ms=0, depth_fast_ms=0, max_connections=1, connection_window_s=2)
)


@pytest.fixture
async def fsim() -> AsyncIterator[Simulator]:
    async with Simulator(FAST) as s:
        yield s
        assert s.bugs == []


def _freeze(sim: Simulator) -> None:
    sim.state.clock.set(drift_ms_per_s=-1000.0)  # server time stands still from here


@pytest.fixture
async def elsewhere() -> AsyncIterator[aiohttp.ClientSession]:
    """The test's own REST client, from 127.0.0.2: the simulator's log tells its requests from
    the gateway's (127.0.0.1)."""
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as s:
        yield s


def _rest_count(sim: Simulator, path: str) -> int:
    """What the gateway sent upstream to `path` (REST)."""
    return sum(
        1
        for r in sim.state.requests
        if r["path"] == path and not r.get("ws") and r["ip"] == "127.0.0.1"
    )


async def _same_as_rest(
    gw_api: Api, sim_api: Api, path: str, params: dict[str, Any], wait_s: float = 5
) -> None:
    """Poll until the gateway answers from its cache, then compare with REST's answer."""

    async def both() -> tuple[str | None, Any, Any]:
        ours = await gw_api.get(path, params)
        truth = await sim_api.get(path, params)
        assert ours.status == truth.status == 200, (ours.body, truth.body)
        return ours.headers.get(GATEWAY_HEADER), ours.body, truth.body

    await poll(both, lambda t: t[0] == "cache" and t[1] == t[2], wait_s=wait_s)


async def test_ticker_24hr_full_and_mini_equal_rest(
    fsim: Simulator, session: aiohttp.ClientSession, elsewhere: aiohttp.ClientSession
) -> None:
    key = fsim.config.demo.keys[0]
    direct = Api(elsewhere, fsim.url, key.api_key, key.secret)
    async with Gateway(gw_config(fsim.url, cache_ttl_s=10)) as gw:
        api = Api(session, gw.url)
        first = await api.get("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"})
        assert first.status == 200 and GATEWAY_HEADER not in first.headers  # starts the stream
        _freeze(fsim)
        for kind in ({}, {"type": "FULL"}, {"type": "MINI"}):
            await _same_as_rest(api, direct, "/api/v3/ticker/24hr", {"symbol": "BTCUSDT", **kind})
        mini = (await api.get("/api/v3/ticker/24hr", {"symbol": "BTCUSDT", "type": "MINI"})).body
        assert list(mini) == list((await direct.get(
            "/api/v3/ticker/24hr", {"symbol": "BTCUSDT", "type": "MINI"})).body)  # fmt: skip
        book = (await direct.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1})).body
        taken = await direct.order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="IOC",
                                   quantity="0.002", price=book["asks"][0][0])  # fmt: skip
        assert taken.status == 200 and taken.body["fills"]
        await _same_as_rest(api, direct, "/api/v3/ticker/24hr", {"symbol": "BTCUSDT"})
        cached = await api.get("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"})
        assert cached.body["count"] >= 1 and cached.body["lastQty"] == "0.00200000"
        before = _rest_count(fsim, "/api/v3/ticker/24hr")
        for params in ({"symbols": '["BTCUSDT"]'}, {"symbol": "BTCUSDT", "type": "mini"}, {}):
            reply = await api.get("/api/v3/ticker/24hr", params)  # not one symbol's FULL/MINI
            assert GATEWAY_HEADER not in reply.headers
        assert _rest_count(fsim, "/api/v3/ticker/24hr") == before + 3


async def test_avg_price_equals_rest(fsim: Simulator, session: aiohttp.ClientSession) -> None:
    direct = Api(session, fsim.url)
    async with Gateway(gw_config(fsim.url, cache_ttl_s=10)) as gw:
        api = Api(session, gw.url)
        assert (
            GATEWAY_HEADER not in (await api.get("/api/v3/avgPrice", {"symbol": "ETHBTC"})).headers
        )
        _freeze(fsim)
        await _same_as_rest(api, direct, "/api/v3/avgPrice", {"symbol": "ETHBTC"})
        body = (await api.get("/api/v3/avgPrice", {"symbol": "ETHBTC"})).body
        assert list(body) == ["mins", "price", "closeTime"] and body["mins"] == 5


KLINE_REQUESTS: list[dict[str, Any]] = [
    {},
    {"limit": 1},
    {"limit": 1000},
    {"limit": 5000},  # capped at 1000, as REST caps it
    {"endTime": "END", "limit": 7},
    {"startTime": "START", "limit": 3},
    {"startTime": "START", "endTime": "END"},
    {"startTime": "START_MID"},  # inside a candle: from the next one
    {"startTime": "FUTURE"},
]


def _times(rows: list[list[Any]]) -> dict[str, int]:
    return {"START": rows[-50][0], "START_MID": rows[-40][0] + 1, "END": rows[-20][0] + 5,
            "FUTURE": rows[-1][6]}  # fmt: skip


@pytest.mark.parametrize("path", ["/api/v3/klines", "/api/v3/uiKlines"])
async def test_klines_backfilled_once_then_from_the_stream(
    fsim: Simulator, session: aiohttp.ClientSession, elsewhere: aiohttp.ClientSession, path: str
) -> None:
    key = fsim.config.demo.keys[0]
    direct = Api(elsewhere, fsim.url, key.api_key, key.secret)
    base = {"symbol": "BTCUSDT", "interval": "1m"}
    async with Gateway(gw_config(fsim.url, cache_ttl_s=10)) as gw:
        api = Api(session, gw.url)
        assert GATEWAY_HEADER not in (await api.get(path, base)).headers  # starts the stream
        _freeze(fsim)
        await _same_as_rest(api, direct, path, base)
        asked = _rest_count(fsim, path)  # the bot's, the backfill, those sent while it ran
        rows = (await direct.get(path, {**base, "limit": 1000})).body
        times = _times(rows)
        for request in KLINE_REQUESTS:
            params = {**base, **{k: times.get(str(v), v) for k, v in request.items()}}
            reply, truth = await api.get(path, params), await direct.get(path, params)
            assert reply.headers.get(GATEWAY_HEADER) == "cache", params
            assert reply.body == truth.body, params
        assert _rest_count(fsim, path) == asked  # all of them from the cache
        book = (await direct.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1})).body
        taken = await direct.order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="IOC",
                                   quantity="0.002", price=book["asks"][0][0])  # fmt: skip
        assert taken.status == 200
        await _same_as_rest(api, direct, path, {**base, "limit": 2})  # the trade came by stream
        before = _rest_count(fsim, path)
        older = {**base, "startTime": rows[0][0] - 60_000, "limit": 5}  # before the backfill
        for params in (older, {**base, "timeZone": "+08:00"}, {**base, "limit": 0}):
            assert GATEWAY_HEADER not in (await api.get(path, params)).headers
        assert _rest_count(fsim, path) == before + 3


async def test_a_dropped_stream_sends_requests_upstream_until_it_spoke_again(
    session: aiohttp.ClientSession, elsewhere: aiohttp.ClientSession
) -> None:
    """The upstream socket is reset and its reconnects refused for a while: meanwhile every
    request is forwarded; once it is back, the caches answer again (klines after a new
    backfill), and equal REST."""
    async with Simulator(ONE_CONNECTION) as sim:
        direct = Api(elsewhere, sim.url)
        requests: list[tuple[str, dict[str, Any]]] = [
            ("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}),
            ("/api/v3/avgPrice", {"symbol": "BTCUSDT"}),
            ("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": 3}),
        ]
        _freeze(sim)
        async with Gateway(gw_config(sim.url, cache_ttl_s=10)) as gw:
            api = Api(session, gw.url)
            for path, params in requests:
                await api.get(path, params)
            for path, params in requests:
                await _same_as_rest(api, direct, path, params)
            _drop_streams(sim)
            await poll(lambda: _refused_connects(sim), lambda n: n >= 1)
            for path, params in requests:
                reply = await api.get(path, params)
                assert reply.status == 200 and GATEWAY_HEADER not in reply.headers, path
            backfills = _rest_count(sim, "/api/v3/klines")
            sim.state.clock.jump(2_000)  # a new connection window: the gateway reconnects
            for path, params in requests:
                await _same_as_rest(api, direct, path, params, wait_s=10)
            assert _rest_count(sim, "/api/v3/klines") > backfills  # backfilled again
        assert sim.bugs == []


def _drop_streams(sim: Simulator) -> None:
    """Reset every live market stream connection of the simulator (a network failure)."""
    assert sim.app is not None
    for conn in list(sim.app[HUB_KEY].conns.values()):
        if isinstance(conn, StreamConn):
            conn.reset("test: upstream lost")


async def _refused_connects(sim: Simulator) -> int:
    return sum(
        1
        for r in sim.state.requests
        if r.get("ws") == "stream" and r["method"] == "CONNECT" and r["status"] == 429
    )


def _upstream_streams(sim: Simulator) -> set[str]:
    """The streams the simulator's stream connections are subscribed to."""
    assert sim.app is not None
    return {
        name
        for conn in sim.app[HUB_KEY].conns.values()
        if isinstance(conn, StreamConn)
        for name in conn.subscriptions
    }


async def test_streams_nobody_asks_about_are_unsubscribed(
    fsim: Simulator, session: aiohttp.ClientSession
) -> None:
    async with Gateway(gw_config(fsim.url, cache_ttl_s=10, cache_idle_s=0.3)) as gw:
        api = Api(session, gw.url)
        kline = {"symbol": "BTCUSDT", "interval": "5m", "limit": 2}
        await api.get("/api/v3/avgPrice", {"symbol": "BTCUSDT"})
        await api.get("/api/v3/klines", kline)

        async def streams() -> set[str]:
            return _upstream_streams(fsim)

        wanted = {"btcusdt@avgPrice", "btcusdt@kline_5m"}
        await poll(streams, lambda s: s >= wanted)

        async def after_a_miss() -> set[str]:  # a request the caches cannot answer sweeps them
            await api.get("/api/v3/ticker/24hr", {"symbols": '["ETHUSDT"]'})
            return _upstream_streams(fsim)

        await poll(after_a_miss, lambda s: not s & wanted)
        assert GATEWAY_HEADER not in (await api.get("/api/v3/klines", kline)).headers
        await poll(streams, lambda s: "btcusdt@kline_5m" in s)  # asked again: subscribed again


async def test_cached_market_data_goes_on_during_a_ban(
    fsim: Simulator, session: aiohttp.ClientSession
) -> None:
    """Issue 14 item 3: while banned nothing reaches upstream, and the caches still answer."""
    async with Gateway(gw_config(fsim.url, cache_ttl_s=10)) as gw:
        api = Api(session, gw.url)
        asks = [
            ("/api/v3/ticker/24hr", {"symbol": "BTCUSDT", "type": "MINI"}),
            ("/api/v3/avgPrice", {"symbol": "BTCUSDT"}),
            ("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": 10}),
        ]
        for path, params in asks:

            async def source(path: str = path, params: dict[str, Any] = params) -> str | None:
                return (await api.get(path, params)).headers.get(GATEWAY_HEADER)

            await poll(source, lambda s: s == "cache", wait_s=5)
        load_faults(fsim, {"action": "http_418", "path": "/api/v3/depth", "ban_s": 30})
        assert (await api.get("/api/v3/depth", {"symbol": "BTCUSDT"})).status == 418
        seen = len(upstream_paths(fsim))
        for path, params in asks:
            reply = await api.get(path, params)
            assert reply.status == 200 and reply.headers[GATEWAY_HEADER] == "cache", path
        other = await api.get("/api/v3/klines", {"symbol": "ETHBTC", "interval": "1h"})
        assert other.status == 418  # not cached: answered locally, not sent
        assert len(upstream_paths(fsim)) == seen
