"""Real clients load market data from the simulator, unchanged but for the pointing helpers
(test-only dependencies: ccxt with ccxt.pro inside it, python-binance).

ccxt runs with its default options (no `fetchMarkets`/`fetchCurrencies`/`fetchMargins`): its
start-up calls to /sapi and the futures exchangeInfo are served (sim/sapi.py). The crowd trades
on a timer here, so the watch_* calls and the sockets receive live data.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest

from binguard.sim import FlowConfig, Simulator
from binguard.sim.config import MarketConfig
from binguard.sim.peers import point_ccxt, point_python_binance

from .conftest import WS_QUIET

ccxt = pytest.importorskip("ccxt.async_support")
ccxtpro = pytest.importorskip("ccxt.pro")
binance = pytest.importorskip("binance")

LIVE = WS_QUIET.with_(flow=FlowConfig(interval_ms=50), market=MarketConfig(stream_ms=100))
WAIT_S = 10.0


@pytest.fixture
async def live() -> AsyncIterator[Simulator]:
    async with Simulator(LIVE) as s:
        yield s
        assert s.bugs == []


def _keys(sim: Simulator) -> dict[str, str]:
    key = sim.config.demo.keys[0]
    return {"apiKey": key.api_key, "secret": key.secret}


def _paths(sim: Simulator) -> list[str]:
    return [r["path"] for r in sim.state.requests]


async def test_ccxt_with_default_options(live: Simulator) -> None:
    ex = point_ccxt(ccxt.binance(_keys(live)), live.url)
    try:
        markets = await ex.load_markets()
        assert {"BTC/USDT", "ETH/USDT", "ETH/BTC"} <= set(markets)
        assert ex.currencies["BTC"]["id"] == "BTC"  # from /sapi/v1/capital/config/getall
        candles = await ex.fetch_ohlcv("BTC/USDT", "5m", limit=1000)
        assert len(candles) == 1000
        assert all(b[0] - a[0] == 300_000 for a, b in itertools.pairwise(candles))
        since = await ex.fetch_ohlcv("BTC/USDT", "5m", since=candles[100][0], limit=10)
        assert since == candles[100:110]
        ticker = await ex.fetch_ticker("BTC/USDT")
        assert ticker["symbol"] == "BTC/USDT" and ticker["last"] > 0 and ticker["bid"] > 0
        tickers = await ex.fetch_tickers()
        assert set(tickers) == {"BTC/USDT", "ETH/USDT", "ETH/BTC"}
        book = await ex.fetch_order_book("BTC/USDT", 10)
        assert book["bids"][0][0] < book["asks"][0][0] and len(book["bids"]) == 10
        fees = await ex.fetch_trading_fees()
        assert fees["ETH/BTC"]["maker"] == pytest.approx(0.001)
        balance = await ex.fetch_balance()
        assert balance["USDT"]["free"] == pytest.approx(100000)
        trades = await _eventually_trades(ex)
        assert trades[-1]["price"] > 0 and trades[-1]["symbol"] == "BTC/USDT"
    finally:
        await ex.close()
    paths = set(_paths(live))
    assert {"/sapi/v1/capital/config/getall", "/sapi/v1/margin/allPairs", "/api/v3/klines"} <= paths
    assert {"/api/v3/ticker/24hr", "/sapi/v1/asset/tradeFee", "/fapi/v1/exchangeInfo"} <= paths


async def _eventually_trades(ex: Any) -> list[dict[str, Any]]:
    """fetch_trades until the crowd has traded (bounded)."""
    for _ in range(100):
        trades = list(await ex.fetch_trades("BTC/USDT"))
        if trades:
            return trades
    raise AssertionError("the crowd never traded")


async def test_ccxt_pro_watches(live: Simulator) -> None:
    import asyncio

    ex = point_ccxt(ccxtpro.binance(_keys(live)), live.url)
    assert isinstance(ex.urls["api"]["ws"], dict)
    try:
        await ex.load_markets()
        candles = await asyncio.wait_for(ex.watch_ohlcv("BTC/USDT", "1m"), WAIT_S)
        assert candles and candles[-1][0] % 60_000 == 0 and candles[-1][4] > 0
        ticker = await asyncio.wait_for(ex.watch_ticker("BTC/USDT"), WAIT_S)
        assert ticker["symbol"] == "BTC/USDT" and ticker["last"] > 0
        trades = await asyncio.wait_for(ex.watch_trades("BTC/USDT"), WAIT_S)
        assert trades and trades[-1]["symbol"] == "BTC/USDT"
        book = await asyncio.wait_for(ex.watch_order_book("BTC/USDT"), WAIT_S)
        assert book["bids"] and book["asks"] and book["bids"][0][0] < book["asks"][0][0]
        again = await asyncio.wait_for(ex.watch_order_book("BTC/USDT"), WAIT_S)
        assert again["nonce"] >= book["nonce"]
    finally:
        await ex.close()
    streams = [r for r in live.state.requests if r.get("ws") == "stream"]
    assert any(r["method"] == "SUBSCRIBE" for r in streams)  # SUBSCRIBE on ccxt.pro's /ws/<n>


async def test_python_binance_market_data(live: Simulator) -> None:
    import asyncio

    client = point_python_binance(binance.AsyncClient(**_python_binance_keys(live)), live.url)
    try:
        klines = await client.get_klines(symbol="BTCUSDT", interval="15m", limit=20)
        assert len(klines) == 20 and klines[-1][6] == klines[-1][0] + 899_999
        before = _paths(live).count("/api/v3/klines")
        history = await client.get_historical_klines("BTCUSDT", "1m", "3 days ago UTC")
        assert _paths(live).count("/api/v3/klines") - before >= 5  # pages of 1000
        opens = [k[0] for k in history]
        assert len(history) >= 3 * 1440 and opens == sorted(set(opens))
        assert all(b - a == 60_000 for a, b in itertools.pairwise(opens))
        ticker = await client.get_ticker(symbol="BTCUSDT")
        assert ticker["symbol"] == "BTCUSDT" and float(ticker["volume"]) > 0
        aggs = await _eventually_aggs(client)
        assert {"a", "p", "q", "f", "l", "T", "m", "M"} <= set(aggs[-1])
        bm = point_python_binance(binance.BinanceSocketManager(client), live.url)
        async with bm.kline_socket("BTCUSDT") as socket:
            event = await asyncio.wait_for(socket.recv(), WAIT_S)
        assert event["e"] == "kline" and event["k"]["i"] == "1m"
        book = await client.ws_get_order_book(symbol="BTCUSDT", limit=5)  # the WebSocket API
        assert len(book["bids"]) == 5
    finally:
        await client.close_connection()
    assert "/ws-api/v3" in {r["path"] for r in live.state.requests if r.get("ws") == "api"}


def _python_binance_keys(sim: Simulator) -> dict[str, str]:
    key = sim.config.demo.keys[0]
    return {"api_key": key.api_key, "api_secret": key.secret}


async def _eventually_aggs(client: Any) -> list[dict[str, Any]]:
    for _ in range(100):
        aggs = list(await client.get_aggregate_trades(symbol="BTCUSDT"))
        if aggs:
            return aggs
    raise AssertionError("the crowd never traded")
