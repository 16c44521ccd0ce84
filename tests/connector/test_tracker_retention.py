"""The tracker keeps every open order but only the latest `keep_settled` settled ones (tracker.py),
so a long-running bot's memory stays bounded; what it forgot is still in the journal and is asked
for over REST. Unit tests on the tracker alone, then a connector against the simulator."""

from __future__ import annotations

from typing import Any

import pytest

from binguard.connector.list_models import OrderList
from binguard.connector.models import Order
from binguard.connector.options import ConnectorOptions
from binguard.connector.tracker import REMEMBER_GONE, OrderTracker
from binguard.sim import Simulator

from .conftest import MakeConnector
from .test_userdata import until_subscribed


def order(order_id: int, status: str) -> Order:
    return Order.from_api(
        {
            "symbol": "BTCUSDT",
            "orderId": order_id,
            "clientOrderId": f"c{order_id}",
            "side": "BUY",
            "type": "LIMIT",
            "status": status,
            "price": "1",
            "origQty": "1",
            "executedQty": "1" if status == "FILLED" else "0",
            "cummulativeQuoteQty": "0",
        }
    )


def order_list(list_id: int, status: str) -> OrderList:
    d: dict[str, Any] = {
        "symbol": "BTCUSDT",
        "orderListId": list_id,
        "listClientOrderId": f"l{list_id}",
        "contingencyType": "OCO",
        "listStatusType": "ALL_DONE" if status == "ALL_DONE" else "EXEC_STARTED",
        "listOrderStatus": status,
        "orders": [],
    }
    return OrderList.from_api(d)


def test_open_orders_stay_and_the_oldest_settled_go_first() -> None:
    tracker = OrderTracker(keep_settled=3)
    for i in range(1, 6):
        tracker.update_order(order(i, "NEW"))  # five open orders: all kept, whatever the bound
    assert sorted(o.order_id for o in tracker.open_orders()) == [1, 2, 3, 4, 5]
    for i in (3, 1, 5, 2):  # settled in this order: 3 is the oldest settled, not 1
        tracker.update_order(order(i, "FILLED"))
    assert sorted(oid for _, oid in tracker.orders) == [1, 2, 4, 5]
    assert tracker.get(client_order_id="c3") is None
    assert tracker.get(client_order_id="c1") == order(1, "FILLED")
    assert [o.order_id for o in tracker.open_orders()] == [4]
    assert tracker.forgotten == 1
    tracker.update_order(order(2, "FILLED"))  # a repeat moves nothing and forgets nothing
    assert tracker.forgotten == 1 and len(tracker.orders) == 4


def test_a_settled_order_forgotten_by_hand_leaves_the_bound() -> None:
    """`forget()` (an archived order) takes it out of the settled ones too: the next settled
    order does not push out another one."""
    tracker = OrderTracker(keep_settled=2)
    tracker.update_order(order(1, "CANCELED"))
    tracker.update_order(order(2, "CANCELED"))
    assert tracker.forget(client_order_id="c1")
    tracker.update_order(order(3, "EXPIRED"))
    assert sorted(oid for _, oid in tracker.orders) == [2, 3] and tracker.forgotten == 0


def test_settled_lists_are_bounded_too() -> None:
    tracker = OrderTracker(keep_settled=2)
    tracker.update_list(order_list(1, "EXECUTING"))
    for i in (2, 3, 4):
        tracker.update_list(order_list(i, "ALL_DONE"))
    assert sorted(lid for _, lid in tracker.lists) == [1, 3, 4]
    assert tracker.get_list("l2") is None and tracker.get_list("l1") is not None


def test_memory_stays_bounded_over_many_orders() -> None:
    tracker = OrderTracker(keep_settled=1000)
    for i in range(20_000):
        tracker.update_order(order(i, "NEW"))
        tracker.update_order(order(i, "FILLED"))
    assert len(tracker.orders) == 1000 and tracker.forgotten == 19_000
    assert len(tracker._by_client) == 1000 and len(tracker._settled) == 1000


@pytest.mark.parametrize("bad", [-1, 1.5, "10"])
def test_a_bad_bound_is_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="keep_settled"):
        ConnectorOptions(keep_settled=bad)


def test_a_late_update_does_not_bring_a_forgotten_order_back() -> None:
    """A forgotten order settled; a late NEW (a REST answer that lost the race with the
    stream) is stale, not a new open order."""
    tracker = OrderTracker(keep_settled=2)
    tracker.update_order(order(1, "NEW"))
    for i in (1, 2, 3):
        tracker.update_order(order(i, "FILLED"))
    assert tracker.get(client_order_id="c1") is None  # forgotten
    stale = tracker.stale_updates
    assert tracker.update_order(order(1, "NEW")) is False
    assert tracker.open_orders() == [] and tracker.get(client_order_id="c1") is None
    assert tracker.stale_updates == stale + 1


def test_with_nothing_kept_the_stream_and_rest_race_still_ends_settled() -> None:
    tracker = OrderTracker(keep_settled=0)
    tracker.update_order(order(1, "FILLED"))  # the stream first: settled, forgotten at once
    tracker.update_order(order(1, "NEW"))  # then the placement's answer
    assert tracker.open_orders() == [] and tracker.orders == {}


def test_a_late_update_does_not_bring_a_forgotten_list_back() -> None:
    tracker = OrderTracker(keep_settled=1)
    tracker.update_list(order_list(1, "ALL_DONE"))
    tracker.update_list(order_list(2, "ALL_DONE"))
    assert tracker.update_list(order_list(1, "EXECUTING")) is False
    assert tracker.get_list("l1") is None


def test_the_forgotten_keys_remembered_are_bounded_too() -> None:
    tracker = OrderTracker(keep_settled=10)
    for i in range(REMEMBER_GONE + 5_000):
        tracker.update_order(order(i, "FILLED"))
    assert len(tracker.orders) == 10 and len(tracker._gone) == REMEMBER_GONE


async def test_a_forgotten_order_is_in_the_journal_and_asked_for_over_rest(
    wsim: Simulator, wconnect: MakeConnector
) -> None:
    """With user data healthy, a kept order's state comes from the stream; a forgotten one's
    over REST (and is right)."""
    bn = await wconnect(keep_settled=3)
    await bn.start_user_data(["BTCUSDT"])
    await until_subscribed(wsim, bn)
    placed = [
        await bn.place_order(
            "BTCUSDT", "BUY", "LIMIT", time_in_force="IOC", quantity="0.001", price="10000"
        )
        for _ in range(6)
    ]  # far below the market: each expires at once (settled)
    assert all(o.status == "EXPIRED" for o in placed)
    assert [oid for _, oid in bn.tracker.orders] == [o.order_id for o in placed[3:]]
    first, last = placed[0], placed[-1]
    assert bn.tracker.get(client_order_id=first.client_order_id) is None
    entry = bn.journal.get(first.client_order_id)
    assert entry is not None and entry.order_id == first.order_id
    stream, rest = bn.stats.order_states_from_stream, bn.stats.order_states_from_rest
    kept = await bn.order_status("BTCUSDT", client_order_id=last.client_order_id)
    assert kept == bn.tracker.get(client_order_id=last.client_order_id)
    assert (bn.stats.order_states_from_stream, bn.stats.order_states_from_rest) == (
        stream + 1,
        rest,
    )
    again = await bn.order_status("BTCUSDT", client_order_id=first.client_order_id)
    assert (again.order_id, again.status) == (first.order_id, "EXPIRED")
    assert (bn.stats.order_states_from_stream, bn.stats.order_states_from_rest) == (
        stream + 1,
        rest + 1,
    )
