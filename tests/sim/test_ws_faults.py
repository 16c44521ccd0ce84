"""WebSocket faults as a client sees them, and their traces in the fault log and ground truth."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import aiohttp
import pytest

from binguard.sim import Simulator

from .helpers import Api, WsApi, msg, poll, recv_close, recv_json

ORDER = {
    "symbol": "BTCUSDT",
    "side": "BUY",
    "type": "LIMIT",
    "timeInForce": "GTC",
    "quantity": "0.001",
    "price": "20000",
}


async def _plan(api: Api, *rules: dict[str, Any]) -> None:
    await api.admin("faults", "POST", json.dumps({"seed": 1, "rules": list(rules)}))


async def _fault_log(api: Api) -> list[dict[str, Any]]:
    return list((await api.admin("faults"))["log"])


async def _api_client(sim: Simulator, session: aiohttp.ClientSession) -> WsApi:
    key = sim.config.demo.keys[0]
    return WsApi(await session.ws_connect(sim.ws_url + "/ws-api/v3"), key.api_key, key.secret)


@pytest.mark.parametrize(("code", "expected"), [(0, 1000), (4003, 4003)])
async def test_drop_with_close_frame(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api, code: int, expected: int
) -> None:
    await _plan(wapi, {"action": "ws_close", "path": "/ws/*", "code": code, "after_s": 0.05})
    async with session.ws_connect(wsim.ws_url + "/ws/btcusdt@trade") as ws:
        frame = await ws.receive(timeout=3)
        assert frame.type == aiohttp.WSMsgType.CLOSE and ws.close_code == expected
    (entry,) = await _fault_log(wapi)
    assert entry["action"] == "ws_close" and entry["path"] == "/ws/btcusdt@trade"
    assert entry["conn"] == 1


async def test_drop_without_close_frame_is_a_reset(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api
) -> None:
    await _plan(wapi, {"action": "ws_reset", "path": "/stream"})
    async with session.ws_connect(wsim.ws_url + "/stream?streams=btcusdt@trade") as ws:
        frame = await ws.receive(timeout=3)
        assert frame.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
        assert ws.close_code == 1006  # no close frame: abnormal closure
        if frame.type == aiohttp.WSMsgType.ERROR:
            assert isinstance(frame.data, ConnectionError)
    truth = await poll(lambda: wapi.admin("ws"), lambda t: len(t["closed"]) == 1)
    assert truth["closed"][0]["close_code"] == 1006
    assert [e["action"] for e in await _fault_log(wapi)] == ["ws_reset"]


async def test_silence_holds_data_and_pings(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api
) -> None:
    await _plan(wapi, {"action": "ws_silence", "path": "/ws/*", "stall_s": 0.5})
    async with session.ws_connect(wsim.ws_url + "/ws/btcusdt@trade", autoping=False) as ws:
        log = await poll(lambda: _fault_log(wapi), lambda log: len(log) == 1)
        book = (await wapi.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1})).body
        await wapi.order(**{**ORDER, "price": book["asks"][0][0], "timeInForce": "IOC"})
        event = await recv_json(ws)
        assert event["e"] == "trade"
        # Held until the silence ended: measured on the simulator's clock from the injection
        # (not from when this test noticed it, which a loaded machine delays).
        assert wsim.state.clock.now_ms() - log[0]["time"] >= 490
    truth = await wapi.admin("ws")
    assert truth["closed"] == [] or truth["closed"][0]["silenced"] is False


async def test_server_shutdown_event_then_close(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api
) -> None:
    await _plan(wapi, {"action": "ws_shutdown", "grace_s": 0.1})
    async with session.ws_connect(wsim.ws_url + "/ws/btcusdt@trade") as ws:
        event = await recv_json(ws)
        assert event["e"] == "serverShutdown" and isinstance(event["E"], int)
        assert await recv_close(ws) == 1001
    client = await _api_client(wsim, session)
    async with client.ws:
        event = await client.event()
        assert event["event"]["e"] == "serverShutdown"
        assert await recv_close(client.ws) == 1001


async def test_forced_expiry_at_accelerated_lifetime(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api
) -> None:
    await _plan(wapi, {"action": "ws_expire", "path": "/ws-api/v3", "after_s": 0.3})
    started = time.monotonic()
    client = await _api_client(wsim, session)
    async with client.ws:
        assert (await client.call("ping"))["status"] == 200
        assert await recv_close(client.ws) == 1000
    assert time.monotonic() - started >= 0.3
    truth = await poll(lambda: wapi.admin("ws"), lambda t: len(t["closed"]) == 1)
    assert truth["closed"][0]["close_reason"] == "connection lifetime"


async def test_depth_gap_visible_in_update_ids(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api
) -> None:
    await _plan(wapi, {"action": "ws_gap", "stream": "btcusdt@depth*", "every_nth": 3})
    async with session.ws_connect(wsim.ws_url + "/ws/btcusdt@depth") as ws:
        await wapi.admin("crowd/step?n=12", "POST")
        await wapi.admin("faults", "DELETE")  # the last step's event surely arrives
        await wapi.admin("crowd/step", "POST")
        depth = await wapi.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1})
        events = [await recv_json(ws)]
        while events[-1]["u"] < depth.body["lastUpdateId"]:
            events.append(await recv_json(ws))
    gaps = [b["U"] - a["u"] - 1 for a, b in itertools.pairwise(events)]
    assert any(g > 0 for g in gaps) and all(g >= 0 for g in gaps)
    log = (await wapi.admin("faults"))["log"]
    assert log and all(e["action"] == "ws_gap" and e["stream"] == "btcusdt@depth" for e in log)


async def _subscribed(sim: Simulator, session: aiohttp.ClientSession) -> WsApi:
    client = await _api_client(sim, session)
    sub = await client.call("userDataStream.subscribe.signature", {}, signed=True)
    assert sub["result"] == {"subscriptionId": 0}
    return client


async def test_duplicated_execution_report(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api
) -> None:
    await _plan(wapi, {"action": "ws_duplicate", "times": 1})
    client = await _subscribed(wsim, session)
    async with client.ws:
        placed = await client.call("order.place", ORDER, signed=True)
        assert placed["status"] == 200
        first, second, position = [await client.event() for _ in range(3)]
    assert first == second and first["event"]["e"] == "executionReport"
    assert first["event"]["i"] == placed["result"]["orderId"]
    assert position["event"]["e"] == "outboundAccountPosition"


async def test_delayed_execution_report_arrives_after_later_events(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api
) -> None:
    await _plan(wapi, {"action": "ws_delay", "latency_ms": 150, "times": 1})
    client = await _subscribed(wsim, session)
    async with client.ws:
        placed = await client.call("order.place", ORDER, signed=True)
        assert placed["status"] == 200
        first, second = await client.event(), await client.event()
    assert first["event"]["e"] == "outboundAccountPosition"
    assert second["event"]["e"] == "executionReport" and second["event"]["x"] == "NEW"


async def test_reset_after_order_executed(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api
) -> None:
    await _plan(
        wapi,
        {"action": "ws_reset", "path": "/ws-api/v3", "method": "order.place", "executed": True},
    )
    client = await _api_client(wsim, session)
    async with client.ws:
        assert (await client.call("ping"))["status"] == 200  # other methods are not affected
        await client.send("order.place", client.signed({**ORDER, "newClientOrderId": "lost"}))
        assert await recv_close(client.ws) == 1006
    orders = await wapi.admin("orders?account=demo")
    assert [(o["clientOrderId"], o["status"]) for o in orders] == [("lost", "NEW")]
    (entry,) = await _fault_log(wapi)
    assert (entry["action"], entry["method"]) == ("ws_reset", "order.place")


async def test_close_before_the_order_reaches_the_engine(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api
) -> None:
    await _plan(wapi, {"action": "ws_close", "method": "order.place", "code": 1011})
    client = await _api_client(wsim, session)
    async with client.ws:
        await client.send("order.place", client.signed(ORDER))
        assert await recv_close(client.ws) == 1011
    assert await wapi.admin("orders?account=demo") == []


@pytest.mark.parametrize("executed", [True, False])
async def test_error_response_with_or_without_execution(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api, executed: bool
) -> None:
    rule = {"action": "ws_error", "method": "order.place", "status": 503, "code": -1006}
    await _plan(wapi, {**rule, "executed": executed})
    client = await _api_client(wsim, session)
    async with client.ws:
        reply = await client.call("order.place", ORDER, signed=True)
    assert reply["status"] == 503
    assert reply["error"] == {"code": -1006, "msg": msg(-1006)}
    assert len(await wapi.admin("orders?account=demo")) == (1 if executed else 0)
    requests = [r for r in await wapi.admin("requests") if r.get("method") == "order.place"]
    assert requests[-1]["fault"] == "ws_error" and requests[-1]["ws"] == "api"


async def test_rest_rules_do_not_touch_websockets(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api
) -> None:
    await _plan(wapi, {"action": "reset"}, {"action": "error", "status": 503, "code": -1008})
    client = await _api_client(wsim, session)
    async with client.ws:
        assert (await client.call("time"))["status"] == 200
    assert await _fault_log(wapi) == []
