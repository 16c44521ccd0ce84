"""Which bot requests keys mode makes safe (order_guard.py), and the client order ids it adds.

Kept apart from order_guard.py so that the re-signer (resign.py) can add an id before it signs
without importing the forwarder.
"""

from __future__ import annotations

import hashlib
import secrets

# REST requests that create an order and are answered with it (rest-api.md §New order). SOR
# (POST /api/v3/sor/order, sor.order.place) is not here: keys mode refuses it, the endpoint
# table (policy/endpoints.py) has no SOR entry; its orders are queried like any other, so it
# would only need adding here and below.
ORDER = "/api/v3/order"
# Order lists (rest-api.md §Order lists), each leg's client id parameter by its role prefix.
LIST_LEGS: dict[str, tuple[str, ...]] = {
    "/api/v3/orderList/oco": ("above", "below"),
    "/api/v3/orderList/oto": ("working", "pending"),
    "/api/v3/orderList/otoco": ("working", "pendingAbove", "pendingBelow"),
    "/api/v3/orderList/opo": ("working", "pending"),
    "/api/v3/orderList/opoco": ("working", "pendingAbove", "pendingBelow"),
}
ORDER_PATHS = frozenset({ORDER, *LIST_LEGS})
# The WebSocket API's equivalents (web-socket-api.md §Trading requests), by the REST path that
# places the same order (a re-send after the absence proof goes there).
WS_ORDER_PATHS = {
    "order.place": "/api/v3/order",
    **{"orderList.place." + path.rsplit("/", 1)[1]: path for path in LIST_LEGS},
}

CLIENT_ID = "newClientOrderId"
LIST_CLIENT_ID = "listClientOrderId"
_PREFIX = "bgw"  # Binance's rule: ^[a-zA-Z0-9-_]{1,36}$ (rest-api.md, newClientOrderId)


def places_order(method: str, path: str) -> bool:
    """A request the order guard journals and reconciles (POST only: DELETE cancels)."""
    return method == "POST" and path in ORDER_PATHS


def leg_params(path: str) -> tuple[str, ...]:
    """A list request's leg client id parameters (aboveClientOrderId, ...); () for others."""
    return tuple(role + "ClientOrderId" for role in LIST_LEGS.get(path, ()))


def leg_id(list_id: str, param: str) -> str:
    """The id the gateway gives a leg the bot named none for: derived from the list's id, so a
    re-send of the list with the same id names the same legs (order_guard.py, step 3)."""
    return _PREFIX + hashlib.sha256(f"{list_id}\x00{param}".encode()).hexdigest()[:32]


def new_client_id() -> str:
    """A fresh client order id: 'bgw' and 32 hex digits (35 characters, within Binance's 36)."""
    return _PREFIX + secrets.token_hex(16)
