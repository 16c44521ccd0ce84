"""WebSocket API market data methods (web-socket-api.md §General requests, §Market data
requests), each served by its REST handler: the same parameters, validation, errors and weights
(one place per rule). Result bodies are the REST bodies; kline rows arrive pre-serialised and are
decoded here.

`referencePrice` for a symbol that never had one answers status 200 with the -2043 body as its
`result`, exactly as web-socket-api.md shows it; `referencePrice.calculation` answers it as an
error (status 400).
"""

from __future__ import annotations

from typing import Any

import orjson

from . import rest_history, rest_market, rest_tickers
from .call import Call, Handler, RawJson, Reply, Weight, fixed
from .errors import SimError
from .params import Params
from .state import SimState


async def _reference_price(call: Call) -> Reply:
    try:
        return await rest_tickers.reference_price(call)
    except SimError as e:
        if e.code != -2043:
            raise
        return Reply({"code": e.code, "msg": e.msg})


MARKET_METHODS: dict[str, tuple[Handler, Weight]] = {
    "exchangeInfo": (rest_market.exchange_info, fixed(20)),
    "executionRules": (rest_tickers.execution_rules, rest_tickers.weight_rules),
    "depth": (rest_market.depth, rest_market.depth_weight),
    "trades.recent": (rest_market.trades, fixed(25)),
    "trades.historical": (rest_history.historical_trades, fixed(25)),
    "trades.aggregate": (rest_history.agg_trades, fixed(4)),
    "blockTrades.historical": (rest_history.historical_block_trades, fixed(25)),
    "klines": (rest_history.klines, fixed(2)),
    "uiKlines": (rest_history.klines, fixed(2)),
    "avgPrice": (rest_tickers.average_price, fixed(2)),
    "ticker.24hr": (rest_tickers.ticker_24h, rest_tickers.weight_24h),
    "ticker.tradingDay": (rest_tickers.ticker_trading_day, rest_tickers.weight_per_symbol),
    "ticker": (rest_tickers.ticker_rolling, rest_tickers.weight_per_symbol),
    "ticker.price": (rest_market.ticker_price, rest_market.per_symbol),
    "ticker.book": (rest_market.book_ticker, rest_market.per_symbol),
    "referencePrice": (_reference_price, fixed(2)),
    "referencePrice.calculation": (rest_tickers.reference_price_calculation, fixed(2)),
}


async def run_public(handler: Handler, state: SimState, params: Params, ip: str) -> Any:
    """Run a public REST handler for a WebSocket API request; the result body."""
    reply = await handler(Call(state, params, ip))
    body = reply.body
    return orjson.loads(body.data) if isinstance(body, RawJson) else body
