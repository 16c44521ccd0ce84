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

from .conftest import gw_config, load_faults
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


async def test_book_ticker_comes_from_the_stream_once_it_runs(
    wsim: Simulator, session: aiohttp.ClientSession
) -> None:
    key = wsim.config.demo.keys[0]
    direct = Api(session, wsim.url, key.api_key, key.secret)
    async with Gateway(gw_config(wsim.url)) as gw:
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
        seen = len(wsim.state.requests)
        during = await api.get("/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"})
        assert during.status == 200 and during.headers[GATEWAY_HEADER] == "cache"
        assert len(wsim.state.requests) == seen


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
    async with Gateway(gw_config(wsim.url)) as gw:
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
