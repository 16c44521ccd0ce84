"""Market data over REST (candles, trades, tickers, average price) and the typed stream events.

Every request goes through the request loop with its row of the endpoint table
(policy/endpoints.py), so each is admitted by the rate budget at its documented weight: polling
tickers or paging candles is budgeted like every other call. Parameters follow rest-api.md
§Market Data endpoints; answers become the models of market_models.py.

`klines_range` pages a long time range: each page asks for the candles opening at or after the
first one not yet seen (`startTime` = last open time + 1, `endTime` the end), so no candle is
missed or repeated at page edges, and it stops at the end or at the first short page.

`decoder_for(stream)` picks the typed event of a stream name once, at subscription time
(web-socket-streams.md): `kline_<i>` → Candle, `aggTrade` → AggTrade, `trade` → PublicTrade,
`miniTicker`, `ticker`, `ticker_<w>` → Ticker, the `!…@arr` ones → a tuple of Tickers,
`avgPrice` → AvgPrice, `bookTicker` → BookTicker; other streams (depth) have none.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .calls import Requests, call_endpoint
from .market_models import (
    INTERVALS,
    AggTrade,
    AvgPrice,
    Candle,
    PublicTrade,
    Ticker,
    kline_decoder,
)
from .models import BookTicker, ResponseFormatError

Symbols = str | Sequence[str] | None
TimeArg = int | datetime
KLINES_MAX = 1000  # rest-api.md §Kline/Candlestick data: "Default: 500; Maximum: 1000."


def ms(value: TimeArg) -> int:
    """Milliseconds since the epoch; a datetime must be timezone-aware (Binance times are UTC)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a naive datetime is ambiguous: give tzinfo (Binance times are UTC)")
        return int(value.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"a time is an int of milliseconds or a datetime, not {value!r}")
    return value


def _check_interval(interval: str) -> None:
    if interval not in INTERVALS:
        raise ValueError(f"not a kline interval: {interval!r} (one of {', '.join(INTERVALS)})")


def symbols_params(symbols: Symbols) -> dict[str, object]:
    """`symbol` for one name, `symbols` (a JSON array, rest-api.md) for several, {} for all."""
    if symbols is None:
        return {}
    if isinstance(symbols, str):
        return {"symbol": symbols}
    names = list(symbols)
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError("symbols: a non-empty list of symbol names")
    return {"symbols": json.dumps(names, separators=(",", ":"))}


def _drop_none(params: Mapping[str, object]) -> dict[str, object]:
    return {k: v for k, v in params.items() if v is not None}


async def klines(
    loop: Requests,
    symbol: str,
    interval: str,
    *,
    start_time: TimeArg | None = None,
    end_time: TimeArg | None = None,
    limit: int | None = None,
    time_zone: str | None = None,
    ui: bool = False,
) -> list[Candle]:
    """`GET /api/v3/klines` (or `/uiKlines`): oldest first; see SpotConnector.klines."""
    _check_interval(interval)
    params = _drop_none(
        {
            "symbol": symbol,
            "interval": interval,
            "startTime": None if start_time is None else ms(start_time),
            "endTime": None if end_time is None else ms(end_time),
            "timeZone": time_zone,
            "limit": limit,
        }
    )
    response = await call_endpoint(loop, "ui_klines" if ui else "klines", params)
    rows = response.data
    if not isinstance(rows, list):
        raise ResponseFormatError(f"klines answer is not a list: {rows!r:.80}")
    now = loop.time.now_ms()
    return [Candle.from_row(row, symbol, interval, now) for row in rows]


async def klines_range(
    loop: Requests,
    symbol: str,
    interval: str,
    start: TimeArg,
    end: TimeArg,
    *,
    page: int = KLINES_MAX,
    time_zone: str | None = None,
    ui: bool = False,
) -> AsyncIterator[Candle]:
    """Every candle opening in [start, end], oldest first, `page` per request (each request
    admitted by the budget at the klines weight); see the module docstring."""
    if not 1 <= page <= KLINES_MAX:
        raise ValueError(f"page: 1 to {KLINES_MAX} candles per request, not {page}")
    cursor, last = ms(start), ms(end)
    while cursor <= last:
        batch = await klines(
            loop, symbol, interval, start_time=cursor, end_time=last, limit=page,
            time_zone=time_zone, ui=ui,
        )  # fmt: skip
        before = cursor
        for candle in batch:
            if cursor <= candle.open_time <= last:
                yield candle
                cursor = candle.open_time + 1
        if len(batch) < page or cursor == before:  # the end, or a page of nothing new
            return


async def agg_trades(
    loop: Requests,
    symbol: str,
    *,
    from_id: int | None = None,
    start_time: TimeArg | None = None,
    end_time: TimeArg | None = None,
    limit: int | None = None,
) -> list[AggTrade]:
    """`GET /api/v3/aggTrades`; see SpotConnector.agg_trades."""
    params = _drop_none(
        {
            "symbol": symbol,
            "fromId": from_id,
            "startTime": None if start_time is None else ms(start_time),
            "endTime": None if end_time is None else ms(end_time),
            "limit": limit,
        }
    )
    data = (await call_endpoint(loop, "agg_trades", params)).data
    return [AggTrade.from_api(d, symbol) for d in _list(data, "aggTrades")]


async def historical_trades(
    loop: Requests, symbol: str, *, from_id: int | None = None, limit: int | None = None
) -> list[PublicTrade]:
    """`GET /api/v3/historicalTrades`; see SpotConnector.historical_trades."""
    params = _drop_none({"symbol": symbol, "fromId": from_id, "limit": limit})
    data = (await call_endpoint(loop, "historical_trades", params)).data
    return [PublicTrade.from_api(d, symbol) for d in _list(data, "historicalTrades")]


async def avg_price(loop: Requests, symbol: str) -> AvgPrice:
    """`GET /api/v3/avgPrice`."""
    data = (await call_endpoint(loop, "avg_price", {"symbol": symbol})).data
    return AvgPrice.from_api(data, symbol)


async def tickers(
    loop: Requests, endpoint: str, window: str, symbols: Symbols, params: Mapping[str, object]
) -> Ticker | list[Ticker]:
    """One of the ticker endpoints: one Ticker for a `symbol`, a list otherwise."""
    query = {**symbols_params(symbols), **_drop_none(params)}
    data = (await call_endpoint(loop, endpoint, query)).data
    if isinstance(symbols, str):
        return Ticker.from_api(data, window)
    return [Ticker.from_api(d, window) for d in _list(data, endpoint)]


def _list(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise ResponseFormatError(f"{what} answer is not a list: {data!r:.80}")
    return data


# -- typed stream events ------------------------------------------------------------------------
Decoder = Callable[[Any], Any]


def _tickers(data: Any) -> tuple[Ticker, ...]:
    return tuple(Ticker.from_stream(d) for d in _list(data, "ticker array"))


def _book_ticker(d: Mapping[str, Any]) -> BookTicker:
    if not isinstance(d, Mapping):
        raise ResponseFormatError(f"a bookTicker payload is an object, not: {d!r:.80}")
    return BookTicker.from_api(
        {
            "symbol": d.get("s"),
            "bidPrice": d.get("b"),
            "bidQty": d.get("B"),
            "askPrice": d.get("a"),
            "askQty": d.get("A"),
        }
    )


_BY_KIND: dict[str, Decoder] = {
    "aggTrade": AggTrade.from_stream,
    "trade": PublicTrade.from_stream,
    "miniTicker": Ticker.from_stream,
    "ticker": Ticker.from_stream,
    "avgPrice": AvgPrice.from_stream,
    "bookTicker": _book_ticker,
}


def decoder_for(stream: str) -> Decoder | None:
    """The typed event of a stream name (see the module docstring), or None."""
    if stream.startswith("!"):
        return _tickers if stream.startswith(("!miniTicker@", "!ticker_")) else None
    kind = stream.partition("@")[2]
    if kind.startswith("kline_"):
        return kline_decoder()  # one per stream: its memo serves that stream's updates
    if kind.startswith("ticker_"):
        return Ticker.from_stream
    return _BY_KIND.get(kind)
