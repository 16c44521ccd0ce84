"""Keys mode's order guard on the WebSocket API (issue 17, item 2; gateway/ws_orders.py).

`order.place` (and an `orderList.place.oco`) through the gateway's `/ws-api/v3` to the simulator, under its WebSocket API
faults (sim/faults.py: `ws_error` with and without `executed`, `ws_silence` and `ws_reset`
after execution): the bot gets Binance's answer frame for its real order on the same socket,
or, when the upstream socket was lost (its own socket closes with it), gets the order back by
re-sending the same client id on a new socket; the simulator's ground truth equals the
journal. The bot signs with its local key (web-socket-api.md §SIGNED request security).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from tests.sim.helpers import WsApi, limit_buy, oco_sell, recv_json

from binguard.gateway import Gateway
from binguard.sim import Simulator

from .conftest import load_faults
from .test_keys_lists import assert_lists_journal_is_truth, lists_truth
from .test_keys_orders import BOT_SECRET, WINDOW, assert_journal_is_truth, truth
from .test_keys_orders import keyed as keyed  # the fixture, shared
from .test_keys_orders import keys_file as keys_file  # the fixture, shared

PLACE = {"path": "/ws-api/v3", "method": "order.place", "times": 1}


async def bot_socket(session: aiohttp.ClientSession, gw: Gateway, query: str = "") -> WsApi:
    ws = await session.ws_connect(gw.url.replace("http", "ws") + "/ws-api/v3" + query)
    return WsApi(ws, "bg-bot", BOT_SECRET)


def order(coid: str | None = None, **kw: Any) -> dict[str, Any]:
    params: dict[str, Any] = {**limit_buy("0.001", "20000"), "recvWindow": int(WINDOW), **kw}
    if coid is not None:
        params["newClientOrderId"] = coid
    return params


WS_FAULTS = [
    pytest.param({"action": "ws_error", "status": 500, "code": -1006, "executed": True}, True,
                 id="-1006 executed"),
    pytest.param({"action": "ws_error", "status": 500, "code": -1006}, False,
                 id="-1006 not executed"),
    pytest.param({"action": "ws_error", "status": 503, "code": -1007, "executed": True}, True,
                 id="-1007 executed"),
    pytest.param({"action": "ws_error", "status": 503, "code": -1007}, False,
                 id="-1007 not executed"),
    pytest.param({"action": "ws_silence", "stall_s": 2, "executed": True}, True,
                 id="stall after execution"),
]  # fmt: skip


@pytest.mark.parametrize(("fault", "executed"), WS_FAULTS)
async def test_an_unknown_ws_outcome_ends_with_the_real_order(
    sim: Simulator,
    keyed: Gateway,
    session: aiohttp.ClientSession,
    fault: dict[str, Any],
    executed: bool,
) -> None:
    bot = await bot_socket(session, keyed)
    load_faults(sim, {**PLACE, **fault})
    mine = "ws-executed" if executed else None
    reply = await bot.call("order.place", order(mine, newOrderRespType="RESULT"), signed=True)
    assert sim.state.faults.log, "the fault must have fired"
    assert reply["status"] == 200, reply
    [real] = await truth(sim)
    assert reply["result"]["orderId"] == real["orderId"]
    assert reply["result"]["clientOrderId"] == real["clientOrderId"]
    assert reply["result"]["status"] == "NEW"
    assert keyed.orders is not None
    assert keyed.orders.counts["reconciled_absent"] == (0 if executed else 1)
    await assert_journal_is_truth(sim, keyed.orders)
    await bot.ws.close()


async def test_a_lost_upstream_socket_then_a_resend_gets_the_one_order(
    sim: Simulator, keyed: Gateway, session: aiohttp.ClientSession
) -> None:
    bot = await bot_socket(session, keyed)
    load_faults(sim, {**PLACE, "action": "ws_reset", "executed": True})
    await bot.send("order.place", bot.signed(order("ws-lost")))
    msg = await bot.ws.receive(timeout=5)
    assert msg.type in (
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.CLOSING,
    )
    again = await bot_socket(session, keyed)
    reply = await again.call("order.place", order("ws-lost"), signed=True)
    assert reply["status"] == 200, reply
    [real] = await truth(sim)
    assert (reply["result"]["orderId"], real["clientOrderId"]) == (real["orderId"], "ws-lost")
    assert keyed.orders is not None
    await assert_journal_is_truth(sim, keyed.orders)
    await again.ws.close()


async def test_ws_requests_after_an_order_keep_their_order_and_a_resend_is_not_sent(
    sim: Simulator, keyed: Gateway, session: aiohttp.ClientSession
) -> None:
    """The order frame leaves before the next request's (ws_orders.py): a cancel sent right
    behind it finds the order; a re-send of its id is answered from the journal."""
    bot = await bot_socket(session, keyed)
    placed = await bot.send("order.place", bot.signed(order("ws-seq")))
    cancel = await bot.send(
        "order.cancel", bot.signed({"symbol": "BTCUSDT", "origClientOrderId": "ws-seq"})
    )
    answers = {}
    for _ in range(2):
        frame = await recv_json(bot.ws)
        answers[frame["id"]] = frame
    assert answers[placed]["status"] == 200 and answers[cancel]["status"] == 200, answers
    again = await bot.call("order.place", order("ws-seq"), signed=True)
    assert again["status"] == 200 and again["result"]["status"] == "CANCELED"
    places = [r for r in sim.state.requests if r.get("ws") and r["method"] == "order.place"]
    assert len(places) == 1
    assert len(await truth(sim)) == 1
    await bot.ws.close()


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param({"action": "ws_error", "status": 503, "code": -1007, "executed": True},
                     id="-1007 executed"),
        pytest.param({"action": "ws_error", "status": 500, "code": -1006}, id="-1006 not executed"),
    ],
)  # fmt: skip
async def test_an_unknown_ws_list_outcome_ends_with_the_real_list(
    sim: Simulator, keyed: Gateway, session: aiohttp.ClientSession, fault: dict[str, Any]
) -> None:
    """orderList.place.oco (web-socket-api.md §Place new Order list - OCO): the list and its
    legs get the gateway's ids; the bot gets the real list with its orderReports."""
    bot = await bot_socket(session, keyed)
    load_faults(sim, {"path": "/ws-api/v3", "method": "orderList.place.oco", "times": 1, **fault})
    params = {**oco_sell(), "recvWindow": int(WINDOW)}
    reply = await bot.call("orderList.place.oco", params, signed=True)
    assert sim.state.faults.log, "the fault must have fired"
    assert reply["status"] == 200, reply
    [real] = await lists_truth(sim)
    assert reply["result"]["orderListId"] == real["orderListId"]
    assert real["listClientOrderId"].startswith("bgw")
    reports = reply["result"]["orderReports"]
    assert [r["orderId"] for r in reports] == [o["orderId"] for o in real["orders"]]
    await assert_lists_journal_is_truth(sim, keyed.orders)
    await bot.ws.close()


async def test_an_unknown_ws_cancel_replace_ends_with_both_halves(
    sim: Simulator, keyed: Gateway, session: aiohttp.ClientSession
) -> None:
    """order.cancelReplace (web-socket-api.md §Cancel and replace order) under a -1007 after
    execution: the bot gets both halves, reconciled over REST (edit_book.py)."""
    bot = await bot_socket(session, keyed)
    placed = await bot.call("order.place", order("ws-old"), signed=True)
    old = placed["result"]["orderId"]
    fault = {"action": "ws_error", "status": 503, "code": -1007, "executed": True}
    load_faults(sim, {"path": "/ws-api/v3", "method": "order.cancelReplace", "times": 1, **fault})
    params = {
        **order("ws-new", quantity="0.002", price="20100"),
        "cancelReplaceMode": "STOP_ON_FAILURE",
        "cancelOrderId": old,
    }
    reply = await bot.call("order.cancelReplace", params, signed=True)
    assert sim.state.faults.log, "the fault must have fired"
    assert reply["status"] == 200, reply
    result = reply["result"]
    assert (result["cancelResult"], result["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    orders = {o["clientOrderId"]: o for o in await truth(sim)}
    assert orders["ws-old"]["status"] == "CANCELED"
    assert result["newOrderResponse"]["orderId"] == orders["ws-new"]["orderId"]
    await bot.ws.close()


async def test_a_reconciled_ws_answer_is_in_the_sockets_time_unit(
    sim: Simulator, keyed: Gateway, session: aiohttp.ClientSession
) -> None:
    """A socket opened with `timeUnit=MICROSECOND` (web-socket-api.md) gets its reconciled
    order's times in microseconds, as Binance's own answers on it are."""
    bot = await bot_socket(session, keyed, "?timeUnit=MICROSECOND")
    load_faults(
        sim, {**PLACE, "action": "ws_error", "status": 503, "code": -1007, "executed": True}
    )
    reply = await bot.call("order.place", order(newOrderRespType="RESULT"), signed=True)
    assert reply["status"] == 200, reply
    assert keyed.orders is not None and keyed.orders.counts["reconciled_found"] == 1
    query = {"symbol": "BTCUSDT", "orderId": reply["result"]["orderId"], "recvWindow": 1000}
    status = await bot.call("order.status", query, signed=True)  # Binance's own, on this socket
    assert reply["result"]["transactTime"] == status["result"]["time"] > 10**15
    assert reply["result"]["workingTime"] == status["result"]["workingTime"]
    await bot.ws.close()
