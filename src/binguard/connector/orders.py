"""Orders without loss or duplication.

The client order id is fixed and journalled before the first attempt. When an attempt's outcome is
unknown (reset or timeout after sending, 5XX, -1006, -1007), the order is looked up by that id:

- found → it exists (whatever its status): done, never sent again;
- not found → keep asking until Binance can no longer execute the lost attempt. Binance checks
  `serverTime - timestamp <= recvWindow` just before forwarding a request to the matching engine
  (rest-api.md §Timing security, CHANGELOG 2025-05-22), so once the server clock passes the
  attempt's timestamp + recvWindow (+ a margin for the engine itself) a missing order was never
  placed, and only then is it re-sent with the same id.

Placement and cancel go over REST or, with `orders_via="ws"`, the WebSocket API (ws_orders.py);
both raise `OutcomeUnknown` in the same cases, so this reconciliation serves both.

Binance accepts a reused client order id once the earlier order has filled, so re-sending without
this proof could duplicate a filled order; "-2010 Duplicate order sent." on a re-send means the
earlier attempt is open, and it is looked up instead.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from binguard.errors import (
    BinanceError,
    CancelRejectedError,
    ExecutionUnknownError,
    OrderNotFoundError,
    OrderRejectedError,
)

from .journal import OrderJournal, Stage
from .models import Order

if TYPE_CHECKING:
    from .client import SpotConnector

FINAL_STATUSES = frozenset({"FILLED", "CANCELED", "EXPIRED", "REJECTED", "EXPIRED_IN_MATCH"})
REST_METHODS = {"place": "POST", "cancel": "DELETE"}  # on /api/v3/order
WS_METHODS = {"place": "order.place", "cancel": "order.cancel"}  # WebSocket API methods


class OutcomeUnknown(Exception):  # noqa: N818 - a signal between connector and order manager
    """Internal: the request may have executed; the order manager reconciles it."""

    def __init__(self, error: BinanceError) -> None:
        super().__init__(str(error))
        self.error = error


class OrderManager:
    def __init__(self, connector: SpotConnector, journal: OrderJournal) -> None:
        self._bn = connector
        self._journal = journal

    def new_client_order_id(self) -> str:
        # Binance allows ^[.A-Z:/a-z0-9_-]{1,36}$; 2 + 1 + 24 characters.
        return f"{self._bn.options.client_order_id_prefix}-{uuid.uuid4().hex[:24]}"

    # -- placement --------------------------------------------------------------------------------
    async def place(self, params: Mapping[str, object], client_order_id: str | None) -> Order:
        coid = client_order_id or self.new_client_order_id()
        symbol = str(params["symbol"])
        body = {k: str(v) for k, v in params.items()}
        body["newClientOrderId"] = coid
        body.setdefault("newOrderRespType", "FULL")
        self._journal.record_intent(coid, symbol, body)
        return await self._drive(coid, symbol, body)

    async def _drive(self, coid: str, symbol: str, body: Mapping[str, str]) -> Order:
        sends = 0
        while True:
            sends += 1
            self._journal.mark_sent(coid)
            try:
                data = await self._send("place", body)
            except OutcomeUnknown as unknown:
                self._journal.mark_unknown(coid, repr(unknown.error))
                found = await self._find(coid, symbol, reason=unknown.error)
                if found is not None:
                    return found
                if sends > self._bn.options.max_resends:
                    raise ExecutionUnknownError(
                        f"order {coid} is not on the exchange after {sends} attempts; giving up",
                        may_have_executed=False,
                    ) from unknown.error
                self._bn.stats.resends += 1
                self._bn.emit("resend", client_order_id=coid, attempt=sends + 1)
                continue
            except OrderRejectedError as err:
                if err.msg.startswith("Duplicate order sent") and sends > 1:
                    # Our earlier attempt is open under this id: look it up, do not fail.
                    found = await self._find(coid, symbol, reason=err)
                    if found is not None:
                        return found
                self._journal.mark_final(coid, "REJECTED", error=repr(err))
                raise
            except BinanceError as err:
                if not err.may_have_executed:
                    self._journal.mark_final(coid, "NOT_PLACED", error=repr(err))
                raise
            order = Order.from_api(data)
            self._journal.mark_acked(coid, order.order_id, order.status)
            return order

    async def _send(self, action: str, params: Mapping[str, object]) -> Any:
        """`place` or `cancel` one order: over REST, or over the WebSocket API when the connector
        has an order socket (`orders_via="ws"`, ws_orders.py). Both raise `OutcomeUnknown` when
        the request may have executed, so reconciliation is the same whichever way it went."""
        ws = self._bn.ws_orders
        if ws is not None:
            return await ws.call(WS_METHODS[action], params)
        method = REST_METHODS[action]
        return (
            await self._bn.call(method, "/api/v3/order", params, signed=True, is_order=True)
        ).data

    async def _find(self, coid: str, symbol: str, *, reason: BinanceError) -> Order | None:
        """The order with this client order id, or None once it provably was never placed."""
        opts = self._bn.options
        self._bn.stats.reconciliations += 1
        self._bn.emit("reconcile_start", client_order_id=coid, reason=type(reason).__name__)
        # Any attempt so far was signed no later than now (server time): past this instant, Binance
        # refuses to forward it to the matching engine.
        settled_at = self._bn.time.now_ms() + opts.recv_window_ms + opts.reconcile_margin_ms
        give_up = time.monotonic() + opts.reconcile_deadline
        while True:
            try:
                order = await self.query(symbol, client_order_id=coid)
            except OrderNotFoundError:
                if self._bn.time.now_ms() >= settled_at:
                    self._journal.mark_final(coid, "NOT_PLACED")
                    self._bn.stats.reconciled_absent += 1
                    self._bn.emit("reconcile_result", client_order_id=coid, found=False)
                    return None
            except BinanceError as err:
                if time.monotonic() >= give_up:
                    raise ExecutionUnknownError(
                        f"order {coid}: outcome still unknown after reconciling; "
                        "it stays in the journal for recover()",
                        may_have_executed=True,
                    ) from err
            else:
                self._journal.mark_acked(coid, order.order_id, order.status)
                self._bn.stats.reconciled_found += 1
                self._bn.emit(
                    "reconcile_result", client_order_id=coid, found=True, status=order.status
                )
                return order
            await asyncio.sleep(opts.reconcile_poll)

    # -- queries and cancels ----------------------------------------------------------------------
    async def query(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        params: dict[str, object] = {"symbol": symbol}
        if order_id is not None:
            params["orderId"] = order_id
        if client_order_id is not None:
            params["origClientOrderId"] = client_order_id
        response = await self._bn.call("GET", "/api/v3/order", params, signed=True)
        return Order.from_api(response.data)

    async def cancel(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        """Cancel an order. A lost answer or 'Unknown order sent.' is resolved by a query: the
        order may have filled meanwhile, which is returned as it is."""
        params: dict[str, object] = {"symbol": symbol}
        if order_id is not None:
            params["orderId"] = order_id
        if client_order_id is not None:
            params["origClientOrderId"] = client_order_id
        for _ in range(self._bn.options.max_resends + 1):
            try:
                return self._settled(Order.from_api(await self._send("cancel", params)))
            except OutcomeUnknown:
                current = await self.query(
                    symbol, order_id=order_id, client_order_id=client_order_id
                )
                if not current.is_open:
                    return self._settled(current)
                continue  # still open: the cancel did not happen; cancelling again is safe
            except CancelRejectedError:
                current = await self.query(
                    symbol, order_id=order_id, client_order_id=client_order_id
                )
                if current.is_open:
                    raise
                return self._settled(current)
        raise ExecutionUnknownError(f"cancel of {order_id or client_order_id} did not settle")

    def _settled(self, order: Order) -> Order:
        entry = self._journal.get(order.client_order_id)
        if entry is not None and order.status in FINAL_STATUSES:
            self._journal.mark_final(order.client_order_id, order.status, order.order_id)
        return order

    async def cancel_all(self, symbol: str) -> list[Order]:
        try:
            response = await self._bn.call(
                "DELETE", "/api/v3/openOrders", {"symbol": symbol}, signed=True, is_order=True
            )
        except OutcomeUnknown:
            # Whatever happened, the open orders now are the truth: cancel those one by one.
            return [
                await self.cancel(symbol, order_id=o.order_id)
                for o in await self._bn.open_orders(symbol)
            ]
        return [self._settled(Order.from_api(o)) for o in response.data if "orderId" in o]

    # -- recovery ---------------------------------------------------------------------------------
    async def recover(self) -> list[Order | None]:
        """Settle every journal entry whose outcome is unknown: found orders are recorded, the
        rest are marked NOT_PLACED once provably absent. Never re-sends (the market moved)."""
        results: list[Order | None] = []
        for entry in self._journal.pending():
            if entry.stage is Stage.INTENT:
                # Journalled but never sent: the crash came before the bytes left.
                self._journal.mark_final(entry.client_order_id, "NOT_PLACED")
                results.append(None)
                continue
            results.append(
                await self._find(
                    entry.client_order_id,
                    entry.symbol,
                    reason=ExecutionUnknownError("recovering after restart"),
                )
            )
        return results
