"""The WebSocket API over loopback: methods, signatures, timing, weights, sessions, user data."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from binguard.sim import AccountSpec, KeySpec, LimitsConfig, RateLimitSpec, Simulator
from binguard.sim.config import WsConfig, demo_account, demo_ed25519_private

from .conftest import WS_QUIET
from .helpers import Api, WsApi, msg, ws_sign

ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.001",
    "price": "20000",
}
OTHER = AccountSpec(
    "other",
    100000002,
    (KeySpec("otherkey", "HMAC", "othersecret"),),
    {"USDT": "100000", "BTC": "5"},
)
TWO = WS_QUIET.with_(accounts=(demo_account(0), OTHER))


@pytest.fixture
async def two() -> AsyncIterator[Simulator]:
    async with Simulator(TWO) as s:
        yield s
        assert s.bugs == []


async def _connect(
    sim: Simulator, session: aiohttp.ClientSession, query: str = "", **kw: Any
) -> WsApi:
    key = sim.config.demo.keys[0]
    ws = await session.ws_connect(sim.ws_url + "/ws-api/v3" + query)
    return WsApi(ws, key.api_key, key.secret, **kw)


@pytest.fixture
async def wsapi(wsim: Simulator, session: aiohttp.ClientSession) -> AsyncIterator[WsApi]:
    client = await _connect(wsim, session)
    yield client
    await client.ws.close()


def _weight(reply: dict[str, Any]) -> int:
    (row,) = [r for r in reply["rateLimits"] if r["rateLimitType"] == "REQUEST_WEIGHT"]
    return int(row["count"])


async def test_ping_time_and_rate_limits(wsapi: WsApi, wapi: Api) -> None:
    ping = await wsapi.call("ping")
    assert ping["status"] == 200 and ping["result"] == {}
    assert _weight(ping) == 3  # connecting costs 2, ping 1
    before = int(time.time() * 1000)
    reply = await wsapi.call("time")
    assert before - 5 <= reply["result"]["serverTime"] <= int(time.time() * 1000) + 5
    assert reply["rateLimits"] == [
        {
            "rateLimitType": "REQUEST_WEIGHT",
            "interval": "MINUTE",
            "intervalNum": 1,
            "limit": 6000,
            "count": 4,
        }
    ]
    quiet = await wsapi.call("ping", {"returnRateLimits": False})
    assert "rateLimits" not in quiet and quiet["status"] == 200
    rest = await wapi.get("/api/v3/ping")  # the same IP's weight, shared with REST
    assert rest.headers["X-MBX-USED-WEIGHT-1M"] == "6"


async def test_connection_without_rate_limits(
    wsim: Simulator, session: aiohttp.ClientSession
) -> None:
    client = await _connect(wsim, session, "?returnRateLimits=false")
    async with client.ws:
        assert "rateLimits" not in await client.call("ping")
        assert "rateLimits" in await client.call("ping", {"returnRateLimits": True})
        status = await client.call("session.status")
        assert status["result"]["returnRateLimits"] is False


async def test_order_place_status_cancel(wsapi: WsApi, wapi: Api) -> None:
    placed = await wsapi.call("order.place", {**ORDER, "newClientOrderId": "ws-1"}, signed=True)
    assert placed["status"] == 200, placed
    result = placed["result"]
    assert result["clientOrderId"] == "ws-1" and result["status"] == "NEW"
    kinds = [r["rateLimitType"] for r in placed["rateLimits"]]
    assert kinds == ["ORDERS", "ORDERS", "REQUEST_WEIGHT"]
    assert placed["rateLimits"][0]["count"] == 1
    assert _weight(placed) == 2  # a successful order costs 0
    status = await wsapi.call(
        "order.status", {"symbol": "BTCUSDT", "orderId": result["orderId"]}, signed=True
    )
    assert status["result"]["status"] == "NEW" and _weight(status) == 6
    canceled = await wsapi.call(
        "order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "ws-1"}, signed=True
    )
    assert canceled["result"]["status"] == "CANCELED" and _weight(canceled) == 6
    again = await wsapi.call(
        "order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "ws-1"}, signed=True
    )
    assert again["status"] == 400
    assert again["error"] == {"code": -2011, "msg": "Unknown order sent."}
    assert _weight(again) == 7  # a failed cancel pays its weight
    orders = await wapi.admin("orders?account=demo")
    assert [(o["clientOrderId"], o["status"]) for o in orders] == [("ws-1", "CANCELED")]


async def test_numbers_as_json_numbers_are_signed_as_sent(wsapi: WsApi) -> None:
    params = {**ORDER, "quantity": 0.001, "price": 20000.5, "recvWindow": 5000}
    placed = await wsapi.call("order.place", params, signed=True)
    assert placed["status"] == 200, placed
    assert placed["result"]["price"] == "20000.50000000"


def _error(reply: dict[str, Any]) -> tuple[int, int, str]:
    return reply["status"], reply["error"]["code"], reply["error"]["msg"]


async def test_signature_and_timing_errors(wsapi: WsApi, wsim: Simulator) -> None:
    params = wsapi.signed(ORDER)
    params["signature"] = "0" * 64
    bad = await wsapi.response(await wsapi.send("order.place", params))
    assert _error(bad) == (400, -1022, msg(-1022))
    old = wsapi.signed({**ORDER, "timestamp": int(time.time() * 1000) - 10_000})
    late = await wsapi.response(await wsapi.send("order.place", old))
    assert _error(late) == (400, -1021, msg(-1021, 0))
    ahead = wsapi.signed({**ORDER, "timestamp": int(time.time() * 1000) + 5_000})
    early = await wsapi.response(await wsapi.send("order.place", ahead))
    assert _error(early) == (400, -1021, msg(-1021, 1))
    unknown = wsapi.signed(ORDER, api_key="nosuchkey")
    who = await wsapi.response(await wsapi.send("order.place", unknown))
    assert _error(who) == (401, -2015, msg(-2015))
    no_key = await wsapi.call("order.place", {**ORDER, "timestamp": 1})
    assert _error(no_key) == (400, -1102, msg(-1102, 1, "apiKey"))


async def test_request_errors(wsapi: WsApi) -> None:
    missing = await wsapi.call("order.place", {"side": "BUY", "type": "LIMIT"}, signed=True)
    assert _error(missing) == (400, -1102, msg(-1102, 1, "symbol"))
    unknown = await wsapi.call("order.teleport", {})
    assert _error(unknown) == (400, -1020, msg(-1020))
    for gone in ("userDataStream.start", "userDataStream.ping", "userDataStream.stop"):
        reply = await wsapi.call(gone, {"apiKey": wsapi.api_key})
        assert _error(reply) == (410, -1020, "This operation is not supported.")
    await wsapi.ws.send_str("{not json")
    bad_json = await wsapi.response(None)
    assert _error(bad_json) == (400, -1135, msg(-1135))
    await wsapi.ws.send_str(json.dumps({"id": 9, "method": "ping", "params": [1]}))
    bad_params = await wsapi.response(9)
    assert _error(bad_params) == (400, -1135, msg(-1135, 1, "params"))
    await wsapi.ws.send_str(json.dumps({"id": 10}))
    no_method = await wsapi.response(10)
    assert _error(no_method) == (400, -1102, msg(-1102, 1, "method"))
    extra = await wsapi.call("time", {"symbol": "BTCUSDT"})
    assert _error(extra) == (400, -1104, msg(-1104, 1, 0, 1))


async def test_session_logon_and_user_data(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api
) -> None:
    ed_key = wsim.config.demo.keys[1].api_key
    client = await _connect(wsim, session, private_key=demo_ed25519_private(0))
    async with client.ws:
        need = await client.call("userDataStream.subscribe")
        assert _error(need) == (401, -1002, msg(-1002))
        hmac_logon = WsApi(client.ws, wsim.config.demo.keys[0].api_key, "x")
        # an HMAC key cannot log on (Ed25519 only); the signature is checked first
        hmac_params = {"apiKey": hmac_logon.api_key, "timestamp": int(time.time() * 1000)}
        hmac_params["signature"] = ws_sign(hmac_params, wsim.config.demo.keys[0].secret)
        refused = await client.response(await client.send("session.logon", hmac_params))
        assert _error(refused) == (401, -1002, msg(-1002))
        logon = await client.call("session.logon", {"apiKey": ed_key}, signed=True)
        assert logon["status"] == 200, logon
        assert logon["result"]["apiKey"] == ed_key and logon["result"]["userDataStream"] is False
        sub = await client.call("userDataStream.subscribe")
        assert sub["result"] == {"subscriptionId": 0}
        dup = await client.call("userDataStream.subscribe")
        assert _error(dup) == (400, -2035, msg(-2035))
        # SIGNED requests on a logged-on session need only a timestamp
        placed = await client.call("order.place", {**ORDER, "timestamp": int(time.time() * 1000)})
        assert placed["status"] == 200, placed
        new = await client.event()
        assert new["subscriptionId"] == 0
        assert new["event"]["e"] == "executionReport" and new["event"]["x"] == "NEW"
        position = await client.event()
        assert position["event"]["e"] == "outboundAccountPosition"
        assert {b["a"] for b in position["event"]["B"]} == {"USDT"}
        listed = await client.call("session.subscriptions")
        assert listed["result"] == [{"subscriptionId": 0}]
        status = await client.call("session.status")
        assert status["result"]["userDataStream"] is True
        truth = await wapi.admin("ws")
        (conn,) = truth["connections"]
        assert conn["session"] == "demo"
        assert conn["subscriptions"] == [{"subscriptionId": 0, "account": "demo", "session": True}]
        out = await client.call("session.logout")
        assert out["result"]["apiKey"] is None and out["result"]["userDataStream"] is False
        ended = await client.event()
        assert ended["subscriptionId"] == 0 and ended["event"]["e"] == "eventStreamTerminated"
        again = await client.call("userDataStream.unsubscribe")
        assert _error(again) == (400, -2036, msg(-2036))


async def test_user_data_for_a_placed_then_filled_order(
    two: Simulator, session: aiohttp.ClientSession
) -> None:
    client = await _connect(two, session)
    other = WsApi(client.ws, "otherkey", "othersecret")
    other.events = client.events  # one socket: events read while waiting go to one list
    async with client.ws:
        sub = await client.call("userDataStream.subscribe.signature", {}, signed=True)
        assert sub["result"] == {"subscriptionId": 0}
        placed = await client.call(
            # 30000.00 is inside the crowd's spread: the best bid
            "order.place",
            {**ORDER, "price": "30000", "newClientOrderId": "rest-1"},
            signed=True,
        )
        assert placed["result"]["status"] == "NEW"
        events = [await client.event(), await client.event()]
        assert [e["event"]["e"] for e in events] == ["executionReport", "outboundAccountPosition"]
        # another account sells into the resting order: it fills
        sold = await other.call(
            "order.place",
            {**ORDER, "side": "SELL", "price": "30000", "timeInForce": "IOC"},
            signed=True,
        )
        assert sold["result"]["status"] == "FILLED", sold
        fill = await client.event()
        report = fill["event"]
        assert (report["c"], report["x"], report["X"], report["m"]) == (
            "rest-1",
            "TRADE",
            "FILLED",
            True,
        )
        assert report["l"] == report["z"] == "0.00100000" and report["L"] == "30000.00000000"
        balances = await client.event()
        assert balances["event"]["e"] == "outboundAccountPosition"
        assert {b["a"] for b in balances["event"]["B"]} == {"BTC", "USDT"}
        bye = await client.call("userDataStream.unsubscribe", {"subscriptionId": 0})
        assert bye["result"] == {}
        ended = await client.event()
        assert ended == {
            "subscriptionId": 0,
            "event": {"e": "eventStreamTerminated", "E": ended["event"]["E"]},
        }


async def test_subscription_ids_run_out(session: aiohttp.ClientSession) -> None:
    config = TWO.with_(ws=WsConfig(depth_ms=0, depth_fast_ms=0, max_subscription_ids=1))
    async with Simulator(config) as sim:
        client = await _connect(sim, session)
        async with client.ws:
            first = await client.call("userDataStream.subscribe.signature", {}, signed=True)
            assert first["result"] == {"subscriptionId": 0}
            other = WsApi(client.ws, "otherkey", "othersecret")
            more = await other.call("userDataStream.subscribe.signature", {}, signed=True)
            assert _error(more) == (400, -2042, msg(-2042))


async def test_weight_limit_429_then_418_with_retry_after(
    session: aiohttp.ClientSession,
) -> None:
    limits = LimitsConfig(
        rate_limits=(RateLimitSpec("REQUEST_WEIGHT", "DAY", 1, 5),), requests_before_ban=2
    )
    async with Simulator(WS_QUIET.with_(limits=limits)) as sim:
        client = await _connect(sim, session)
        async with client.ws:
            for _ in range(3):
                assert (await client.call("ping"))["status"] == 200
            over = await client.call("ping")
            assert over["status"] == 429 and over["error"]["code"] == -1003
            assert over["error"]["msg"] == msg(-1003, 1, 5, "1 DAY")
            data = over["error"]["data"]
            day = 86_400_000
            assert data["retryAfter"] == (data["serverTime"] // day + 1) * day
            await client.call("ping")
            banned = await client.call("ping")
            assert banned["status"] == 418
            until = banned["error"]["data"]["retryAfter"]
            assert banned["error"]["msg"] == msg(-1003, 2, until)
            msg_ = await client.ws.receive(timeout=3)
            assert msg_.type == aiohttp.WSMsgType.CLOSE  # a banned IP is disconnected
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(sim.ws_url + "/ws-api/v3")
        assert info.value.status == 418
