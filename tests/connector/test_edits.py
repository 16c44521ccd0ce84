"""Edits against the simulator: cancel-replace in both modes and amend keep-priority
(rest-api.md §Cancel an Existing Order and Send a New Order, §Order Amend Keep Priority).

-2021 / -2022 come back as a CancelReplaceResult saying which half happened, from the answer's
`data` object. The acceptance cases — one per execution-unknown fault, over REST and the WebSocket
API, including the simulator's `stage: cancel` (only the cancel half ran) — each end with the
connector's view (the result, the journal's `edits` entry, the tracker) equal to the ground truth
(/_sim/orders, /_sim/amendments), and nothing placed twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from binguard.connector.checks import ParamError
from binguard.connector.client import SpotConnector
from binguard.connector.edit_models import NOT_PLACED, CancelReplaceResult
from binguard.connector.journal import Stage
from binguard.sim import Simulator

from .conftest import MakeConnector, admin, load_faults, until

OLD = {"quantity": "0.01", "price": "29000", "time_in_force": "GTC"}


async def _old(bn: SpotConnector) -> Any:
    return await bn.place_order("BTCUSDT", "BUY", "LIMIT", **OLD)


async def _replace(
    bn: SpotConnector, old: Any, mode: str = "STOP_ON_FAILURE", **kw: Any
) -> CancelReplaceResult:
    args = {"quantity": "0.02", "price": "29100", "time_in_force": "GTC", **kw}
    return await bn.cancel_replace(
        "BTCUSDT", "BUY", "LIMIT", cancel_replace_mode=mode, cancel_order_id=old.order_id, **args
    )


def _executed(fault: dict[str, Any]) -> bool:
    return bool(fault.get("executed")) or fault["action"] in ("reset_after", "stall_after")


async def _truth(sim: Simulator) -> dict[str, dict[str, Any]]:
    return {o["clientOrderId"]: o for o in await admin(sim, "orders")}


async def assert_replace_matches(
    sim: Simulator, bn: SpotConnector, old: Any, result: CancelReplaceResult, new_id: str
) -> None:
    """The result and the journal agree with the exchange about both halves."""
    truth = await _truth(sim)
    assert truth[old.client_order_id]["status"] == (
        "CANCELED" if result.cancel_result == "SUCCESS" else "NEW"
    )
    placed = [o for o in truth.values() if o["clientOrderId"] == new_id]
    assert len(placed) == (1 if result.new_order_result == "SUCCESS" else 0)
    if placed:
        assert result.new_order is not None and result.new_order.order_id == placed[0]["orderId"]
    entry = bn.journal.edits.get(new_id)
    assert entry is not None and entry.stage is Stage.FINAL
    assert entry.outcome is not None
    assert (entry.outcome["cancelResult"], entry.outcome["newOrderResult"]) == (
        result.cancel_result,
        result.new_order_result,
    )


@pytest.mark.parametrize("mode", ["STOP_ON_FAILURE", "ALLOW_FAILURE"])
@pytest.mark.parametrize("resp_type", ["ACK", "RESULT", "FULL"])
async def test_cancel_replace_both_halves(
    sim: Simulator, connect: MakeConnector, mode: str, resp_type: str
) -> None:
    bn = await connect()
    old = await _old(bn)
    result = await _replace(bn, old, mode, client_order_id="new-1", new_order_resp_type=resp_type)
    assert result.ok and not result.reconciled
    assert result.canceled is not None and result.canceled.status == "CANCELED"
    assert result.new_order is not None
    assert result.new_order.status == (None if resp_type == "ACK" else "NEW")
    await assert_replace_matches(sim, bn, old, result, "new-1")


async def test_minus_2022_cancel_failed_nothing_placed(
    sim: Simulator, connect: MakeConnector
) -> None:
    bn = await connect()
    old = await _old(bn)
    await bn.cancel_order("BTCUSDT", order_id=old.order_id)
    result = await _replace(bn, old, client_order_id="new-2")
    assert (result.cancel_result, result.new_order_result) == ("FAILURE", "NOT_ATTEMPTED")
    assert result.cancel_error is not None and result.cancel_error.code == -2011
    truth = await _truth(sim)
    assert "new-2" not in truth


async def test_minus_2021_allow_failure_new_placed_anyway(
    sim: Simulator, connect: MakeConnector
) -> None:
    bn = await connect()
    old = await _old(bn)
    await bn.cancel_order("BTCUSDT", order_id=old.order_id)
    result = await _replace(bn, old, "ALLOW_FAILURE", client_order_id="new-3")
    assert (result.cancel_result, result.new_order_result) == ("FAILURE", "SUCCESS")
    assert result.new_order is not None
    assert (await _truth(sim))["new-3"]["status"] == "NEW"


async def test_minus_2021_canceled_but_new_refused(sim: Simulator, connect: MakeConnector) -> None:
    """The old order is canceled, the new LIMIT_MAKER would take: the caller must learn both."""
    bn = await connect()
    old = await _old(bn)
    result = await bn.cancel_replace(
        "BTCUSDT", "BUY", "LIMIT_MAKER", cancel_order_id=old.order_id, quantity="0.01",
        price="40000", client_order_id="new-4",
    )  # fmt: skip
    assert (result.cancel_result, result.new_order_result) == ("SUCCESS", "FAILURE")
    assert result.new_order_error is not None and result.new_order_error.code == -2010
    await assert_replace_matches(sim, bn, old, result, "new-4")


async def test_amend_keep_priority(sim: Simulator, connect: MakeConnector) -> None:
    bn = await connect()
    old = await _old(bn)
    amendment, order = await bn.amend(
        "BTCUSDT", client_order_id=old.client_order_id, new_qty="0.004", new_client_order_id="am-1"
    )
    assert (
        order is not None and order.orig_qty == Decimal("0.004") and order.client_order_id == "am-1"
    )
    (row,) = await admin(sim, "amendments")
    assert (row["newClientOrderId"], row["executionId"]) == ("am-1", amendment.execution_id)
    history = await bn.order_amendments("BTCUSDT", old.order_id)
    assert [a.new_client_order_id for a in history] == ["am-1"]
    entry = bn.journal.edits.get("am-1")
    assert entry is not None and (entry.stage, entry.status) == (Stage.FINAL, "AMENDED")


REST_FAULTS = [
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
]
STAGE_CANCEL = [
    pytest.param({"action": "reset_after", "stage": "cancel"}, id="reset after the cancel half"),
    pytest.param(
        {"action": "error", "status": 503, "code": -1006, "executed": True, "stage": "cancel"},
        id="-1006 after the cancel half",
    ),
]


@pytest.mark.parametrize("fault", REST_FAULTS + STAGE_CANCEL)
async def test_cancel_replace_through_fault_rest(
    sim: Simulator, connect: MakeConnector, fault: dict[str, Any]
) -> None:
    bn = await connect()
    old = await _old(bn)
    load_faults(sim, {"path": "/api/v3/order/cancelReplace", "method": "POST", "times": 1, **fault})
    result = await _replace(bn, old, client_order_id="new-f")
    assert sim.state.faults.log, "the fault must have fired"
    await assert_replace_matches(sim, bn, old, result, "new-f")
    # Executed: found by reconciliation. Not: re-sent after the proof, answered normally.
    assert result.reconciled is _executed(fault)
    if fault.get("stage") == "cancel":
        assert (result.cancel_result, result.new_order_result) == ("SUCCESS", NOT_PLACED)
    else:
        assert result.ok


@pytest.mark.parametrize("fault", REST_FAULTS)
async def test_amend_through_fault_rest(
    sim: Simulator, connect: MakeConnector, fault: dict[str, Any]
) -> None:
    bn = await connect()
    old = await _old(bn)
    load_faults(
        sim, {"path": "/api/v3/order/amend/keepPriority", "method": "PUT", "times": 1, **fault}
    )
    amendment, _ = await bn.amend(
        "BTCUSDT", order_id=old.order_id, new_qty="0.004", new_client_order_id="am-f"
    )
    assert sim.state.faults.log, "the fault must have fired"
    rows = [r for r in await admin(sim, "amendments") if r["newClientOrderId"] == "am-f"]
    assert len(rows) == 1, "exactly one amendment on the exchange"
    assert amendment.execution_id == rows[0]["executionId"]
    assert (await _truth(sim))["am-f"]["origQty"] == "0.00400000"
    entry = bn.journal.edits.get("am-f")
    assert entry is not None and (entry.stage, entry.status) == (Stage.FINAL, "AMENDED")


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


WS_STAGE_CANCEL = pytest.param(
    {"action": "ws_error", "status": 503, "code": -1006, "executed": True, "stage": "cancel"},
    id="-1006 after the cancel half",
)


@pytest.mark.parametrize("fault", [*WS_FAULTS, WS_STAGE_CANCEL])
async def test_cancel_replace_through_fault_websocket(
    wsim: Simulator, wconnect: MakeConnector, fault: dict[str, Any]
) -> None:
    bn = await wconnect(orders_via="ws")
    old = await _old(bn)
    load_faults(wsim, {"path": "/ws-api/v3", "method": "order.cancelReplace", "times": 1, **fault})
    result = await _replace(bn, old, client_order_id="new-w")
    assert [e["action"] for e in (await admin(wsim, "faults"))["log"]] == [fault["action"]]
    await assert_replace_matches(wsim, bn, old, result, "new-w")
    assert result.reconciled is _executed(fault)


@pytest.mark.parametrize("fault", WS_FAULTS)
async def test_amend_through_fault_websocket(
    wsim: Simulator, wconnect: MakeConnector, fault: dict[str, Any]
) -> None:
    bn = await wconnect(orders_via="ws")
    old = await _old(bn)
    load_faults(
        wsim, {"path": "/ws-api/v3", "method": "order.amend.keepPriority", "times": 1, **fault}
    )
    amendment, _ = await bn.amend(
        "BTCUSDT", order_id=old.order_id, new_qty="0.004", new_client_order_id="am-w"
    )
    assert [e["action"] for e in (await admin(wsim, "faults"))["log"]] == [fault["action"]]
    rows = [r for r in await admin(wsim, "amendments") if r["newClientOrderId"] == "am-w"]
    assert len(rows) == 1 and amendment.execution_id == rows[0]["executionId"]
    entry = bn.journal.edits.get("am-w")
    assert entry is not None and (entry.stage, entry.status) == (Stage.FINAL, "AMENDED")


async def test_amend_bad_quantity_is_refused_locally(
    sim: Simulator, connect: MakeConnector
) -> None:
    bn = await connect()
    old = await _old(bn)
    before = len(await admin(sim, "requests"))
    for bad in ("0", "-1", "lots"):
        with pytest.raises(ParamError) as caught:
            await bn.amend("BTCUSDT", order_id=old.order_id, new_qty=bad)
        assert caught.value.param == "newQty"
    with pytest.raises(TypeError, match="order_id= or client_order_id="):
        await bn.amend("BTCUSDT", new_qty="0.001")
    assert len(await admin(sim, "requests")) == before
    assert bn.journal.edits.all() == []


async def test_websocket_minus_2021_and_2022_are_results(
    wsim: Simulator, wconnect: MakeConnector
) -> None:
    """Over the WebSocket API the error answer's `data` object gives the same typed results."""
    bn = await wconnect(orders_via="ws")
    old = await _old(bn)
    await bn.cancel_order("BTCUSDT", order_id=old.order_id)
    failed = await _replace(bn, old, client_order_id="ws-2022")
    assert (failed.cancel_result, failed.new_order_result) == ("FAILURE", "NOT_ATTEMPTED")
    partial = await _replace(bn, old, "ALLOW_FAILURE", client_order_id="ws-2021")
    assert (partial.cancel_result, partial.new_order_result) == ("FAILURE", "SUCCESS")
    assert partial.cancel_error is not None and partial.cancel_error.code == -2011
    truth = await _truth(wsim)
    assert "ws-2022" not in truth and truth["ws-2021"]["status"] == "NEW"
    methods = [r["method"] for r in await admin(wsim, "requests") if r.get("ws") == "api"]
    assert methods.count("order.cancelReplace") == 2


async def test_user_data_follows_an_amendment(wsim: Simulator, wconnect: MakeConnector) -> None:
    """An order amended by another program on the account: the executionReport (REPLACED)
    brings the tracker the new quantity and the new client order id."""
    bn = await wconnect()
    ud = await bn.start_user_data(["BTCUSDT"])
    await until(lambda: ud.healthy, what="user data healthy")
    old = await _old(bn)
    other = await wconnect()
    await other.amend(
        "BTCUSDT", order_id=old.order_id, new_qty="0.003", new_client_order_id="elsewhere"
    )

    def amended() -> bool:
        known = bn.tracker.get(client_order_id="elsewhere")
        return known is not None and known.orig_qty == Decimal("0.003")

    await until(amended, what="the amendment reached the tracker")
    known = bn.tracker.get(order_id=old.order_id, symbol="BTCUSDT")
    assert known is not None and known.client_order_id == "elsewhere"
