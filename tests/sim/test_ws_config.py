"""WebSocket settings and WebSocket fault rules from config files, CLI flags and the admin API."""

from __future__ import annotations

import aiohttp
import pytest

from binguard.sim import SimConfig, Simulator
from binguard.sim.faults import rule_from_flag

from .helpers import Api, WsApi, poll


def test_ws_config_from_mapping() -> None:
    config = SimConfig.from_mapping({"ws": {"ping_interval_s": 0.5, "lifetime_s": 2}})
    assert (config.ws.ping_interval_s, config.ws.lifetime_s, config.ws.max_streams) == (
        0.5,
        2,
        1024,
    )
    with pytest.raises(ValueError, match="unknown WsConfig keys"):
        SimConfig.from_mapping({"ws": {"ping_every": 1}})


def test_ws_fault_rules_from_flags() -> None:
    rule = rule_from_flag("ws_gap:stream=btcusdt@depth*,every_nth=5")
    assert (rule.action, rule.stream, rule.every_nth) == ("ws_gap", "btcusdt@depth*", 5)
    rule = rule_from_flag("ws_reset:path=/ws-api/v3,method=order.place,executed=true")
    assert (rule.method, rule.executed) == ("order.place", True)
    with pytest.raises(ValueError, match="unknown fault action"):
        rule_from_flag("ws_explode")


async def test_request_log_has_the_websocket_part(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api
) -> None:
    key = wsim.config.demo.keys[0]
    client = WsApi(await session.ws_connect(wsim.ws_url + "/ws-api/v3"), key.api_key, key.secret)
    async with client.ws:
        await client.call("time")
    async with session.ws_connect(wsim.ws_url + "/ws/btcusdt@trade") as ws:
        await ws.send_str('{"method": "LIST_SUBSCRIPTIONS", "id": 1}')
        await ws.receive(timeout=3)
    log = await poll(
        lambda: wapi.admin("requests"), lambda rows: sum(r["method"] == "CLOSE" for r in rows) == 2
    )
    assert [(r["ws"], r["method"], r["status"]) for r in log] == [
        ("api", "CONNECT", 101),
        ("api", "time", 200),
        ("api", "CLOSE", 1000),
        ("stream", "CONNECT", 101),
        ("stream", "LIST_SUBSCRIPTIONS", 200),
        ("stream", "CLOSE", 1000),
    ]
    assert {r["conn"] for r in log} == {1, 2}
    assert (await wapi.admin("ws"))["connections"] == []
