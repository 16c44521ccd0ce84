"""Typed results of the two edits: cancel-replace (rest-api.md §Cancel an Existing Order and Send
a New Order) and amend keep-priority (§Order Amend Keep Priority, §Query Order Amendments).

A cancel-replace has two halves, and Binance answers which happened: 200 (both), -2021 "partially
failed" and -2022 "failed", the last two with a `data` object carrying `cancelResult` and
`newOrderResult` (SUCCESS, FAILURE, NOT_ATTEMPTED) and each half's answer or error. All three are
a `CancelReplaceResult` here, never an exception: the caller must learn that its order was
canceled even when the new one was refused. A result found by reconciliation (the answer was
lost) says `reconciled=True`; a new order that provably never reached the matching engine is then
`new_order_result="NOT_PLACED"` (a word of binguard's journal, never Binance's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from binguard.errors import BinanceError, HttpReply, classify

from .models import Order, ResponseFormatError, _dec, _req

SUCCESS, FAILURE, NOT_ATTEMPTED, NOT_PLACED = "SUCCESS", "FAILURE", "NOT_ATTEMPTED", "NOT_PLACED"


@dataclass(frozen=True, slots=True)
class CancelReplaceResult:
    """Which halves of a cancel-replace happened; see the module docstring.

    `canceled`: the old order as the cancel left it (or as a query found it); `new_order`: the
    new order (status None for an ACK answer); `cancel_error` / `new_order_error`: the half's
    own refusal (e.g. -2011 Unknown order sent., -2010 ...)."""

    cancel_result: str
    new_order_result: str
    canceled: Order | None = None
    new_order: Order | None = None
    cancel_error: BinanceError | None = None
    new_order_error: BinanceError | None = None
    reconciled: bool = False

    @property
    def ok(self) -> bool:
        """Both halves happened."""
        return self.cancel_result == SUCCESS and self.new_order_result == SUCCESS

    def outcome(self) -> dict[str, Any]:
        """What the journal keeps of it (journal_records.py `edits.outcome`)."""
        return {
            "cancelResult": self.cancel_result,
            "newOrderResult": self.new_order_result,
            "canceledOrderId": self.canceled.order_id if self.canceled else None,
            "newOrderId": self.new_order.order_id if self.new_order else None,
            "reconciled": self.reconciled,
        }

    @classmethod
    def from_api(cls, d: Mapping[str, Any], request: Mapping[str, str]) -> CancelReplaceResult:
        """A 200 answer, or the `data` object of a -2021 / -2022 answer."""
        cancel, new = d.get("cancelResponse"), d.get("newOrderResponse")
        return cls(
            cancel_result=str(_req(d, "cancelResult")),
            new_order_result=str(_req(d, "newOrderResult")),
            canceled=Order.from_api(cancel)
            if isinstance(cancel, Mapping) and _is_order(cancel)
            else None,
            new_order=(
                Order.from_placement(new, request)
                if isinstance(new, Mapping) and _is_order(new)
                else None
            ),
            cancel_error=_half_error(cancel),
            new_order_error=_half_error(new),
        )


def _is_order(half: object) -> bool:
    return isinstance(half, Mapping) and "orderId" in half


def _half_error(half: object) -> BinanceError | None:
    """A half's own `{"code", "msg"}` answer as a typed error (classify), else None."""
    if isinstance(half, Mapping) and "code" in half:
        return classify(HttpReply(400, {}, dict(half)))
    return None


def result_of_refusal(err: BinanceError, request: Mapping[str, str]) -> CancelReplaceResult | None:
    """-2021 / -2022 with their `data` object as a result; None for any other error."""
    if err.code not in (-2021, -2022) or not isinstance(err.data, Mapping):
        return None
    try:
        return CancelReplaceResult.from_api(err.data, request)
    except ResponseFormatError:
        return None


@dataclass(frozen=True, slots=True)
class Amendment:
    """One amendment of an order (GET /api/v3/order/amendments, or an amend's own answer)."""

    symbol: str
    order_id: int
    execution_id: int
    orig_client_order_id: str
    new_client_order_id: str
    orig_qty: Decimal | None
    new_qty: Decimal
    time: int | None

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> Amendment:
        return cls(
            symbol=str(_req(d, "symbol")),
            order_id=int(_req(d, "orderId")),
            execution_id=int(_req(d, "executionId")),
            orig_client_order_id=str(d.get("origClientOrderId", "")),
            new_client_order_id=str(_req(d, "newClientOrderId")),
            orig_qty=_dec(d["origQty"], "origQty") if "origQty" in d else None,
            new_qty=_dec(_req(d, "newQty"), "newQty"),
            time=d.get("time"),
        )

    @classmethod
    def from_answer(cls, d: Mapping[str, Any]) -> tuple[Amendment, Order]:
        """PUT /api/v3/order/amend/keepPriority's answer: the amendment and the amended order
        (`qty` there is the order's new quantity)."""
        amended = _req(d, "amendedOrder")
        # `clientOrderId` is the order's id after the amendment (from_api would prefer the
        # `origClientOrderId`, which here is the id before it).
        new_id = amended.get("clientOrderId", "")
        order = Order.from_api(
            {**amended, "origQty": amended.get("qty", "0"), "origClientOrderId": new_id}
        )
        return (
            cls(
                symbol=order.symbol,
                order_id=order.order_id,
                execution_id=int(_req(d, "executionId")),
                orig_client_order_id=str(amended.get("origClientOrderId", "")),
                new_client_order_id=order.client_order_id,
                orig_qty=None,
                new_qty=order.orig_qty,
                time=d.get("transactTime"),
            ),
            order,
        )
