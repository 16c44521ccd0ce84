"""Streams fan-out and the WebSocket API through the gateway, against the simulator's sockets
(web-socket-streams.md, web-socket-api.md): many bot sockets share one upstream socket; a depth
stream never carries a silent gap (the bot's socket is closed with a reason instead); WebSocket
API frames pass both ways within the budget."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import aiohttp
import pytest
from tests.sim.helpers import Api, WsApi, limit_buy, poll, recv_json

from binguard.gateway import Gateway
from binguard.sim import FlowConfig, SimConfig, Simulator
from binguard.sim.config import WsConfig

from .conftest import gw_config, load_faults

WS_QUIET = SimConfig(flow=FlowConfig(interval_ms=0), ws=WsConfig(depth_ms=0, depth_fast_ms=0))


@pytest.fixture
async def wsim() -> AsyncIterator[Simulator]:
    async with Simulator(WS_QUIET) as s:
        yield s
        assert s.bugs == []


@pytest.fixture
async def wgw(wsim: Simulator) -> AsyncIterator[Gateway]:
    async with Gateway(gw_config(wsim.url)) as gw:
        yield gw


def _ws(gw: Gateway) -> str:
    return "ws" + gw.url[4:]


async def _recv_until_close(ws: aiohttp.ClientWebSocketResponse) -> tuple[list[dict], str]:
    """The text frames until the close, and the close frame's reason."""
    frames = []
    while True:
        msg = await ws.receive(timeout=5)
        if msg.type != aiohttp.WSMsgType.TEXT:
            return frames, str(msg.extra or "") if msg.type == aiohttp.WSMsgType.CLOSE else ""
        frames.append(msg.json())


async def _upstream_stream_sockets(wsim: Simulator) -> int:
    return sum(
        1 for c in wsim.state.requests if c.get("ws") == "stream" and c["method"] == "CONNECT"
    )


async def test_many_bot_sockets_share_one_upstream_socket(
    wsim: Simulator, wgw: Gateway, session: aiohttp.ClientSession
) -> None:
    base = _ws(wgw)
    async with (
        session.ws_connect(base + "/ws/btcusdt@depth") as raw,
        session.ws_connect(base + "/stream?streams=btcusdt@depth/ethusdt@depth") as combined,
        session.ws_connect(base + "/ws") as live,
    ):
        await live.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@depth"], "id": 7})
        assert await recv_json(live) == {"result": None, "id": 7}
        await live.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 8})
        assert await recv_json(live) == {"result": ["btcusdt@depth"], "id": 8}
        wsim.state.crowd.step()
        a, b, c = await recv_json(raw), await recv_json(combined), await recv_json(live)
        assert a["e"] == "depthUpdate" and a == b["data"] == c
        assert b["stream"] in ("btcusdt@depth", "ethusdt@depth")
    truth = wsim.state.requests
    connects = [r for r in truth if r.get("ws") == "stream" and r["method"] == "CONNECT"]
    assert len(connects) == 1  # three bots, one upstream socket


async def test_no_upstream_socket_is_opened_during_a_ban(
    wsim: Simulator, wgw: Gateway, session: aiohttp.ClientSession
) -> None:
    """A stream handshake reaches the banned IP too: the hub waits for the ban's end (and the
    budget's margin) before its first upstream socket, then serves the bot as usual."""
    load_faults(wsim, {"action": "http_418", "path": "/api/v3/depth", "times": 1, "ban_s": 1.0})
    banned = await Api(session, wgw.url).get("/api/v3/depth", {"symbol": "BTCUSDT"})
    assert banned.status == 418
    ban_end = wsim.state.limits.ips["127.0.0.1"].banned_until_ms
    async with session.ws_connect(_ws(wgw) + "/ws/btcusdt@depth") as ws:
        connects = await poll(
            lambda: _stream_connects(wsim),
            lambda c: len(c) == 1,
            wait_s=_rest_of_ban_s(ban_end, wsim),
        )
        wsim.state.crowd.step()
        assert (await recv_json(ws))["e"] == "depthUpdate"
    assert connects[0]["time"] >= ban_end  # none during the ban


def _rest_of_ban_s(ban_end_ms: int, wsim: Simulator) -> float:
    """How long to wait for the upstream socket: the rest of the ban, plus slack."""
    return max(0.0, (ban_end_ms - wsim.state.clock.now_ms()) / 1000) + 5.0


async def _stream_connects(wsim: Simulator) -> list[dict]:
    return [r for r in wsim.state.requests if r.get("ws") == "stream" and r["method"] == "CONNECT"]


async def test_a_depth_gap_closes_the_bot_socket_with_a_reason(
    wsim: Simulator, wgw: Gateway, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(_ws(wgw) + "/ws/btcusdt@depth") as ws:
        wsim.state.crowd.step()
        first = await recv_json(ws)
        load_faults(wsim, {"action": "ws_gap", "stream": "btcusdt@depth", "every_nth": 2})
        for _ in range(6):
            wsim.state.crowd.step()
        rest, reason = await _recv_until_close(ws)
        frames = [first, *rest]
        assert ws.close_code == 1011
        assert reason == "upstream gap on btcusdt@depth: resync your book"
    # whatever reached the bot was contiguous: the gap itself was never delivered
    assert all(b["U"] == a["u"] + 1 for a, b in itertools.pairwise(frames))


async def test_an_upstream_drop_closes_depth_bots_and_keeps_trade_bots(
    wsim: Simulator, wgw: Gateway, session: aiohttp.ClientSession
) -> None:
    key = wsim.config.demo.keys[0]
    api = Api(session, wsim.url, key.api_key, key.secret)
    base = _ws(wgw)
    # the upstream socket (opened for the first bot) is reset 0.5 s after it opens, once
    load_faults(wsim, {"action": "ws_reset", "path": "/stream", "times": 1, "after_s": 0.5})
    async with (
        session.ws_connect(base + "/ws/btcusdt@depth") as depth,
        session.ws_connect(base + "/ws/btcusdt@trade") as trades,
    ):
        wsim.state.crowd.step()
        await recv_json(depth)
        _, reason = await _recv_until_close(depth)
        assert depth.close_code == 1011 and reason.startswith("upstream gap on btcusdt@depth")
        await poll(lambda: _upstream_stream_sockets(wsim), lambda n: n == 2)
        book = (await api.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5})).body
        order = {**limit_buy("0.001", book["asks"][0][0]), "timeInForce": "IOC"}
        assert (await api.order(**order)).status == 200
        trade = await recv_json(trades)
        status = (await Api(session, wgw.url).get("/status")).body["streams"]
        metrics = (await Api(session, wgw.url).raw("GET", "/metrics")).body
    assert trade["e"] == "trade"  # the trade bot never noticed the upstream drop
    assert status["reconnects"] == 1 and status["upstream_connected"] is True
    assert "binguard_gateway_upstream_stream_reconnects 1.0" in metrics
    assert 'binguard_gateway_bot_sockets{kind="streams"}' in metrics


async def test_bad_control_messages_are_answered(
    wgw: Gateway, session: aiohttp.ClientSession
) -> None:
    async with session.ws_connect(_ws(wgw) + "/ws") as ws:
        await ws.send_str("not json")
        assert (await recv_json(ws))["error"]["code"] == 3
        await ws.send_json({"method": "SET_PROPERTY", "params": ["combined", True], "id": 1})
        assert await recv_json(ws) == {"result": None, "id": 1}
        await ws.send_json({"method": "GET_PROPERTY", "params": ["combined"], "id": 2})
        assert await recv_json(ws) == {"result": True, "id": 2}
        await ws.send_json({"method": "SUBSCRIBE", "params": ["NOT A STREAM"], "id": 3})
        reply = await recv_json(ws)
        assert reply["id"] == 3 and reply["error"]["code"] == 2  # the upstream's own refusal


async def test_ws_api_frames_pass_both_ways_within_the_budget(
    wsim: Simulator, wgw: Gateway, session: aiohttp.ClientSession
) -> None:
    key = wsim.config.demo.keys[0]
    client = WsApi(await session.ws_connect(_ws(wgw) + "/ws-api/v3"), key.api_key, key.secret)
    async with client.ws:
        assert (await client.call("ping"))["status"] == 200
        placed = await client.call("order.place", {**limit_buy("0.001", "20000")}, signed=True)
        assert placed["status"] == 200 and placed["result"]["status"] == "NEW"
        used = next(x for x in placed["rateLimits"] if x["rateLimitType"] == "REQUEST_WEIGHT")
        snap = await wgw.gate.snapshot()
        weight = next(u for u in snap.usage if u.limit.key == "REQUEST_WEIGHT:1M")
        assert weight.used >= used["count"]  # corrected from rateLimits
        load_faults(
            wsim,
            {
                "action": "ws_error",
                "path": "/ws-api/v3",
                "method": "ping",
                "status": 418,
                "code": -1003,
            },
        )
        banned = await client.call("ping")
        assert banned["status"] == 418
        seen = len(wsim.state.requests)
        local = await client.call("time")  # refused by the breaker, never sent
        assert local["status"] == 418 and local["error"]["code"] == -1003
        assert local["error"]["data"]["retryAfter"] > local["error"]["data"]["serverTime"]
        rest = await Api(session, wgw.url).get("/api/v3/ping")  # REST is stopped too
        assert rest.status == 418 and rest.headers["X-Binguard-Gateway"] == "banned"
        assert len(wsim.state.requests) == seen
