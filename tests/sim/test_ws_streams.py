"""Market data streams over loopback: each stream, the local order book, control messages, limits."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import aiohttp
import pytest

from binguard.sim import Simulator
from binguard.sim.config import WsConfig

from .conftest import WS_QUIET
from .helpers import Api, poll, recv_close, recv_json


async def _crowd(api: Api, n: int) -> None:
    await api.admin(f"crowd/step?n={n}", "POST")


async def _take_ask(api: Api) -> dict[str, Any]:
    """A small buy at the best ask: one trade, a depth change, a new top of book."""
    book = (await api.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5})).body
    price = book["asks"][0][0]
    reply = await api.order(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="IOC",
        quantity="0.001",
        price=price,
    )
    assert reply.status == 200, reply.body
    return dict(reply.body)


async def test_trade_stream(wsim: Simulator, session: aiohttp.ClientSession, wapi: Api) -> None:
    async with session.ws_connect(wsim.ws_url + "/ws/btcusdt@trade") as ws:
        order = await _take_ask(wapi)
        event = await recv_json(ws)
    last = (await wapi.get("/api/v3/trades", {"symbol": "BTCUSDT", "limit": 1})).body[0]
    assert event["e"] == "trade" and event["s"] == "BTCUSDT"
    assert event["t"] == last["id"] == order["fills"][0]["tradeId"]
    assert (event["p"], event["q"], event["T"]) == (last["price"], last["qty"], last["time"])
    assert event["m"] is False  # the buyer took liquidity


async def test_combined_stream_wraps_and_book_ticker(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api
) -> None:
    url = wsim.ws_url + "/stream?streams=btcusdt@trade/btcusdt@bookTicker"
    async with session.ws_connect(url) as ws:
        await _take_ask(wapi)
        frames = [await recv_json(ws), await recv_json(ws)]
    by_stream = {f["stream"]: f["data"] for f in frames}
    assert set(by_stream) == {"btcusdt@trade", "btcusdt@bookTicker"}
    ticker = (await wapi.get("/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"})).body
    top = by_stream["btcusdt@bookTicker"]
    assert (top["b"], top["B"], top["a"], top["A"]) == (
        ticker["bidPrice"],
        ticker["bidQty"],
        ticker["askPrice"],
        ticker["askQty"],
    )
    depth = (await wapi.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1})).body
    assert top["u"] == depth["lastUpdateId"] and top["s"] == "BTCUSDT"


def _apply(book: dict[str, dict[str, str]], event: dict[str, Any]) -> None:
    for side, key in (("bids", "b"), ("asks", "a")):
        for price, qty in event[key]:
            if float(qty) == 0:
                book[side].pop(price, None)
            else:
                book[side][price] = qty


async def _local_book(
    api: Api, ws: aiohttp.ClientWebSocketResponse, steps: int, stream: str = ""
) -> None:
    """Binance's procedure (web-socket-streams.md): buffer, snapshot, drop, chain, apply.

    With `stream`, the connection is a combined one and only that stream's events are used.
    """
    await _crowd(api, 3)
    buffered = [await recv_json(ws)]  # the stream is live before the snapshot
    snap = (await api.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5000})).body
    last = snap["lastUpdateId"]
    book = {"bids": dict(map(tuple, snap["bids"])), "asks": dict(map(tuple, snap["asks"]))}
    for _ in range(5):  # the burst: the crowd trades, quotes and cancels
        await _crowd(api, steps)
    truth = (await api.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5000})).body
    target = truth["lastUpdateId"]
    assert target > last + steps
    prev_u: int | None = None
    while prev_u is None or prev_u < target:
        event = buffered.pop(0) if buffered else await recv_json(ws)
        if stream:
            if event["stream"] != stream:
                continue
            event = event["data"]
        if event["u"] <= last:
            continue
        if prev_u is None:
            assert event["U"] <= last + 1 <= event["u"]
        else:
            assert event["U"] == prev_u + 1, "gap in the diff stream"
        _apply(book, event)
        prev_u = event["u"]
    assert prev_u == target
    assert book["bids"] == dict(map(tuple, truth["bids"]))
    assert book["asks"] == dict(map(tuple, truth["asks"]))


async def test_local_order_book_equals_simulator_book(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api
) -> None:
    async with session.ws_connect(wsim.ws_url + "/ws/btcusdt@depth") as ws:
        await _local_book(wapi, ws, 40)


async def test_depth_speeds_merge_steps_and_still_chain(session: aiohttp.ClientSession) -> None:
    config = WS_QUIET.with_(ws=WsConfig(depth_ms=60, depth_fast_ms=15))
    async with Simulator(config) as sim:
        key = sim.config.demo.keys[0]
        api = Api(session, sim.url, key.api_key, key.secret)
        url = sim.ws_url + "/stream?streams=btcusdt@depth@100ms/btcusdt@depth"
        async with session.ws_connect(url) as ws:
            await _local_book(api, ws, 40, "btcusdt@depth@100ms")
            # the slower stream merges several engine steps into one event, still chained
            seen: dict[str, list[tuple[int, int]]] = {
                "btcusdt@depth": [],
                "btcusdt@depth@100ms": [],
            }
            for _ in range(3):
                await _crowd(api, 20)
                while True:
                    frame = await recv_json(ws)
                    seen[frame["stream"]].append((frame["data"]["U"], frame["data"]["u"]))
                    if frame["stream"] == "btcusdt@depth":
                        break
        assert sim.bugs == []
    slow = seen["btcusdt@depth"]
    assert all(b[0] == a[1] + 1 for a, b in itertools.pairwise(slow[1:]))
    assert all(u - first >= 19 for first, u in slow[1:])


async def _control(ws: aiohttp.ClientWebSocketResponse, message: Any) -> Any:
    await ws.send_str(message if isinstance(message, str) else json.dumps(message))
    return await recv_json(ws)


async def test_control_messages(wsim: Simulator, session: aiohttp.ClientSession, wapi: Api) -> None:
    async with session.ws_connect(wsim.ws_url + "/ws") as ws:
        sub = {"method": "SUBSCRIBE", "params": ["btcusdt@trade", "ethusdt@depth"], "id": 1}
        assert await _control(ws, sub) == {"result": None, "id": 1}
        listed = await _control(ws, {"method": "LIST_SUBSCRIPTIONS", "id": "abc"})
        assert listed == {"result": ["btcusdt@trade", "ethusdt@depth"], "id": "abc"}
        unsub = {"method": "UNSUBSCRIBE", "params": ["ethusdt@depth"], "id": 2}
        assert await _control(ws, unsub) == {"result": None, "id": 2}
        get = {"method": "GET_PROPERTY", "params": ["combined"], "id": 3}
        assert await _control(ws, get) == {"result": False, "id": 3}
        put = {"method": "SET_PROPERTY", "params": ["combined", True], "id": 4}
        assert await _control(ws, put) == {"result": None, "id": 4}
        await _take_ask(wapi)
        frame = await recv_json(ws)
        assert frame["stream"] == "btcusdt@trade" and frame["data"]["e"] == "trade"
        truth = await wapi.admin("ws")
        (conn,) = truth["connections"]
        assert conn["streams"] == ["btcusdt@trade"] and conn["combined"] is True
        assert truth["by_ip"] == {"127.0.0.1": {"streams": 1, "api": 0}}


VARIANTS = "`SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`"


@pytest.mark.parametrize(
    ("message", "reply"),
    [
        ("{bad", {"error": {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 2"}}),
        (
            {"method": "SUBSCRIBEX", "params": [], "id": 7},
            {
                "error": {
                    "code": 2,
                    "msg": f"Invalid request: unknown variant `SUBSCRIBEX`, expected one of {VARIANTS} at line 1 column 23",
                },
                "id": 7,
            },
        ),
        (
            {"method": "SET_PROPERTY", "params": ["speed", True], "id": 8},
            {"error": {"code": 0, "msg": "Unknown property"}, "id": 8},
        ),
        (
            {"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 9},
            {"error": {"code": 1, "msg": "Invalid value type: expected Boolean"}, "id": 9},
        ),
        (
            {"method": "GET_PROPERTY", "params": [5], "id": 10},
            {
                "error": {"code": 2, "msg": "Invalid request: property name must be a string"},
                "id": 10,
            },
        ),
        (
            {"method": "SUBSCRIBE", "params": ["btcusdt@trade"], "id": 1.5},
            {
                "error": {
                    "code": 2,
                    "msg": "Invalid request: request ID must be an unsigned integer",
                }
            },
        ),
        (
            {"method": "SUBSCRIBE", "params": ["BTCUSDT@nonsense"], "id": 11},
            {"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": 11},
        ),
        (
            {"method": "LIST_SUBSCRIPTIONS", "id": 12, "extra": 1},
            {"error": {"code": 2, "msg": "Invalid request: too many parameters"}, "id": 12},
        ),
    ],
)
async def test_control_errors(
    wsim: Simulator, session: aiohttp.ClientSession, message: Any, reply: Any
) -> None:
    async with session.ws_connect(wsim.ws_url + "/ws") as ws:
        assert await _control(ws, message) == reply


async def test_missing_method_error_names_the_column(
    wsim: Simulator, session: aiohttp.ClientSession
) -> None:
    text = '{"params": ["btcusdt@trade"], "id": 1}'
    async with session.ws_connect(wsim.ws_url + "/ws") as ws:
        reply = await _control(ws, text)
    assert reply == {
        "error": {
            "code": 2,
            "msg": f"Invalid request: missing field `method` at line 1 column {len(text)}",
        }
    }


async def test_more_than_five_messages_per_second_disconnects(
    wsim: Simulator, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(wsim.ws_url + "/ws") as ws:
        for i in range(6):
            await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
        replies = []
        while True:
            msg = await ws.receive(timeout=3)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            replies.append(json.loads(msg.data))
        assert ws.close_code == 1008
    assert [r["id"] for r in replies] == [0, 1, 2, 3, 4]


async def test_stream_and_connection_limits(session: aiohttp.ClientSession) -> None:
    config = WS_QUIET.with_(ws=WsConfig(max_streams=2, max_connections=2))
    async with Simulator(config) as sim:
        async with session.ws_connect(sim.ws_url + "/ws/btcusdt@trade") as ws:
            sub = {"method": "SUBSCRIBE", "params": ["ethusdt@trade", "ethbtc@trade"], "id": 1}
            reply = await _control(ws, sub)
            assert reply == {
                "error": {"code": 2, "msg": "Invalid request: too many streams"},
                "id": 1,
            }
            async with session.ws_connect(sim.ws_url + "/stream?streams=ethusdt@trade"):
                with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                    await session.ws_connect(sim.ws_url + "/ws")
        assert info.value.status == 429
        too_many = "/".join(f"{s}@trade" for s in ("btcusdt", "ethusdt", "ethbtc"))
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(sim.ws_url + "/stream?streams=" + too_many)
        assert info.value.status in (400, 429)


async def test_unknown_symbol_is_silent_but_accepted(
    wsim: Simulator, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(wsim.ws_url + "/ws") as ws:
        sub = {"method": "SUBSCRIBE", "params": ["dogeusdt@trade"], "id": 1}
        assert await _control(ws, sub) == {"result": None, "id": 1}


async def test_server_pings_and_missed_pong_disconnects(session: aiohttp.ClientSession) -> None:
    # pongs count toward the 5 messages per second: 4 pings a second keep within it
    config = WS_QUIET.with_(ws=WsConfig(ping_interval_s=0.25, pong_timeout_s=0.6))
    async with Simulator(config) as sim:
        # a client answering each ping with its payload stays connected past the pong timeout
        async with session.ws_connect(sim.ws_url + "/ws", autoping=False) as ws:
            started = time.monotonic()
            payloads = []
            while time.monotonic() - started < 1.1:
                msg = await ws.receive(timeout=2)
                assert msg.type == aiohttp.WSMsgType.PING
                payloads.append(msg.data)
                await ws.pong(msg.data)
            assert len(set(payloads)) == len(payloads) >= 4  # distinct payloads
            assert not ws.closed
        # a client that does not answer (or answers with another payload) is disconnected
        async with session.ws_connect(sim.ws_url + "/ws", autoping=False) as ws:
            started = time.monotonic()
            while True:
                msg = await ws.receive(timeout=3)
                if msg.type != aiohttp.WSMsgType.PING:
                    break
                await ws.pong(b"not-the-payload")
            elapsed = time.monotonic() - started
            assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 1008
            assert 0.6 <= elapsed < 2.5
        api = Api(session, sim.url)
        truth = await poll(lambda: api.admin("ws"), lambda t: len(t["closed"]) == 2)
        assert [c["close_reason"] for c in truth["closed"]] == ["closed by client", "pong timeout"]


async def test_connection_lifetime(session: aiohttp.ClientSession) -> None:
    config = WS_QUIET.with_(ws=WsConfig(lifetime_s=0.3))
    async with Simulator(config) as sim:
        started = time.monotonic()
        async with session.ws_connect(sim.ws_url + "/ws/btcusdt@trade") as ws:
            code = await recv_close(ws)
        assert code == 1000 and time.monotonic() - started >= 0.3
