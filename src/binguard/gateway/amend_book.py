"""Amend keep-priority (PUT /api/v3/order/amend/keepPriority, order.amend.keepPriority) as the
order guard journals, looks up and answers it: order_books.py's `Book`, over the journal's
`edits` table (kind "amend", as connector/edits.py journals one).

An entry's key is the amendment's `newClientOrderId` and `newQty` ("<id>@<qty>"): Binance lets
an order keep its client id through amendments ("It is possible to reuse the current
clientOrderId by sending it as the newClientOrderId", rest-api.md §Order Amend Keep Priority),
and an order's quantity only goes down, so the pair names one amendment of an order; a re-send
with the same pair is the same amendment, answered from what happened, never made twice.

Reconciled as the connector does (connector/edits.py `_find_amendment`): the order's amendment
history (GET /api/v3/order/amendments, by orderId: read from GET /api/v3/order, by the new
client id, then the old one, when the bot named the order by origClientOrderId) holding a row
with our newClientOrderId and newQty. None yet is "not found" (-2013), which proves nothing
until the recvWindow proof (order_guard.py `_lookup`): past it, the lost amend can no longer
execute and the guard sends it again. Found: the bot gets Binance's answer rebuilt from the row
and the order as it stands (`transactTime`, `executionId`, `amendedOrder`, and `listStatus` for
an order of a list: GET /api/v3/orderList without its `listStatusType`, `transactionTime`).
"""

from __future__ import annotations

import contextlib
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from binguard.connector.journal import Stage

from .edit_book import EditRows
from .order_books import REJECTED, Fetch
from .order_ids import CLIENT_ID
from .order_shapes import json_object, order_in

AMEND = "amend"  # the edits table's kind (connector/edits.py's)
AMENDED = "AMENDED"  # journal status of an amendment that happened (connector/edits.py's)
_NOT_FOUND = b'{"code":-2013,"msg":"Order does not exist."}'  # "no such amendment (yet)"
_FROM_QUERY = (  # amendedOrder's fields (rest-api.md's order) <- GET /api/v3/order's
    ("symbol", "symbol"), ("orderId", "orderId"), ("orderListId", "orderListId"),
    ("clientOrderId", "clientOrderId"), ("price", "price"), ("qty", "origQty"),
    ("executedQty", "executedQty"), ("preventedQty", "preventedQuantity"),
    ("quoteOrderQty", "origQuoteOrderQty"), ("cumulativeQuoteQty", "cummulativeQuoteQty"),
    ("status", "status"), ("timeInForce", "timeInForce"), ("type", "type"), ("side", "side"),
    ("workingTime", "workingTime"), ("selfTradePreventionMode", "selfTradePreventionMode"),
)  # fmt: skip


def amend_key(params: dict[str, str]) -> str:
    """The journal key of an amend request (module docstring); "" without a newClientOrderId."""
    new_id = params.get(CLIENT_ID, "")
    return f"{new_id}@{params.get('newQty', '')}" if new_id else ""


class AmendBook(EditRows):
    """See the module docstring."""

    kind = AMEND
    key_param: str = CLIENT_ID
    default_shape: str | None = "RESULT"  # unused: an amend's answer has one shape

    def key_of(self, params: dict[str, str]) -> str:
        return amend_key(params)

    def mark_found(self, key: str, found: dict[str, Any], *, soon: bool = False) -> None:
        """As connector/edits.py `_amended`: AMENDED, the order's id, executionId and newQty."""
        order = found.get("amendedOrder")
        order = order if isinstance(order, dict) else {}
        outcome = {"executionId": found.get("executionId"), "newQty": key.rpartition("@")[2]}
        order_id = order.get("orderId")
        self.edits.mark_outcome(
            key,
            Stage.FINAL,
            AMENDED,
            order_id=order_id if isinstance(order_id, int) else None,
            outcome=outcome,
        )

    async def look(
        self, key: str, symbol: str, record: dict[str, str], fetch: Fetch
    ) -> tuple[int, bytes]:
        """One lookup (module docstring): (200, the history's row) when the amendment
        happened, (400, -2013) while it is not there, else the failed read's answer."""
        order_id = record.get("orderId", "")
        if not order_id:
            order: dict[str, Any] | None = None
            for name in (record.get(CLIENT_ID), record.get("origClientOrderId")):
                query = {"symbol": symbol, "origClientOrderId": name or ""}
                status, body = await fetch("/api/v3/order", query)
                order = order_in(body) if status == 200 else None
                if order is not None:
                    break
                if status != 400:  # only "no such order" (-2013) tries the other id
                    return status, body
            if order is None:
                return 400, _NOT_FOUND
            order_id = str(order["orderId"])
        status, body = await fetch(
            "/api/v3/order/amendments", {"symbol": symbol, "orderId": order_id}
        )
        if status != 200:
            return status, body
        with contextlib.suppress(orjson.JSONDecodeError):
            rows = orjson.loads(body)
            for row in rows if isinstance(rows, list) else ():
                if isinstance(row, dict) and _is_ours(row, key):
                    return 200, orjson.dumps(row)
        return 400, _NOT_FOUND

    def found_in(self, body: bytes, key: str) -> dict[str, Any] | None:
        """Binance's answer to the amend, or (from `look`) the history's row, when either is
        this amendment."""
        data = json_object(body)
        if data is None:
            return None
        amended = data.get("amendedOrder")
        if isinstance(amended, dict):
            mine = amended.get("clientOrderId") == key.rpartition("@")[0]
            return dict(data) if mine and isinstance(amended.get("orderId"), int) else None
        return dict(data) if _is_ours(data, key) and isinstance(data.get("orderId"), int) else None

    async def complete(
        self, found: dict[str, Any] | None, record: dict[str, str], fetch: Fetch
    ) -> dict[str, Any] | None:
        """Binance's answer as is; a history row made into one (module docstring); None when
        the amendment provably did not happen."""
        if found is None or "amendedOrder" in found:
            return found
        query = {"symbol": str(found.get("symbol")), "orderId": str(found.get("orderId"))}
        status, body = await fetch("/api/v3/order", query)
        order = order_in(body) if status == 200 else None
        answer: dict[str, Any] = {
            "transactTime": found.get("time"),
            "executionId": found.get("executionId"),
            "amendedOrder": _amended(found, order),
        }
        list_id = order.get("orderListId", -1) if order is not None else -1
        if isinstance(list_id, int) and list_id != -1:
            status, body = await fetch("/api/v3/orderList", {"orderListId": str(list_id)})
            with contextlib.suppress(orjson.JSONDecodeError):
                got = orjson.loads(body) if status == 200 else None
                if isinstance(got, dict):
                    drop = ("listStatusType", "transactionTime")
                    answer["listStatus"] = {k: v for k, v in got.items() if k not in drop}
        return answer

    async def shaped(
        self, found: dict[str, Any], kind: str, fetch: Fetch
    ) -> tuple[int, dict[str, Any]]:
        return 200, found

    def refused_status(self, why: str) -> str:
        return REJECTED


def _is_ours(row: dict[str, Any], key: str) -> bool:
    """A history row (or a re-read of it) with this key's newClientOrderId and newQty."""
    new_id, _, qty = key.rpartition("@")
    if row.get("newClientOrderId") != new_id:
        return False
    try:
        return Decimal(str(row.get("newQty"))) == Decimal(qty)
    except InvalidOperation:
        return False


def _amended(row: dict[str, Any], order: dict[str, Any] | None) -> dict[str, Any]:
    """`amendedOrder` from the order as queried now (the row alone when that read failed)."""
    if order is None:
        return {
            "symbol": row.get("symbol"),
            "orderId": row.get("orderId"),
            "origClientOrderId": row.get("origClientOrderId"),
            "clientOrderId": row.get("newClientOrderId"),
            "qty": row.get("newQty"),
        }
    zero = "0." + "0" * 8  # the query gives preventedQuantity only for an order STP touched
    out: dict[str, Any] = {}
    for mine, theirs in _FROM_QUERY:
        if theirs in order:
            out[mine] = order[theirs]
        elif mine == "preventedQty":
            out[mine] = zero
        if mine == "orderListId":
            out["origClientOrderId"] = row.get("origClientOrderId")
    if not order.get("isWorking", True):
        out.pop("workingTime", None)
    return out
