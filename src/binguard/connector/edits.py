"""Edits without loss or duplication: cancel-replace (both modes) and amend keep-priority.

The same guarantee as single orders (orders.py), for both halves of an edit. Every client id is
fixed and journalled (table `edits`, keyed by the edit's new client order id) before the first
attempt. When an attempt's outcome is unknown (reset or timeout after sending, 5XX, -1006,
-1007), it is reconciled by querying, over REST:

- cancel-replace: the new order by its `newClientOrderId` (reconcile.py: found, or absent only
  past the recvWindow proof) and the old order by its id. New order found → it was placed; old
  order no longer open → its cancel happened. Re-sent with the same ids only when the new order
  provably never reached the matching engine AND the old order is still open (nothing happened);
  a cancel that happened without its new order is a result (`new_order_result="NOT_PLACED"`),
  never silently completed: the market moved, the caller decides.
- amend: the order's amendment history (GET /api/v3/order/amendments) for the amendment that
  gave the order our `newClientOrderId`; re-sent only past the proof that the lost one can no
  longer execute.

-2021 / -2022 are a `CancelReplaceResult` saying which half happened (edit_models.py). `recover()`
settles the edits a crash left in flight, and never re-sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from binguard.errors import BinanceError, ExecutionUnknownError, OrderNotFoundError
from binguard.policy.endpoints import BY_NAME

from . import account
from .calls import OutcomeUnknown, Requests, call_endpoint
from .checks import check_order
from .edit_models import NOT_PLACED, SUCCESS, Amendment, CancelReplaceResult, result_of_refusal
from .journal import Stage
from .ledger_lists import ListLedger
from .lists import OrderSender
from .models import Order, ResponseFormatError
from .reconcile import settle

AMEND, CANCEL_REPLACE = "amend", "cancel_replace"


class EditManager:
    """Cancel-replace and amend; see the module docstring. `orders`: the order manager, for its
    send path (REST or the WebSocket API), fresh ids and the symbols' filters."""

    def __init__(self, loop: Requests, ledger: ListLedger, orders: OrderSender) -> None:
        self._loop = loop
        self._ledger = ledger
        self._orders = orders

    # -- cancel-replace ---------------------------------------------------------------------------
    async def cancel_replace(self, params: Mapping[str, str]) -> CancelReplaceResult:
        """`params`: the request (Binance's names), checked like a new order first."""
        body = dict(params)
        body.setdefault("newClientOrderId", self._orders.new_client_order_id())
        body.setdefault("cancelNewClientOrderId", self._orders.new_client_order_id())
        check_order(body, self._orders.rules.get(body["symbol"]))
        edit_id = body["newClientOrderId"]
        self._ledger.edit_intent(edit_id, CANCEL_REPLACE, body["symbol"], body)
        result = await self._drive_cancel_replace(edit_id, body)
        self._record(edit_id, result)
        return result

    async def _drive_cancel_replace(
        self, edit_id: str, body: Mapping[str, str]
    ) -> CancelReplaceResult:
        for sends in range(1, self._loop.options.max_resends + 2):
            self._ledger.edit_sent(edit_id)
            try:
                data = await self._orders.send(BY_NAME["cancel_replace"], body)
                return CancelReplaceResult.from_api(data, body)
            except (OutcomeUnknown, ResponseFormatError) as lost:
                error = _error_of(lost)
            except BinanceError as err:
                refused = result_of_refusal(err, body)
                if refused is not None:
                    return refused
                if not err.may_have_executed:
                    self._ledger.edit_done(edit_id, "REJECTED", error=repr(err))
                raise
            self._ledger.edit_unknown(edit_id, repr(error))
            found = await self._reconcile_cancel_replace(body, error)
            if found is not None:
                return found
            self._loop.stats.resends += 1
            self._loop.emit("resend", client_order_id=edit_id, attempt=sends + 1)
        raise ExecutionUnknownError(
            f"cancel-replace {edit_id}: nothing happened after every attempt; giving up",
            may_have_executed=False,
        )

    async def _reconcile_cancel_replace(
        self, body: Mapping[str, str], reason: BinanceError
    ) -> CancelReplaceResult | None:
        """Both halves by query: the result, or None when nothing happened (send again)."""
        symbol, new_id = body["symbol"], body["newClientOrderId"]
        new = await settle(
            self._loop,
            lambda: account.query_order(self._loop, symbol, client_order_id=new_id),
            key=new_id,
            reason=reason,
        )
        old = await self._old_order(body)
        # Only a CANCELED old order is our cancel's doing; one that FILLED or EXPIRED on its own
        # with no new order means nothing of this request happened (re-sending is then safe).
        cancel_happened = old is not None and old.status == "CANCELED"
        if new is None and not cancel_happened:
            return None
        return CancelReplaceResult(
            cancel_result=SUCCESS if cancel_happened else "FAILURE",
            new_order_result=SUCCESS if new is not None else NOT_PLACED,
            canceled=old,
            new_order=new,
            reconciled=True,
        )

    async def _old_order(self, body: Mapping[str, str]) -> Order | None:
        order_id = body.get("cancelOrderId")
        try:
            return await account.query_order(
                self._loop,
                body["symbol"],
                order_id=int(order_id) if order_id else None,
                client_order_id=body.get("cancelOrigClientOrderId"),
            )
        except OrderNotFoundError:
            return None  # never existed under that id: its cancel cannot have happened

    def _record(self, edit_id: str, result: CancelReplaceResult) -> None:
        ledger = self._ledger
        for order in (result.canceled, result.new_order):
            if order is not None:
                ledger.tracker.update_order(order)
        status = "SUCCESS" if result.ok else "PARTIAL" if SUCCESS in _halves(result) else "FAILED"
        new_id = result.new_order.order_id if result.new_order else None
        ledger.edit_done(edit_id, status, order_id=new_id, outcome=result.outcome())

    # -- amend ------------------------------------------------------------------------------------
    async def amend(
        self, symbol: str, order_id: int, new_qty: str, new_client_order_id: str | None
    ) -> tuple[Amendment, Order | None]:
        """Reduce an order's quantity keeping its priority; (the amendment, the amended order
        when the answer carried it — a reconciled amendment gives None)."""
        body = {"symbol": symbol, "orderId": str(order_id), "newQty": new_qty}
        body["newClientOrderId"] = new_client_order_id or self._orders.new_client_order_id()
        edit_id = body["newClientOrderId"]
        self._ledger.edit_intent(edit_id, AMEND, symbol, body)
        for sends in range(1, self._loop.options.max_resends + 2):
            self._ledger.edit_sent(edit_id)
            try:
                amendment, order = Amendment.from_answer(
                    await self._orders.send(BY_NAME["amend"], body)
                )
            except (OutcomeUnknown, ResponseFormatError) as lost:
                error = _error_of(lost)
            except BinanceError as err:
                if not err.may_have_executed:
                    self._ledger.edit_done(edit_id, "REJECTED", error=repr(err))
                raise
            else:
                self._ledger.tracker.update_order(order)
                self._amended(edit_id, amendment)
                return amendment, order
            self._ledger.edit_unknown(edit_id, repr(error))
            found = await self._find_amendment(symbol, order_id, edit_id, error)
            if found is not None:
                return found, None
            self._loop.stats.resends += 1
            self._loop.emit("resend", client_order_id=edit_id, attempt=sends + 1)
        raise ExecutionUnknownError(f"amend {edit_id}: not applied after every attempt")

    async def _find_amendment(
        self, symbol: str, order_id: int, edit_id: str, reason: BinanceError
    ) -> Amendment | None:
        """The amendment with our newClientOrderId in the order's history, or None once the
        lost attempt provably can no longer execute (journalled NOT_PLACED)."""

        async def lookup() -> Amendment:
            for row in await self.amendments(symbol, order_id):
                if row.new_client_order_id == edit_id:
                    return row
            raise OrderNotFoundError(f"no amendment {edit_id} of order {order_id} (yet)")

        found = await settle(self._loop, lookup, key=edit_id, reason=reason)
        if found is None:
            self._ledger.edit_done(edit_id, NOT_PLACED)
        else:
            self._amended(edit_id, found)
        return found

    def _amended(self, edit_id: str, amendment: Amendment) -> None:
        outcome = {"executionId": amendment.execution_id, "newQty": str(amendment.new_qty)}
        self._ledger.edit_done(edit_id, "AMENDED", order_id=amendment.order_id, outcome=outcome)

    async def amendments(self, symbol: str, order_id: int) -> list[Amendment]:
        """GET /api/v3/order/amendments: the order's amendment history, oldest first."""
        params = {"symbol": symbol, "orderId": order_id}
        data = (await call_endpoint(self._loop, "amendments", params)).data
        return [Amendment.from_api(row) for row in data]

    # -- recovery ---------------------------------------------------------------------------------
    async def recover(self) -> list[Any]:
        """Settle every edit the journal does not know the outcome of; never re-sends. One
        result per entry: a CancelReplaceResult, an Amendment, or None (nothing happened)."""
        results: list[Any] = []
        for entry in self._ledger.pending_edits():
            reason = ExecutionUnknownError("recovering after restart")
            params = dict(entry.params)
            if entry.stage is Stage.INTENT:
                self._ledger.edit_done(entry.edit_id, NOT_PLACED)
                results.append(None)
            elif entry.kind == AMEND:
                results.append(
                    await self._find_amendment(
                        entry.symbol, int(params["orderId"]), entry.edit_id, reason
                    )
                )
            else:
                found = await self._reconcile_cancel_replace(params, reason)
                if found is None:
                    self._ledger.edit_done(entry.edit_id, NOT_PLACED)
                else:
                    self._record(entry.edit_id, found)
                results.append(found)
        return results


def _halves(result: CancelReplaceResult) -> tuple[str, str]:
    return result.cancel_result, result.new_order_result


def _error_of(lost: OutcomeUnknown | ResponseFormatError) -> BinanceError:
    if isinstance(lost, OutcomeUnknown):
        return lost.error
    return ExecutionUnknownError(f"unreadable answer: {lost}")
