"""Keys mode's order guard for edits (issue 17, item 2): cancel-replace (gateway/edit_book.py)
and amend keep-priority (gateway/amend_book.py).

POST /api/v3/order/cancelReplace (rest-api.md §Cancel an Existing Order and Send a New Order)
through the gateway to the simulator, under its execution-aware faults, `stage: cancel` (only
the cancel half ran) included: the bot gets Binance's answer for what happened — 200 with both
halves, or 409 -2021 naming the half that did — and the journal's edit equals the simulator's
orders; a re-send with the same newClientOrderId is answered from the journal, never sent.

PUT /api/v3/order/amend/keepPriority (rest-api.md §Order Amend Keep Priority) and the WebSocket
API's order.amend.keepPriority likewise: the bot gets Binance's answer (`amendedOrder`, and
`listStatus` for a list's order) for the amendment that happened, the simulator's order (qty,
clientOrderId) equals the journal's amendment, a re-send makes no second amendment, and a
restart settles pending amendments by query alone.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.sim.helpers import Api, limit_buy, oco_sell

from binguard.connector.journal import OrderJournal, Stage
from binguard.gateway import Gateway, GatewayConfig
from binguard.gateway.answers import GATEWAY_HEADER
from binguard.sim import Simulator

from .conftest import load_faults
from .test_keys_orders import WINDOW, keyed_config, truth
from .test_keys_orders import bot as bot  # the fixture, shared
from .test_keys_orders import keyed as keyed  # the fixture, shared
from .test_keys_orders import keys_file as keys_file  # the fixture, shared
from .test_keys_ws_orders import bot_socket

PATH = "/api/v3/order/cancelReplace"
FAULT = {"path": PATH, "method": "POST", "times": 1}


async def resting(bot: Api) -> int:
    placed = await bot.order(**limit_buy("0.001", "20000"))
    assert placed.status == 200, placed.body
    order_id: int = placed.body["orderId"]
    return order_id


def replace(old: int, new_id: str) -> dict[str, Any]:
    return {
        **limit_buy("0.002", "20100"),
        "cancelReplaceMode": "STOP_ON_FAILURE",
        "cancelOrderId": old,
        "newClientOrderId": new_id,
        "newOrderRespType": "RESULT",
        "recvWindow": WINDOW,
    }


# An edit's unknown outcomes: executed (lost answer, -1007) or not (-1006).
EDIT_FAULTS = [
    pytest.param({"action": "reset_after"}, True, id="reset after execution"),
    pytest.param({"action": "error", "status": 503, "code": -1007, "executed": True}, True,
                 id="-1007 executed"),
    pytest.param({"action": "error", "status": 500, "code": -1006}, False,
                 id="-1006 not executed"),
]  # fmt: skip


def by_id(orders: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {o["orderId"]: o for o in orders}


@pytest.mark.parametrize(("fault", "executed"), EDIT_FAULTS)
async def test_an_unknown_cancel_replace_ends_with_both_halves(
    sim: Simulator, keyed: Gateway, bot: Api, fault: dict[str, Any], executed: bool
) -> None:
    old = await resting(bot)
    load_faults(sim, {**FAULT, **fault})
    reply = await bot.post(PATH, replace(old, "cr-1"), signed=True)
    assert sim.state.faults.log, "the fault must have fired"
    assert reply.status == 200, reply.body
    assert reply.headers.get(GATEWAY_HEADER) == ("reconciled" if executed else None)
    assert (reply.body["cancelResult"], reply.body["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    orders = by_id(await truth(sim))
    assert orders[old]["status"] == "CANCELED"
    new = reply.body["newOrderResponse"]
    assert orders[new["orderId"]]["clientOrderId"] == "cr-1"
    assert reply.body["cancelResponse"]["orderId"] == old
    assert len(orders) == 2
    assert keyed.orders is not None
    entry = keyed.orders.journal.edits.get("cr-1")
    assert entry is not None
    assert (entry.stage, entry.status, entry.order_id) == (Stage.FINAL, "SUCCESS", new["orderId"])


async def test_a_cancel_replace_lost_after_its_cancel_is_a_409_naming_the_cancel(
    sim: Simulator, keyed: Gateway, bot: Api
) -> None:
    """Only the cancel half ran (`stage: cancel`): no new order after the recvWindow proof, the
    old one CANCELED: Binance's -2021 with the cancel SUCCESS, never a re-send (the market
    moved; the bot decides)."""
    old = await resting(bot)
    load_faults(sim, {**FAULT, "action": "reset_after", "stage": "cancel"})
    reply = await bot.post(PATH, replace(old, "cr-2"), signed=True)
    assert (reply.status, reply.code) == (409, -2021), reply.body
    data = reply.body["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
    assert data["cancelResponse"]["orderId"] == old
    assert data["newOrderResponse"]["code"] == -2010
    orders = await truth(sim)
    assert [o["status"] for o in orders] == ["CANCELED"]
    assert keyed.orders is not None
    entry = keyed.orders.journal.edits.get("cr-2")
    assert entry is not None and (entry.stage, entry.status) == (Stage.FINAL, "PARTIAL")


async def test_a_cancel_replace_resent_with_its_id_is_answered_not_sent(
    sim: Simulator, keyed: Gateway, bot: Api
) -> None:
    old = await resting(bot)
    first = await bot.post(PATH, replace(old, "cr-3"), signed=True)
    assert first.status == 200, first.body
    again = await bot.post(PATH, replace(old, "cr-3"), signed=True)
    assert again.status == 200, again.body
    assert again.body["newOrderResponse"]["orderId"] == first.body["newOrderResponse"]["orderId"]
    sent = [r for r in sim.state.requests if r["path"] == PATH]
    assert len(sent) == 1
    assert len(await truth(sim)) == 2


# -- amend keep-priority (rest-api.md §Order Amend Keep Priority; gateway/amend_book.py) ---------
AMEND = "/api/v3/order/amend/keepPriority"
AMEND_FAULT = {"path": AMEND, "method": "PUT", "times": 1}
AMEND_ANSWER = ["transactTime", "executionId", "amendedOrder"]
AMENDED_FIELDS = [  # rest-api.md's "Response for a single order", in its order (a LIMIT order)
    "symbol", "orderId", "orderListId", "origClientOrderId", "clientOrderId", "price", "qty",
    "executedQty", "preventedQty", "quoteOrderQty", "cumulativeQuoteQty", "status",
    "timeInForce", "type", "side", "workingTime", "selfTradePreventionMode",
]  # fmt: skip


def amend(order_id: int, new_id: str | None, qty: str = "0.0006") -> dict[str, Any]:
    params: dict[str, Any] = {
        "symbol": "BTCUSDT", "orderId": order_id, "newQty": qty, "recvWindow": WINDOW,
    }  # fmt: skip
    if new_id is not None:
        params["newClientOrderId"] = new_id
    return params


def assert_amended(reply: Any, order_id: int, new_id: str, qty: str) -> None:
    """Binance's answer to an amend (rest-api.md, "Response for a single order")."""
    assert reply.status == 200, reply.body
    assert list(reply.body) == AMEND_ANSWER
    amended = reply.body["amendedOrder"]
    assert list(amended) == AMENDED_FIELDS
    assert (amended["orderId"], amended["clientOrderId"]) == (order_id, new_id)
    assert float(amended["qty"]) == float(qty)
    assert amended["status"] == "NEW" and amended["origClientOrderId"]


async def assert_amend_journalled(sim: Simulator, keyed: Gateway, key: str) -> dict[str, Any]:
    """The simulator's order (its qty and clientOrderId) is the journal's amendment."""
    assert keyed.orders is not None
    entry = keyed.orders.journal.edits.get(key)
    assert entry is not None
    assert (entry.kind, entry.stage, entry.status) == ("amend", Stage.FINAL, "AMENDED")
    order = by_id(await truth(sim))[entry.order_id or -1]
    assert order["clientOrderId"] == entry.params["newClientOrderId"]
    assert float(order["origQty"]) == float(entry.params["newQty"])
    return order


@pytest.mark.parametrize(("fault", "executed"), EDIT_FAULTS)
async def test_an_unknown_amend_ends_with_the_amended_order(
    sim: Simulator, keyed: Gateway, bot: Api, fault: dict[str, Any], executed: bool
) -> None:
    order_id = await resting(bot)
    load_faults(sim, {**AMEND_FAULT, **fault})
    reply = await bot.put(AMEND, amend(order_id, "am-1"), signed=True)
    assert sim.state.faults.log, "the fault must have fired"
    assert_amended(reply, order_id, "am-1", "0.0006")
    assert reply.headers.get(GATEWAY_HEADER) == ("reconciled" if executed else None)
    await assert_amend_journalled(sim, keyed, "am-1@0.0006")
    amendments = await bot.get(
        "/api/v3/order/amendments", {"symbol": "BTCUSDT", "orderId": order_id}, signed=True
    )
    assert [a["newClientOrderId"] for a in amendments.body] == ["am-1"]
    assert reply.body["executionId"] == amendments.body[0]["executionId"]
    sent = [r for r in sim.state.requests if r["path"] == AMEND]
    assert len(sent) == (1 if executed else 2)  # sent again only past the absence proof


async def test_an_amend_resent_with_its_id_is_answered_not_amended_twice(
    sim: Simulator, keyed: Gateway, bot: Api
) -> None:
    """The bot's re-send after a lost answer gets the amendment that happened; the order keeps
    its id through a second, other amendment (Binance allows it), which is one more."""
    order_id = await resting(bot)
    load_faults(sim, {**AMEND_FAULT, "action": "reset_after"})
    first = await bot.put(AMEND, amend(order_id, "am-2"), signed=True)
    again = await bot.put(AMEND, amend(order_id, "am-2"), signed=True)
    assert_amended(again, order_id, "am-2", "0.0006")
    assert again.body["executionId"] == first.body["executionId"]
    assert len([r for r in sim.state.requests if r["path"] == AMEND]) == 1
    lower = await bot.put(AMEND, amend(order_id, "am-2", "0.0004"), signed=True)
    assert_amended(lower, order_id, "am-2", "0.0004")
    await assert_amend_journalled(sim, keyed, "am-2@0.0004")


async def test_an_amend_without_a_client_id_gets_the_gateways(
    sim: Simulator, keyed: Gateway, bot: Api
) -> None:
    """rest-api.md: "If not sent, one will be randomly generated": the re-signer sends its
    own, so the amended order's id is journalled before the bytes leave."""
    order_id = await resting(bot)
    reply = await bot.put(AMEND, amend(order_id, None), signed=True)
    assert reply.status == 200, reply.body
    new_id = reply.body["amendedOrder"]["clientOrderId"]
    assert new_id.startswith("bgw")
    await assert_amend_journalled(sim, keyed, f"{new_id}@0.0006")


async def test_an_amend_of_a_list_leg_lost_after_execution_has_its_list_status(
    sim: Simulator, keyed: Gateway, bot: Api
) -> None:
    """rest-api.md, "Response for an order that is part of an Order list": the reconciled
    answer carries `listStatus` as a direct amend's does."""
    lists = []
    for _ in range(2):
        placed = await bot.post("/api/v3/orderList/oco", oco_sell(), signed=True)
        assert placed.status == 200, placed.body
        lists.append(placed.body["orders"][0]["orderId"])  # the LIMIT_MAKER leg
    direct = await bot.put(AMEND, amend(lists[0], "leg-1", "0.005"), signed=True)
    load_faults(sim, {**AMEND_FAULT, "action": "reset_after"})
    lost = await bot.put(AMEND, amend(lists[1], "leg-2", "0.005"), signed=True)
    assert sim.state.faults.log, "the fault must have fired"
    assert (direct.status, lost.status) == (200, 200), (direct.body, lost.body)
    assert lost.headers.get(GATEWAY_HEADER) == "reconciled"
    assert list(lost.body) == list(direct.body) == [*AMEND_ANSWER, "listStatus"]
    assert list(lost.body["amendedOrder"]) == list(direct.body["amendedOrder"])
    assert list(lost.body["listStatus"]) == list(direct.body["listStatus"])
    assert lost.body["amendedOrder"]["clientOrderId"] == "leg-2"
    assert lost.body["listStatus"]["orders"][0]["clientOrderId"] == "leg-2"


async def test_an_amend_over_the_websocket_api_lost_after_execution_is_the_real_one(
    sim: Simulator, keyed: Gateway, bot: Api, session: aiohttp.ClientSession
) -> None:
    """order.amend.keepPriority (web-socket-api.md §Order Amend Keep Priority) under a -1007
    after execution: the bot gets the amendment's answer frame, reconciled over REST."""
    order_id = await resting(bot)
    ws = await bot_socket(session, keyed)
    fault = {"action": "ws_error", "status": 503, "code": -1007, "executed": True}
    load_faults(sim, {"path": "/ws-api/v3", "method": "order.amend.keepPriority", **fault})
    params = {**amend(order_id, "ws-am"), "recvWindow": int(WINDOW)}
    reply = await ws.call("order.amend.keepPriority", params, signed=True)
    assert sim.state.faults.log, "the fault must have fired"
    assert reply["status"] == 200, reply
    assert list(reply["result"]) == AMEND_ANSWER
    assert list(reply["result"]["amendedOrder"]) == AMENDED_FIELDS
    assert reply["result"]["amendedOrder"]["clientOrderId"] == "ws-am"
    await assert_amend_journalled(sim, keyed, "ws-am@0.0006")
    await ws.ws.close()


async def test_recovery_settles_pending_amends_by_query_and_sends_none(
    sim: Simulator, keys_file: Path, session: aiohttp.ClientSession
) -> None:
    """A gateway killed between journalling two amends and their answers: at start, the one
    that happened is journalled AMENDED, the one that never left NOT_PLACED (past the
    recvWindow proof); neither is sent (order_guard.py, step 4)."""
    real = sim.config.demo.keys[0]
    exchange = Api(session, sim.url, real.api_key, real.secret)
    ids = [(await exchange.order(**limit_buy("0.001", "20000"))).body["orderId"] for _ in "ab"]
    done = await exchange.put(AMEND, amend(ids[0], "rec-1"), signed=True)
    assert done.status == 200, done.body
    path = GatewayConfig(keys=str(keys_file)).journal_path
    with OrderJournal(path) as journal:
        for order_id, new_id in zip(ids, ("rec-1", "rec-2"), strict=True):
            record = {**amend(order_id, new_id), "orderId": str(order_id)}
            record |= {"~real": "main", "~path": AMEND}
            journal.edits.record_intent(f"{new_id}@0.0006", "amend", "BTCUSDT", record)
            journal.edits.mark_sent(f"{new_id}@0.0006")
    async with Gateway(keyed_config(sim, keys_file)) as gw:
        assert gw.orders is not None
        edits = gw.orders.journal.edits
        deadline = time.monotonic() + 10
        while edits.pending():  # a bounded poll of the journal: the recovery runs in the background
            assert time.monotonic() < deadline, "the pending amends were not settled"
            await asyncio.sleep(0.05)
        one, two = edits.get("rec-1@0.0006"), edits.get("rec-2@0.0006")
        assert one is not None and two is not None
        assert (one.stage, one.status, one.order_id) == (Stage.FINAL, "AMENDED", ids[0])
        assert (two.stage, two.status) == (Stage.FINAL, "NOT_PLACED")
    assert len([r for r in sim.state.requests if r["path"] == AMEND]) == 1  # the exchange's own
    orders = by_id(await truth(sim))
    assert (orders[ids[0]]["clientOrderId"], orders[ids[0]]["origQty"]) == ("rec-1", "0.00060000")
    assert float(orders[ids[1]]["origQty"]) == 0.001
