"""Order lists (rest-api.md §Order lists): OCO, OTO and OTOCO, with their listStatus events.

An OCO pair's orders are both live; the first one to trade or trigger expires the other
(`expiryReason` OCO_TRIGGER), and only the non-stop-loss order holds the funds (a SELL pair
locks its quantity once). An OTO's pending order(s) (PENDING_NEW) go live when the working order
is fully filled, and expire (OTO_PHASE_ONE_EXPIRED) when it ends otherwise; an OTOCO's pending
orders are an OCO pair. Canceling any order of a list cancels the whole list. A list is
EXEC_STARTED / EXECUTING until its contingency is resolved (no pending order left, no OCO pair
with both orders open), then ALL_DONE; each change is a `listStatus` user-data event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .orders import Order

if TYPE_CHECKING:
    from .core import Engine


@dataclass(slots=True)
class Leg:
    """One order of a new list, as requested (amounts in atoms). `pending`: an OTO's pending
    order, placed when the working order fills."""

    side: str
    type: str
    time_in_force: str
    qty: int
    price: int | None
    client_id: str | None
    stop_price: int | None = None
    trailing: int = 0
    iceberg: int | None = None
    strategy_id: int | None = None
    strategy_type: int | None = None
    pending: bool = False


@dataclass(slots=True, eq=False)
class OrderList:
    """One order list; `orders` in placement order."""

    list_id: int
    contingency: str  # "OCO" or "OTO" (enums.md §ContingencyType)
    client_id: str
    symbol: str
    account: str
    orders: list[Order]
    time: int
    status_type: str = "EXEC_STARTED"
    order_status: str = "EXECUTING"
    update_time: int = 0

    @property
    def done(self) -> bool:
        return self.order_status == "ALL_DONE"


def resolved(lst: OrderList) -> bool:
    return not any(
        o.status == "PENDING_NEW" or (o.oco_peer is not None and o.is_open and o.oco_peer.is_open)
        for o in lst.orders
    )


def status_event(lst: OrderList, now: int) -> dict[str, Any]:
    """The `listStatus` user-data event (user-data-stream.md)."""
    return {
        "e": "listStatus",
        "E": now,
        "s": lst.symbol,
        "g": lst.list_id,
        "c": lst.contingency,
        "l": lst.status_type,
        "L": lst.order_status,
        "r": "NONE",
        "C": lst.client_id,
        "T": lst.update_time or lst.time,
        "O": [{"s": o.symbol, "i": o.order_id, "c": o.client_order_id} for o in lst.orders],
    }


def refresh(engine: Engine, lst: OrderList, now: int) -> None:
    """ALL_DONE (and its listStatus event) once the list's contingency is resolved."""
    if lst.done or not resolved(lst):
        return
    lst.status_type = lst.order_status = "ALL_DONE"
    lst.update_time = now
    opened = engine.open_lists.get((lst.account, lst.symbol))
    if opened is not None:
        opened.discard(lst.list_id)
    if engine.listeners:
        engine._emit("listStatus", lst.symbol, lst.account, status_event(lst, now))


def on_first_trade(engine: Engine, order: Order, now: int) -> None:
    """An OCO order trades: the other order expires (OCO_TRIGGER)."""
    peer = order.oco_peer
    if peer is not None and peer.is_open:
        engine._expire(peer, "OCO_TRIGGER", now)


def on_terminal(engine: Engine, order: Order, now: int) -> None:
    """An order of a list ended: start or expire what waited for it, update the list."""
    if order.pending:
        waiting = [o for o in order.pending if o.status == "PENDING_NEW"]
        if order.status == "FILLED":
            engine._to_activate.extend(waiting)
        else:
            for o in waiting:
                engine._expire(o, "OTO_PHASE_ONE_EXPIRED", now)
    lst = engine.list_of(order)
    if lst is not None:
        refresh(engine, lst, now)
