"""Keys mode's order guard for cancel-replace (issue 17, item 2; gateway/edit_book.py).

POST /api/v3/order/cancelReplace (rest-api.md §Cancel an Existing Order and Send a New Order)
through the gateway to the simulator, under its execution-aware faults, `stage: cancel` (only
the cancel half ran) included: the bot gets Binance's answer for what happened — 200 with both
halves, or 409 -2021 naming the half that did — and the journal's edit equals the simulator's
orders; a re-send with the same newClientOrderId is answered from the journal, never sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.sim.helpers import Api, limit_buy

from binguard.connector.journal import Stage
from binguard.gateway import Gateway
from binguard.gateway.answers import GATEWAY_HEADER
from binguard.sim import Simulator

from .conftest import load_faults
from .test_keys_orders import BOT_SECRET, WINDOW, keyed_config, truth
from .test_keys_orders import keys_file as keys_file  # the fixture, shared

PATH = "/api/v3/order/cancelReplace"
FAULT = {"path": PATH, "method": "POST", "times": 1}


@pytest.fixture
async def keyed(sim: Simulator, keys_file: Path) -> AsyncIterator[Gateway]:
    async with Gateway(keyed_config(sim, keys_file)) as gw:
        yield gw


@pytest.fixture
def bot(keyed: Gateway, session: aiohttp.ClientSession) -> Api:
    return Api(session, keyed.url, "bg-bot", BOT_SECRET)


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


def by_id(orders: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {o["orderId"]: o for o in orders}


@pytest.mark.parametrize(
    ("fault", "executed"),
    [
        pytest.param({"action": "reset_after"}, True, id="reset after execution"),
        pytest.param({"action": "error", "status": 503, "code": -1007, "executed": True}, True,
                     id="-1007 executed"),
        pytest.param({"action": "error", "status": 500, "code": -1006}, False,
                     id="-1006 not executed"),
    ],
)  # fmt: skip
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
    assert list(reply.body) == ["transactTime", "executionId", "amendedOrder"]
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


@pytest.mark.parametrize(
    ("fault", "executed"),
    [
        pytest.param({"action": "reset_after"}, True, id="reset after execution"),
        pytest.param({"action": "error", "status": 503, "code": -1007, "executed": True}, True,
                     id="-1007 executed"),
        pytest.param({"action": "error", "status": 500, "code": -1006}, False,
                     id="-1006 not executed"),
    ],
)  # fmt: skip
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
