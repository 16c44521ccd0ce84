"""Typed market data events through `bn.stream(...)` over the simulator's real WebSocket streams
(web-socket-streams.md §Detailed Stream information): candles with `closed`, aggregate trades,
tickers (24h, mini, rolling, all-market arrays), the average price; a candle stream's last update
of a candle equals the same candle over REST; a malformed payload is counted, never delivered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from binguard.connector import BookTicker
from binguard.connector.market_models import AggTrade, AvgPrice, Candle, PublicTrade, Ticker
from binguard.connector.streams import StreamEvent, Subscription, stream_name
from binguard.sim import Simulator
from binguard.sim.config import MarketConfig

from .conftest import OPTIONS, WS_SIM, MakeConnector, _connectors, crowd, running
from .ws_support import assert_streams_on_sim

# The documented update unit (1000 ms) shrunk to 100 ms: 1s candles and tickers update every
# 100 ms; a 1s candle still lasts a second of the simulator's clock.
FAST_STREAMS = WS_SIM.with_(market=MarketConfig(stream_ms=100))


@pytest.fixture
async def msim() -> AsyncIterator[Simulator]:
    async with running(FAST_STREAMS) as s:
        stop = asyncio.Event()
        mover = asyncio.create_task(crowd(s, stop))  # the market trades in the background
        yield s
        stop.set()
        await mover


@pytest.fixture
async def mconnect(msim: Simulator) -> AsyncIterator[MakeConnector]:
    defaults = OPTIONS.with_(stream_url=msim.ws_url, ws_api_url=f"{msim.ws_url}/ws-api/v3")
    async with _connectors(msim, defaults) as make:
        yield make


async def first(
    sub: Subscription, check: Callable[[StreamEvent], bool], wait_s: float = 8.0
) -> StreamEvent:
    """The first event passing `check` (bounded)."""

    async def find() -> StreamEvent:
        while True:
            event = await sub.get()
            if check(event):
                return event

    return await asyncio.wait_for(find(), wait_s)


async def test_a_closed_candle_from_the_stream_equals_the_rest_candle(
    mconnect: MakeConnector,
) -> None:
    bn = await mconnect()
    async with bn.stream("btcusdt@kline_1s", "ethusdt@kline_1s") as sub:
        await sub.wait_subscribed(5)
        for symbol in ("BTCUSDT", "ETHUSDT"):
            stream = f"{symbol.lower()}@kline_1s"
            live = await first(sub, lambda e, s=stream: e.stream == s and not e.value.closed)
            closed = await first(
                sub,
                lambda e, s=stream, t=live.value.open_time: (
                    e.stream == s and e.value.open_time >= t and e.value.closed and e.value.trades
                ),  # a closed candle with trades in it (the crowd trades most seconds)
            )
            candle = closed.value
            assert isinstance(candle, Candle) and candle.symbol == symbol
            assert candle.interval == "1s" and candle.close_time == candle.open_time + 999
            assert candle.closed is closed.data["k"]["x"] is True
            rest = await bn.klines(symbol, "1s", start_time=candle.open_time, limit=1)
            assert rest == [candle]  # every field, Decimals and `closed` included


async def test_kline_streams_in_another_time_zone(mconnect: MakeConnector) -> None:
    """`<symbol>@kline_<interval>@+08:00`: candles open on UTC+8 boundaries (the `+` survives
    the URL and SUBSCRIBE alike)."""
    bn = await mconnect()
    async with bn.stream("btcusdt@kline_1d@+08:00") as sub:  # in the socket's URL
        await sub.wait_subscribed(5)
        await sub.add("ethusdt@kline_1d@+08:00")  # by SUBSCRIBE
        for name in sub.names:
            event = await first(sub, lambda e, n=name: e.stream == n)
            candle = event.value
            assert isinstance(candle, Candle) and candle.interval == "1d" and not candle.closed
            assert (candle.open_time + 8 * 3_600_000) % 86_400_000 == 0
            same = await bn.klines(candle.symbol, "1d", time_zone="8", limit=1)
            assert same[0].open_time == candle.open_time


KINDS: dict[str, Callable[[Any], bool]] = {
    "btcusdt@aggTrade": lambda v: isinstance(v, AggTrade) and v.symbol == "BTCUSDT",
    "btcusdt@trade": lambda v: isinstance(v, PublicTrade) and v.quote_qty == v.price * v.qty,
    "btcusdt@miniTicker": lambda v: (
        isinstance(v, Ticker) and v.window == "24h" and v.price_change is None
    ),
    "btcusdt@ticker": lambda v: isinstance(v, Ticker) and v.bid_price is not None and v.count,
    "ethusdt@ticker_1h": lambda v: (
        isinstance(v, Ticker) and v.window == "1h" and v.weighted_avg_price is not None
    ),
    "btcusdt@avgPrice": lambda v: isinstance(v, AvgPrice) and v.minutes == 5 and v.price > 0,
    "btcusdt@bookTicker": lambda v: isinstance(v, BookTicker) and v.bid_price < v.ask_price,
    "!miniTicker@arr": lambda v: isinstance(v, tuple) and all(isinstance(t, Ticker) for t in v),
    "!ticker_4h@arr": lambda v: isinstance(v, tuple) and {t.window for t in v} == {"4h"},
    "btcusdt@depth": lambda v: v is None,  # no typed form: the payload is in `data`
}


async def test_every_kind_has_its_typed_event(msim: Simulator, mconnect: MakeConnector) -> None:
    bn = await mconnect()
    async with bn.stream(*KINDS) as sub:
        await sub.wait_subscribed(5)
        await assert_streams_on_sim(msim, [sorted(KINDS)])
        seen: dict[str, StreamEvent] = {}
        while len(seen) < len(KINDS):
            event = await asyncio.wait_for(sub.get(), 8)
            assert KINDS[event.stream](event.value), (event.stream, event.value)
            seen.setdefault(event.stream, event)
        assert sub.malformed == 0
        # the aggregate trade pushed is the one REST lists under its id
        agg = seen["btcusdt@aggTrade"].value
        assert await bn.agg_trades("BTCUSDT", from_id=agg.id, limit=1) == [agg]
        ticker = seen["btcusdt@ticker"].value
        assert ticker.event_time == seen["btcusdt@ticker"].data["E"]
        assert ticker.last_id - ticker.first_id + 1 == ticker.count


async def test_a_malformed_payload_is_counted_never_delivered(mconnect: MakeConnector) -> None:
    """The socket hands `_dispatch` a frame whose payload lacks documented fields (as a broken
    proxy might): the reader gets no event for it, the count and a `stream_malformed` event say
    why, and the stream goes on."""
    bn = await mconnect()
    told: list[dict[str, Any]] = []
    bn.on(lambda e: told.append(e.data) if e.kind == "stream_malformed" else None)
    async with bn.stream("btcusdt@kline_1s") as sub:
        await sub.wait_subscribed(5)
        for bad in ({"e": "kline", "k": {"o": "x"}}, {"e": "kline"}, ["not", "an", "object"]):
            bn.streams._dispatch({"stream": "btcusdt@kline_1s", "data": bad})
        assert sub.malformed == 3
        assert [t["stream"] for t in told] == ["btcusdt@kline_1s"] * 3
        assert "'k'" in told[1]["error"]
        event = await first(sub, lambda e: True)
        assert isinstance(event.value, Candle)  # the real ones still come


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("BTCUSDT@kline_1m", "btcusdt@kline_1m"),
        ("btcusdt@kline_1d@+08:00", "btcusdt@kline_1d@+08:00"),
        ("!miniTicker@arr", "!miniTicker@arr"),  # not lowercased: Binance's name has a capital
        ("!ticker_1h@arr", "!ticker_1h@arr"),
        ("ETHBTC@ticker_4h", "ethbtc@ticker_4h"),
    ],
)
def test_stream_names_of_every_kind(given: str, expected: str) -> None:
    assert stream_name(given) == expected


@pytest.mark.parametrize("bad", ["!miniTicker", "btcusdt@kline 1m", "@trade", "btcusdt@"])
def test_bad_stream_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a Binance stream name"):
        stream_name(bad)
