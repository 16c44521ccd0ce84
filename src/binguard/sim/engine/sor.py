"""Smart Order Routing (faqs/sor_faq.md; rest-api.md §SOR): one order, the books of its SOR.

The symbols configured with `sor` that share a base asset form one SOR (exchangeInfo `sors`).
An order placed with SOR (LIMIT or MARKET) takes, price level by price level, the best price
across the SOR's books within its limit (at equal prices its own book first). As in the FAQ's
examples, every fill of this taker phase is an *allocation*, on its own book too: the exchange
trades with the book's makers (public trades, the makers' reports) and the order receives the
quantity (`tradeId` -1, `allocId`, `matchType` ONE_PARTY_TRADE_REPORT, workingFloor SOR), paid
in the order's own quote asset (the quote assets are interchangeable 1:1) at the account's
taker rate. What the taker phase leaves: MARKET and LIMIT IOC expire, LIMIT GTC rests on the
order's own book (workingFloor EXCHANGE) where later fills are trades; FOK expires unless the
SOR's books together fill it at once. Allocations are queryable (myAllocations), the account's
last `retention.max_orders` of them (as prevented matches).

Self-trade prevention: a routed take stops before a resting order of the same account when the
order's STP mode is not NONE, and that book is left out of the routing (on another book no
prevented match is recorded: the simulator's simplification); on its own book the order then
meets what is left as any order does, with self-trade prevention, before it rests or expires.
"""

from __future__ import annotations

from collections import deque

from ..errors import SimError, new_order_rejected
from ..filters import SymbolRules
from ..numbers import mul
from . import reports
from .base import INTERNAL_ACCOUNT, EngineBase
from .orders import Allocation, AllocFill, Order

MATCH_TYPE = "ONE_PARTY_TRADE_REPORT"
# the exact reply Binance gives for a symbol without SOR (not in errors.md; seen by ccxt,
# github.com/ccxt/ccxt/pull/18883)
NO_SOR = "This symbol has no SOR."


def groups(specs: list[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Base asset -> its SOR symbols, in configuration order, from (symbol, base) pairs."""
    out: dict[str, list[str]] = {}
    for symbol, base in specs:
        out.setdefault(base, []).append(symbol)
    return {base: tuple(symbols) for base, symbols in out.items()}


class SmartRouting(EngineBase):
    """The Engine's SOR orders (a mixin of core.Engine)."""

    def sor_venues(self, symbol: str) -> tuple[str, ...]:
        """The books of `symbol`'s SOR, its own first; -1013 "This symbol has no SOR."."""
        rules = self.symbol_rules(symbol)
        venues = self.sors.get(rules.spec.base, ()) if rules.spec.sor else ()
        if not venues:
            raise SimError(-1013, NO_SOR)
        return (symbol, *(v for v in venues if v != symbol))

    def place_sor(
        self,
        account: str,
        symbol: str,
        side: str,
        order_type: str,
        time_in_force: str,
        qty: int,
        price: int | None,
        client_order_id: str | None,
        self_trade_prevention: str,
        rules: SymbolRules,
        *,
        iceberg: int | None = None,
        strategy: tuple[int | None, int | None] = (None, None),
    ) -> Order:
        """Run one SOR order (validated by the caller) and return it in its final state."""
        venues = self.sor_venues(symbol)
        # pending: the funds are checked across the SOR's books just below
        order = self._new_order(
            account, symbol, side, order_type, time_in_force, qty, None, price,
            client_order_id, self_trade_prevention, rules, pending=True,
        )  # fmt: skip
        limit = price if order_type == "LIMIT" else None
        self._check_sor_funds(order, venues, limit)
        order.floor, order.iceberg_qty = "SOR", iceberg
        order.strategy_id, order.strategy_type = strategy
        now = order.time
        self._number(order)
        if self.listeners and not order.internal:
            self._report(order, "NEW", now)
        if time_in_force == "FOK" and self._sor_fillable(order, venues, limit) < qty:
            self._finish(order, "EXPIRED", now, "UNFILLED_FOK_ORDER_EXPIRED")
        else:
            self._route(order, rules, venues, limit, now)
        if not order.is_open:
            self._close(order, now)
        self._run_fired(now)
        self._flush(now)
        return order

    def _route(
        self, order: Order, rules: SymbolRules, venues: tuple[str, ...], limit: int | None, now: int
    ) -> None:
        """The taker phase level by level across `venues`, then expire or rest what is left."""
        blocked: set[str] = set()
        acct = self.accounts[order.account]
        while order.remaining > 0 and order.is_open:
            best = self._best_level(order, venues, limit, blocked)
            if best is None:
                break
            venue, level_price = best
            if not self._take_level(order, venue, level_price, now):
                blocked.add(venue)
        book = self.books[order.symbol]
        if order.symbol in blocked and order.remaining > 0 and order.is_open:
            # its own book still holds what the routing left (behind an own order): the order
            # meets it there as any order does, self-trade prevention included, so what rests
            # never crosses the book
            order.floor = "EXCHANGE"
            self._match(book, order, acct, rules, limit, now)
        if order.remaining > 0 and order.is_open:
            if order.type == "MARKET":
                self._finish(order, "EXPIRED", now, "INSUFFICIENT_LIQUIDITY")
            elif order.time_in_force != "GTC":
                self._finish(order, "EXPIRED", now, "UNFILLED_IOC_QUANTITY_EXPIRED")
            else:
                order.floor = "EXCHANGE"
                self._rest(book, order, acct, rules.spec.base, rules.spec.quote)

    def _best_level(
        self, order: Order, venues: tuple[str, ...], limit: int | None, blocked: set[str]
    ) -> tuple[str, int] | None:
        """The venue with the best opposite price within `limit` (the own book wins ties)."""
        is_buy = order.side == "BUY"
        best: tuple[str, int] | None = None
        for venue in venues:
            if venue in blocked:
                continue
            book = self.books[venue]
            p = (book.asks if is_buy else book.bids).best()
            if p is None or (limit is not None and (p > limit if is_buy else p < limit)):
                continue
            if best is None or (p < best[1] if is_buy else p > best[1]):
                best = (venue, p)
        return best

    def _take_level(self, order: Order, venue: str, level_price: int, now: int) -> int:
        """The exchange takes one price level of a book for `order`; the order receives what it
        got as an allocation. Returns the quantity taken (0: nothing takeable there)."""
        book = self.books[venue]
        side = book.asks if order.side == "BUY" else book.bids
        want = 0
        for maker in side.levels[level_price]:
            if maker.account == order.account and order.self_trade_prevention != "NONE":
                break
            want += maker.remaining
            if want >= order.remaining:
                break
        want = min(want, order.remaining)
        if want == 0:
            return 0
        rules = self.rules[venue]
        router = self._new_order(
            INTERNAL_ACCOUNT, venue, order.side, "LIMIT", "IOC", want, None, level_price, None,
            "NONE", rules, pending=True,
        )  # fmt: skip
        self._number(router)
        self._match(book, router, self.accounts[INTERNAL_ACCOUNT], rules, level_price, now)
        got, quote = router.executed_qty, router.cum_quote
        if router.is_open:
            router.status = "EXPIRED"
        self._close(router, now)
        if got:
            self._allocate(order, level_price, got, quote, now)
        return got

    def _allocate(self, order: Order, price: int, qty: int, quote_qty: int, now: int) -> None:
        """Fill `order` by one allocation: it pays and receives as a taker of its own symbol."""
        spec = self.rules[order.symbol].spec
        acct = self.accounts[order.account]
        is_buy = order.side == "BUY"
        if is_buy:
            fee, asset = qty * acct.taker_bps // 10000, spec.base
            acct.debit(spec.quote, quote_qty)
            acct.credit(spec.base, qty - fee)
        else:
            fee, asset = quote_qty * acct.taker_bps // 10000, spec.quote
            acct.debit(spec.base, qty)
            acct.credit(spec.quote, quote_qty - fee)
        alloc_id = self.next_alloc_id.get(order.symbol, 0)
        self.next_alloc_id[order.symbol] = alloc_id + 1
        first = order.executed_qty == 0
        order.executed_qty += qty
        order.cum_quote += quote_qty
        order.update_time = now
        fill = AllocFill(price, qty, fee, asset, -1, alloc_id)
        order.fills.append(fill)
        order.floor = "SOR"
        order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
        self._keep_allocation(
            Allocation(
                order.symbol, alloc_id, order.order_id, order.order_list_id, price, qty,
                quote_qty, fee, asset, now, is_buy, order.account,
            )
        )  # fmt: skip
        self._moved.setdefault(order.account, set()).update((spec.base, spec.quote))
        if first:
            for hook in self.first_fill_hooks:
                hook(order.account)
        if self.listeners:
            self._emit(
                "executionReport",
                order.symbol,
                order.account,
                reports.allocation_report(order, fill, now),
            )

    def _keep_allocation(self, allocation: Allocation) -> None:
        kept = self.allocations.get(allocation.account)
        if kept is None:
            kept = self.allocations[allocation.account] = deque(
                maxlen=max(1, self.retention.config.max_orders)
            )
        kept.append(allocation)

    def _sor_fillable(self, order: Order, venues: tuple[str, ...], limit: int | None) -> int:
        """How much of the order the SOR's books could fill at once (the FOK check)."""
        is_buy = order.side == "BUY"
        got = 0
        for venue in venues:
            book = self.books[venue]
            got += (book.asks if is_buy else book.bids).fillable(limit, order.orig_qty)
        return min(got, order.orig_qty)

    def _check_sor_funds(self, order: Order, venues: tuple[str, ...], limit: int | None) -> None:
        """The order's cost as the SOR would route it: a LIMIT BUY locks or pays price x qty, a
        MARKET BUY the best levels across the books, a SELL its quantity."""
        acct = self.accounts[order.account]
        spec = self.rules[order.symbol].spec
        if order.side == "SELL":
            ok = acct.has(spec.base, order.orig_qty)
        elif limit is not None:
            ok = acct.has(spec.quote, mul(limit, order.orig_qty))
        else:
            levels = sorted(
                (p, side.totals[p])
                for side in (self.books[v].asks for v in venues)
                for p in side.prices
            )
            need, left = 0, order.orig_qty
            for p, total in levels:
                take = min(left, total)
                need, left = need + mul(p, take), left - take
                if left == 0:
                    break
            ok = acct.has(spec.quote, need)
        if not ok:
            raise new_order_rejected("Account has insufficient balance for requested action.")
