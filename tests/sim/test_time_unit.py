"""Answers in microseconds for `X-MBX-TIME-UNIT: MICROSECOND` (rest-api.md, General API
Information; CHANGELOG.md 2024-12-17; -1194 INVALID_TIME_UNIT in errors.md), over HTTP to the
simulator: the same answer as in milliseconds, each time field times 1,000."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from binguard.sim import Simulator

from .helpers import Api, WsApi, msg, new_order, recv_json, trade_at

MICRO = {"X-MBX-TIME-UNIT": "MICROSECOND"}


def times_1000(ms: Any, us: Any, fields: tuple[str, ...]) -> None:
    """`us` is `ms` with `fields` times 1,000 and every other field equal."""
    assert set(us) == set(ms)
    for key, value in ms.items():
        if key in fields:
            assert us[key] == value * 1000, key
        else:
            assert us[key] == value, key


async def test_an_order_and_its_queries_in_microseconds(api: Api) -> None:
    placed = await api.call(
        "POST", "/api/v3/order", new_order("BUY", "LIMIT", "0.001", price="20000"), signed=True,
        headers=MICRO,
    )  # fmt: skip
    assert placed.status == 200, placed.body
    now = await api.get("/api/v3/time")
    us = placed.body["transactTime"]
    assert now.body["serverTime"] * 1000 - 5_000_000 <= us <= now.body["serverTime"] * 1000
    assert placed.body["workingTime"] == us
    query = {"symbol": "BTCUSDT", "orderId": placed.body["orderId"]}
    ms = await api.get("/api/v3/order", query, signed=True)
    micro = await api.get("/api/v3/order", query, signed=True, headers=MICRO)
    times_1000(ms.body, micro.body, ("time", "updateTime", "workingTime"))
    listed = await api.get("/api/v3/openOrders", {"symbol": "BTCUSDT"}, signed=True, headers=MICRO)
    assert [o["time"] for o in listed.body] == [micro.body["time"]]
    # (the same header, lower case: microseconds too; millisecond: as without the header)
    lower = await api.get("/api/v3/time", headers={"X-MBX-TIME-UNIT": "microsecond"})
    assert lower.body["serverTime"] > 10**15
    milli = await api.get("/api/v3/time", headers={"X-MBX-TIME-UNIT": "MILLISECOND"})
    assert milli.body["serverTime"] < 10**13


async def test_trades_and_candles_in_microseconds(api: Api) -> None:
    await trade_at(api, "25000")
    await trade_at(api, "25001")
    for path, params, fields in (
        ("/api/v3/myTrades", {"symbol": "BTCUSDT"}, ("time",)),
        ("/api/v3/aggTrades", {"symbol": "BTCUSDT"}, ("T",)),
        ("/api/v3/trades", {"symbol": "BTCUSDT"}, ("time",)),
    ):
        signed = path == "/api/v3/myTrades"
        ms = await api.get(path, params, signed=signed)
        us = await api.get(path, params, signed=signed, headers=MICRO)
        assert ms.status == us.status == 200, (path, us.body)
        rows_ms, rows_us = (
            (ms.body, us.body) if isinstance(ms.body, list) else ([ms.body], [us.body])
        )
        assert rows_ms, path
        for a, b in zip(rows_ms, rows_us, strict=True):
            times_1000(a, b, fields)
    # a rolling window: its open and close times move with the clock between the two requests
    # (by the time between them: 10 s allowed, for a loaded machine)
    ms = await api.get("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"})
    us = await api.get("/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}, headers=MICRO)
    for key in ("openTime", "closeTime"):
        assert us.body[key] % 1000 == 0 and 0 <= us.body[key] // 1000 - ms.body[key] < 10_000
    assert {k: v for k, v in us.body.items() if not k.endswith("Time")} == {
        k: v for k, v in ms.body.items() if not k.endswith("Time")
    }
    for path in ("/api/v3/klines", "/api/v3/uiKlines"):
        params = {"symbol": "BTCUSDT", "interval": "1m"}
        ms = await api.get(path, params)
        us = await api.get(path, params, headers=MICRO)
        assert ms.body, path
        for a, b in zip(ms.body, us.body, strict=True):
            assert (b[0], b[6]) == (a[0] * 1000, a[6] * 1000)  # open and close time
            assert b[1:6] + b[7:] == a[1:6] + a[7:]


async def test_an_errors_data_is_in_microseconds_too(api: Api) -> None:
    """cancelReplace's -2021 carries the new order's answer in `data` (rest-api.md §Cancel an
    Existing Order and Send a New Order): its times follow the header too."""
    params = {
        **new_order("BUY", "LIMIT", "0.001", price="20000"),
        "cancelReplaceMode": "ALLOW_FAILURE",
        "cancelOrderId": 987654,  # no such order: the cancel half fails, the new order is placed
    }
    reply = await api.call(
        "POST", "/api/v3/order/cancelReplace", params, signed=True, headers=MICRO
    )
    assert (reply.status, reply.code) == (409, -2021), reply.body
    placed = reply.body["data"]["newOrderResponse"]
    now = await api.get("/api/v3/time", headers=MICRO)
    assert now.body["serverTime"] - 5_000_000 <= placed["transactTime"] <= now.body["serverTime"]


@pytest.mark.parametrize("unit", ["Microsecond", "SECOND", ""])
async def test_another_time_unit_is_refused_and_nothing_happens(api: Api, unit: str) -> None:
    refused = await api.call(
        "POST", "/api/v3/order", new_order("BUY", "LIMIT", "0.001", price="20000"), signed=True,
        headers={"X-MBX-TIME-UNIT": unit},
    )  # fmt: skip
    assert (refused.status, refused.code, refused.msg) == (400, -1194, msg(-1194))
    placed = await api.get("/api/v3/allOrders", {"symbol": "BTCUSDT"}, signed=True)
    assert placed.body == []


async def test_the_websocket_api_answers_in_microseconds_for_time_unit(
    wsim: Simulator, session: aiohttp.ClientSession
) -> None:
    """`timeUnit=MICROSECOND` in the URL (web-socket-api.md): the answers' times; a bad value
    refuses the handshake with -1194."""
    key = wsim.config.demo.keys[0]
    us = WsApi(
        await session.ws_connect(wsim.ws_url + "/ws-api/v3?timeUnit=MICROSECOND"),
        key.api_key, key.secret,
    )  # fmt: skip
    ms = WsApi(await session.ws_connect(wsim.ws_url + "/ws-api/v3"), key.api_key, key.secret)
    try:
        order = {**new_order("BUY", "LIMIT", "0.001", price="20000")}
        placed = await us.call("order.place", order, signed=True)
        assert placed["status"] == 200, placed
        query = {"symbol": "BTCUSDT", "orderId": placed["result"]["orderId"]}
        in_ms = (await ms.call("order.status", query, signed=True))["result"]
        in_us = (await us.call("order.status", query, signed=True))["result"]
        times_1000(in_ms, in_us, ("time", "updateTime", "workingTime"))
        assert placed["result"]["transactTime"] == in_us["time"]
        server = (await us.call("time"))["result"]["serverTime"]
        assert server > 10**15
        status = (await us.call("session.status"))["result"]
        assert server - 60_000_000 <= status["connectedSince"] <= server  # web-socket-api.md
        assert status["authorizedSince"] is None  # (not logged on: null stays null)
        await trade_at(Api(session, wsim.url, key.api_key, key.secret), "25000")
        klines = {"symbol": "BTCUSDT", "interval": "1m"}
        rows_ms = (await ms.call("klines", klines))["result"]
        rows_us = (await us.call("klines", klines))["result"]
        assert rows_ms and [(r[0] * 1000, r[6] * 1000) for r in rows_ms] == [
            (r[0], r[6]) for r in rows_us
        ]
    finally:
        await us.ws.close()
        await ms.ws.close()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(wsim.ws_url + "/ws-api/v3?timeUnit=SECOND")
    assert refused.value.status == 400


async def test_stream_and_user_data_events_in_microseconds_for_time_unit(
    wsim: Simulator, session: aiohttp.ClientSession
) -> None:
    """`timeUnit=MICROSECOND` on a market stream (web-socket-streams.md) and on the WebSocket
    API's user data (user-data-stream.md): each event's time fields times 1,000 (a kline's own
    start and close too), the same event as a millisecond socket gets; a bad unit is -1194."""
    key = wsim.config.demo.keys[0]
    api = Api(session, wsim.url, key.api_key, key.secret)
    streams = "/stream?streams=btcusdt@aggTrade/btcusdt@kline_1m"
    async with (
        session.ws_connect(wsim.ws_url + streams) as ms,
        session.ws_connect(wsim.ws_url + streams + "&timeUnit=MICROSECOND") as us,
    ):
        users = []
        for query in ("", "?timeUnit=MICROSECOND"):
            client = WsApi(
                await session.ws_connect(wsim.ws_url + "/ws-api/v3" + query),
                key.api_key, key.secret,
            )  # fmt: skip
            sub = await client.call("userDataStream.subscribe.signature", {}, signed=True)
            assert sub["status"] == 200, sub
            users.append(client)
        t0 = (await api.get("/api/v3/time")).body["serverTime"]  # both sockets see what follows
        await trade_at(api, "25000")
        got = await _events(ms, lambda e: e["E"] >= t0)
        also = await _events(us, lambda e, got=got: e["E"] == got[e["e"]]["E"] * 1000)
        times_1000(got["aggTrade"], also["aggTrade"], ("E", "T"))
        a, b = got["kline"], also["kline"]
        times_1000(
            {k: v for k, v in a.items() if k != "k"},
            {k: v for k, v in b.items() if k != "k"},
            ("E",),
        )
        assert (b["k"]["t"], b["k"]["T"]) == (a["k"]["t"] * 1000, a["k"]["T"] * 1000)
        assert {k: v for k, v in b["k"].items() if k not in "tT"} == {
            k: v for k, v in a["k"].items() if k not in "tT"
        }
        reports = []
        for client in users:
            while (e := (await client.event())["event"])["e"] != "executionReport":
                pass
            reports.append(e)
        times_1000(reports[0], reports[1], ("E", "T", "O", "W"))
        for client in users:
            await client.ws.close()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(wsim.ws_url + streams + "&timeUnit=SECOND")
    assert refused.value.status == 400


async def _events(ws: aiohttp.ClientWebSocketResponse, wanted: Any) -> dict[str, dict[str, Any]]:
    """The first aggTrade and the first kline event of a combined stream that satisfy `wanted`
    (bounded by a frame count and receive timeouts)."""
    found: dict[str, dict[str, Any]] = {}
    for _ in range(200):
        data = (await recv_json(ws, 5.0))["data"]
        if data.get("e") in ("aggTrade", "kline") and data["e"] not in found and wanted(data):
            found[data["e"]] = dict(data)
            if len(found) == 2:
                return found
    raise AssertionError(f"only {sorted(found)} seen")
