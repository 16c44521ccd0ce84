"""Order amend keep priority in the engine (rest-api.md §Order Amend Keep Priority)."""

from __future__ import annotations

from ..errors import SimError, filter_failure, rejection
from ..numbers import mul
from .base import EngineBase
from .orders import Amendment, Order


class Edits(EngineBase):
    """The Engine's amend operation (a mixin of core.Engine)."""

    def amend(
        self,
        account: str,
        symbol: str,
        order_id: int | None,
        client_id: str | None,
        new_client_id: str | None,
        new_qty: int,
    ) -> Amendment:
        """Reduce an open order's quantity keeping its place in the queue (rest-api.md §Order
        Amend Keep Priority). -2038 with the -2010/-2011 texts; the MAX_NUM_ORDER_AMENDS filter
        answers -2038 (filters.md) with its errors.md text."""
        rules = self.symbol_rules(symbol)
        try:
            order = self.find(account, symbol, order_id, client_id)
        except SimError as e:
            if e.code == -2039:
                raise
            raise SimError(-2038, rejection("Unknown order sent.")) from None
        if not order.is_open:
            raise SimError(-2038, rejection("Unknown order sent."))
        if new_qty > order.orig_qty:
            raise SimError(-2038, rejection("Order amend (quantity increase) is not supported."))
        if new_qty == order.orig_qty and new_client_id in (None, order.client_order_id):
            raise SimError(
                -2038, rejection("The requested action would change no state; rejecting")
            )
        if order.amendments >= rules.spec.max_num_order_amends:
            raise SimError(-2038, filter_failure("MAX_NUM_ORDER_AMENDS"))
        now = self.clock.now_ms()
        cut = min(order.remaining, order.orig_qty - new_qty)
        amendment = Amendment(
            symbol, order.order_id, self.next_execution_id, order.client_order_id,
            new_client_id or self.new_client_order_id(), order.orig_qty, new_qty, now,
        )  # fmt: skip
        self.next_execution_id += 1
        order.amendments += 1
        self.amendments.setdefault((account, symbol, order.order_id), []).append(amendment)
        self.by_client_id.pop((account, symbol, order.client_order_id), None)
        order.client_order_id = amendment.new_client_id
        self.by_client_id[(account, symbol, order.client_order_id)] = order
        # never below what already traded (the book and the lock count what is left)
        order.orig_qty = max(new_qty, order.executed_qty + order.prevented_qty)
        order.update_time = now
        self._shrink(order, cut)
        if self.listeners and not order.internal:
            self._report(order, "REPLACED", now, orig_client_order_id=amendment.orig_client_id)
        if order.remaining <= 0:  # amended down to what already traded: the order is done
            self._expire(order, "", now)
        self._flush(now)
        return amendment

    def _shrink(self, order: Order, cut: int) -> None:
        """`cut` came off the order's remaining quantity: take it off where the order sits (an
        amended iceberg keeps its place; its slice shrinks only if it is now bigger than what
        is left) and off its lock."""
        if order.working and order.status != "PENDING_NEW":
            side = (
                self.books[order.symbol].bids
                if order.side == "BUY"
                else self.books[order.symbol].asks
            )
            side.cut(order, cut, traded=False)
            self._touch(self.books[order.symbol], order.side == "BUY", order.price)
        if order.locked:
            rules = self.rules[order.symbol]
            is_buy = order.side == "BUY"
            asset = rules.spec.quote if is_buy else rules.spec.base
            amount = min(order.locked, mul(order.price or order.stop_price, cut) if is_buy else cut)
            self.accounts[order.account].unlock(asset, amount)
            order.locked -= amount
            self._moved.setdefault(order.account, set()).add(asset)
