"""User data over the WebSocket API: subscribed, fed to the tracker, caught up after faults.

Each test ends with the simulator's ground truth: every fill in /_sim/fills is known to the
connector, the order states match /_sim/orders, and the account is subscribed again (/_sim/ws).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from binguard.connector.client import SpotConnector
from binguard.sim import Simulator

from .ws_support import (
    MakeConnector,
    admin,
    assert_fills_known,
    best_ask,
    load_faults,
    until,
    wconnect,
    wsim,
)

__all__ = ["wconnect", "wsim"]  # fixtures


async def subscribed_accounts(sim: Simulator) -> list[str]:
    state = await admin(sim, "ws")
    return [
        s["account"] for c in state["connections"] if c["kind"] == "api" for s in c["subscriptions"]
    ]


async def until_subscribed(sim: Simulator, bn: SpotConnector) -> None:
    ud = bn.user_data
    assert ud is not None
    await until(lambda: ud.healthy, what="user data healthy")
    for _ in range(200):
        if await subscribed_accounts(sim) == ["demo"]:
            return
        await until(lambda: True)
    assert await subscribed_accounts(sim) == ["demo"]


async def take(other: SpotConnector, sim: Simulator, qty: str = "0.002") -> Any:
    """A taker buy that fills against the crowd at once (placed by another client)."""
    return await other.place_order(
        "BTCUSDT", "BUY", "LIMIT", quantity=qty, price=best_ask(sim), time_in_force="IOC"
    )


async def assert_orders_match(sim: Simulator, bn: SpotConnector) -> None:
    for truth in await admin(sim, "orders?account=demo"):
        known = bn.tracker.get(client_order_id=truth["clientOrderId"])
        assert known is not None, truth["clientOrderId"]
        assert known.status == truth["status"]
        assert known.executed_qty == Decimal(truth["executedQty"])


@pytest.mark.parametrize("key_index", [0, 1], ids=["hmac-subscribe-signature", "ed25519-logon"])
async def test_fills_and_balances_come_pushed(
    wsim: Simulator, wconnect: MakeConnector, key_index: int
) -> None:
    bn = await wconnect(key_index)
    ud = await bn.start_user_data(["BTCUSDT"])
    await until_subscribed(wsim, bn)
    assert ud.logon is (key_index == 1)
    other = await wconnect()
    placed = await take(other, wsim)
    assert placed.status == "FILLED"
    await assert_fills_known(wsim, bn)
    await until(lambda: bn.tracker.get(client_order_id=placed.client_order_id) is not None)
    await assert_orders_match(wsim, bn)
    assert ud.reports >= 1
    assert all(f.source == "stream" for f in bn.tracker.fills.values())
    balances = (await admin(wsim, "balances?account=demo"))["demo"]
    await until(lambda: "BTC" in bn.tracker.balances)
    assert bn.tracker.balances["BTC"].free == Decimal(balances["BTC"]["free"])
    requests = await admin(wsim, "requests")
    methods = [r["method"] for r in requests if r.get("ws") == "api"]
    if key_index == 1:
        assert "session.logon" in methods and "userDataStream.subscribe" in methods
    else:
        assert "userDataStream.subscribe.signature" in methods


@pytest.mark.parametrize(
    "rule",
    [
        {"action": "ws_reset"},
        {"action": "ws_close", "code": 1000},
        {"action": "ws_silence", "stall_s": 30},
        {"action": "ws_shutdown", "grace_s": 0.1},
        {"action": "ws_expire"},
    ],
    ids=["reset", "close", "silence", "server-shutdown", "expire-24h"],
)
async def test_no_fill_missed_across_socket_faults(
    wsim: Simulator, wconnect: MakeConnector, rule: dict[str, Any]
) -> None:
    load_faults(wsim, {**rule, "path": "/ws-api/v3", "after_s": 0.4, "times": 1})
    bn = await wconnect()
    seen: list[str] = []
    bn.on(lambda event: seen.append(event.kind))
    await bn.start_user_data(["BTCUSDT"])
    other = await wconnect()
    await until(lambda: len(wsim.state.faults.log) == 1, what="fault injected")
    # fills while the socket is down or being replaced: learnt by the stream or the catch-up
    for _ in range(3):
        await take(other, wsim, "0.001")
    await until_subscribed(wsim, bn)
    await assert_fills_known(wsim, bn)
    await assert_orders_match(wsim, bn)
    # The catch-up adds the fills it learns before it asks for the open orders, and tells when
    # it is done: fills known (above) may come before the event (a race this test once lost).
    await until(lambda: "user_data_catch_up" in seen, what="the catch-up's end")


async def test_event_stream_terminated_resubscribes_and_catches_up(
    wsim: Simulator, wconnect: MakeConnector
) -> None:
    bn = await wconnect()
    ud = await bn.start_user_data(["BTCUSDT"])
    await until_subscribed(wsim, bn)
    # The server ends the subscription (as on a logout): eventStreamTerminated follows.
    reply = await ud.sup.request({"method": "userDataStream.unsubscribe", "params": {}})
    assert reply["status"] == 200
    await until(lambda: ud.terminated == 1)
    other = await wconnect()
    await take(other, wsim)
    await until_subscribed(wsim, bn)
    await assert_fills_known(wsim, bn)
    assert ud.catch_ups >= 2  # at start, and after the termination


async def test_duplicated_and_delayed_reports_are_idempotent(
    wsim: Simulator, wconnect: MakeConnector
) -> None:
    load_faults(
        wsim,
        {"action": "ws_duplicate", "path": "/ws-api/v3", "probability": 0.5},
        {"action": "ws_delay", "path": "/ws-api/v3", "latency_ms": 150, "every_nth": 3},
    )
    bn = await wconnect()
    await bn.start_user_data(["BTCUSDT"])
    await until_subscribed(wsim, bn)
    # orders placed by another client: the tracker learns them from the stream only
    other = await wconnect()
    resting = [
        await other.place_order(
            "BTCUSDT", "SELL", "LIMIT", quantity="0.001", price=str(40000 + i), time_in_force="GTC"
        )
        for i in range(3)
    ]
    for _ in range(3):
        await take(other, wsim, "0.001")
    for order in resting:
        await other.cancel_order("BTCUSDT", order_id=order.order_id)
    faults = (await admin(wsim, "faults"))["log"]
    assert {e["action"] for e in faults} == {"ws_duplicate", "ws_delay"}
    await assert_fills_known(wsim, bn)
    await until(
        lambda: all(
            (o := bn.tracker.get(client_order_id=r.client_order_id)) is not None
            and o.status == "CANCELED"
            for r in resting
        ),
        what="cancels seen despite late NEW reports",
    )
    # late and repeated reports were recognised and ignored (the delayed ones land last)
    tracker = bn.tracker
    await until(lambda: tracker.stale_updates > 0 and tracker.repeats > 0, what="late + repeats")
    await assert_orders_match(wsim, bn)
    truth = await admin(wsim, "fills")
    assert len(tracker.fills) == len(truth)  # each fill once, duplicates or not


async def test_order_status_prefers_the_stream(wsim: Simulator, wconnect: MakeConnector) -> None:
    bn = await wconnect()
    ud = await bn.start_user_data(["BTCUSDT"])
    await until_subscribed(wsim, bn)
    order = await bn.place_order(
        "BTCUSDT", "SELL", "LIMIT", quantity="0.001", price="45000", time_in_force="GTC"
    )
    before = len(await admin(wsim, "requests"))
    state = await bn.order_status("BTCUSDT", client_order_id=order.client_order_id)
    assert state.status == "NEW"
    assert len(await admin(wsim, "requests")) == before  # no REST request
    assert bn.stats.order_states_from_stream == 1
    ud.sup.drop("test")
    assert not ud.healthy
    state = await bn.order_status("BTCUSDT", client_order_id=order.client_order_id)
    assert bn.stats.order_states_from_rest == 1 and state.status == "NEW"


async def test_secrets_never_reach_events(wsim: Simulator, wconnect: MakeConnector) -> None:
    bn = await wconnect()
    seen: list[str] = []
    bn.on(lambda event: seen.append(repr(event)))
    ud = await bn.start_user_data()
    await until_subscribed(wsim, bn)
    ud.sup.drop("test")
    await until_subscribed(wsim, bn)
    secret = wsim.config.demo.keys[0].secret
    assert seen and not any(secret in text for text in seen)
    assert secret not in repr(ud) and secret not in repr(ud.sup)
