"""Order lists as data (rest-api.md §Order lists): the list, one requested order, the
`listStatus` event. The engine's list operations are in listing.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .orders import Order


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
    opo: bool = False
    peg: tuple[str, str | None, int | None, int] | None = None


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
