"""Market data over REST through SpotConnector, against the simulator over loopback: typed candles
(rest-api.md §Kline/Candlestick data), a long range paged without a missing or repeated candle,
trades, tickers and the average price — each charged to the budget at its documented weight."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from binguard.connector import SpotConnector
from binguard.connector.market_models import Candle, Ticker
from binguard.errors import BinanceError
from binguard.policy.budget import RateBudget
from binguard.policy.endpoints import Cost
from binguard.sim import Simulator

from .conftest import FAST, MakeConnector, admin, credentials

MINUTE = 60_000


async def raw(sim: Simulator, path: str, params: dict[str, Any]) -> Any:
    """The simulator's answer as any HTTP client reads it (the reference for the typed one)."""
    async with aiohttp.ClientSession() as s, s.get(f"{sim.url}{path}", params=params) as r:
        assert r.status == 200
        return await r.json()


async def test_klines_are_typed_decimals_equal_to_the_raw_rows(
    sim: Simulator, connect: MakeConnector
) -> None:
    bn = await connect()
    candles = await bn.klines("BTCUSDT", "5m", limit=1000)
    rows = await raw(sim, "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "5m", "limit": 1000})
    assert len(candles) == 1000
    # the open candle may have moved on by a trade between the two reads: compare the closed ones
    for c, r in zip(candles[:-1], rows[:-1], strict=True):
        assert (c.symbol, c.interval, c.open_time, c.close_time, c.trades) == (
            "BTCUSDT",
            "5m",
            r[0],
            r[6],
            r[8],
        )
        fields = (c.open, c.high, c.low, c.close, c.volume, c.quote_volume)
        assert fields == tuple(Decimal(x) for x in (*r[1:6], r[7]))
        assert (c.taker_buy_base, c.taker_buy_quote) == (Decimal(r[9]), Decimal(r[10]))
        assert isinstance(c.open, Decimal) and c.closed
    assert [c.open_time for c in candles] == [r[0] for r in rows]
    assert not candles[-1].closed  # the current candle: its close time is still ahead
    assert candles[-1].open_time <= sim.state.clock.now_ms() <= candles[-1].close_time


async def test_klines_parameters_and_ui_klines(sim: Simulator, connect: MakeConnector) -> None:
    bn = await connect()
    latest = await bn.klines("ETHBTC", "1h", limit=5)
    start = latest[0].open_time
    end = datetime.fromtimestamp(latest[2].open_time / 1000, UTC)  # an aware datetime
    chosen = await bn.klines("ETHBTC", "1h", start_time=start, end_time=end)
    assert [c.open_time for c in chosen] == [c.open_time for c in latest[:3]]
    ui = await bn.klines("ETHBTC", "1h", start_time=start, limit=2, ui=True)
    assert ui == latest[:2]
    shifted = await bn.klines("ETHBTC", "1d", limit=2, time_zone="+08:00")
    assert all((c.open_time + 8 * 3_600_000) % 86_400_000 == 0 for c in shifted)
    paths = [r["path"] for r in await admin(sim, "requests")]
    assert "/api/v3/uiKlines" in paths


async def test_bad_klines_arguments_are_typed_errors(connect: MakeConnector) -> None:
    bn = await connect()
    with pytest.raises(ValueError, match="not a kline interval"):
        await bn.klines("BTCUSDT", "2m")
    with pytest.raises(ValueError, match="naive datetime"):
        await bn.klines("BTCUSDT", "1m", start_time=datetime(2024, 1, 1))
    with pytest.raises(BinanceError) as info:
        await bn.klines("BTCUSDT", "1m", time_zone="+15:00")  # outside [-12:00, +14:00]
    assert info.value.code == -1130


@pytest.mark.parametrize(("interval", "step"), [("1m", MINUTE), ("1h", 60 * MINUTE)])
async def test_klines_range_pages_without_a_missing_or_repeated_candle(
    sim: Simulator, connect: MakeConnector, interval: str, step: int
) -> None:
    bn = await connect()
    anchor = sim.state.market.tapes["BTCUSDT"].anchor  # history ends here (whole candles before)
    first = (anchor - 2_345 * step) // step * step
    start, end = first - step // 2, first + 2_344 * step + 7  # neither edge on a boundary
    pages_before = await _klines_requests(sim)
    got = [c async for c in bn.klines_range("BTCUSDT", interval, start, end, page=500)]
    assert [c.open_time for c in got] == [first + i * step for i in range(2_345)]
    assert all(c.closed and c.interval == interval for c in got)
    assert await _klines_requests(sim) - pages_before == 5  # 500 + 500 + 500 + 500 + 345
    # the same candles as single requests over each stretch: nothing altered at the edges
    for i in range(0, 2_345, 1000):
        one = await bn.klines("BTCUSDT", interval, start_time=got[i].open_time, limit=1000)
        assert got[i : i + 1000] == one[: len(got[i : i + 1000])]


async def test_klines_range_stops_at_the_present(sim: Simulator, connect: MakeConnector) -> None:
    """A range reaching into the future ends with the open candle (a short page)."""
    bn = await connect()
    now = sim.state.clock.now_ms()
    got = [c async for c in bn.klines_range("BTCUSDT", "1m", now - 250 * MINUTE, now + 10**9)]
    assert len(got) in (250, 251)
    assert all(b.open_time - a.open_time == MINUTE for a, b in itertools.pairwise(got))
    assert not got[-1].closed


async def _klines_requests(sim: Simulator) -> int:
    return sum(r["path"] == "/api/v3/klines" for r in await admin(sim, "requests"))


async def test_trades_and_average_price(sim: Simulator, connect: MakeConnector) -> None:
    bn = await connect()
    order = await bn.place_order("BTCUSDT", "BUY", "MARKET", quantity="0.01")  # trades now
    assert order.status == "FILLED"
    aggs = await bn.agg_trades("BTCUSDT", limit=5)
    assert aggs and aggs[-1].symbol == "BTCUSDT" and isinstance(aggs[-1].price, Decimal)
    assert aggs == await bn.agg_trades("BTCUSDT", from_id=aggs[0].id, limit=len(aggs))
    assert aggs[-1] in await bn.agg_trades("BTCUSDT", start_time=aggs[-1].time, limit=1000)
    rows = await raw(sim, "/api/v3/historicalTrades", {"symbol": "BTCUSDT", "limit": 3})
    trades = await bn.historical_trades("BTCUSDT", from_id=rows[0]["id"], limit=3)
    assert [(t.id, t.price, t.qty, t.quote_qty) for t in trades] == [
        (r["id"], Decimal(r["price"]), Decimal(r["qty"]), Decimal(r["quoteQty"])) for r in rows
    ]
    avg = await bn.avg_price("BTCUSDT")
    assert avg.minutes == 5 and avg.price > 0 and avg.symbol == "BTCUSDT"
    with pytest.raises(BinanceError) as info:
        await bn.agg_trades("BTCUSDT", from_id=1, start_time=aggs[0].time)
    assert info.value.code == -1128  # fromId with a time: refused by the exchange, typed


async def test_tickers_are_typed(sim: Simulator, connect: MakeConnector) -> None:
    bn = await connect()
    one = await bn.ticker_24h("BTCUSDT")
    assert isinstance(one, Ticker) and one.window == "24h" and one.bid_price is not None
    every = await bn.ticker_24h(type="MINI")
    assert {t.symbol for t in every} == {s.symbol for s in sim.config.symbols}
    assert all(t.price_change is None and t.count is not None for t in every)
    two = await bn.ticker(["BTCUSDT", "ETHUSDT"], window_size="4h")
    assert [t.symbol for t in two] == ["BTCUSDT", "ETHUSDT"] and two[0].window == "4h"
    assert two[0].weighted_avg_price is not None and two[0].prev_close is None
    day = await bn.trading_day_ticker("ETHBTC", time_zone="8", type="MINI")
    assert day.window == "tradingDay" and day.symbol == "ETHBTC"
    with pytest.raises(BinanceError) as info:
        await bn.ticker("BTCUSDT", window_size="8d")
    assert info.value.code == -1130


class RecordingBudget(RateBudget):
    """A real RateBudget (no limits: it admits at once) that remembers what it was asked for."""

    def __init__(self) -> None:
        super().__init__([])
        self.asked: list[Cost] = []

    async def acquire(self, cost: Cost, *, deadline: float | None = None) -> Any:
        self.asked.append(cost)
        return await super().acquire(cost, deadline=deadline)


def server_weight(sim: Simulator) -> int:
    ips = sim.state.limits.snapshot(sim.state.clock.now_ms())["ips"]
    count = next(iter(ips.values()))["weight"]["1M"]
    assert isinstance(count, int)
    return count


THREE = ["BTCUSDT", "ETHUSDT", "ETHBTC"]


@pytest.mark.parametrize(
    ("call", "weight"),
    [
        # rest-api.md §24hr ticker: symbol 2; symbols 1-20 → 2; neither (all symbols) 80
        (lambda bn: bn.ticker_24h(), 80),
        (lambda bn: bn.ticker_24h(type="MINI"), 80),
        (lambda bn: bn.ticker_24h("BTCUSDT"), 2),
        (lambda bn: bn.ticker_24h(THREE), 2),
        # §Rolling window, §Trading Day Ticker: 4 per symbol
        (lambda bn: bn.ticker("BTCUSDT", window_size="1h"), 4),
        (lambda bn: bn.ticker(THREE), 12),
        (lambda bn: bn.trading_day_ticker(THREE[:2]), 8),
        # §Kline/Candlestick data, §UIKlines, §Current average price 2; §aggTrades 4;
        # §Old trade lookup 25
        (lambda bn: bn.klines("BTCUSDT", "1m", limit=1000), 2),
        (lambda bn: bn.klines("BTCUSDT", "1m", ui=True), 2),
        (lambda bn: bn.avg_price("BTCUSDT"), 2),
        (lambda bn: bn.agg_trades("BTCUSDT"), 4),
        (lambda bn: bn.historical_trades("BTCUSDT", limit=10), 25),
    ],
    ids=lambda x: str(x) if isinstance(x, int) else "",
)
async def test_each_call_is_charged_its_documented_weight(
    sim: Simulator, call: Any, weight: int
) -> None:
    budget = RecordingBudget()
    async with SpotConnector(base_url=sim.url, options=FAST, gate=budget, **credentials(sim)) as bn:
        for _ in range(3):  # a minute boundary between the two readings: measure again
            budget.asked.clear()
            before = server_weight(sim)
            await call(bn)
            after = server_weight(sim)
            if after >= before:
                break
        assert budget.asked == [Cost(weight)]  # reserved before sending, from the table
        assert after - before == weight  # what the exchange charged this IP


async def test_a_long_range_is_paged_within_the_budget(
    sim: Simulator, connect: MakeConnector
) -> None:
    """Paging is budgeted: with 60 weight a minute for this process (1% of the simulator's
    6000), the pages that fit are sent and the next one is refused locally (its room comes
    after the request's deadline) — nothing is sent past the budget, nothing earns a 429."""
    bn = await connect(options={"budget_share": 0.01, "request_deadline": 0.5})
    got: list[Candle] = []

    async def page_all() -> None:
        async for candle in bn.klines_range("BTCUSDT", "1m", 0, 10**13, page=10):
            got.append(candle)

    with pytest.raises(BinanceError) as info:
        await page_all()
    assert type(info.value).__name__ == "BudgetExhaustedError"
    pages = await _klines_requests(sim)
    assert pages >= 5 and len(got) == 10 * pages  # every page sent was a full one, yielded
    assert server_weight(sim) <= 60  # the exchange's count never passed the budget's share
    assert not any(k in ("-1003", "HTTP 429") for k in bn.stats.errors_by_code)


async def test_bad_arguments_are_refused_before_anything_is_sent(
    sim: Simulator, connect: MakeConnector
) -> None:
    bn = await connect()
    sent = len(await admin(sim, "requests"))
    assert [c async for c in bn.klines_range("BTCUSDT", "1m", 10**12, 10**12 - 1)] == []
    with pytest.raises(ValueError, match="page"):
        _ = [c async for c in bn.klines_range("BTCUSDT", "1m", 0, 1, page=1001)]
    with pytest.raises(ValueError, match="non-empty list"):
        await bn.ticker_24h([])
    with pytest.raises(TypeError, match="milliseconds"):
        await bn.agg_trades("BTCUSDT", start_time="yesterday")  # type: ignore[arg-type]
    assert len(await admin(sim, "requests")) == sent
