"""Public endpoints (security NONE): ping, time, exchangeInfo, depth, trades, price tickers.

Parameters, defaults, caps and weights follow rest-api.md; the weights are in binance-api-
semantics.md §6 (depth by limit; exchangeInfo 20; tickers 2 per symbol or 4 for all; trades 25).
"""

from __future__ import annotations

import json
from typing import Any

from .call import Call, Endpoint, Reply, fixed
from .engine.reports import public_trade
from .errors import SimError, illegal, invalid_value
from .numbers import fmt
from .params import Params

SYMBOLS_LEGAL = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'
STATUS_FILTER = ("TRADING", "HALT", "BREAK", "CANCEL_ONLY")
# every type the engine runs (ccxt reads this list before placing a stop order)
ORDER_TYPES = [
    "LIMIT",
    "LIMIT_MAKER",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
]


def symbol_param(call: Call, required: bool) -> str | None:
    symbol = call.params.text("symbol", required=required)
    if symbol is not None and symbol not in call.state.engine.rules:
        raise SimError.of(-1121)
    return symbol


def symbols_param(call: Call) -> list[str] | None:
    """`symbol` or `symbols` (a JSON array); neither means all, both is -1128, a name twice
    -1151."""
    symbol = symbol_param(call, required=False)
    text = call.params.text("symbols")
    if symbol is not None and text is not None:
        raise SimError.of(-1128)
    if symbol is not None:
        return [symbol]
    if text is None:
        return None
    try:
        names = json.loads(text)
    except (ValueError, RecursionError):  # deep nesting overflows the decoder's stack
        raise illegal("symbols", SYMBOLS_LEGAL) from None
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise illegal("symbols", SYMBOLS_LEGAL)
    for n in names:
        if n not in call.state.engine.rules:
            raise SimError.of(-1121)
    if len(set(names)) != len(names):
        raise SimError.of(-1151)
    return names


def status_param(call: Call) -> str | None:
    """`symbolStatus`: TRADING, HALT, BREAK (rest-api.md), CANCEL_ONLY (CHANGELOG 2026-07-01)."""
    return call.params.enum("symbolStatus", STATUS_FILTER, SimError.of(-1122))


def with_status(call: Call, names: list[str] | None, status: str | None) -> list[str]:
    """The symbols to answer for: a single `symbol` whose status differs is -1220; from
    several or all, the others are left out (CHANGELOG 2025-10-28)."""
    rules = call.state.engine.rules
    chosen = list(rules) if names is None else names
    if status is None:
        return chosen
    if "symbol" in call.params:
        if rules[chosen[0]].spec.status != status:
            raise SimError.of(-1220)
        return chosen
    return [n for n in chosen if rules[n].spec.status == status]


def one_or_list(call: Call, items: list[Any]) -> Any:
    """A single object for `symbol`, a list otherwise."""
    return items[0] if "symbol" in call.params else items


def count_symbols(params: Params) -> int:
    """How many symbols `symbols` names (for weights; malformed counts as one)."""
    text = params.values.get("symbols", "")
    try:
        names = json.loads(text) if text else None
    except (ValueError, RecursionError):
        return 1
    return len(names) if isinstance(names, list) and names else 1


def _int_or(params: Params, name: str, default: int) -> int:
    """A weight input: plain ASCII digits only (isdigit() also takes "²"), else the default;
    the endpoint's own validation then answers the typed error."""
    value = params.values.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 20 else default


def limit_param(call: Call, default: int, cap: int) -> int:
    limit = call.params.integer("limit")
    if limit is None:
        return default
    if limit <= 0:
        raise invalid_value("limit")
    return min(limit, cap)


def per_symbol(params: Params) -> int:
    return 2 if "symbol" in params.values else 4


def depth_weight(params: Params) -> int:
    limit = _int_or(params, "limit", 100)
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


async def ping(call: Call) -> Reply:
    call.params.finish()
    return Reply({})


async def server_time(call: Call) -> Reply:
    call.params.finish()
    return Reply({"serverTime": call.state.clock.now_ms()})


async def exchange_info(call: Call) -> Reply:
    names = symbols_param(call)
    call.params.text("permissions")
    call.params.boolean("showPermissionSets")
    status = status_param(call)
    call.params.finish()
    if status is not None and names is not None:  # "Cannot be used in combination" (rest-api.md)
        raise SimError.of(-1128)
    state = call.state
    rules = state.engine.rules
    symbols: list[dict[str, Any]] = []
    for name in with_status(call, names, status):
        r = rules[name]
        s = r.spec
        symbols.append(
            {
                "symbol": s.symbol,
                "status": s.status,
                "baseAsset": s.base,
                "baseAssetPrecision": s.base_precision,
                "quoteAsset": s.quote,
                "quotePrecision": s.quote_precision,
                "quoteAssetPrecision": s.quote_precision,
                "baseCommissionPrecision": s.base_precision,
                "quoteCommissionPrecision": s.quote_precision,
                "orderTypes": ORDER_TYPES,
                "icebergAllowed": True,
                "ocoAllowed": True,
                "otoAllowed": True,
                "opoAllowed": True,
                "quoteOrderQtyMarketAllowed": True,
                "allowTrailingStop": True,
                "cancelReplaceAllowed": True,
                "amendAllowed": True,
                "pegInstructionsAllowed": True,
                "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": r.exchange_filters(),
                "permissions": [],
                "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": s.default_stp_mode,
                "allowedSelfTradePreventionModes": list(s.allowed_stp_modes),
            }
        )
    body: dict[str, Any] = {
        "timezone": "UTC",
        "serverTime": state.clock.now_ms(),
        "rateLimits": [
            {
                "rateLimitType": spec.kind,
                "interval": spec.interval,
                "intervalNum": spec.interval_num,
                "limit": spec.limit,
            }
            for spec in state.config.limits.rate_limits
        ],
        "exchangeFilters": [],
        "symbols": symbols,
    }
    if state.engine.sors:  # "Optional field. Present only when SOR is available."
        body["sors"] = [
            {"baseAsset": base, "symbols": list(names)} for base, names in state.engine.sors.items()
        ]
    return Reply(body)


async def depth(call: Call) -> Reply:
    symbol = symbol_param(call, required=True)
    limit = limit_param(call, 100, 5000)
    status = status_param(call)
    call.params.finish()
    assert symbol is not None
    with_status(call, [symbol], status)
    last_id, bids, asks = call.state.engine.depth(symbol, limit)
    return Reply(
        {
            "lastUpdateId": last_id,
            "bids": [[fmt(p), fmt(q)] for p, q in bids],
            "asks": [[fmt(p), fmt(q)] for p, q in asks],
        }
    )


async def trades(call: Call) -> Reply:
    symbol = symbol_param(call, required=True)
    limit = limit_param(call, 500, 1000)
    call.params.finish()
    assert symbol is not None
    recent = list(call.state.engine.trades[symbol])[-limit:]
    return Reply([public_trade(t) for t in recent])


async def ticker_price(call: Call) -> Reply:
    names = symbols_param(call)
    status = status_param(call)
    call.params.finish()
    engine = call.state.engine
    chosen = with_status(call, names, status)
    items = [{"symbol": n, "price": fmt(engine.last_price[n])} for n in chosen]
    return Reply(one_or_list(call, items))


async def book_ticker(call: Call) -> Reply:
    names = symbols_param(call)
    status = status_param(call)
    call.params.finish()
    engine = call.state.engine
    items = []
    for n in with_status(call, names, status):
        book = engine.books[n]
        bid, ask = book.bids.best(), book.asks.best()
        items.append(
            {
                "symbol": n,
                "bidPrice": fmt(bid or 0),
                "bidQty": fmt(book.bids.shown(bid) if bid is not None else 0),
                "askPrice": fmt(ask or 0),
                "askQty": fmt(book.asks.shown(ask) if ask is not None else 0),
            }
        )
    return Reply(one_or_list(call, items))


ENDPOINTS = (
    Endpoint("GET", "/api/v3/ping", ping, fixed(1)),
    Endpoint("GET", "/api/v3/time", server_time, fixed(1)),
    Endpoint("GET", "/api/v3/exchangeInfo", exchange_info, fixed(20)),
    Endpoint("GET", "/api/v3/depth", depth, depth_weight),
    Endpoint("GET", "/api/v3/trades", trades, fixed(25)),
    Endpoint("GET", "/api/v3/ticker/price", ticker_price, per_symbol),
    Endpoint("GET", "/api/v3/ticker/bookTicker", book_ticker, per_symbol),
)
