"""WebSocket API market data methods over loopback (web-socket-api.md §Market data requests):
each answers what its REST twin answers, with the same errors and the documented weights."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from binguard.sim import Simulator

from .helpers import Api, WsApi, msg

ALL = ["BTCUSDT", "ETHUSDT"]
ALL_TEXT = '["BTCUSDT","ETHUSDT"]'


@pytest.fixture
async def wsapi(wsim: Simulator, session: aiohttp.ClientSession) -> AsyncIterator[WsApi]:
    async with session.ws_connect(wsim.ws_url + "/ws-api/v3") as ws:
        yield WsApi(ws)


def _weight(reply: dict[str, Any]) -> int:
    return next(r["count"] for r in reply["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT")


# method, WebSocket params, REST path, REST params, weight
CASES = [
    ("depth", {"symbol": "BTCUSDT", "limit": 5}, "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5}, 5),
    ("trades.recent", {"symbol": "BTCUSDT", "limit": 5}, "/api/v3/trades", {"symbol": "BTCUSDT", "limit": 5}, 25),
    ("trades.historical", {"symbol": "BTCUSDT", "fromId": 1, "limit": 3}, "/api/v3/historicalTrades", {"symbol": "BTCUSDT", "fromId": 1, "limit": 3}, 25),
    ("trades.aggregate", {"symbol": "BTCUSDT"}, "/api/v3/aggTrades", {"symbol": "BTCUSDT"}, 4),
    ("blockTrades.historical", {"symbol": "BTCUSDT", "fromId": 1}, "/api/v3/historicalBlockTrades", {"symbol": "BTCUSDT", "fromId": 1}, 25),
    ("klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": 30}, "/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1h", "limit": 30}, 2),
    ("uiKlines", {"symbol": "ETHBTC", "interval": "1d", "timeZone": "8"}, "/api/v3/uiKlines", {"symbol": "ETHBTC", "interval": "1d", "timeZone": "8"}, 2),
    ("avgPrice", {"symbol": "BTCUSDT"}, "/api/v3/avgPrice", {"symbol": "BTCUSDT"}, 2),
    ("ticker.24hr", {"symbols": ALL}, "/api/v3/ticker/24hr", {"symbols": ALL_TEXT}, 2),
    ("ticker.24hr", {}, "/api/v3/ticker/24hr", {}, 80),
    ("ticker.tradingDay", {"symbol": "BTCUSDT", "type": "MINI"}, "/api/v3/ticker/tradingDay", {"symbol": "BTCUSDT", "type": "MINI"}, 4),
    ("ticker", {"symbols": ALL, "windowSize": "7d"}, "/api/v3/ticker", {"symbols": ALL_TEXT, "windowSize": "7d"}, 8),
    ("ticker.price", {"symbol": "BTCUSDT"}, "/api/v3/ticker/price", {"symbol": "BTCUSDT"}, 2),
    ("ticker.book", {}, "/api/v3/ticker/bookTicker", {}, 4),
    ("exchangeInfo", {"symbol": "ETHBTC"}, "/api/v3/exchangeInfo", {"symbol": "ETHBTC"}, 20),
    ("executionRules", {}, "/api/v3/executionRules", {}, 40),
]  # fmt: skip


@pytest.mark.parametrize(("method", "params", "path", "rest", "weight"), CASES)
async def test_methods_answer_like_rest(
    wsim: Simulator,
    wapi: Api,
    wsapi: WsApi,
    method: str,
    params: dict[str, Any],
    path: str,
    rest: dict[str, Any],
    weight: int,
) -> None:
    for _ in range(10):
        wsim.state.crowd.step()
    before = _weight(await wsapi.call("ping"))
    reply = await wsapi.call(method, params)
    assert reply["status"] == 200, reply
    assert _weight(reply) - before == weight
    expected = (await wapi.get(path, rest)).body
    assert _timeless(reply["result"]) == _timeless(expected)


def _timeless(body: Any) -> Any:
    """Without the fields that follow the clock between the two requests."""
    if isinstance(body, list):
        return [_timeless(b) for b in body]
    if isinstance(body, dict):
        return {k: v for k, v in body.items() if k not in ("openTime", "closeTime", "serverTime")}
    return body


@pytest.mark.parametrize(
    ("method", "params", "code", "message"),
    [
        ("klines", {"symbol": "BTCUSDT", "interval": "2m"}, -1120, msg(-1120)),
        ("klines", {"interval": "1m"}, -1102, msg(-1102, 1, "symbol")),
        ("ticker", {}, -1102, msg(-1102, 2, "symbol", "symbols")),
        ("ticker", {"symbol": "BTCUSDT", "windowSize": "1w"}, -1130, msg(-1130, 1, "windowSize")),
        ("ticker.24hr", {"type": "TINY"}, -1139, msg(-1139)),
        ("trades.aggregate", {"symbol": "BTCUSDT", "fromId": 1, "endTime": 5}, -1128, msg(-1128)),
        ("depth", {"symbol": "BTCUSDT", "symbolStatus": "NOPE"}, -1122, msg(-1122)),
        ("referencePrice.calculation", {"symbol": "BTCUSDT"}, -2043, msg(-2043)),
    ],
)
async def test_errors_like_rest(
    wsapi: WsApi, method: str, params: dict[str, Any], code: int, message: str
) -> None:
    reply = await wsapi.call(method, params)
    assert reply["status"] == 400
    assert reply["error"] == {"code": code, "msg": message}


async def test_reference_price_answers_its_error_as_a_result(wsapi: WsApi) -> None:
    """web-socket-api.md §Query Reference Price: 'never been set' comes back with status 200."""
    reply = await wsapi.call("referencePrice", {"symbol": "BTCUSDT"})
    assert (reply["status"], reply["result"]) == (200, {"code": -2043, "msg": msg(-2043)})
