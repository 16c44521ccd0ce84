"""Costs of the market data endpoints weighed by symbol count (rest-api.md §24hr ticker price
change statistics, §Rolling window price change statistics, §Trading Day Ticker;
web-socket-api.md ticker.24hr, ticker, ticker.tradingDay: the same tables)."""

from __future__ import annotations

import json

import pytest

from binguard.policy import Cost, rest_cost, ws_api_cost


def names(n: int) -> str:
    return json.dumps([f"S{i}USDT" for i in range(n)])


@pytest.mark.parametrize(
    ("path", "params", "weight"),
    [
        ("/api/v3/ticker/24hr", None, 80),  # "symbol parameter is omitted": 80
        ("/api/v3/ticker/24hr", {"type": "MINI"}, 80),
        ("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}, 2),
        ("/api/v3/ticker/24hr", {"symbols": names(1)}, 2),
        ("/api/v3/ticker/24hr", {"symbols": names(20)}, 2),  # 1-20 → 2
        ("/api/v3/ticker/24hr", {"symbols": names(21)}, 40),  # 21-100 → 40
        ("/api/v3/ticker/24hr", {"symbols": names(100)}, 40),
        ("/api/v3/ticker/24hr", {"symbols": names(101)}, 80),  # 101 or more → 80
        ("/api/v3/ticker/24hr", {"symbols": names(500)}, 80),
        ("/api/v3/ticker/24hr", {"symbols": "not json"}, 2),  # refused by the server: 1 symbol
        ("/api/v3/ticker", {"symbol": "BTCUSDT", "windowSize": "7d"}, 4),  # 4 per symbol
        ("/api/v3/ticker", {"symbols": names(3)}, 12),
        ("/api/v3/ticker", {"symbols": names(50)}, 200),
        ("/api/v3/ticker", {"symbols": names(51)}, 200),  # "cap at 200" above 50
        ("/api/v3/ticker", {"symbols": names(100)}, 200),
        ("/api/v3/ticker", None, 4),  # neither: -1102 from the server, counted as one symbol
        ("/api/v3/ticker/tradingDay", {"symbols": names(2)}, 8),
        ("/api/v3/ticker/tradingDay", {"symbols": names(80)}, 200),
        ("/api/v3/klines", {"symbol": "BTCUSDT", "limit": 1000}, 2),
        # rest-api.md §Query Execution Rules: symbol 2, symbols 2 each capped at 40, else 40
        ("/api/v3/executionRules", {"symbol": "BTCUSDT"}, 2),
        ("/api/v3/executionRules", {"symbols": names(3)}, 6),
        ("/api/v3/executionRules", {"symbols": names(20)}, 40),
        ("/api/v3/executionRules", {"symbols": names(30)}, 40),
        ("/api/v3/executionRules", {"symbolStatus": "TRADING"}, 40),
        ("/api/v3/executionRules", None, 40),
        ("/api/v3/referencePrice", {"symbol": "BTCUSDT"}, 2),
        # rest-api.md §Query Prevented Matches: 2 by preventedMatchId, 20 by orderId
        ("/api/v3/myPreventedMatches", {"symbol": "BTCUSDT", "preventedMatchId": 1}, 2),
        ("/api/v3/myPreventedMatches", {"symbol": "BTCUSDT", "orderId": 1}, 20),
        ("/api/v3/uiKlines", {"symbol": "BTCUSDT"}, 2),
        ("/api/v3/avgPrice", {"symbol": "BTCUSDT"}, 2),
        ("/api/v3/aggTrades", {"symbol": "BTCUSDT"}, 4),
        ("/api/v3/historicalTrades", {"symbol": "BTCUSDT"}, 25),
    ],
)
def test_market_data_costs(path: str, params: dict[str, str] | None, weight: int) -> None:
    assert rest_cost("GET", path, params) == Cost(weight)


@pytest.mark.parametrize(
    ("method", "params", "weight"),
    [
        ("ticker.24hr", {"symbols": [f"S{i}" for i in range(21)]}, 40),  # a list, not JSON text
        ("ticker.24hr", {}, 80),
        ("ticker", {"symbols": ["A", "B"]}, 8),
        ("ticker.tradingDay", {"symbol": "BTCUSDT"}, 4),
        ("klines", {"symbol": "BTCUSDT"}, 2),
    ],
)
def test_ws_api_market_data_costs(method: str, params: dict[str, object], weight: int) -> None:
    assert ws_api_cost(method, params) == Cost(weight)
