"""A bot that asks for microseconds through the gateway gets microseconds (rest-api.md
`X-MBX-TIME-UNIT`, web-socket-streams.md `timeUnit`), and its answers never reach the bots that
read milliseconds: the caches hold milliseconds, and a shared stream socket has one unit."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from tests.sim.helpers import Api, recv_json, trade_at

from binguard.gateway import GATEWAY_HEADER, Gateway
from binguard.sim import Simulator

from .conftest import gw_config
from .test_streams import wsim as wsim  # the fixture, shared

MICRO = {"X-MBX-TIME-UNIT": "MICROSECOND"}


async def test_a_microsecond_bot_is_not_answered_from_the_caches_nor_fills_them(
    wsim: Simulator, session: aiohttp.ClientSession
) -> None:
    async with Gateway(gw_config(wsim.url, cache_ttl_s=30)) as gw:
        api = Api(session, gw.url)
        query = {"symbol": "BTCUSDT"}
        micro = await api.get("/api/v3/exchangeInfo", query, headers=MICRO)
        assert GATEWAY_HEADER not in micro.headers and micro.body["serverTime"] > 10**15
        milli = await api.get("/api/v3/exchangeInfo", query)  # not the µs answer, cached
        assert GATEWAY_HEADER not in milli.headers and milli.body["serverTime"] < 10**13
        cached = await api.get("/api/v3/exchangeInfo", query)
        assert cached.headers[GATEWAY_HEADER] == "cache"
        again = await api.get("/api/v3/exchangeInfo", query, headers=MICRO)
        assert GATEWAY_HEADER not in again.headers and again.body["serverTime"] > 10**15


async def test_stream_bots_get_their_own_time_unit(
    wsim: Simulator, session: aiohttp.ClientSession
) -> None:
    async with Gateway(gw_config(wsim.url)) as gw:
        base = "ws" + gw.url[4:] + "/stream?streams=btcusdt@aggTrade"
        key = wsim.config.demo.keys[0]
        async with (
            session.ws_connect(base) as ms,
            session.ws_connect(base + "&timeUnit=MICROSECOND") as us,
        ):
            await trade_at(Api(session, wsim.url, key.api_key, key.secret), "25000")
            a, b = await _agg_trade(ms), await _agg_trade(us)
            status = await Api(session, gw.url).get("/status")
        assert a["a"] == b["a"]  # the same aggregate trade
        assert (b["E"], b["T"]) == (a["E"] * 1000, a["T"] * 1000)
        assert status.body["streams"]["bot_sockets"] == 2
        assert status.body["streams"]["microsecond_upstream_connected"] is True
        connects = [r for r in wsim.state.requests if r.get("ws") == "stream"]
        assert sum(r["method"] == "CONNECT" for r in connects) == 2  # one upstream per unit
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(base + "&timeUnit=SECOND")
        assert refused.value.status == 400


async def _agg_trade(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    for _ in range(50):
        data = (await recv_json(ws, 5.0))["data"]
        if data.get("e") == "aggTrade":
            return dict(data)
    raise AssertionError("no aggTrade event")
