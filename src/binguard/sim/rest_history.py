"""Candles and trade history (rest-api.md §Market Data endpoints): klines, uiKlines, aggTrades,
historicalTrades, historicalBlockTrades.

- klines / uiKlines (weight 2): `symbol`, `interval` (-1120 "Invalid interval."), `startTime`,
  `endTime` (openTime within [startTime, endTime], both UTC), `timeZone` ([-12:00, +14:00], -1130
  otherwise), `limit` (default 500, max 1000). Without times the most recent candles, the current
  open one last; with `endTime` only, the `limit` candles up to it; with `startTime`, from it.
  uiKlines answers the same rows (the simulator's candles need no presentation fix-up).
- aggTrades (weight 4): `fromId` (ids >= fromId), `startTime` / `endTime` (oldest first within the
  range; `startTime` alone: from it; `endTime` alone: the latest before it; CHANGELOG 2022-05-17,
  2022-12-05); `fromId` with a time is -1128. Built from the engine's trades: trades of one taker
  order at one price and time are one aggregate trade.
- historicalTrades (weight 25, security NONE since CHANGELOG 2025-10-24): `fromId`, `limit`.
- historicalBlockTrades (weight 25): `fromId` mandatory; the simulator has no block trades, so
  the list is empty.
"""

from __future__ import annotations

from typing import Any

from .call import Call, Endpoint, RawJson, Reply, fixed
from .candles import interval, time_zone
from .engine.reports import public_trade
from .errors import SimError
from .rest_market import limit_param, symbol_param


def _symbol(call: Call) -> str:
    symbol = symbol_param(call, required=True)
    assert symbol is not None
    return symbol


async def klines(call: Call) -> Reply:
    p = call.params
    symbol = _symbol(call)
    name = interval(p.text("interval", required=True))
    start, end = p.integer("startTime"), p.integer("endTime")
    tz = time_zone(p.text("timeZone"))
    limit = limit_param(call, 500, 1000)
    p.finish()
    tape = call.state.market.tapes[symbol]
    rows = tape.klines(name, tz, start, end, limit, call.state.clock.now_ms())
    return Reply(RawJson(("[" + ",".join(rows) + "]").encode()))


def agg_trades_list(call: Call) -> list[dict[str, Any]]:
    p = call.params
    symbol = _symbol(call)
    from_id = p.integer("fromId")
    start, end = p.integer("startTime"), p.integer("endTime")
    limit = limit_param(call, 500, 1000)
    p.finish()
    if from_id is not None and (start is not None or end is not None):
        raise SimError.of(-1128)
    aggs = list(call.state.market.tapes[symbol].aggs)
    if from_id is not None:
        first = aggs[0].agg_id if aggs else 0
        chosen = aggs[max(0, from_id - first) :][:limit]
    elif start is not None or end is not None:
        lo = start if start is not None else -1
        hi = end if end is not None else call.state.clock.now_ms()
        inside = [a for a in aggs if lo <= a.time <= hi]
        chosen = inside[:limit] if start is not None else inside[-limit:]
    else:
        chosen = aggs[-limit:]
    return [a.body() for a in chosen]


async def agg_trades(call: Call) -> Reply:
    return Reply(agg_trades_list(call))


async def historical_trades(call: Call) -> Reply:
    symbol = _symbol(call)
    limit = limit_param(call, 500, 1000)
    from_id = call.params.integer("fromId")
    call.params.finish()
    kept = list(call.state.engine.trades[symbol])
    if from_id is None:
        chosen = kept[-limit:]
    else:
        first = kept[0].trade_id if kept else 0
        chosen = kept[max(0, from_id - first) :][:limit]
    return Reply([public_trade(t) for t in chosen])


async def historical_block_trades(call: Call) -> Reply:
    _symbol(call)
    call.params.integer("fromId", required=True)
    limit_param(call, 500, 1000)
    call.params.finish()
    return Reply([])


ENDPOINTS = (
    Endpoint("GET", "/api/v3/klines", klines, fixed(2)),
    Endpoint("GET", "/api/v3/uiKlines", klines, fixed(2)),
    Endpoint("GET", "/api/v3/aggTrades", agg_trades, fixed(4)),
    Endpoint("GET", "/api/v3/historicalTrades", historical_trades, fixed(25)),
    Endpoint("GET", "/api/v3/historicalBlockTrades", historical_block_trades, fixed(25)),
)
