"""Hostile parameters on the market data endpoints and methods: always a typed 4xx, never a 500
or a simulator bug (the fixtures assert `sim.bugs == []`)."""

from __future__ import annotations

import json

import aiohttp
import pytest

from binguard.sim import Simulator

from .helpers import Api, WsApi

NASTY = [
    "",
    "-0",
    "-1",
    "99999999999999999999",
    "-99999999999999999999",
    "1e9",
    "%00",
    "\u00b2",
    "[" * 2000,
    '["BTCUSDT",' * 50,
    "99:99",
    "+99",
    "1d2h",
    "NaN",
]
PATHS = {
    "/api/v3/klines": ("symbol", "interval", "startTime", "endTime", "timeZone", "limit"),
    "/api/v3/aggTrades": ("symbol", "fromId", "startTime", "endTime", "limit"),
    "/api/v3/historicalTrades": ("symbol", "fromId", "limit"),
    "/api/v3/ticker/24hr": ("symbol", "symbols", "type", "symbolStatus"),
    "/api/v3/ticker": ("symbols", "windowSize", "type"),
    "/api/v3/ticker/tradingDay": ("symbols", "timeZone", "type"),
    "/api/v3/executionRules": ("symbols", "symbolStatus"),
}
BASE = {"symbol": "BTCUSDT", "interval": "1m"}


@pytest.mark.parametrize("path", list(PATHS))
async def test_rest_never_fails_inside(sim: Simulator, api: Api, path: str) -> None:
    for name in PATHS[path]:
        for value in NASTY:
            params = {k: v for k, v in BASE.items() if k in PATHS[path] and k != name}
            if name != "symbol" and "symbol" not in PATHS[path] and name != "symbols":
                params["symbols"] = '["BTCUSDT"]'
            params[name] = value
            reply = await api.get(path, params)
            assert reply.status in (200, 400), (path, name, value, reply.body)
            if reply.status == 400:
                assert isinstance(reply.code, int) and isinstance(reply.msg, str)


@pytest.mark.parametrize(
    "params",
    [
        {"symbol": "BTCUSDT", "interval": 5},
        {"symbol": ["BTCUSDT"], "interval": "1m"},
        {"symbol": "BTCUSDT", "interval": "1m", "startTime": 1e400},
        {"symbol": "BTCUSDT", "interval": "1m", "timeZone": {"h": 8}},
        {"symbol": "BTCUSDT", "interval": "1m", "limit": True},
        {"symbol": None, "interval": "1m"},
    ],
)
async def test_ws_api_never_fails_inside(
    wsim: Simulator, session: aiohttp.ClientSession, params: dict[str, object]
) -> None:
    async with session.ws_connect(wsim.ws_url + "/ws-api/v3") as ws:
        api = WsApi(ws)
        for method in ("klines", "ticker", "ticker.24hr", "trades.aggregate", "depth"):
            request_id = await api.send(method, params)
            reply = await api.response(request_id)
            assert reply["status"] in (200, 400), (method, params, reply)
            if reply["status"] == 400:
                assert set(reply["error"]) == {"code", "msg"}, json.dumps(reply)
