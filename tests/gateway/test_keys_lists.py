"""Keys mode's order guard for order lists (issue 17, item 2; gateway/order_books.py ListBook).

An OCO (rest-api.md §New Order list - OCO) through the gateway to the simulator, under its
execution-aware faults: the bot gets the real list, answered as Binance answers a placement
(`orderReports` in the asked shape), the simulator's lists (`/_sim/order_lists`) equal the
journal's (lists and legs), and a re-send with the same listClientOrderId places nothing new.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from tests.sim.helpers import Api, oco_sell

from binguard.connector.journal import Stage
from binguard.gateway import Gateway
from binguard.gateway.answers import GATEWAY_HEADER
from binguard.gateway.order_guard import OrderGuard
from binguard.sim import Simulator

from .conftest import load_faults
from .test_keys_orders import WINDOW
from .test_keys_orders import bot as bot  # the fixture, shared
from .test_keys_orders import keyed as keyed  # the fixture, shared
from .test_keys_orders import keys_file as keys_file  # the fixture, shared

OCO = "/api/v3/orderList/oco"
POST_OCO = {"path": OCO, "method": "POST", "times": 1}


async def lists_truth(sim: Simulator) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.get(f"{sim.url}/_sim/order_lists") as r:
        rows: list[dict[str, Any]] = await r.json()
    return rows


async def assert_lists_journal_is_truth(sim: Simulator, guard: OrderGuard | None) -> None:
    """Every list on the simulator is journalled, ACKED or FINAL with its id and its legs'
    order ids; nothing is left pending; no list id twice."""
    assert guard is not None
    truth = await lists_truth(sim)
    ids = [lst["listClientOrderId"] for lst in truth]
    assert len(ids) == len(set(ids))
    journal = guard.journal.lists
    assert journal.pending() == []
    for lst in truth:
        entry = journal.get(lst["listClientOrderId"])
        assert entry is not None and entry.stage in (Stage.ACKED, Stage.FINAL)
        assert entry.order_list_id == lst["orderListId"]
        legs = {leg.client_order_id: leg.order_id for leg in entry.legs}
        assert legs == {o["clientOrderId"]: o["orderId"] for o in lst["orders"]}


def oco(list_id: str | None = None, **kw: str) -> dict[str, str]:
    params = {**oco_sell(), "recvWindow": WINDOW, **kw}
    if list_id is not None:
        params["listClientOrderId"] = list_id
    return params


@pytest.mark.parametrize(
    ("fault", "executed"),
    [
        pytest.param({"action": "reset_after"}, True, id="reset after execution"),
        pytest.param({"action": "stall_after", "stall_s": 2}, True, id="stall after execution"),
        pytest.param({"action": "error", "status": 503, "code": -1007, "executed": True}, True,
                     id="-1007 executed"),
        pytest.param({"action": "error", "status": 500, "code": -1006}, False,
                     id="-1006 not executed"),
    ],
)  # fmt: skip
async def test_an_unknown_list_outcome_ends_with_the_real_list(
    sim: Simulator, keyed: Gateway, bot: Api, fault: dict[str, Any], executed: bool
) -> None:
    load_faults(sim, {**POST_OCO, **fault})
    mine = "oco-mine" if executed else None  # the bot's own list id once, the gateway's once
    reply = await bot.post(OCO, oco(mine), signed=True)
    assert sim.state.faults.log, "the fault must have fired"
    assert reply.status == 200, reply.body
    assert reply.headers.get(GATEWAY_HEADER) == ("reconciled" if executed else None)
    [real] = await lists_truth(sim)
    assert reply.body["orderListId"] == real["orderListId"]
    assert reply.body["listClientOrderId"] == real["listClientOrderId"]
    if mine is None:  # the gateway's ids: the list's and each leg's
        assert real["listClientOrderId"].startswith("bgw")
        assert all(o["clientOrderId"].startswith("bgw") for o in real["orders"])
    reports = reply.body["orderReports"]
    assert [r["orderId"] for r in reports] == [o["orderId"] for o in real["orders"]]
    assert {r["status"] for r in reports} == {"NEW"}
    await assert_lists_journal_is_truth(sim, keyed.orders)


async def test_a_reconciled_list_has_the_fields_binance_gives(
    sim: Simulator, keyed: Gateway, bot: Api
) -> None:
    direct = await bot.post(OCO, oco(), signed=True)
    load_faults(sim, {**POST_OCO, "action": "reset_after"})
    rebuilt = await bot.post(OCO, oco(), signed=True)
    assert direct.status == rebuilt.status == 200
    assert set(rebuilt.body) == set(direct.body)
    for mine, theirs in zip(rebuilt.body["orderReports"], direct.body["orderReports"], strict=True):
        assert set(mine) == set(theirs)


async def test_a_list_resent_with_its_id_is_not_placed_twice(
    sim: Simulator, keyed: Gateway, bot: Api
) -> None:
    load_faults(sim, {**POST_OCO, "action": "reset_after"})
    first = await bot.post(OCO, oco("oco-again"), signed=True)
    again = await bot.post(OCO, oco("oco-again"), signed=True)
    assert first.status == again.status == 200
    assert again.body["orderListId"] == first.body["orderListId"]
    assert len(await lists_truth(sim)) == 1
    other = await bot.post(OCO, oco("oco-again", quantity="0.02"), signed=True)
    assert (other.status, other.code) == (400, -1130)
    assert len(await lists_truth(sim)) == 1
    await assert_lists_journal_is_truth(sim, keyed.orders)


async def test_the_deprecated_oco_lost_after_execution_is_the_real_list(
    sim: Simulator, keyed: Gateway, bot: Api
) -> None:
    """POST /api/v3/order/oco (deprecated; limitClientOrderId, stopClientOrderId): the same."""
    load_faults(sim, {"path": "/api/v3/order/oco", "method": "POST", "times": 1,
                      "action": "reset_after"})  # fmt: skip
    params = {
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01", "price": "31000",
        "stopPrice": "29000", "stopLimitPrice": "28900", "stopLimitTimeInForce": "GTC",
        "recvWindow": WINDOW,
    }  # fmt: skip
    reply = await bot.post("/api/v3/order/oco", params, signed=True)
    assert reply.status == 200, reply.body
    assert reply.headers[GATEWAY_HEADER] == "reconciled"
    [real] = await lists_truth(sim)
    assert reply.body["orderListId"] == real["orderListId"]
    assert all(o["clientOrderId"].startswith("bgw") for o in real["orders"])
    await assert_lists_journal_is_truth(sim, keyed.orders)
