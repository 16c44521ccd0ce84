"""Tickers, trade history, symbolStatus and the newer market data endpoints over loopback
(rest-api.md §Market Data endpoints): payloads, parameter rules with their exact codes and
messages, weights in X-MBX-USED-WEIGHT-1M, and the OpenAPI spec where it has the endpoint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest
from referencing import Registry

from binguard.sim import Simulator, SymbolSpec
from binguard.sim.config import DEFAULT_SYMBOLS

from .conftest import QUIET
from .helpers import Api, Reply, msg, new_order, own_window
from .test_openapi import check, registry  # noqa: F401 (the spec fixture)

MINI = {"symbol", "openPrice", "highPrice", "lowPrice", "lastPrice", "volume", "quoteVolume",
        "openTime", "closeTime", "firstId", "lastId", "count"}  # fmt: skip
ROLLING_FULL = MINI | {"priceChange", "priceChangePercent", "weightedAvgPrice"}
DAY_FULL = ROLLING_FULL | {"prevClosePrice", "lastQty", "bidPrice", "bidQty", "askPrice", "askQty"}
ALL = json.dumps(["BTCUSDT", "ETHUSDT"], separators=(",", ":"))


async def _weight(sim: Simulator, api: Api, path: str, params: dict[str, object]) -> int:
    own_window(sim, api)
    before = int((await api.get("/api/v3/ping")).headers["X-MBX-USED-WEIGHT-1M"])
    reply = await api.get(path, params)
    assert reply.status == 200, reply.body
    return int(reply.headers["X-MBX-USED-WEIGHT-1M"]) - before


async def test_ticker_24hr_one_several_all(sim: Simulator, api: Api) -> None:
    for _ in range(20):
        sim.state.crowd.step()
    one = (await api.get("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"})).body
    assert set(one) == DAY_FULL and one["symbol"] == "BTCUSDT"
    assert one["closeTime"] - one["openTime"] == 86_400_000
    book = (await api.get("/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"})).body
    assert (one["bidPrice"], one["askPrice"]) == (book["bidPrice"], book["askPrice"])
    several = (await api.get("/api/v3/ticker/24hr", {"symbols": ALL, "type": "MINI"})).body
    assert [t["symbol"] for t in several] == ["BTCUSDT", "ETHUSDT"]
    assert all(set(t) == MINI for t in several)
    every = (await api.get("/api/v3/ticker/24hr")).body
    assert [t["symbol"] for t in every] == ["BTCUSDT", "ETHUSDT", "ETHBTC"]
    assert float(one["volume"]) > 0  # a day of history
    for t in [one, *several, *every]:  # history trades have ids too: Binance's invariant holds
        assert t["count"] == t["lastId"] - t["firstId"] + 1
    trades = (await api.get("/api/v3/trades", {"symbol": "BTCUSDT", "limit": 1})).body
    assert one["lastId"] == trades[-1]["id"]  # the engine's trades continue the history's ids


async def test_rolling_and_trading_day(sim: Simulator, api: Api) -> None:
    now = sim.state.clock.now_ms()
    roll = (await api.get("/api/v3/ticker", {"symbol": "ETHBTC", "windowSize": "7d"})).body
    assert set(roll) == ROLLING_FULL
    assert roll["openTime"] % 60_000 == 0 and 0 <= now - 7 * 86_400_000 - roll["openTime"] < 60_000
    mini = (await api.get("/api/v3/ticker", {"symbols": ALL, "type": "MINI"})).body
    assert [set(t) for t in mini] == [MINI, MINI]
    day = (await api.get("/api/v3/ticker/tradingDay", {"symbol": "BTCUSDT", "timeZone": "8"})).body
    assert set(day) == ROLLING_FULL
    assert day["closeTime"] - day["openTime"] == 86_400_000 - 1
    assert day["openTime"] % 86_400_000 == 16 * 3_600_000  # midnight at UTC+8


async def test_avg_price_and_reference_price(sim: Simulator, api: Api) -> None:
    avg = (await api.get("/api/v3/avgPrice", {"symbol": "BTCUSDT"})).body
    assert avg["mins"] == 5 and 29000 < float(avg["price"]) < 31000
    ref = await api.get("/api/v3/referencePrice", {"symbol": "BTCUSDT"})
    assert (ref.status, ref.code, ref.msg) == (400, -2043, msg(-2043))
    calc = await api.get("/api/v3/referencePrice/calculation", {"symbol": "BTCUSDT"})
    assert (calc.status, calc.code, calc.msg) == (400, -2043, msg(-2043))
    rules = (await api.get("/api/v3/executionRules", {"symbols": ALL})).body
    assert rules == {
        "symbolRules": [{"symbol": "BTCUSDT", "rules": []}, {"symbol": "ETHUSDT", "rules": []}]
    }


async def test_trade_history(sim: Simulator, api: Api) -> None:
    for _ in range(30):
        sim.state.crowd.step()
    recent = (await api.get("/api/v3/trades", {"symbol": "BTCUSDT", "limit": 1000})).body
    second = recent[1]["id"]  # after the history's trade ids
    old = (
        await api.get(
            "/api/v3/historicalTrades", {"symbol": "BTCUSDT", "fromId": second, "limit": 3}
        )
    ).body
    assert old == recent[1:4]
    latest = (await api.get("/api/v3/historicalTrades", {"symbol": "BTCUSDT", "limit": 2})).body
    assert latest == recent[-2:]
    aggs = (await api.get("/api/v3/aggTrades", {"symbol": "BTCUSDT"})).body
    assert aggs and set(aggs[0]) == {"a", "p", "q", "f", "l", "T", "m", "M"}
    page = (await api.get("/api/v3/aggTrades", {"symbol": "BTCUSDT", "fromId": 2, "limit": 2})).body
    assert [a["a"] for a in page] == [2, 3]
    t = aggs[len(aggs) // 2]["T"]
    since = (await api.get("/api/v3/aggTrades", {"symbol": "BTCUSDT", "startTime": t})).body
    assert since == [a for a in aggs if a["T"] >= t]
    before = (
        await api.get("/api/v3/aggTrades", {"symbol": "BTCUSDT", "endTime": t, "limit": 1})
    ).body
    assert before == [a for a in aggs if a["T"] <= t][-1:]
    blocks = await api.get("/api/v3/historicalBlockTrades", {"symbol": "BTCUSDT", "fromId": 1})
    assert (blocks.status, blocks.body) == (200, [])


@pytest.mark.parametrize(
    ("path", "query", "code", "message"),
    [
        ("/api/v3/ticker/24hr", "type=HUGE", -1139, msg(-1139)),
        ("/api/v3/ticker/24hr", "symbol=BTCUSDT&symbols=%5B%22ETHBTC%22%5D", -1128, msg(-1128)),
        ("/api/v3/ticker/24hr", "symbols=%5B%22ETHBTC%22,%22ETHBTC%22%5D", -1151, msg(-1151)),
        ("/api/v3/ticker/24hr", "symbolStatus=OPEN", -1122, msg(-1122)),
        ("/api/v3/ticker", "", -1102, msg(-1102, 2, "symbol", "symbols")),
        ("/api/v3/ticker", "symbol=BTCUSDT&windowSize=1d2h", -1130, msg(-1130, 1, "windowSize")),
        ("/api/v3/ticker", "symbol=BTCUSDT&windowSize=60m", -1130, msg(-1130, 1, "windowSize")),
        ("/api/v3/ticker", "symbol=BTCUSDT&windowSize=8d", -1130, msg(-1130, 1, "windowSize")),
        ("/api/v3/ticker", "symbol=BTCUSDT&type=full", -1139, msg(-1139)),
        ("/api/v3/ticker/tradingDay", "", -1102, msg(-1102, 2, "symbol", "symbols")),
        (
            "/api/v3/ticker/tradingDay",
            "symbol=BTCUSDT&timeZone=15",
            -1130,
            msg(-1130, 1, "timeZone"),
        ),
        ("/api/v3/aggTrades", "symbol=BTCUSDT&fromId=1&startTime=1", -1128, msg(-1128)),
        ("/api/v3/aggTrades", "symbol=BTCUSDT&limit=0", -1130, msg(-1130, 1, "limit")),
        ("/api/v3/historicalTrades", "limit=5", -1102, msg(-1102, 1, "symbol")),
        (
            "/api/v3/historicalTrades",
            "symbol=BTCUSDT&fromId=a",
            -1100,
            msg(-1100, 1, "fromId", "^[0-9]{1,20}$"),
        ),
        ("/api/v3/historicalBlockTrades", "symbol=BTCUSDT", -1102, msg(-1102, 1, "fromId")),
        ("/api/v3/avgPrice", "symbol=BTCUSDT&x=1", -1104, msg(-1104, 1, 1, 2)),
        ("/api/v3/referencePrice", "", -1102, msg(-1102, 1, "symbol")),
        ("/api/v3/executionRules", "symbol=BTCUSDT&symbolStatus=TRADING", -1128, msg(-1128)),
        ("/api/v3/exchangeInfo", "symbol=BTCUSDT&symbolStatus=TRADING", -1128, msg(-1128)),
    ],
)
async def test_validation(api: Api, path: str, query: str, code: int, message: str) -> None:
    reply = await api.raw("GET", path, query=query)
    assert (reply.status, reply.code, reply.msg) == (400, code, message)


@pytest.mark.parametrize(
    ("path", "params", "weight"),
    [
        ("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}, 2),
        ("/api/v3/ticker/24hr", {"symbols": ALL}, 2),
        ("/api/v3/ticker/24hr", {}, 80),
        ("/api/v3/ticker", {"symbol": "BTCUSDT"}, 4),
        ("/api/v3/ticker", {"symbols": ALL}, 8),
        ("/api/v3/ticker/tradingDay", {"symbols": ALL}, 8),
        ("/api/v3/aggTrades", {"symbol": "BTCUSDT"}, 4),
        ("/api/v3/historicalTrades", {"symbol": "BTCUSDT"}, 25),
        ("/api/v3/historicalBlockTrades", {"symbol": "BTCUSDT", "fromId": 1}, 25),
        ("/api/v3/avgPrice", {"symbol": "BTCUSDT"}, 2),
        ("/api/v3/executionRules", {"symbol": "BTCUSDT"}, 2),
        ("/api/v3/executionRules", {"symbols": ALL}, 4),
        ("/api/v3/executionRules", {}, 40),
        ("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 600}, 50),
    ],
)
async def test_weights(
    sim: Simulator, api: Api, path: str, params: dict[str, object], weight: int
) -> None:
    assert await _weight(sim, api, path, params) == weight


# ----- symbolStatus (CHANGELOG 2025-10-28): one HALT symbol among TRADING ones ---------------------
HALTED = QUIET.with_(
    symbols=(*DEFAULT_SYMBOLS, SymbolSpec("BNBUSDT", "BNB", "USDT", "600.00", status="HALT"))
)


@pytest.fixture
async def halted() -> AsyncIterator[Api]:
    async with Simulator(HALTED) as s, aiohttp.ClientSession() as session:
        yield Api(session, s.url)
        assert s.bugs == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v3/depth",
        "/api/v3/ticker/price",
        "/api/v3/ticker/bookTicker",
        "/api/v3/ticker/24hr",
        "/api/v3/ticker/tradingDay",
        "/api/v3/ticker",
        "/api/v3/referencePrice/calculation",
    ],
)
async def test_symbol_status_mismatch_is_1220(halted: Api, path: str) -> None:
    reply = await halted.get(path, {"symbol": "BNBUSDT", "symbolStatus": "TRADING"})
    assert (reply.status, reply.code, reply.msg) == (400, -1220, msg(-1220))


async def test_symbol_status_filters_lists(halted: Api) -> None:
    both = json.dumps(["BTCUSDT", "BNBUSDT"], separators=(",", ":"))
    for path in (
        "/api/v3/ticker/price",
        "/api/v3/ticker/24hr",
        "/api/v3/ticker",
        "/api/v3/ticker/tradingDay",
    ):
        reply = await halted.get(path, {"symbols": both, "symbolStatus": "HALT"})
        assert [t["symbol"] for t in reply.body] == ["BNBUSDT"], path
    every = await halted.get("/api/v3/ticker/bookTicker", {"symbolStatus": "TRADING"})
    assert [t["symbol"] for t in every.body] == ["BTCUSDT", "ETHUSDT", "ETHBTC"]
    info = await halted.get("/api/v3/exchangeInfo", {"symbolStatus": "HALT"})
    assert [s["symbol"] for s in info.body["symbols"]] == ["BNBUSDT"]
    rules = await halted.get("/api/v3/executionRules", {"symbolStatus": "CANCEL_ONLY"})
    assert rules.body == {"symbolRules": []}
    none = await halted.get("/api/v3/ticker/price", {"symbols": both, "symbolStatus": "BREAK"})
    assert none.body == []


async def test_responses_match_the_spec(sim: Simulator, api: Api, registry: Registry) -> None:  # noqa: F811
    """The FULL shapes for one symbol (the spec has no MINI schema for these paths, and none
    of the list that rolling `ticker` answers for `symbols`)."""
    for _ in range(20):
        sim.state.crowd.step()
    cases = [
        ("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h"}),
        ("/api/v3/uiKlines", {"symbol": "BTCUSDT", "interval": "1m", "timeZone": "8"}),
        ("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "7m"}),  # 400
        ("/api/v3/aggTrades", {"symbol": "BTCUSDT"}),
        ("/api/v3/historicalTrades", {"symbol": "BTCUSDT"}),
        ("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}),
        ("/api/v3/ticker/24hr", {}),
        ("/api/v3/ticker/tradingDay", {"symbol": "BTCUSDT"}),
        ("/api/v3/ticker/tradingDay", {"symbols": ALL}),
        ("/api/v3/ticker", {"symbol": "BTCUSDT"}),
        ("/api/v3/ticker/price", {"symbol": "BTCUSDT", "symbolStatus": "TRADING"}),
        ("/api/v3/depth", {"symbol": "BTCUSDT", "symbolStatus": "TRADING"}),
    ]
    for path, params in cases:
        reply = await api.get(path, params)
        if path == "/api/v3/aggTrades":
            # the spec types `T` as boolean (its own description says "Timestamp"); rest-api.md
            # gives epoch ms, as served: checked here, left out of the spec check
            assert reply.body and all(isinstance(a["T"], int) for a in reply.body)
            reply = Reply(reply.status, reply.headers, [{**a, "T": True} for a in reply.body])
        check(registry, reply, path, "GET")


async def test_aggregate_trades_group_one_taker(me: Api, them: Api) -> None:
    """aggTrades (rest-api.md): the trades of one taker order at one price are one aggregate
    trade; the next taker's trade at that price starts another."""
    for _ in range(3):
        rest = await them.order(**new_order("SELL", "LIMIT", "0.01", price="30000"))
        assert rest.body["status"] == "NEW"
    sweep = await me.order(**new_order("BUY", "LIMIT", "0.02", price="30000", timeInForce="IOC"))
    single = await me.order(**new_order("BUY", "LIMIT", "0.01", price="30000", timeInForce="IOC"))
    assert (sweep.body["status"], single.body["status"]) == ("FILLED", "FILLED")
    ids = [f["tradeId"] for f in sweep.body["fills"] + single.body["fills"]]
    aggs = (await me.get("/api/v3/aggTrades", {"symbol": "BTCUSDT"})).body
    assert [(a["f"], a["l"], a["q"]) for a in aggs] == [
        (ids[0], ids[1], "0.02000000"),
        (ids[2], ids[2], "0.01000000"),
    ]
