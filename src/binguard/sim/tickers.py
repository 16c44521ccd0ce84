"""Price statistics: 24hr, rolling window and trading day tickers, average price (rest-api.md).

Every statistic is one `Window` of the symbol's tape (market.py): 1-minute candles from the
window's open, history and the engine's trades alike, so a ticker equals the aggregate of the
trades it covers. The WebSocket API and the ticker streams render the same windows.

- 24hr (`GET /api/v3/ticker/24hr`): openTime = closeTime - 24 h; FULL adds prevClosePrice,
  lastQty and the book's best bid and ask.
- rolling (`GET /api/v3/ticker`, windowSize 1m..59m, 1h..23h, 1d..7d, default 1d): openTime
  starts on a minute, closeTime is now (so the window is up to 59999 ms wider).
- trading day (`GET /api/v3/ticker/tradingDay`, timeZone): the current day in that zone,
  closeTime the day's last ms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .candles import DAY, HOUR, MINUTE, C, H, L, N, O, Q, V
from .market import Tape
from .numbers import SCALE, fmt
from .state import SimState

_WINDOW = re.compile(r"([1-9][0-9]?)([mhd])\Z")
_UNIT = {"m": (MINUTE, 59), "h": (HOUR, 23), "d": (DAY, 7)}


def window_ms(text: str) -> int | None:
    """`windowSize` in ms (1m..59m, 1h..23h, 1d..7d; units never combined), None if invalid."""
    m = _WINDOW.match(text)
    if m is None:
        return None
    size, (unit_ms, most) = int(m.group(1)), _UNIT[m.group(2)]
    return size * unit_ms if size <= most else None


@dataclass(frozen=True, slots=True)
class Stats:
    """One symbol over [open_ms, close_ms]: OHLC, volumes, trades, and the close before."""

    symbol: str
    candle: list[int]
    prev_close: int
    open_ms: int
    close_ms: int
    first_id: int
    last_id: int

    def mini(self) -> dict[str, Any]:
        c = self.candle
        return {
            "symbol": self.symbol,
            "openPrice": fmt(c[O]),
            "highPrice": fmt(c[H]),
            "lowPrice": fmt(c[L]),
            "lastPrice": fmt(c[C]),
            "volume": fmt(c[V]),
            "quoteVolume": fmt(c[Q]),
            "openTime": self.open_ms,
            "closeTime": self.close_ms,
            "firstId": self.first_id,
            "lastId": self.last_id,
            "count": c[N],
        }

    def change(self) -> tuple[str, str, str]:
        """priceChange, priceChangePercent (3 decimals), weightedAvgPrice."""
        c = self.candle
        change = c[C] - c[O]
        percent = f"{change * 100 / c[O]:.3f}" if c[O] else "0.000"
        weighted = c[Q] * SCALE // c[V] if c[V] else 0
        return fmt(change), percent, fmt(weighted)

    def full(self) -> dict[str, Any]:
        change, percent, weighted = self.change()
        mini = self.mini()
        head = {"symbol": self.symbol, "priceChange": change, "priceChangePercent": percent}
        return {
            **head,
            "weightedAvgPrice": weighted,
            **{k: v for k, v in mini.items() if k != "symbol"},
        }


def stats(tape: Tape, open_ms: int, close_ms: int, now: int) -> Stats:
    """Statistics of `tape` from the first minute at or after `open_ms` up to `now`."""
    lo = -(-open_ms // MINUTE) * MINUTE
    candle = tape.window(lo, now)
    first, last = tape.trade_ids(lo, now)
    prev = tape.close_before(MINUTE, lo)
    return Stats(tape.spec.symbol, candle, prev, open_ms, close_ms, first, last)


def day_24h(state: SimState, symbol: str, now: int) -> Stats:
    return stats(state.market.tapes[symbol], now - DAY, now, now)


def rolling(state: SimState, symbol: str, size_ms: int, now: int) -> Stats:
    open_ms = (now - size_ms) // MINUTE * MINUTE
    return stats(state.market.tapes[symbol], open_ms, now, now)


def trading_day(state: SimState, symbol: str, tz_ms: int, now: int) -> Stats:
    open_ms = (now + tz_ms) // DAY * DAY - tz_ms
    return stats(state.market.tapes[symbol], open_ms, open_ms + DAY - 1, now)


def full_24h(state: SimState, s: Stats) -> dict[str, Any]:
    """The FULL 24hr ticker: the window plus prevClosePrice, lastQty and the book's top."""
    body = s.full()
    engine = state.engine
    book = engine.books[s.symbol]
    bid, ask = book.bids.best(), book.asks.best()
    last = state.market.tapes[s.symbol].last_trade
    extra = {
        "prevClosePrice": fmt(s.prev_close),
        "lastPrice": body["lastPrice"],
        "lastQty": fmt(last.qty if last is not None else 0),
        "bidPrice": fmt(bid or 0),
        "bidQty": fmt(book.bids.shown(bid) if bid is not None else 0),
        "askPrice": fmt(ask or 0),
        "askQty": fmt(book.asks.shown(ask) if ask is not None else 0),
    }
    order = ("symbol", "priceChange", "priceChangePercent", "weightedAvgPrice")
    out = {k: body[k] for k in order}
    out.update(extra)
    out.update({k: v for k, v in body.items() if k not in out})
    return out


def avg_price(state: SimState, symbol: str, now: int) -> tuple[int, int]:
    """(price, closeTime) of `avgPrice`: the volume-weighted price of the last 5 minutes."""
    return state.market.avg_price(symbol, now)
