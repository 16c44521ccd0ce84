"""Candle, ticker, aggregate trade and partial depth streams over loopback (web-socket-streams.md
§Detailed Stream information): every stream type raw, combined and by SUBSCRIBE on a bare `/ws/0`
(as ccxt.pro connects), payload shapes, and agreement with REST: a kline's last update equals
`GET /api/v3/klines`, an aggTrade event equals `GET /api/v3/aggTrades`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from binguard.sim import Simulator
from binguard.sim.config import MarketConfig

from .conftest import WS_QUIET
from .helpers import Api, recv_json

FAST = WS_QUIET.with_(market=MarketConfig(stream_ms=100))
FAST_BARE = WS_QUIET.with_(market=MarketConfig(stream_ms=100, history_days=0))
TICKER_24H = {"e", "E", "s", "p", "P", "w", "x", "c", "Q", "b", "B", "a", "A", "o", "h", "l",
              "v", "q", "O", "C", "F", "L", "n"}  # fmt: skip
WINDOW = {"e", "E", "s", "p", "P", "o", "h", "l", "c", "w", "v", "q", "O", "C", "F", "L", "n"}
MINI = {"e", "E", "s", "c", "o", "h", "l", "v", "q"}
KLINE = {"t", "T", "s", "i", "f", "L", "o", "c", "h", "l", "v", "n", "x", "q", "V", "Q", "B"}


@pytest.fixture
async def fsim() -> AsyncIterator[Simulator]:
    async with Simulator(FAST) as s:
        yield s
        assert s.bugs == []


@pytest.fixture
def fapi(fsim: Simulator, session: aiohttp.ClientSession) -> Api:
    key = fsim.config.demo.keys[0]
    return Api(session, fsim.url, key.api_key, key.secret)


async def _take_ask(api: Api) -> None:
    book = (await api.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1})).body
    reply = await api.order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="IOC",
                            quantity="0.002", price=book["asks"][0][0])  # fmt: skip
    assert reply.status == 200 and reply.body["fills"], reply.body


async def _until(ws: aiohttp.ClientWebSocketResponse, check: Any, frames: int = 200) -> Any:
    """The first frame that satisfies `check` (bounded by a frame count and recv timeouts)."""
    for _ in range(frames):
        data = await recv_json(ws, 5.0)
        if check(data):
            return data
    raise AssertionError("no matching frame")


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("btcusdt@kline_1s", lambda d: d["e"] == "kline" and set(d["k"]) == KLINE),
        ("btcusdt@kline_5m", lambda d: d["k"]["i"] == "5m" and d["k"]["t"] % 300_000 == 0),
        ("btcusdt@kline_1d@+08:00", lambda d: d["k"]["t"] % 86_400_000 == 16 * 3_600_000),
        ("btcusdt@kline_1M", lambda d: d["k"]["i"] == "1M"),
        ("btcusdt@miniTicker", lambda d: d["e"] == "24hrMiniTicker" and set(d) == MINI),
        ("btcusdt@ticker", lambda d: d["e"] == "24hrTicker" and set(d) == TICKER_24H),
        ("btcusdt@ticker_1h", lambda d: d["e"] == "1hTicker" and set(d) == WINDOW),
        ("ethbtc@ticker_4h", lambda d: d["e"] == "4hTicker" and d["s"] == "ETHBTC"),
        ("!miniTicker@arr", lambda d: {t["s"] for t in d} == {"BTCUSDT", "ETHUSDT", "ETHBTC"}),
        ("!ticker_1d@arr", lambda d: all(t["e"] == "1dTicker" for t in d) and len(d) == 3),
        ("btcusdt@depth5", lambda d: len(d["bids"]) == len(d["asks"]) == 5),
        ("btcusdt@depth10@100ms", lambda d: len(d["bids"]) == 10 and "lastUpdateId" in d),
        ("btcusdt@depth20", lambda d: len(d["asks"]) == 20),
        (
            "btcusdt@avgPrice",
            lambda d: (
                d["e"] == "avgPrice" and d["i"] == "5m" and set(d) == {"e", "E", "s", "i", "w", "T"}
            ),
        ),
        (
            "btcusdt@referencePrice",
            lambda d: d == {"e": "referencePrice", "s": "BTCUSDT", "r": None, "t": d["t"]},
        ),
    ],
)
async def test_timed_streams_raw_combined_and_subscribed(
    fsim: Simulator, session: aiohttp.ClientSession, name: str, shape: Any
) -> None:
    async with session.ws_connect(f"{fsim.ws_url}/ws/{name}") as ws:
        assert shape(await recv_json(ws))
    async with session.ws_connect(f"{fsim.ws_url}/stream?streams={name}") as ws:
        frame = await recv_json(ws)
        assert frame["stream"] == name and shape(frame["data"])
    async with session.ws_connect(f"{fsim.ws_url}/ws/0") as ws:  # ccxt.pro: /ws/<n>, then SUBSCRIBE
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": [name], "id": 1}))
        assert await recv_json(ws) == {"result": None, "id": 1}
        await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
        listed = await _until(ws, lambda d: isinstance(d, dict) and d.get("id") == 2)
        assert listed == {"result": [name], "id": 2}
        assert shape(await _until(ws, lambda d: d != listed))
        await ws.send_str(json.dumps({"method": "UNSUBSCRIBE", "params": [name], "id": 3}))
        assert await _until(ws, lambda d: isinstance(d, dict) and d.get("id") == 3) == {
            "result": None,
            "id": 3,
        }
        await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 4}))
        assert await recv_json(ws) == {"result": [], "id": 4}  # nothing after the unsubscribe


async def test_agg_trade_stream_equals_rest(
    fsim: Simulator, session: aiohttp.ClientSession, fapi: Api
) -> None:
    async with session.ws_connect(fsim.ws_url + "/ws/btcusdt@aggTrade") as ws:
        await _take_ask(fapi)
        event = await recv_json(ws)
    rest = (await fapi.get("/api/v3/aggTrades", {"symbol": "BTCUSDT", "limit": 1})).body[0]
    assert event["e"] == "aggTrade" and event["s"] == "BTCUSDT"
    assert {k: event[k] for k in rest} == rest


async def test_kline_stream_last_update_equals_rest(
    fsim: Simulator, session: aiohttp.ClientSession, fapi: Api
) -> None:
    async with session.ws_connect(fsim.ws_url + "/ws/btcusdt@kline_1m") as ws:
        first = await recv_json(ws)
        await _take_ask(fapi)
        with_trade = await _until(ws, lambda d: d["k"]["n"] > first["k"]["n"])
        opened = with_trade["k"]["t"]
        final = with_trade
        if not with_trade["k"]["x"]:
            fsim.state.clock.jump(60_000)  # the candle closes: its last update says x = true
            final = await _until(ws, lambda d: d["k"]["x"] and d["k"]["t"] == opened)
        # else the minute ended by itself first: the trade's frame was the candle's last update
        # (web-socket-streams.md: one closing update per candle), no other one comes
    k = final["k"]
    params = {"symbol": "BTCUSDT", "interval": "1m", "startTime": k["t"], "limit": 1}
    row = (await fapi.get("/api/v3/klines", params)).body[0]
    assert row == [k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["T"], k["q"], k["n"],
                   k["V"], k["Q"], "0"]  # fmt: skip


async def test_all_market_arrays_carry_changed_symbols_only(session: aiohttp.ClientSession) -> None:
    async with (
        Simulator(FAST_BARE) as sim,
        session.ws_connect(sim.ws_url + "/ws/!miniTicker@arr") as ws,
    ):
        key = sim.config.demo.keys[0]
        api = Api(session, sim.url, key.api_key, key.secret)
        first = await recv_json(ws)
        assert {t["s"] for t in first} == {"BTCUSDT", "ETHUSDT", "ETHBTC"}
        await _take_ask(api)
        changed = await recv_json(ws)  # nothing else changes without history or other trades
        assert [t["s"] for t in changed] == ["BTCUSDT"]
        assert sim.bugs == []


async def test_block_trades_stay_silent(
    fsim: Simulator, session: aiohttp.ClientSession, fapi: Api
) -> None:
    url = fsim.ws_url + "/stream?streams=btcusdt@blockTrade/btcusdt@aggTrade/btcusdt@avgPrice"
    async with session.ws_connect(url) as ws:
        await _take_ask(fapi)
        streams = [(await recv_json(ws))["stream"] for _ in range(8)]
    assert "btcusdt@aggTrade" in streams and "btcusdt@avgPrice" in streams
    assert "btcusdt@blockTrade" not in streams  # the simulator has no block trades


@pytest.mark.parametrize(
    "name",
    [
        "btcusdt@kline_2m",
        "btcusdt@ticker_2h",
        "btcusdt@depth15",
        "!ticker@arr",
        "btcusdt@kline_1m@+09:00",
    ],
)
async def test_unknown_kinds_are_invalid(
    fsim: Simulator, session: aiohttp.ClientSession, name: str
) -> None:
    async with session.ws_connect(fsim.ws_url + "/ws/0") as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": [name], "id": 3}))
        assert await recv_json(ws) == {
            "error": {"code": 2, "msg": "Invalid request: invalid stream"},
            "id": 3,
        }


async def test_agg_trades_start_with_the_subscription_and_survive_a_reset(
    fsim: Simulator, session: aiohttp.ClientSession, fapi: Api
) -> None:
    for _ in range(30):  # aggregate trades before anyone listens are not replayed
        fsim.state.crowd.step()
    url = fsim.ws_url + "/stream?streams=btcusdt@aggTrade/btcusdt@trade"
    async with session.ws_connect(url) as ws:
        await _take_ask(fapi)
        frames = [await recv_json(ws)]
        agg = frames[0]["data"] if frames[0]["stream"].endswith("aggTrade") else None
        while agg is None or len(frames) < 2:
            frames.append(await recv_json(ws))
            if frames[-1]["stream"].endswith("aggTrade"):
                agg = frames[-1]["data"]
        trades = [f["data"] for f in frames if f["stream"] == "btcusdt@trade"]
        rest = (await fapi.get("/api/v3/aggTrades", {"symbol": "BTCUSDT", "limit": 1})).body[0]
        assert agg["a"] == rest["a"] and agg["f"] <= trades[0]["t"] <= agg["l"]
        await fapi.admin("reset", "POST")
        await _take_ask(fapi)
        again = await _until(ws, lambda d: d["stream"].endswith("aggTrade"))
        assert again["data"]["a"] == 1  # a fresh exchange: ids from 1 again
