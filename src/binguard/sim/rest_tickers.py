"""Statistics endpoints (rest-api.md): ticker/24hr, ticker (rolling), ticker/tradingDay, avgPrice,
referencePrice, referencePrice/calculation, executionRules.

Weights as documented: 24hr 2 for `symbol` or 1-20 `symbols`, 40 for 21-100, 80 for more or all;
rolling and tradingDay 4 per symbol, 200 above 50 symbols; avgPrice and the reference price
endpoints 2; executionRules 2 per symbol capped at 40, 40 for all or `symbolStatus`.
Errors: `type` other than FULL/MINI is -1139 "Invalid ticker type."; a bad `windowSize` or
`timeZone` -1130; rolling and tradingDay need `symbol` or `symbols` (-1102); more than 100
symbols there is -1101 (the limit is documented, the code is the simulator's choice).
The simulator's symbols have no reference price (-2043) and no execution rules (empty `rules`).
"""

from __future__ import annotations

from typing import Any

from .call import Call, Endpoint, Reply, fixed
from .candles import time_zone
from .errors import SimError, either_mandatory, invalid_value
from .numbers import fmt
from .params import Params
from .rest_market import (
    count_symbols,
    one_or_list,
    status_param,
    symbol_param,
    symbols_param,
    with_status,
)
from .tickers import avg_price, day_24h, full_24h, rolling, trading_day, window_ms

TYPES = ("FULL", "MINI")
MAX_SYMBOLS = 100


def weight_24h(params: Params) -> int:
    if "symbol" in params.values:
        return 2
    if "symbols" not in params.values:
        return 80
    n = count_symbols(params)
    return 2 if n <= 20 else 40 if n <= 100 else 80


def weight_per_symbol(params: Params) -> int:
    n = 1 if "symbol" in params.values else count_symbols(params)
    return 200 if n > 50 else 4 * n


def weight_rules(params: Params) -> int:
    if "symbol" in params.values:
        return 2
    if "symbols" in params.values:
        return min(40, 2 * count_symbols(params))
    return 40


def _ticker_type(call: Call) -> str:
    return call.params.enum("type", TYPES, SimError.of(-1139)) or "FULL"


def _required_symbols(call: Call) -> list[str]:
    names = symbols_param(call)
    if names is None:
        raise either_mandatory("symbol", "symbols")
    if len(names) > MAX_SYMBOLS:
        raise SimError.of(-1101, 1, MAX_SYMBOLS, len(names))
    return names


async def ticker_24h(call: Call) -> Reply:
    names = symbols_param(call)
    kind = _ticker_type(call)
    status = status_param(call)
    call.params.finish()
    state, now = call.state, call.state.clock.now_ms()
    items = []
    for name in with_status(call, names, status):
        s = day_24h(state, name, now)
        items.append(full_24h(state, s) if kind == "FULL" else s.mini())
    return Reply(one_or_list(call, items))


async def ticker_rolling(call: Call) -> Reply:
    names = _required_symbols(call)
    size_text = call.params.text("windowSize") or "1d"
    kind = _ticker_type(call)
    status = status_param(call)
    call.params.finish()
    size = window_ms(size_text)
    if size is None:
        raise invalid_value("windowSize")
    state, now = call.state, call.state.clock.now_ms()
    items = []
    for name in with_status(call, names, status):
        s = rolling(state, name, size, now)
        items.append(s.full() if kind == "FULL" else s.mini())
    return Reply(one_or_list(call, items))


async def ticker_trading_day(call: Call) -> Reply:
    names = _required_symbols(call)
    tz = time_zone(call.params.text("timeZone"))
    kind = _ticker_type(call)
    status = status_param(call)
    call.params.finish()
    state, now = call.state, call.state.clock.now_ms()
    items = []
    for name in with_status(call, names, status):
        s = trading_day(state, name, tz, now)
        items.append(s.full() if kind == "FULL" else s.mini())
    return Reply(one_or_list(call, items))


async def average_price(call: Call) -> Reply:
    symbol = symbol_param(call, required=True)
    call.params.finish()
    assert symbol is not None
    price, close_time = avg_price(call.state, symbol, call.state.clock.now_ms())
    return Reply({"mins": 5, "price": fmt(price), "closeTime": close_time})


async def reference_price(call: Call) -> Reply:
    symbol_param(call, required=True)
    call.params.finish()
    raise SimError.of(-2043)


async def reference_price_calculation(call: Call) -> Reply:
    symbol = symbol_param(call, required=True)
    status = status_param(call)
    call.params.finish()
    assert symbol is not None
    with_status(call, [symbol], status)
    raise SimError.of(-2043)


async def execution_rules(call: Call) -> Reply:
    names = symbols_param(call)
    status = status_param(call)
    call.params.finish()
    if status is not None and names is not None:  # "No combination of multiple parameters"
        raise SimError.of(-1128)
    rules: list[dict[str, Any]] = [
        {"symbol": n, "rules": []} for n in with_status(call, names, status)
    ]
    return Reply({"symbolRules": rules})


ENDPOINTS = (
    Endpoint("GET", "/api/v3/ticker/24hr", ticker_24h, weight_24h),
    Endpoint("GET", "/api/v3/ticker", ticker_rolling, weight_per_symbol),
    Endpoint("GET", "/api/v3/ticker/tradingDay", ticker_trading_day, weight_per_symbol),
    Endpoint("GET", "/api/v3/avgPrice", average_price, fixed(2)),
    Endpoint("GET", "/api/v3/referencePrice", reference_price, fixed(2)),
    Endpoint("GET", "/api/v3/referencePrice/calculation", reference_price_calculation, fixed(2)),
    Endpoint("GET", "/api/v3/executionRules", execution_rules, weight_rules),
)
