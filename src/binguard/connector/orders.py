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

Two answers end a lookup at once (errors.md): -2026 ORDER_ARCHIVED means the order existed and is
final (canceled or expired with nothing executed): it is found, journalled FINAL with status
ARCHIVED, never re-sent, and `OrderArchivedError` is raised to the caller. A refusal no repetition
can fix (`policy.retry.needs_a_fix`: -1002, -1022, -2014, -2015, a bad request) is raised after
that one request; the entry stays pending for a later `recover()` with good credentials.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Mapping
from typing import Any, Protocol

from binguard.errors import (
    BinanceError,
    CancelRejectedError,
    ExecutionUnknownError,
    OrderArchivedError,
    OrderRejectedError,
)
from binguard.policy.endpoints import BY_NAME, Endpoint

from . import account
from .calls import OutcomeUnknown, Requests, call_endpoint
from .checks import RulesBook, check_order
from .journal import Stage
from .ledger import NOT_PLACED, OrderLedger
from .models import Order, ResponseFormatError
from .options import ConnectorOptions
from .reconcile import settle

__all__ = ["OrderManager", "OrderSocket", "OutcomeUnknown"]

_IDS_PER_DRAW = 64
# Every manager's ids drawn ahead, forgotten in a forked child (which would else draw the
# parent's next ids: the same client order ids twice).
_DRAWN: weakref.WeakSet[OrderManager] = weakref.WeakSet()


def _forget_drawn() -> None:
    for manager in _DRAWN:
        manager._random.clear()


os.register_at_fork(after_in_child=_forget_drawn)


class OrderSocket(Protocol):
    """Orders over the WebSocket API (ws_orders.py `WsOrderSession`): one logical request with
    the retry policy; raises `OutcomeUnknown` like REST when the request may have executed."""

    async def call(
        self, method: str, params: Mapping[str, object], *, deadline: float | None = None
    ) -> Any: ...


class OrderManager:
    """Placement, cancel, queries and reconciliation; see the module docstring.

    `loop`: the request loop (calls.py); `ledger`: tracker + journal (ledger.py); `ws`: the
    WebSocket API order socket when `orders_via="ws"`, else orders go over REST."""

    def __init__(
        self,
        loop: Requests,
        ledger: OrderLedger,
        options: ConnectorOptions,
        *,
        ws: OrderSocket | None = None,
    ) -> None:
        self._loop = loop
        self._ledger = ledger
        self._options = options
        self.ws = ws
        self.rules = RulesBook()  # symbols' filters from exchangeInfo, for the local checks
        self._random: list[str] = []  # 96-bit hex ids drawn ahead (new_client_order_id)
        _DRAWN.add(self)

    def new_client_order_id(self) -> str:
        # Binance allows ^[.A-Z:/a-z0-9_-]{1,36}$; 2 + 1 + 24 characters: the time in ms (11 hex
        # digits, until the year 2527) then 52 random bits (os.urandom, drawn 64 ids at a time:
        # one system call, not one per order). Ids made later sort later, so the journal's
        # index grows at its end instead of at random places: cheaper as the journal grows.
        pool = self._random
        if not pool:
            raw = os.urandom(7 * _IDS_PER_DRAW).hex()
            pool.extend(raw[i : i + 13] for i in range(0, len(raw), 14))
        return (
            f"{self._options.client_order_id_prefix}-{time.time_ns() // 1_000_000:011x}{pool.pop()}"
        )

    # -- placement --------------------------------------------------------------------------------
    async def place(self, params: Mapping[str, str], client_order_id: str | None) -> Order:
        """Place one order (Binance's parameter names, text values: placement.py
        `request_params`). Checked first (checks.py: ParamError, FilterError; nothing
        journalled, nothing sent), then journalled and driven."""
        coid = client_order_id or self.new_client_order_id()
        symbol = params["symbol"]
        body = dict(params)
        check_order(body, self.rules.get(symbol))
        body["newClientOrderId"] = coid
        body.setdefault("newOrderRespType", "FULL")
        # durable before the bytes can leave
        self._ledger.intent_sent(coid, symbol, body, fresh=client_order_id is None)
        order = await self._drive(coid, symbol, body)
        self._ledger.placed(order)
        return order

    async def _drive(self, coid: str, symbol: str, body: Mapping[str, str]) -> Order:
        """Send until the outcome is known; the first send is journalled already (intent_sent)."""
        sends = 0
        while True:
            sends += 1
            if sends > 1:
                self._ledger.sent(coid)
            try:
                data = await self.send(BY_NAME["place"], body)
            except OutcomeUnknown as unknown:
                found = await self._after_unknown(coid, symbol, unknown, sends)
                if found is not None:
                    return found
                continue
            except OrderRejectedError as err:
                if err.msg.startswith("Duplicate order sent") and sends > 1:
                    # Our earlier attempt is open under this id: look it up, do not fail.
                    found = await self._find(coid, symbol, reason=err)
                    if found is not None:
                        return found
                self._ledger.final(coid, "REJECTED", error=repr(err))
                raise
            except BinanceError as err:
                if not err.may_have_executed:
                    self._ledger.final(coid, NOT_PLACED, error=repr(err))
                raise
            try:
                order = Order.from_placement(data, body)
            except ResponseFormatError as err:
                # The bytes left and an answer came back that cannot be read: the order may
                # exist. Reconciled like a lost answer, never forgotten.
                lost = OutcomeUnknown(ExecutionUnknownError(f"unreadable placement answer: {err}"))
                found = await self._after_unknown(coid, symbol, lost, sends)
                if found is not None:
                    return found
                continue
            self._ledger.acked(coid, order.order_id, order.status)
            return order

    async def _after_unknown(
        self, coid: str, symbol: str, unknown: OutcomeUnknown, sends: int
    ) -> Order | None:
        """An attempt's outcome is unknown: the order if it is found, None to send it again
        (it provably never was placed); ExecutionUnknownError past `max_resends`."""
        self._ledger.unknown(coid, repr(unknown.error))
        found = await self._find(coid, symbol, reason=unknown.error)
        if found is not None:
            return found
        if sends > self._options.max_resends:
            raise ExecutionUnknownError(
                f"order {coid} is not on the exchange after {sends} attempts; giving up",
                may_have_executed=False,
            ) from unknown.error
        self._loop.stats.resends += 1
        self._loop.emit("resend", client_order_id=coid, attempt=sends + 1)
        return None

    async def send(self, endpoint: Endpoint, params: Mapping[str, object]) -> Any:
        """One order request (`place` or `cancel` rows of the endpoint table): over REST, or over
        the WebSocket API when there is an order socket (`orders_via="ws"`, ws_orders.py). Both
        raise `OutcomeUnknown` when the request may have executed, so reconciliation is the same
        whichever way it went."""
        if self.ws is not None:
            assert endpoint.ws is not None
            return await self.ws.call(endpoint.ws, params)
        assert endpoint.rest is not None
        method, path = endpoint.rest
        return (
            await self._loop.call(method, path, params, signed=True, is_order=endpoint.is_order)
        ).data

    async def _find(self, coid: str, symbol: str, *, reason: BinanceError) -> Order | None:
        """The order with this client order id, or None once it provably was never placed
        (journalled NOT_PLACED); the rule is reconcile.py's `settle`.

        Raises OrderArchivedError when Binance answers -2026: the order existed and is final
        (journalled ARCHIVED, never sent again). Raises at once, without asking again, an error
        no repetition can fix (`needs_a_fix`: bad credentials or signature, a bad request): the
        entry stays pending for a later recover(). Past `reconcile_deadline` without an answer:
        ExecutionUnknownError, the entry pending too."""
        try:
            order = await settle(
                self._loop,
                lambda: self.query(symbol, client_order_id=coid),
                key=coid,
                reason=reason,
                status_of=lambda o: o.status,
                what="order",
            )
        except OrderArchivedError as err:
            self._ledger.archived(coid, error=repr(err))
            raise
        if order is None:
            self._ledger.final(coid, NOT_PLACED)
        else:
            self._ledger.acked(coid, order.order_id, order.status)
        return order

    # -- queries and cancels ----------------------------------------------------------------------
    async def query(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        return await account.query_order(
            self._loop, symbol, order_id=order_id, client_order_id=client_order_id
        )

    async def cancel(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        """Cancel an order. A lost answer or 'Unknown order sent.' is resolved by a query: the
        order may have filled meanwhile, which is returned as it is. An order Binance answers
        -2026 ORDER_ARCHIVED for is already final (canceled or expired, nothing executed): it is
        settled (journal status ARCHIVED) and OrderArchivedError raised; nothing is sent again."""
        params: dict[str, object] = {"symbol": symbol}
        if order_id is not None:
            params["orderId"] = order_id
        if client_order_id is not None:
            params["origClientOrderId"] = client_order_id
        settled = self._ledger.settled
        for _ in range(self._options.max_resends + 1):
            try:
                return settled(Order.from_api(await self.send(BY_NAME["cancel"], params)))
            except OutcomeUnknown:
                current = await self._current(symbol, order_id, client_order_id)
                if not current.is_open:
                    return settled(current)
                continue  # still open: the cancel did not happen; cancelling again is safe
            except CancelRejectedError:
                current = await self._current(symbol, order_id, client_order_id)
                if current.is_open:
                    raise
                return settled(current)
            except OrderArchivedError as err:
                self._settle_archived(symbol, order_id, client_order_id, err)
                raise
        raise ExecutionUnknownError(f"cancel of {order_id or client_order_id} did not settle")

    async def _current(self, symbol: str, order_id: int | None, coid: str | None) -> Order:
        """A cancel's follow-up query; an archived order is settled and its error raised."""
        try:
            return await self.query(symbol, order_id=order_id, client_order_id=coid)
        except OrderArchivedError as err:
            self._settle_archived(symbol, order_id, coid, err)
            raise

    def _settle_archived(
        self, symbol: str, order_id: int | None, coid: str | None, err: OrderArchivedError
    ) -> None:
        if coid is not None:
            self._ledger.archived(coid, error=repr(err))
        elif order_id is not None:
            self._ledger.archived_order(symbol, order_id, error=repr(err))

    async def cancel_all(self, symbol: str) -> list[Order]:
        try:
            response = await call_endpoint(self._loop, "cancel_all", {"symbol": symbol})
        except OutcomeUnknown:
            # Whatever happened, the open orders now are the truth: cancel those one by one.
            listed = await account.open_orders(self._loop, self._ledger, symbol)
            return [await self.cancel(symbol, order_id=o.order_id) for o in listed]
        return [self._ledger.settled(Order.from_api(o)) for o in response.data if "orderId" in o]

    # -- recovery ---------------------------------------------------------------------------------
    async def recover(self) -> list[Order | None]:
        """Settle every journal entry whose outcome is unknown: found orders are recorded, the
        rest are marked NOT_PLACED once provably absent. Never re-sends (the market moved).

        One result per entry: the order, or None when there is none to give — never placed
        (journal status NOT_PLACED) or archived by Binance (-2026: it existed and is final,
        journal status ARCHIVED; the next entries are still recovered). An error no repetition
        can fix (bad credentials or signature) is raised at once, after one request: the entries
        not yet settled stay pending for a later recover()."""
        results: list[Order | None] = []
        for entry in self._ledger.pending():
            if entry.stage is Stage.INTENT:
                # Journalled but never sent: the crash came before the bytes left.
                self._ledger.final(entry.client_order_id, NOT_PLACED)
                results.append(None)
                continue
            try:
                found = await self._find(
                    entry.client_order_id,
                    entry.symbol,
                    reason=ExecutionUnknownError("recovering after restart"),
                )
            except OrderArchivedError:
                found = None  # settled by _find: FINAL, ARCHIVED
            results.append(found)
        return results
