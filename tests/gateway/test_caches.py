"""Market data without weight: exchangeInfo within its TTL and ticker/bookTicker from the
bookTicker stream are answered by the gateway (`X-Binguard-Gateway: cache`), with Binance's
REST body, and go on during a ban."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from tests.sim.helpers import Api, poll

from binguard.gateway import GATEWAY_HEADER, Gateway
from binguard.sim import Simulator

from .conftest import gw_config, load_faults, upstream_paths
from .test_streams import WS_QUIET


@pytest.fixture
async def wsim() -> AsyncIterator[Simulator]:
    async with Simulator(WS_QUIET) as s:
        yield s
        assert s.bugs == []


def _count(sim: Simulator, path: str) -> int:
    return sum(1 for r in sim.state.requests if r["path"] == path and not r.get("ws"))


async def test_exchange_info_is_kept_for_its_ttl(
    wsim: Simulator, session: aiohttp.ClientSession
) -> None:
    async with Gateway(gw_config(wsim.url, cache_ttl_s=30)) as gw:
        api = Api(session, gw.url)
        before = _count(wsim, "/api/v3/exchangeInfo")  # the gateway's own start-up read
        first = await api.get("/api/v3/exchangeInfo", {"symbol": "BTCUSDT"})
        again = await api.get("/api/v3/exchangeInfo", {"symbol": "BTCUSDT"})
        other = await api.get("/api/v3/exchangeInfo", {"symbol": "ETHUSDT"})
    assert GATEWAY_HEADER not in first.headers and again.headers[GATEWAY_HEADER] == "cache"
    assert again.body == first.body and "X-MBX-USED-WEIGHT-1M" in again.headers
    assert other.body["symbols"][0]["symbol"] == "ETHUSDT"
    assert _count(wsim, "/api/v3/exchangeInfo") == before + 2


async def test_a_kept_exchange_info_tells_the_server_time_now(
    wsim: Simulator, session: aiohttp.ClientSession
) -> None:
    """Its `serverTime` moves on with the time it was kept (a bot setting its clock from it
    would else be up to the TTL behind: -1021 on its signed requests)."""
    async with Gateway(gw_config(wsim.url, cache_ttl_s=30)) as gw:
        api = Api(session, gw.url)
        first = await api.get("/api/v3/exchangeInfo", {"symbol": "BTCUSDT"})
        real = gw.caches.clock
        gw.caches.clock = lambda: real() + 7.0  # seven seconds later, as the cache sees it
        later = await api.get("/api/v3/exchangeInfo", {"symbol": "BTCUSDT"})
    assert later.headers[GATEWAY_HEADER] == "cache"
    assert 7000 <= later.body["serverTime"] - first.body["serverTime"] < 8000
    rest = {k: v for k, v in later.body.items() if k != "serverTime"}
    assert rest == {k: v for k, v in first.body.items() if k != "serverTime"}


async def test_book_ticker_comes_from_the_stream_once_it_runs(
    wsim: Simulator, session: aiohttp.ClientSession
) -> None:
    key = wsim.config.demo.keys[0]
    direct = Api(session, wsim.url, key.api_key, key.secret)
    async with Gateway(gw_config(wsim.url, cache_ttl_s=10)) as gw:
        api = Api(session, gw.url)
        first = await api.get("/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"})
        assert GATEWAY_HEADER not in first.headers  # not ready: forwarded
        await poll(lambda: _subscribed(wsim), lambda n: n >= 1)
        wsim.state.crowd.step()  # the stream's first event

        async def ticker() -> tuple[str | None, object]:
            reply = await api.get("/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"})
            return reply.headers.get(GATEWAY_HEADER), reply.body

        _, body = await poll(ticker, lambda t: t[0] == "cache")
        truth = await direct.get("/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"})
        assert body == truth.body  # the same answer as Binance's REST
        load_faults(wsim, {"action": "http_418", "path": "/api/v3/depth", "ban_s": 30})
        assert (await api.get("/api/v3/depth", {"symbol": "BTCUSDT"})).status == 418
        seen = len(upstream_paths(wsim))  # REST: market streams are not the banned API
        during = await api.get("/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"})
        assert during.status == 200 and during.headers[GATEWAY_HEADER] == "cache"
        assert len(upstream_paths(wsim)) == seen


async def _subscribed(sim: Simulator) -> int:
    return sum(
        1 for r in sim.state.requests if r.get("ws") == "stream" and r["method"] == "SUBSCRIBE"
    )


async def test_a_lost_stream_drops_the_cached_ticker(
    wsim: Simulator, session: aiohttp.ClientSession
) -> None:
    """Never staler than its stream: after the upstream socket is lost, requests go upstream
    until the new socket brings an event."""
    load_faults(wsim, {"action": "ws_reset", "path": "/stream", "times": 1, "after_s": 0.5})
    async with Gateway(gw_config(wsim.url, cache_ttl_s=10)) as gw:
        api = Api(session, gw.url)

        async def source() -> str | None:
            reply = await api.get("/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"})
            return reply.headers.get(GATEWAY_HEADER)

        await source()
        await poll(lambda: _subscribed(wsim), lambda n: n >= 1)
        wsim.state.crowd.step()
        await poll(source, lambda s: s == "cache")
        await poll(lambda: _connects(wsim), lambda n: n == 2)  # reset, then reconnected
        assert await source() is None  # forwarded: the cached value went with the stream
        wsim.state.crowd.step()
        await poll(source, lambda s: s == "cache")


async def _connects(sim: Simulator) -> int:
    return sum(
        1 for r in sim.state.requests if r.get("ws") == "stream" and r["method"] == "CONNECT"
    )


async def _depth(api: Api, limit: int = 5) -> tuple[str | None, object]:
    reply = await api.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": limit})
    assert reply.status == 200, reply.body
    return reply.headers.get(GATEWAY_HEADER), reply.body


async def test_depth_comes_from_a_strict_local_book(
    wsim: Simulator, session: aiohttp.ClientSession
) -> None:
    """The book's answer is Binance's REST answer for the same lastUpdateId, for any limit it
    holds; a deeper limit moves it to a deeper snapshot tier (gateway/books.py); after a gap in
    the stream it resyncs and is again exactly right."""
    direct = Api(session, wsim.url)
    async with Gateway(gw_config(wsim.url, cache_ttl_s=10)) as gw:
        api = Api(session, gw.url)
        assert (await _depth(api))[0] is None  # the book starts; this one goes upstream
        await poll(lambda: _depth(api), lambda d: d[0] == "cache")
        assert gw.books is not None
        assert gw.books._books["BTCUSDT"][0].limit == 100  # limit 5: the weight-5 tier
        for limit in (1, 5, 20):
            source, body = await _depth(api, limit)
            truth = (await direct.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": limit})).body
            assert source == "cache" and body == truth
        assert (await _depth(api, 100))[0] is None  # deeper than the tier holds: upstream ...
        assert gw.books._books["BTCUSDT"][0].limit == 500  # ... and a deeper book starts
        await poll(lambda: _depth(api, 100), lambda d: d[0] == "cache")
        source, body = await _depth(api, 100)
        truth = (await direct.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 100})).body
        assert source == "cache" and body == truth
        load_faults(
            wsim, {"action": "ws_gap", "stream": "btcusdt@depth*", "every_nth": 2, "times": 1}
        )
        for _ in range(4):
            wsim.state.crowd.step()
        truth = (await direct.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 10})).body

        async def cached_and_current() -> bool:
            source, body = await _depth(api, 10)
            return source == "cache" and body == truth

        await poll(cached_and_current, lambda ok: ok, wait_s=5)
        book = gw.books._books["BTCUSDT"][0]
        assert book.stats.gaps >= 1 and book.stats.resyncs >= 2  # the gap was seen and healed
    assert [e["action"] for e in wsim.state.faults.log] == ["ws_gap"]


async def test_ticker_price_is_seeded_once_live_then_follows_trades(
    wsim: Simulator, session: aiohttp.ClientSession
) -> None:
    key = wsim.config.demo.keys[0]
    direct = Api(session, wsim.url, key.api_key, key.secret)
    async with Gateway(gw_config(wsim.url, cache_ttl_s=10)) as gw:
        api = Api(session, gw.url)

        async def price() -> tuple[str | None, object]:
            reply = await api.get("/api/v3/ticker/price", {"symbol": "BTCUSDT"})
            return reply.headers.get(GATEWAY_HEADER), reply.body

        assert (await price())[0] is None  # starts the trade stream; forwarded
        await poll(lambda: _subscribed(wsim), lambda n: n >= 1)
        # the next answer sent while the stream is live seeds the cache; then it serves
        _, body = await poll(price, lambda p: p[0] == "cache")
        assert body == (await direct.get("/api/v3/ticker/price", {"symbol": "BTCUSDT"})).body
        book = (await direct.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5})).body
        taken = await direct.order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="IOC",
            quantity="0.001",
            price=book["asks"][0][0],
        )
        assert taken.status == 200
        truth = (await direct.get("/api/v3/ticker/price", {"symbol": "BTCUSDT"})).body
        await poll(price, lambda p: p == ("cache", truth))  # the trade came on the stream
