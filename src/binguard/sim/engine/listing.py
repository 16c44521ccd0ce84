"""Order lists in the engine (rest-api.md §Order lists): placing, going live, canceling.

An OCO pair's orders are both live; the first one to trade or trigger expires the other
(`expiryReason` OCO_TRIGGER), and only the non-stop-loss order holds the funds (a SELL pair
locks its quantity once). An OTO's pending order(s) (PENDING_NEW) go live when the working order
is fully filled, and expire (OTO_PHASE_ONE_EXPIRED) when it ends otherwise; an OTOCO's pending
orders are an OCO pair. Canceling any order of a list cancels the whole list. A list is
EXEC_STARTED / EXECUTING until its contingency is resolved (no pending order left, no OCO pair
with both orders open), then ALL_DONE; each change is a `listStatus` user-data event.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import SimError, new_order_rejected
from ..filters import SymbolRules
from ..numbers import SCALE
from . import triggers
from .base import EngineBase
from .lists import Leg, OrderList, resolved, status_event
from .orders import Order


class Listing(EngineBase):
    """The Engine's order-list operations (a mixin of core.Engine)."""

    def place_list(
        self,
        account: str,
        symbol: str,
        contingency: str,
        legs: list[Leg],
        list_client_id: str | None,
        stp: str,
        pair: tuple[int, int] | None,
        snapshot: Callable[[OrderList], None] | None = None,
    ) -> OrderList:
        """Place an order list (validated by the caller): `pair` indexes the OCO pair among
        `legs`; an OTO's working order is `legs[0]`. `snapshot` sees the list as the placement
        response shows it: after the live orders ran, before any pending order went live."""
        rules = self.rules[symbol]
        cid = list_client_id or self.new_client_order_id()
        old = self.list_by_client.get((account, cid))
        if old is not None and not old.done:
            raise new_order_rejected("Duplicate order sent.")
        orders = [self._leg_order(account, symbol, leg, stp, rules) for leg in legs]
        now = orders[0].time
        lst = OrderList(self.next_list_id, contingency, cid, symbol, account, orders, now)
        self.next_list_id += 1
        self.order_lists[lst.list_id] = lst
        self.open_lists.setdefault((account, symbol), set()).add(lst.list_id)
        self.list_by_client[(account, cid)] = lst
        if pair is not None:
            orders[pair[0]].oco_peer, orders[pair[1]].oco_peer = orders[pair[1]], orders[pair[0]]
        if contingency == "OTO":
            orders[0].pending = tuple(orders[1:])
        for o in orders:
            self._number(o, lst.list_id)
        reporting = bool(self.listeners) and not orders[0].internal
        if reporting:
            for o in orders:
                self._report(o, "NEW", now)
            self._emit("listStatus", symbol, account, status_event(lst, now))
        for o in orders:
            if o.status != "PENDING_NEW":
                if o.is_algo:
                    self._park(o, rules, now, report=False)  # reported NEW above
                else:
                    self._execute(o, rules, now)
        if snapshot is not None:
            snapshot(lst)
        self._run_fired(now)
        self._flush(now)
        return lst

    def _leg_order(
        self, account: str, symbol: str, leg: Leg, stp: str, rules: SymbolRules
    ) -> Order:
        order = self._new_order(
            account, symbol, leg.side, leg.type, leg.time_in_force, leg.qty, None, leg.price,
            leg.client_id, stp, rules, pending=leg.pending,
        )  # fmt: skip
        order.stop_price, order.trailing_delta = leg.stop_price or 0, leg.trailing
        order.iceberg_qty, order.opo, order.peg = leg.iceberg, leg.opo, leg.peg
        order.strategy_id, order.strategy_type = leg.strategy_id, leg.strategy_type
        if leg.pending:
            order.status, order.working, order.working_time = "PENDING_NEW", False, -1
        elif order.is_algo:
            triggers.check_not_immediate(order, self.last_price[symbol])
        return order

    def _would_take(self, order: Order) -> bool:
        """A LIMIT_MAKER that would trade at once (a pending one is rejected when it goes live)."""
        if order.type != "LIMIT_MAKER":
            return False
        book = self.books[order.symbol]
        best = (book.asks if order.side == "BUY" else book.bids).best()
        return best is not None and (
            order.price >= best if order.side == "BUY" else order.price <= best
        )

    def _go_live(self, order: Order, now: int) -> None:
        """A pending order of an OTO whose working order filled: placed now (or REJECTED)."""
        if order.status != "PENDING_NEW":
            return
        rules = self.rules[order.symbol]
        order.status = "NEW"
        peer = order.oco_peer
        if not self._resolve_peg(order, now):
            return
        holds_nothing = peer is not None and order.type.startswith("STOP_LOSS")
        if (not holds_nothing and not self._can_pay(order, rules)) or self._would_take(order):
            self._expire(order, "REJECTED", now)
            return
        order.working_time = now
        if order.is_algo:
            self._park(order, rules, now)
            if triggers.reached_now(order, self.last_price[order.symbol]):
                self._unpark(order)
                self._fired.append(order)
        else:
            order.working = True
            if self.listeners and not order.internal:
                self._report(order, "NEW", now)
            self._execute(order, rules, now)
        lst = self.list_of(order)
        if lst is not None:
            self._list_refresh(lst, now)

    def list_of(self, order: Order) -> OrderList | None:
        return self.order_lists.get(order.order_list_id) if order.order_list_id != -1 else None

    def cancel_list_orders(self, lst: OrderList, now: int) -> None:
        """Cancel every open order of `lst` (pending ones first, so none expires instead), then
        one ALL_DONE listStatus."""
        self._quiet_lists = True
        try:
            for o in reversed(lst.orders):
                if o.is_open:
                    self._cancel(o, now)
        finally:
            self._quiet_lists = False
        self._list_refresh(lst, now)

    def _opo_quantity(self, working: Order, pending: Order) -> bool:
        """An OPO pending order's quantity: what the working order received, commission
        deducted, as base quantity (quote received buys at the pending order's price), rounded
        down to LOT_SIZE; False when that breaks the filters (the order is then REJECTED)."""
        rules = self.rules[working.symbol]
        base = rules.spec.base
        received = sum(
            f.qty - (f.commission if f.commission_asset == base else 0) for f in working.fills
        )
        if working.side == "SELL":
            quote = working.cum_quote - sum(f.commission for f in working.fills)
            price = pending.price or pending.stop_price or self.last_price[working.symbol]
            received = quote * SCALE // price
        pending.orig_qty = rules.round_qty(received)
        try:
            rules.check_lot(pending.orig_qty)
            if pending.price:
                rules.check_notional(pending.price, pending.orig_qty)
        except SimError:
            return False
        return True

    def _list_refresh(self, lst: OrderList, now: int) -> None:
        """ALL_DONE (and its listStatus event) once the list's contingency is resolved."""
        if lst.done or not resolved(lst):
            return
        lst.status_type = lst.order_status = "ALL_DONE"
        lst.update_time = now
        opened = self.open_lists.get((lst.account, lst.symbol))
        if opened is not None:
            opened.discard(lst.list_id)
        if self.listeners:
            self._emit("listStatus", lst.symbol, lst.account, status_event(lst, now))

    def _list_first_trade(self, order: Order, now: int) -> None:
        """An OCO order trades: the other order expires (OCO_TRIGGER)."""
        peer = order.oco_peer
        if peer is not None and peer.is_open:
            self._expire(peer, "OCO_TRIGGER", now)

    def _list_terminal(self, order: Order, now: int) -> None:
        """An order of a list ended: start or expire what waited for it, update the list."""
        if order.pending:
            waiting = [o for o in order.pending if o.status == "PENDING_NEW"]
            if order.status == "FILLED":
                for o in waiting:
                    if o.opo and not self._opo_quantity(order, o):
                        self._expire(o, "REJECTED", now)
                self._to_activate.extend(o for o in waiting if o.status == "PENDING_NEW")
            else:
                for o in waiting:
                    self._expire(o, "OTO_PHASE_ONE_EXPIRED", now)
        lst = self.list_of(order)
        if lst is not None:
            self._list_refresh(lst, now)
