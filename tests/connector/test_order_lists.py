"""Order lists against the simulator (rest-api.md §Order lists): every kind placed typed, its ids
fixed and journalled before the first attempt, its legs' ids the exchange's; cancel and queries;
and the acceptance cases — one per execution-unknown fault, over REST and the WebSocket API —
each ending with exactly one list on the exchange per intent and the connector's view (journal,
tracker) equal to the ground truth (/_sim/order_lists).
"""

from __future__ import annotations

from typing import Any

import pytest

from binguard.connector import Leg, OrderList, ParamError
from binguard.connector.checks import FilterError
from binguard.connector.client import SpotConnector
from binguard.connector.journal import Stage
from binguard.sim import Simulator

from .conftest import MakeConnector, admin, load_faults, request_count, until

BUY = Leg("BUY", "LIMIT", quantity="0.01", price="29000", time_in_force="GTC")
MAKER = Leg("SELL", "LIMIT_MAKER", quantity="0.01", price="31000")
STOP = Leg(
    "SELL",
    "STOP_LOSS_LIMIT",
    quantity="0.01",
    price="28900",
    stop_price="29000",
    time_in_force="GTC",
)
KINDS: dict[str, dict[str, Leg]] = {
    "OCO": {"above": MAKER, "below": STOP},
    "OTO": {"working": BUY, "pending": MAKER},
    "OTOCO": {
        "working": BUY,
        "pending_above": MAKER,
        "pending_below": Leg("SELL", "STOP_LOSS", quantity="0.01", stop_price="28000"),
    },
    "OPO": {"working": BUY, "pending": Leg("SELL", "LIMIT_MAKER", price="31000")},
    "OPOCO": {
        "working": BUY,
        "pending_above": Leg("SELL", "LIMIT_MAKER", price="31000"),
        "pending_below": Leg(
            "SELL", "STOP_LOSS_LIMIT", price="27900", stop_price="28000", time_in_force="GTC"
        ),
    },
}


async def lists_truth(sim: Simulator) -> list[dict[str, Any]]:
    truth: list[dict[str, Any]] = await admin(sim, "order_lists")
    return truth


async def assert_list_matches(sim: Simulator, bn: SpotConnector, lst: OrderList) -> dict[str, Any]:
    """Exactly one list on the exchange under this listClientOrderId, and the connector's view
    (the answer, the journal and its legs, the tracker) equal to it."""
    mine = [t for t in await lists_truth(sim) if t["listClientOrderId"] == lst.list_client_order_id]
    assert len(mine) == 1, f"{len(mine)} lists on the exchange for {lst.list_client_order_id}"
    truth = mine[0]
    assert lst.order_list_id == truth["orderListId"]
    legs = [(o["orderId"], o["clientOrderId"]) for o in truth["orders"]]
    assert list(lst.orders) == legs
    entry = bn.journal.lists.get(lst.list_client_order_id)
    assert entry is not None and entry.order_list_id == truth["orderListId"]
    assert entry.stage is (
        Stage.FINAL if truth["listOrderStatus"] in ("ALL_DONE", "REJECT") else Stage.ACKED
    )
    assert {(leg.order_id, leg.client_order_id) for leg in entry.legs} == set(legs)
    tracked = bn.tracker.get_list(lst.list_client_order_id)
    assert tracked is not None and tracked.order_list_id == truth["orderListId"]
    return truth


@pytest.mark.parametrize("kind", list(KINDS))
async def test_every_kind_typed(sim: Simulator, connect: MakeConnector, kind: str) -> None:
    bn = await connect()
    lst = await bn.place_order_list(kind, "BTCUSDT", **KINDS[kind])
    truth = await assert_list_matches(sim, bn, lst)
    assert truth["contingencyType"] == ("OCO" if kind == "OCO" else "OTO")
    entry = bn.journal.lists.get(lst.list_client_order_id)
    assert entry is not None and entry.kind == kind and entry.attempts == 1


@pytest.mark.parametrize("resp_type", ["ACK", "RESULT", "FULL"])
async def test_every_resp_type(sim: Simulator, connect: MakeConnector, resp_type: str) -> None:
    bn = await connect()
    lst = await bn.place_order_list("OCO", "BTCUSDT", new_order_resp_type=resp_type, **KINDS["OCO"])
    await assert_list_matches(sim, bn, lst)
    assert len(lst.reports) == 2
    statuses = {r.status for r in lst.reports}
    assert statuses == ({None} if resp_type == "ACK" else {"NEW"})
    assert {r.side for r in lst.reports} == {"SELL"}


async def test_cancel_and_queries(sim: Simulator, connect: MakeConnector) -> None:
    bn = await connect()
    lst = await bn.place_order_list("OTOCO", "BTCUSDT", **KINDS["OTOCO"])
    assert [x.order_list_id for x in await bn.open_order_lists()] == [lst.order_list_id]
    by_id = await bn.get_order_list(list_client_order_id=lst.list_client_order_id)
    assert by_id.order_list_id == lst.order_list_id
    done = await bn.cancel_order_list("BTCUSDT", list_client_order_id=lst.list_client_order_id)
    assert done.list_order_status == "ALL_DONE"
    truth = await assert_list_matches(sim, bn, done)
    assert truth["listOrderStatus"] == "ALL_DONE"
    assert await bn.open_order_lists() == []
    assert [x.order_list_id for x in await bn.all_order_lists()] == [lst.order_list_id]


async def test_camel_case_legs_and_bad_lists(sim: Simulator, connect: MakeConnector) -> None:
    bn = await connect()
    lst = await bn.place_order_list(
        "OCO",
        "BTCUSDT",
        above=MAKER,
        below=Leg("SELL", "STOP_LOSS_LIMIT", quantity="0.01", price="28900", time_in_force="GTC"),
        belowStopPrice="29000",
    )
    await assert_list_matches(sim, bn, lst)
    before = await request_count(sim)
    with pytest.raises(TypeError, match="twice"):
        await bn.place_order_list("OCO", "BTCUSDT", **KINDS["OCO"], belowStopPrice="29000")
    with pytest.raises(TypeError, match="needs a below= leg"):
        await bn.place_order_list("OCO", "BTCUSDT", above=MAKER)
    with pytest.raises(TypeError, match="takes no working= leg"):
        await bn.place_order_list("OCO", "BTCUSDT", working=BUY, **KINDS["OCO"])
    with pytest.raises(ParamError) as other_side:
        await bn.place_order_list(
            "OCO",
            "BTCUSDT",
            above=MAKER,
            below=Leg("BUY", "STOP_LOSS", quantity="0.01", stop_price="29000"),
        )
    assert other_side.value.param == "side"
    with pytest.raises(ParamError) as opo_qty:
        await bn.place_order_list("OPO", "BTCUSDT", working=BUY, pending=MAKER)
    assert opo_qty.value.param == "pendingQuantity"
    with pytest.raises(FilterError) as off_tick:
        await bn.place_order_list(
            "OCO",
            "BTCUSDT",
            above=Leg("SELL", "LIMIT_MAKER", quantity="0.01", price="31000.001"),
            below=STOP,
        )
    assert (off_tick.value.param, off_tick.value.filter) == ("abovePrice", "PRICE_FILTER")
    assert await request_count(sim) == before, "refused lists must send nothing"
    assert len(bn.journal.lists.all()) == 1


FAULTS = [
    pytest.param({"action": "reset"}, id="reset before execution"),
    pytest.param({"action": "reset_after"}, id="reset after execution"),
    pytest.param({"action": "stall_after", "stall_s": 4}, id="stall after execution"),
    pytest.param(
        {"action": "error", "status": 500, "code": -1006, "executed": True}, id="-1006 executed"
    ),
    pytest.param({"action": "error", "status": 500, "code": -1006}, id="-1006 not executed"),
    pytest.param(
        {"action": "error", "status": 503, "code": -1007, "executed": True}, id="-1007 executed"
    ),
    pytest.param({"action": "error", "status": 503, "code": -1007}, id="-1007 not executed"),
    pytest.param({"action": "html", "status": 503, "executed": True}, id="HTML 503 executed"),
]


@pytest.mark.parametrize("fault", FAULTS)
async def test_list_exactly_once_through_fault_rest(
    sim: Simulator, connect: MakeConnector, fault: dict[str, Any]
) -> None:
    bn = await connect()
    load_faults(sim, {"path": "/api/v3/orderList/otoco", "method": "POST", "times": 1, **fault})
    lst = await bn.place_order_list("OTOCO", "BTCUSDT", **KINDS["OTOCO"])
    assert sim.state.faults.log, "the fault must have fired"
    await assert_list_matches(sim, bn, lst)
    assert bn.stats.reconciliations == 1
    assert len(await lists_truth(sim)) == 1


WS_FAULTS = [
    pytest.param({"action": "ws_reset"}, id="reset before execution"),
    pytest.param({"action": "ws_reset", "executed": True}, id="reset after execution"),
    pytest.param(
        {"action": "ws_error", "status": 500, "code": -1006, "executed": True}, id="-1006 executed"
    ),
    pytest.param({"action": "ws_error", "status": 500, "code": -1006}, id="-1006 not executed"),
    pytest.param(
        {"action": "ws_error", "status": 503, "code": -1007, "executed": True}, id="-1007 executed"
    ),
    pytest.param({"action": "ws_error", "status": 503, "code": -1007}, id="-1007 not executed"),
]


@pytest.mark.parametrize("fault", WS_FAULTS)
async def test_list_exactly_once_through_fault_websocket(
    wsim: Simulator, wconnect: MakeConnector, fault: dict[str, Any]
) -> None:
    """The same over the WebSocket API (`orderList.place.oco`); the lookup goes over REST."""
    bn = await wconnect(orders_via="ws")
    load_faults(wsim, {"path": "/ws-api/v3", "method": "orderList.place.oco", "times": 1, **fault})
    lst = await bn.place_order_list("OCO", "BTCUSDT", **KINDS["OCO"])
    assert [e["action"] for e in (await admin(wsim, "faults"))["log"]] == [fault["action"]]
    await assert_list_matches(wsim, bn, lst)
    executed = fault.get("executed", False)
    assert (bn.stats.reconciled_found, bn.stats.reconciled_absent) == (
        (1, 0) if executed else (0, 1)
    )
    sent = [
        r
        for r in await admin(wsim, "requests")
        if r.get("ws") == "api" and r["method"] == "orderList.place.oco"
    ]
    assert len(sent) == (1 if executed else 2)


async def test_recover_settles_lists(sim: Simulator, connect: MakeConnector, tmp_path: Any) -> None:
    """A crash with lists in flight (journal entries SENT, one list on the exchange, one not):
    recover() finds the one and proves the other never placed; neither is re-sent."""
    journal = str(tmp_path / "j.db")
    first = await connect(options={"journal_path": journal})
    placed = await first.place_order_list(
        "OCO", "BTCUSDT", list_client_order_id="on-exchange", **KINDS["OCO"]
    )
    lists = first.journal.lists
    lists.record_intent("never-left", "BTCUSDT", "OCO", {"x": "1"}, [("leg-a", "above")])
    lists.mark_sent("never-left")
    first.journal.flush()  # the placement's rows may wait for a commit (journal.py)
    first.journal._db.execute(
        "UPDATE lists SET stage = 'sent' WHERE list_client_id = 'on-exchange'"
    )
    await first.close()
    bn = await connect(options={"journal_path": journal})
    before = await request_count(sim)
    results = await bn.recover_lists()
    assert [r.order_list_id if r else None for r in results] == [placed.order_list_id, None]
    assert bn.journal.lists.pending() == []
    gone = bn.journal.lists.get("never-left")
    assert gone is not None and (gone.stage, gone.status) == (Stage.FINAL, "NOT_PLACED")
    await assert_list_matches(sim, bn, placed)
    sent = [r for r in (await admin(sim, "requests"))[before:] if r["method"] == "POST"]
    assert sent == [], "recover() never re-sends"


async def test_user_data_follows_lists(wsim: Simulator, wconnect: MakeConnector) -> None:
    """A list placed here and canceled by another program on the account: the `listStatus`
    events (user-data-stream.md) bring the tracker and the journal to ALL_DONE."""
    bn = await wconnect()
    ud = await bn.start_user_data(["BTCUSDT"])
    await until(lambda: ud.healthy, what="user data healthy")
    lst = await bn.place_order_list("OCO", "BTCUSDT", **KINDS["OCO"])
    other = await wconnect()
    await other.cancel_order_list("BTCUSDT", order_list_id=lst.order_list_id)

    def done() -> bool:
        known = bn.tracker.get_list(lst.list_client_order_id)
        return known is not None and known.is_final

    await until(done, what="listStatus ALL_DONE reached the tracker")
    entry = bn.journal.lists.get(lst.list_client_order_id)
    assert entry is not None and (entry.stage, entry.status) == (Stage.FINAL, "ALL_DONE")
    for order_id, coid in lst.orders:  # and the legs' executionReports: CANCELED
        await until(lambda c=coid: _status(bn, c) == "CANCELED", what=f"leg {coid} canceled")
        assert await admin(wsim, "orders?account=demo")  # the truth agrees
        assert any(o["orderId"] == order_id and o["status"] == "CANCELED"
                   for o in await admin(wsim, "orders?account=demo"))  # fmt: skip


def _status(bn: SpotConnector, coid: str) -> str | None:
    known = bn.tracker.get(client_order_id=coid)
    return known.status if known is not None else None
