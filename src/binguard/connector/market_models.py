"""Typed market data: candles, aggregate and public trades, tickers, the average price.

Each model reads both shapes Binance sends (rest-api.md §Market Data endpoints for REST,
web-socket-streams.md §Detailed Stream information for streams): `from_api` / `from_row` for
REST answers, `from_stream` for stream payloads. Prices and quantities are Decimals; a missing or
malformed required field raises `ResponseFormatError` naming it.

A REST candle carries no "is closed" flag: `closed` is worked out from the server time of the
answer (its close time has passed), so a stream's last update of a candle (`x: true`) and the
same candle over REST compare equal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple

from .models import ResponseFormatError, _dec, _req

_D = Decimal
_KLINE_FIELDS = itemgetter("s", "i", "t", "o", "h", "l", "c", "v", "T", "q", "n", "V", "Q", "x")

# rest-api.md §Kline/Candlestick data: "Supported kline intervals (case-sensitive)".
INTERVALS = (
    "1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h",
    "1d", "3d", "1w", "1M",
)  # fmt: skip


def _int(value: Any, key: str) -> int:
    if type(value) is int:
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ResponseFormatError(f"response field {key!r} is not an integer: {value!r}") from None


def _opt_int(d: Mapping[str, Any], key: str) -> int | None:
    value = d.get(key)
    return None if value is None else _int(value, key)


class Candle(NamedTuple):
    """One kline (rest-api.md §Kline/Candlestick data; web-socket-streams.md §Kline/Candlestick
    Streams). Klines are identified by `open_time`; `close_time` is the last millisecond.

    A NamedTuple, not a frozen dataclass like the other models: a candle stream builds one per
    update, and a frozen dataclass's __init__ (one object.__setattr__ per field) cost as much as
    decoding the frame (bench/bench_candles.py). Immutable and typed all the same."""

    symbol: str
    interval: str
    open_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    close_time: int
    quote_volume: Decimal
    trades: int
    taker_buy_base: Decimal
    taker_buy_quote: Decimal
    closed: bool

    @classmethod
    def from_row(cls, row: Sequence[Any], symbol: str, interval: str, now_ms: int) -> Candle:
        """A row of `GET /api/v3/klines`; closed when `close_time` < `now_ms` (server time)."""
        if not isinstance(row, list | tuple) or len(row) < 11:
            raise ResponseFormatError(f"a kline row has 12 fields, not: {row!r:.80}")
        close_time = _int(row[6], "closeTime")
        return cls(
            symbol,
            interval,
            _int(row[0], "openTime"),
            _dec(row[1], "open"),
            _dec(row[2], "high"),
            _dec(row[3], "low"),
            _dec(row[4], "close"),
            _dec(row[5], "volume"),
            close_time,
            _dec(row[7], "quoteVolume"),
            _int(row[8], "trades"),
            _dec(row[9], "takerBuyBase"),
            _dec(row[10], "takerBuyQuote"),
            close_time < now_ms,
        )

    @classmethod
    def from_stream(cls, data: Mapping[str, Any]) -> Candle:
        """A `<symbol>@kline_<interval>` payload (`{"e": "kline", "k": {...}}`)."""
        try:
            s, i, t, o, h, lo, c, v, close_time, q, n, tb, tq, x = _KLINE_FIELDS(data["k"])
            if not type(t) is type(close_time) is type(n) is int:
                raise TypeError
            # (tuple.__new__ directly: the hot path of every candle stream)
            return tuple.__new__(
                cls,
                (s, i, t, _D(o), _D(h), _D(lo), _D(c), _D(v), close_time, _D(q), n, _D(tb),
                 _D(tq), x is True),
            )  # fmt: skip
        except (KeyError, TypeError, ArithmeticError, ValueError):
            pass  # the fast path above assumes Binance's types; say exactly what is wrong
        return cls._checked(_req(data, "k"))

    @classmethod
    def _checked(cls, k: Any) -> Candle:
        if not isinstance(k, Mapping):
            raise ResponseFormatError(f"kline field 'k' is not an object: {k!r:.80}")
        return cls(
            str(_req(k, "s")),
            str(_req(k, "i")),
            _int(_req(k, "t"), "t"),
            _dec(_req(k, "o"), "o"),
            _dec(_req(k, "h"), "h"),
            _dec(_req(k, "l"), "l"),
            _dec(_req(k, "c"), "c"),
            _dec(_req(k, "v"), "v"),
            _int(_req(k, "T"), "T"),
            _dec(_req(k, "q"), "q"),
            _int(_req(k, "n"), "n"),
            _dec(_req(k, "V"), "V"),
            _dec(_req(k, "Q"), "Q"),
            _req(k, "x") is True,
        )


def kline_decoder() -> Callable[[Mapping[str, Any]], Candle]:
    """`Candle.from_stream` for one kline stream, faster on its updates: every update of a
    candle repeats its open (and mostly its high and low), so those are parsed once and their
    Decimals shared (a small memo, cleared past `_MEMO` prices). The close and the volumes
    change with most updates and are parsed each time (a memo for them cost more than it saved,
    bench/bench_candles.py)."""
    memo: dict[str, Decimal] = {}
    get = memo.get

    def parse(text: str) -> Decimal:
        if len(memo) >= _MEMO:
            memo.clear()
        value = memo[text] = _D(text)
        return value

    def decode(data: Mapping[str, Any]) -> Candle:
        try:
            s, i, t, o, h, lo, c, v, close_time, q, n, tb, tq, x = _KLINE_FIELDS(data["k"])
            if not type(t) is type(close_time) is type(n) is int:
                raise TypeError
            # (`get(...) or parse(...)`: a zero is falsy, and merely parsed again)
            return tuple.__new__(
                Candle,
                (s, i, t, get(o) or parse(o), get(h) or parse(h), get(lo) or parse(lo),
                 _D(c), _D(v), close_time, _D(q), n, _D(tb), _D(tq), x is True),
            )  # fmt: skip
        except (KeyError, TypeError, ArithmeticError, ValueError):
            pass  # as in Candle.from_stream: say exactly what is wrong
        return Candle._checked(_req(data, "k"))

    return decode


_MEMO = 256


@dataclass(frozen=True, slots=True)
class AggTrade:
    """An aggregate trade: the fills of one taker order at one price and time (rest-api.md
    §Compressed/Aggregate trades list; web-socket-streams.md §Aggregate Trade Streams)."""

    symbol: str
    id: int
    price: Decimal
    qty: Decimal
    first_trade_id: int
    last_trade_id: int
    time: int
    buyer_is_maker: bool

    @classmethod
    def from_api(cls, d: Mapping[str, Any], symbol: str | None = None) -> AggTrade:
        """An item of `GET /api/v3/aggTrades` (give `symbol`) or an `aggTrade` payload."""
        return cls(
            str(symbol if symbol is not None else _req(d, "s")),
            _int(_req(d, "a"), "a"),
            _dec(_req(d, "p"), "p"),
            _dec(_req(d, "q"), "q"),
            _int(_req(d, "f"), "f"),
            _int(_req(d, "l"), "l"),
            _int(_req(d, "T"), "T"),
            bool(_req(d, "m")),
        )

    from_stream = from_api


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """A trade of the market (rest-api.md §Old trade lookup, §Recent trades list;
    web-socket-streams.md §Trade Streams). Not the account's own (`Trade`, from myTrades)."""

    symbol: str
    id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    time: int
    buyer_is_maker: bool

    @classmethod
    def from_api(cls, d: Mapping[str, Any], symbol: str) -> PublicTrade:
        price, qty = _dec(_req(d, "price"), "price"), _dec(_req(d, "qty"), "qty")
        quote = d.get("quoteQty")
        return cls(
            symbol,
            _int(_req(d, "id"), "id"),
            price,
            qty,
            price * qty if quote is None else _dec(quote, "quoteQty"),
            _int(_req(d, "time"), "time"),
            bool(_req(d, "isBuyerMaker")),
        )

    @classmethod
    def from_stream(cls, d: Mapping[str, Any]) -> PublicTrade:
        """A `<symbol>@trade` payload."""
        price, qty = _dec(_req(d, "p"), "p"), _dec(_req(d, "q"), "q")
        return cls(
            str(_req(d, "s")),
            _int(_req(d, "t"), "t"),
            price,
            qty,
            price * qty,
            _int(_req(d, "T"), "T"),
            bool(_req(d, "m")),
        )


@dataclass(frozen=True, slots=True)
class AvgPrice:
    """The average price over the last `minutes` (rest-api.md §Current average price;
    web-socket-streams.md §Average Price). `time`: the last trade's time (closeTime / T)."""

    symbol: str
    minutes: int
    price: Decimal
    time: int

    @classmethod
    def from_api(cls, d: Mapping[str, Any], symbol: str) -> AvgPrice:
        return cls(
            symbol,
            _int(_req(d, "mins"), "mins"),
            _dec(_req(d, "price"), "price"),
            _int(_req(d, "closeTime"), "closeTime"),
        )

    @classmethod
    def from_stream(cls, d: Mapping[str, Any]) -> AvgPrice:
        """An `avgPrice` payload (`"i": "5m"`)."""
        span = str(_req(d, "i"))
        if not span.endswith("m"):
            raise ResponseFormatError(f"avgPrice interval is not in minutes: {span!r}")
        return cls(
            str(_req(d, "s")),
            _int(span[:-1], "i"),
            _dec(_req(d, "w"), "w"),
            _int(_req(d, "T"), "T"),
        )


# REST name, stream name of each Decimal field of a ticker; None: that shape lacks it.
_TICKER_DECIMALS = (
    ("open", "openPrice", "o"),
    ("high", "highPrice", "h"),
    ("low", "lowPrice", "l"),
    ("last", "lastPrice", "c"),
    ("volume", "volume", "v"),
    ("quote_volume", "quoteVolume", "q"),
    ("price_change", "priceChange", "p"),
    ("price_change_percent", "priceChangePercent", "P"),
    ("weighted_avg_price", "weightedAvgPrice", "w"),
    ("prev_close", "prevClosePrice", "x"),
    ("last_qty", "lastQty", "Q"),
    ("bid_price", "bidPrice", "b"),
    ("bid_qty", "bidQty", "B"),
    ("ask_price", "askPrice", "a"),
    ("ask_qty", "askQty", "A"),
)
_TICKER_INTS = (
    ("open_time", "openTime", "O"),
    ("close_time", "closeTime", "C"),
    ("first_id", "firstId", "F"),
    ("last_id", "lastId", "L"),
    ("count", "count", "n"),
)
_REQUIRED = frozenset({"open", "high", "low", "last", "volume", "quote_volume"})


@dataclass(frozen=True, slots=True)
class Ticker:
    """Price change statistics over a window, in every shape Binance sends them.

    rest-api.md §24hr ticker price change statistics (`window` "24h"), §Rolling window price
    change statistics (`window` the windowSize), §Trading Day Ticker (`window` "tradingDay");
    web-socket-streams.md §Individual Symbol Mini Ticker Stream, §Individual Symbol Ticker
    Streams ("24h") and §Individual Symbol Rolling Window Statistics Streams ("1h", "4h", "1d").

    The MINI fields (open … quote_volume) are always there. `price_change`,
    `price_change_percent` and `weighted_avg_price` come with FULL answers and the ticker
    streams; `prev_close`, `last_qty` and the book's top only with the 24-hour FULL shapes; the
    times, trade ids and count are missing from the mini ticker stream; `event_time` is set for
    stream events only. A field the shape lacks is None.
    """

    symbol: str
    window: str
    open: Decimal
    high: Decimal
    low: Decimal
    last: Decimal
    volume: Decimal
    quote_volume: Decimal
    price_change: Decimal | None = None
    price_change_percent: Decimal | None = None
    weighted_avg_price: Decimal | None = None
    prev_close: Decimal | None = None
    last_qty: Decimal | None = None
    bid_price: Decimal | None = None
    bid_qty: Decimal | None = None
    ask_price: Decimal | None = None
    ask_qty: Decimal | None = None
    open_time: int | None = None
    close_time: int | None = None
    first_id: int | None = None
    last_id: int | None = None
    count: int | None = None
    event_time: int | None = None

    @classmethod
    def from_api(cls, d: Mapping[str, Any], window: str) -> Ticker:
        """An item of `GET /api/v3/ticker/24hr`, `/ticker` or `/ticker/tradingDay`."""
        return cls._read(d, window, 1, None)

    @classmethod
    def from_stream(cls, d: Mapping[str, Any]) -> Ticker:
        """A `24hrMiniTicker`, `24hrTicker` or `<window>Ticker` payload."""
        kind = str(_req(d, "e"))
        window = "24h" if kind.startswith("24hr") else kind.removesuffix("Ticker")
        return cls._read(d, window, 2, _int(_req(d, "E"), "E"))

    @classmethod
    def _read(cls, d: Mapping[str, Any], window: str, at: int, event: int | None) -> Ticker:
        if not isinstance(d, Mapping):
            raise ResponseFormatError(f"a ticker is an object, not: {d!r:.80}")
        fields: dict[str, Any] = {}
        for row in _TICKER_DECIMALS:
            value = d.get(row[at])
            if value is not None:
                fields[row[0]] = _dec(value, row[at])
            elif row[0] in _REQUIRED:
                raise ResponseFormatError(f"response field {row[at]!r} is missing")
        for row in _TICKER_INTS:
            value = d.get(row[at])
            if value is not None:
                fields[row[0]] = _int(value, row[at])
        key = "symbol" if at == 1 else "s"
        return cls(str(_req(d, key)), window, event_time=event, **fields)
