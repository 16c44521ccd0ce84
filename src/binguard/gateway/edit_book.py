"""Cancel-replace (POST /api/v3/order/cancelReplace, order.cancelReplace) as the order guard
journals, looks up and answers it: order_books.py's `Book`, over the journal's `edits` table.

Reconciled as the connector does (connector/edits.py): the new order by its newClientOrderId
(absent only past the recvWindow proof), then the old order by its id. New order found: it was
placed. Old order CANCELED: its cancel happened. Neither: nothing happened, and the request may
be sent again (by the guard, with the same ids). The bot then gets what Binance answers
(rest-api.md §Cancel an Existing Order and Send a New Order): 200 with both halves when both
happened, else 409 -2021 "Order cancel-replace partially failed." with `data` saying which half
did. A half that did not happen is told with the error Binance gives for it most often: the
cancel's -2011 "Unknown order sent." (the old order had ended), the new order's -2010 with the
gateway's reason (the request was lost after its cancel ran). A -2021 answer from Binance is a
result (journalled PARTIAL, never sent again); -2022 is a refusal (nothing happened).
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson

from binguard.connector.journal import JournalError, OrderJournal, Stage

from .answers import catalog_text
from .order_books import REJECTED, Entry, Fetch, Keyed, read_fills
from .order_ids import CLIENT_ID
from .order_shapes import order_in, shape

SUCCESS = "SUCCESS"
PARTIAL = "PARTIAL"  # journal status: one half happened (Binance's -2021)
_CANCEL_FIELDS = (  # DELETE /api/v3/order's answer, from the canceled order (rest-api.md)
    "symbol", "orderId", "orderListId", "price", "origQty", "executedQty",
    "origQuoteOrderQty", "cummulativeQuoteQty", "status", "timeInForce", "type", "side",
    "selfTradePreventionMode",
)  # fmt: skip


class EditRows:
    """The journal's `edits` table (connector/journal_records.py EditRecords) as a book's
    records: cancel-replaces and amendments, told apart by `kind` (connector/edits.py's)."""

    kind: str

    def __init__(self, journal: OrderJournal) -> None:
        self.edits = journal.edits

    def first_send(self, key: str, symbol: str, record: dict[str, str]) -> bool:
        known = self.edits.get(key)
        if known is not None:
            if dict(known.params) != record:
                raise JournalError(f"{self.kind} {key!r} is already journalled for another one")
            return False
        self.edits.record_intent(key, self.kind, symbol, record)
        self.edits.mark_sent(key)
        return True

    def entry(self, key: str) -> Entry | None:
        e = self.edits.get(key)
        return None if e is None else Entry(key, e.symbol, dict(e.params), e.stage, e.status)

    def stage(self, key: str) -> Stage | None:
        found = self.edits.stage_of(key)
        return None if found is None else found[0]

    def mark_sent(self, key: str) -> None:
        self.edits.mark_sent(key)

    def mark_unknown(self, key: str, why: str) -> None:
        self.edits.mark_unknown(key, why)

    def mark_final(self, key: str, status: str, why: str | None = None) -> None:
        self.edits.mark_outcome(key, Stage.FINAL, status, error=why)

    def flush(self, key: str | None = None) -> None:
        return None  # edits are written at once

    def pending(self) -> list[Entry]:
        return [
            Entry(e.edit_id, e.symbol, dict(e.params), e.stage, e.status)
            for e in self.edits.pending()
            if e.kind == self.kind
        ]


class EditBook(EditRows, Keyed):
    """See the module docstring."""

    kind = "cancel_replace"
    key_param: str = CLIENT_ID  # the new order's id, also the journal entry's (`edit_id`)
    default_shape: str | None = None  # the new order's: by its type, like POST /api/v3/order

    def mark_found(self, key: str, found: dict[str, Any], *, soon: bool = False) -> None:
        new = found.get("~new") if "~new" in found else found.get("newOrderResponse")
        halves = {k: found.get(k) for k in ("cancelResult", "newOrderResult")}
        status = SUCCESS if set(halves.values()) == {SUCCESS} else PARTIAL
        order_id = new.get("orderId") if isinstance(new, dict) else None
        self.edits.mark_outcome(key, Stage.FINAL, status, order_id=order_id, outcome=halves)

    def lookup(self, key: str, symbol: str) -> tuple[str, dict[str, str]]:
        return "/api/v3/order", {"symbol": symbol, "origClientOrderId": key}

    def found_in(self, body: bytes, key: str) -> dict[str, Any] | None:
        """Binance's 200 answer (both halves) or, from a lookup, the new order."""
        with contextlib.suppress(orjson.JSONDecodeError):
            data = orjson.loads(body)
            new = data.get("newOrderResponse") if isinstance(data, dict) else None
            if isinstance(new, dict) and new.get("clientOrderId") == key:
                return dict(data)
        order = order_in(body)
        return order if order is not None and order.get("clientOrderId") == key else None

    async def complete(
        self, found: dict[str, Any] | None, record: dict[str, str], fetch: Fetch
    ) -> dict[str, Any] | None:
        """Both halves from the new order's lookup (None: provably absent) and the old
        order's; None when neither happened (module docstring)."""
        if found is not None and "cancelResult" in found:
            return found  # Binance's own answer
        query = {"symbol": record.get("symbol", "")}
        if record.get("cancelOrderId"):
            query["orderId"] = record["cancelOrderId"]
        else:
            query["origClientOrderId"] = record.get("cancelOrigClientOrderId", "")
        status, body = await fetch("/api/v3/order", query)
        old = order_in(body) if status == 200 else None
        canceled = old is not None and old.get("status") == "CANCELED"
        if found is None and not canceled:
            return None
        return {
            "cancelResult": SUCCESS if canceled else "FAILURE",
            "newOrderResult": SUCCESS if found is not None else "FAILURE",
            "~new": found,
            "~old": old,
            "~cancelId": record.get("cancelNewClientOrderId"),
        }

    async def shaped(
        self, found: dict[str, Any], kind: str, fetch: Fetch
    ) -> tuple[int, dict[str, Any]]:
        new, old = found.get("~new"), found.get("~old")
        if isinstance(new, dict):
            new_part: dict[str, Any] = shape(new, kind, await read_fills(new, kind, fetch))
        else:
            why = "binguard gateway: not placed, its request was lost after the cancel ran"
            new_part = {"code": -2010, "msg": why}
        if found["cancelResult"] == SUCCESS and isinstance(old, dict):
            cancel: dict[str, Any] = {k: old[k] for k in _CANCEL_FIELDS if k in old}
            cancel |= {"origClientOrderId": old.get("clientOrderId")}
            cancel |= {
                "clientOrderId": found.get("~cancelId"),
                "transactTime": old.get("updateTime"),
            }
        else:
            cancel = {"code": -2011, "msg": catalog_text(-2011)}
        body = {
            "cancelResult": found["cancelResult"],
            "newOrderResult": found["newOrderResult"],
            "cancelResponse": cancel,
            "newOrderResponse": new_part,
        }
        if found["cancelResult"] == found["newOrderResult"] == SUCCESS:
            return 200, body
        return 409, {"code": -2021, "msg": catalog_text(-2021), "data": body}

    def refused_status(self, why: str) -> str:
        """-2021: one half happened, a result (never sent again); else nothing happened."""
        return PARTIAL if why.endswith(" -2021") else REJECTED
