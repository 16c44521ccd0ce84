"""Which bot requests keys mode makes safe (order_guard.py), and the client order ids it adds.

Kept apart from order_guard.py so that the re-signer (resign.py) can add an id before it signs
without importing the forwarder.
"""

from __future__ import annotations

import hashlib
import secrets

# REST requests that create an order and are answered with it (rest-api.md §New order; SOR:
# §New order using SOR, an order queried like any other).
ORDER = "/api/v3/order"
SOR = "/api/v3/sor/order"
# Order lists (rest-api.md §Order lists), each leg's client id parameter by its role prefix;
# /api/v3/order/oco is the deprecated OCO (limitClientOrderId, stopClientOrderId).
LIST_LEGS: dict[str, tuple[str, ...]] = {
    "/api/v3/orderList/oco": ("above", "below"),
    "/api/v3/orderList/oto": ("working", "pending"),
    "/api/v3/orderList/otoco": ("working", "pendingAbove", "pendingBelow"),
    "/api/v3/orderList/opo": ("working", "pending"),
    "/api/v3/orderList/opoco": ("working", "pendingAbove", "pendingBelow"),
    "/api/v3/order/oco": ("limit", "stop"),
}
CANCEL_REPLACE = (
    "/api/v3/order/cancelReplace"  # rest-api.md §Cancel an Existing Order and Send a New Order
)
AMEND = "/api/v3/order/amend/keepPriority"  # rest-api.md §Order Amend Keep Priority: a PUT
ORDER_PATHS = frozenset({ORDER, SOR, CANCEL_REPLACE, AMEND, *LIST_LEGS})
# The WebSocket API's equivalents (web-socket-api.md §Trading requests), by the REST path that
# places the same order (a re-send after the absence proof goes there).
WS_ORDER_PATHS = {
    "order.place": ORDER,
    "sor.order.place": SOR,
    "order.cancelReplace": CANCEL_REPLACE,
    "order.amend.keepPriority": AMEND,
    "orderList.place": "/api/v3/order/oco",
    **{"orderList.place." + path.rsplit("/", 1)[1]: path for path in LIST_LEGS if "List" in path},
}

CLIENT_ID = "newClientOrderId"
LIST_CLIENT_ID = "listClientOrderId"
_PREFIX = "bgw"  # Binance's rule: ^[a-zA-Z0-9-_]{1,36}$ (rest-api.md, newClientOrderId)


def places_order(method: str, path: str) -> bool:
    """A request the order guard journals and reconciles (its `method_of`: DELETE cancels)."""
    return path in ORDER_PATHS and method == method_of(path)


def method_of(path: str) -> str:
    """The HTTP method of a path the guard takes (and re-sends): PUT for an amend, else POST."""
    return "PUT" if path == AMEND else "POST"


def main_id_param(path: str) -> str:
    """The client id a request is journalled by: a list's own, else the (new) order's."""
    return LIST_CLIENT_ID if path in LIST_LEGS else CLIENT_ID


def leg_params(path: str) -> tuple[str, ...]:
    """The other client ids the guard fixes: a list's legs' (aboveClientOrderId, ...), a
    cancel-replace's cancel's (cancelNewClientOrderId); () for an order."""
    if path == CANCEL_REPLACE:
        return ("cancelNewClientOrderId",)
    return tuple(role + "ClientOrderId" for role in LIST_LEGS.get(path, ()))


def leg_id(list_id: str, param: str) -> str:
    """The id the gateway gives a leg (or a cancel) the bot named none for: derived from the
    main id, so a re-send with the same id names the same legs (order_guard.py, step 3)."""
    return _PREFIX + hashlib.sha256(f"{list_id}\x00{param}".encode()).hexdigest()[:32]


def new_client_id() -> str:
    """A fresh client order id: 'bgw' and 32 hex digits (35 characters, within Binance's 36)."""
    return _PREFIX + secrets.token_hex(16)
