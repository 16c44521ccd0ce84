"""Candles, tickers and aggregate trades equal the simulator's own trades (no history, so every
candle comes from the engine): for every interval, o/h/l/c, volumes and counts of each candle are
those of the trades `historicalTrades` lists; ticker/24hr, the rolling and trading-day tickers
are the aggregate of the trades; aggTrades partition them (rest-api.md §Market Data endpoints)."""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from binguard.sim import Simulator
from binguard.sim.config import MarketConfig

from .conftest import QUIET
from .helpers import INTERVAL_MS, Api

NO_HISTORY = QUIET.with_(market=MarketConfig(history_days=0))


def open_of(interval: str, t: int) -> int:
    """The candle's open time, computed here independently of the simulator."""
    if interval == "1M":
        d = datetime.fromtimestamp(t / 1000, UTC)
        return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp() * 1000)
    size, shift = INTERVAL_MS[interval], (4 * 86_400_000 if interval == "1w" else 0)
    return (t - shift) // size * size + shift


def aggregate(trades: list[dict[str, Any]]) -> dict[str, Any]:
    prices = [Decimal(t["price"]) for t in trades]
    taker_buys = [t for t in trades if not t["isBuyerMaker"]]
    return {
        "o": prices[0],
        "h": max(prices),
        "l": min(prices),
        "c": prices[-1],
        "v": sum(Decimal(t["qty"]) for t in trades),
        "q": sum(Decimal(t["quoteQty"]) for t in trades),
        "n": len(trades),
        "V": sum((Decimal(t["qty"]) for t in taker_buys), Decimal(0)),
        "Q": sum((Decimal(t["quoteQty"]) for t in taker_buys), Decimal(0)),
    }


def of_row(r: list[Any]) -> dict[str, Any]:
    d = Decimal
    return {"o": d(r[1]), "h": d(r[2]), "l": d(r[3]), "c": d(r[4]), "v": d(r[5]),
            "q": d(r[7]), "n": r[8], "V": d(r[9]), "Q": d(r[10])}  # fmt: skip


@pytest.fixture
async def bare() -> AsyncIterator[Simulator]:
    async with Simulator(NO_HISTORY) as s:
        yield s
        assert s.bugs == []


@pytest.fixture
def bapi(bare: Simulator, session: aiohttp.ClientSession) -> Api:
    key = bare.config.demo.keys[0]
    return Api(session, bare.url, key.api_key, key.secret)


async def _trades(api: Api) -> list[dict[str, Any]]:
    reply = await api.get(
        "/api/v3/historicalTrades", {"symbol": "BTCUSDT", "fromId": 1, "limit": 1000}
    )
    assert reply.status == 200 and 0 < len(reply.body) < 1000
    return list(reply.body)


async def test_candles_equal_the_trades_for_every_interval(bare: Simulator, bapi: Api) -> None:
    rng = random.Random(7)
    mine = await bapi.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    assert mine.status == 200 and mine.body["fills"]
    my_ids = {
        t["id"]
        for t in (await bapi.get("/api/v3/myTrades", {"symbol": "BTCUSDT"}, signed=True)).body
    }
    for _ in range(40):  # the crowd trades, and the server clock moves minutes to hours on
        for _ in range(3):
            bare.state.crowd.step()
        bare.state.clock.jump(rng.randint(300, 4 * 3_600_000))
    trades = await _trades(bapi)
    assert my_ids and my_ids <= {t["id"] for t in trades}
    for interval in [*INTERVAL_MS, "1M"]:
        buckets: dict[int, list[dict[str, Any]]] = {}
        for t in trades:
            buckets.setdefault(open_of(interval, t["time"]), []).append(t)
        for open_ms, inside in buckets.items():
            params = {"symbol": "BTCUSDT", "interval": interval, "startTime": open_ms, "limit": 1}
            rows = (await bapi.get("/api/v3/klines", params)).body
            assert rows[0][0] == open_ms, (interval, rows)
            assert of_row(rows[0]) == aggregate(inside), (interval, open_ms)


async def test_empty_candles_are_flat_at_the_previous_close(bare: Simulator, bapi: Api) -> None:
    for _ in range(10):
        bare.state.crowd.step()
    bare.state.clock.jump(3 * 3_600_000)
    trades = await _trades(bapi)
    rows = (await bapi.get("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h"})).body
    with_trades = {open_of("1h", t["time"]) for t in trades}
    last_close = None
    for r in rows:
        if r[0] not in with_trades:
            assert r[8] == 0 and r[5] == "0.00000000"
            assert r[1] == r[2] == r[3] == r[4] == (last_close or r[1])
        last_close = r[4]
    assert rows[-1][4] == trades[-1]["price"] and rows[-1][8] == 0


async def test_tickers_are_the_aggregate_of_the_trades(bare: Simulator, bapi: Api) -> None:
    for _ in range(30):
        bare.state.crowd.step()
    trades = await _trades(bapi)
    expected = aggregate(trades)
    day = (await bapi.get("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"})).body
    rolling = (await bapi.get("/api/v3/ticker", {"symbol": "BTCUSDT", "windowSize": "1h"})).body
    trading = (await bapi.get("/api/v3/ticker/tradingDay", {"symbol": "BTCUSDT"})).body
    for body in (day, rolling, trading):
        assert Decimal(body["openPrice"]) == expected["o"]
        assert Decimal(body["highPrice"]) == expected["h"]
        assert Decimal(body["lowPrice"]) == expected["l"]
        assert Decimal(body["lastPrice"]) == expected["c"]
        assert Decimal(body["volume"]) == expected["v"]
        assert Decimal(body["quoteVolume"]) == expected["q"]
        assert (body["count"], body["firstId"], body["lastId"]) == (
            len(trades),
            trades[0]["id"],
            trades[-1]["id"],
        )
        avg = (expected["q"] / expected["v"]).quantize(Decimal("0.00000001"), rounding="ROUND_DOWN")
        assert Decimal(body["weightedAvgPrice"]) == avg
        change = expected["c"] - expected["o"]
        assert Decimal(body["priceChange"]) == change
        assert body["priceChangePercent"] == f"{change * 100 / expected['o']:.3f}"
    assert day["lastQty"] == trades[-1]["qty"]
    assert day["prevClosePrice"] == "30000.00000000"


async def test_aggregate_trades_partition_the_trades(bare: Simulator, bapi: Api) -> None:
    for _ in range(30):
        bare.state.crowd.step()
    trades = await _trades(bapi)
    aggs = (await bapi.get("/api/v3/aggTrades", {"symbol": "BTCUSDT", "limit": 1000})).body
    by_id = {t["id"]: t for t in trades}
    assert aggs[0]["f"] == trades[0]["id"] and aggs[-1]["l"] == trades[-1]["id"]
    for a, b in itertools.pairwise(aggs):
        assert b["a"] == a["a"] + 1 and b["f"] == a["l"] + 1
    for a in aggs:
        members = [by_id[i] for i in range(a["f"], a["l"] + 1)]
        assert {m["price"] for m in members} == {a["p"]}
        assert {m["time"] for m in members} == {a["T"]}
        assert {m["isBuyerMaker"] for m in members} == {a["m"]}
        assert sum(Decimal(m["qty"]) for m in members) == Decimal(a["q"])
