"""Order lists without loss or duplication: OCO, OTO, OTOCO, OPO, OPOCO (rest-api.md §Order lists).

The same guarantee as single orders (orders.py). Every client id — the list's
`listClientOrderId` and each leg's — is fixed and journalled before the first attempt, so every
attempt and every lookup share them. When an attempt's outcome is unknown (reset or timeout after
sending, 5XX, -1006, -1007), the list is looked up by its `listClientOrderId`
(GET /api/v3/orderList, over REST whichever way the attempt went):

- found → it exists, whatever its status: done, never sent again;
- not found (-2013) → asked again until the server clock passes the attempt's timestamp +
  recvWindow + margin (reconcile.py); only then is it absent for good, and re-sent with the same
  ids. A "-2010 Duplicate order sent." answer to a re-send means an earlier attempt's list is
  there after all: it is looked up, not failed.

`recover()` settles what a crash left in flight: found lists are recorded, the rest marked
NOT_PLACED once provably absent; nothing is re-sent (the market moved).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from binguard.errors import (
    BinanceError,
    CancelRejectedError,
    ExecutionUnknownError,
    OrderRejectedError,
)
from binguard.policy.endpoints import BY_NAME, Endpoint

from .calls import OutcomeUnknown, Requests, call_endpoint
from .checks import RulesBook
from .journal import Stage
from .ledger import NOT_PLACED
from .ledger_lists import ListLedger
from .list_models import KINDS, Leg, OrderList, check_list, list_request
from .models import ResponseFormatError
from .reconcile import settle


class OrderSender(Protocol):
    """What lists and edits use of the order manager (orders.py `OrderManager`)."""

    rules: RulesBook

    async def send(self, endpoint: Endpoint, params: Mapping[str, object]) -> Any: ...

    def new_client_order_id(self) -> str: ...


class ListManager:
    """Order lists: placement, cancel, queries, reconciliation; see the module docstring.

    `orders`: the order manager, for its send path (REST or the WebSocket API), its fresh
    client ids and the symbols' filters for the local checks."""

    def __init__(self, loop: Requests, ledger: ListLedger, orders: OrderSender) -> None:
        self._loop = loop
        self._ledger = ledger
        self._send = orders.send
        self._new_id = orders.new_client_order_id
        self.rules = orders.rules

    async def place(
        self,
        kind: str,
        symbol: str,
        legs: Mapping[str, Leg | None],
        top: Mapping[str, object],
        extra: Mapping[str, object],
    ) -> OrderList:
        """Check, journal (the list and every leg's id), send, reconcile."""
        kind = kind.upper()
        endpoint, body, ids = list_request(kind, symbol, legs, top, extra, self._new_id)
        check_list(kind, body, self.rules.get(symbol))
        list_id = body["listClientOrderId"]
        fresh = not top.get("list_client_order_id") and all(
            leg is None or leg.client_order_id is None for leg in legs.values()
        )  # every id drawn by list_request just now
        first_sent = self._ledger.list_intent(
            list_id, symbol, kind, body, ids, sent=True, fresh=fresh
        )
        lst = await self._drive(list_id, BY_NAME[endpoint], body, first_sent)
        self._ledger.list_seen(lst, soon=True)
        return lst

    async def _drive(
        self, list_id: str, endpoint: Endpoint, body: Mapping[str, str], first_sent: bool = False
    ) -> OrderList:
        """Send until the outcome is known; `first_sent`: the journal already holds the first
        send (written with the intent)."""
        sends = 0
        while True:
            sends += 1
            if sends > 1 or not first_sent:
                self._ledger.list_sent(list_id)
            try:
                data = await self._send(endpoint, body)
                return OrderList.from_api(data, body)
            except (OutcomeUnknown, ResponseFormatError) as lost:
                error = lost.error if isinstance(lost, OutcomeUnknown) else _unreadable(lost)
                found = await self._after_unknown(list_id, error, sends)
            except OrderRejectedError as err:
                if not (err.msg.startswith("Duplicate order sent") and sends > 1):
                    self._ledger.list_final(list_id, "REJECTED", error=repr(err))
                    raise
                found = await self._find(list_id, err)  # an earlier attempt's list is there
                if found is None:
                    raise
            except BinanceError as err:
                if not err.may_have_executed:
                    self._ledger.list_final(list_id, NOT_PLACED, error=repr(err))
                raise
            if found is not None:
                return found

    async def _after_unknown(
        self, list_id: str, error: BinanceError, sends: int
    ) -> OrderList | None:
        """The list if found; None to send it again (provably never placed)."""
        self._ledger.list_unknown(list_id, repr(error))
        found = await self._find(list_id, error)
        if found is None and sends > self._loop.options.max_resends:
            raise ExecutionUnknownError(
                f"order list {list_id} is not on the exchange after {sends} attempts; giving up",
                may_have_executed=False,
            ) from error
        if found is None:
            self._loop.stats.resends += 1
            self._loop.emit("resend", client_order_id=list_id, attempt=sends + 1)
        return found

    async def _find(self, list_id: str, reason: BinanceError) -> OrderList | None:
        """The list by its listClientOrderId, or None once provably never placed (journalled
        NOT_PLACED); reconcile.py raises what no repetition can fix."""
        found = await settle(
            self._loop, lambda: self.query(list_client_order_id=list_id), key=list_id, reason=reason
        )
        if found is None:
            self._ledger.list_final(list_id, NOT_PLACED)
        else:
            self._ledger.list_seen(found)
        return found

    # -- cancel and queries -----------------------------------------------------------------------
    async def cancel(
        self,
        symbol: str,
        *,
        order_list_id: int | None = None,
        list_client_order_id: str | None = None,
    ) -> OrderList:
        """Cancel a whole list (DELETE /api/v3/orderList). A lost answer or -2011 is resolved by
        a query: the list may have finished meanwhile, which is returned as it is."""
        params: dict[str, object] = {"symbol": symbol}
        if order_list_id is not None:
            params["orderListId"] = order_list_id
        if list_client_order_id is not None:
            params["listClientOrderId"] = list_client_order_id
        for _ in range(self._loop.options.max_resends + 1):
            try:
                return self._seen(
                    OrderList.from_api(await self._send(BY_NAME["cancel_list"], params))
                )
            except OutcomeUnknown:
                current = await self.query(
                    order_list_id=order_list_id, list_client_order_id=list_client_order_id
                )
                if current.is_final:
                    return self._seen(current)
                continue  # still executing: the cancel did not happen; cancelling again is safe
            except CancelRejectedError:
                current = await self.query(
                    order_list_id=order_list_id, list_client_order_id=list_client_order_id
                )
                if not current.is_final:
                    raise
                return self._seen(current)
        raise ExecutionUnknownError(
            f"cancel of list {order_list_id or list_client_order_id} did not settle"
        )

    async def query(
        self, *, order_list_id: int | None = None, list_client_order_id: str | None = None
    ) -> OrderList:
        """GET /api/v3/orderList by orderListId or listClientOrderId (rest-api.md §Query Order list)."""
        params: dict[str, object] = {}
        if order_list_id is not None:
            params["orderListId"] = order_list_id
        if list_client_order_id is not None:
            params["origClientOrderId"] = list_client_order_id
        lst = OrderList.from_api((await call_endpoint(self._loop, "query_list", params)).data)
        self._ledger.tracker.update_list(lst)
        return lst

    async def open_lists(self) -> list[OrderList]:
        """GET /api/v3/openOrderList; each list is tracked and settles its journal entry."""
        data = (await call_endpoint(self._loop, "open_lists")).data
        return [self._seen(OrderList.from_api(d)) for d in data]

    async def all_lists(self, **params: object) -> list[OrderList]:
        """GET /api/v3/allOrderList (fromId, startTime, endTime, limit)."""
        data = (await call_endpoint(self._loop, "all_lists", params or None)).data
        return [self._seen(OrderList.from_api(d)) for d in data]

    def _seen(self, lst: OrderList) -> OrderList:
        self._ledger.list_seen(lst)
        return lst

    # -- recovery ---------------------------------------------------------------------------------
    async def recover(self) -> list[OrderList | None]:
        """Settle every journalled list whose outcome is unknown; never re-sends. One result per
        entry: the list, or None (never placed: NOT_PLACED). An error no repetition can fix is
        raised at once; the entries not yet settled stay pending."""
        results: list[OrderList | None] = []
        for entry in self._ledger.pending_lists():
            if entry.stage is Stage.INTENT:
                self._ledger.list_final(entry.list_client_id, NOT_PLACED)
                results.append(None)
                continue
            reason = ExecutionUnknownError("recovering after restart")
            results.append(await self._find(entry.list_client_id, reason))
        return results


def _unreadable(err: ResponseFormatError) -> BinanceError:
    return ExecutionUnknownError(f"unreadable order list answer: {err}")


__all__ = ["KINDS", "Leg", "ListManager", "OrderList"]
