"""The matching engine: price-time priority, every Spot order type with GTC/IOC/FOK.

LIMIT / LIMIT_MAKER / MARKET trade at once; STOP_LOSS(_LIMIT) / TAKE_PROFIT(_LIMIT) wait
(triggers.py) until the engine's own trades reach their stop price or trailing delta, then run as
MARKET or LIMIT orders. Self-trade prevention follows the taker's mode (stp.py).

Every public method is synchronous and runs to completion, so within the event loop each request
is atomic, as one message through Binance's matching engine. Validation follows Binance's split:
filter failures are -1013 (rejected before the engine, checks.py), engine rejections are -2010 /
-2011 with the catalog's messages, unknown orders on query are -2013, evicted ones -2026
(retention.py).

This module holds the state and an order's lifecycle (place, run or park, close, cancel, expire,
the end-of-step events); its parts are mixins: checks.py (filters and open-order counts),
matching.py (matching, one trade's settlement, resting, funds), listing.py (order lists),
edits.py (amend), stp.py (self-trade prevention), sor.py (Smart Order Routing).
"""

from __future__ import annotations

import itertools
import random
import string
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from ..clock import ServerClock
from ..config import SimConfig
from ..errors import (
    SimError,
    cancel_rejected,
    new_order_rejected,
)
from ..filters import SymbolRules
from ..numbers import SCALE
from . import reports, triggers
from .accounts import Account
from .base import INTERNAL_ACCOUNT
from .book import Book
from .checks import Checks
from .edits import Edits
from .events import Event, EventKind, Listener
from .listing import Listing
from .lists import OrderList
from .matching import Matching
from .orders import TRIGGERED_TYPE, Allocation, Amendment, Order, PreventedMatch, Trade
from .retention import Retention
from .sor import SmartRouting, groups
from .stp import SelfTradePrevention

__all__ = ["INTERNAL_ACCOUNT", "Engine"]

_ID_CHARS = string.ascii_letters + string.digits
PUBLIC_TRADES_KEPT = 10000


class Engine(Checks, Matching, Listing, Edits, SelfTradePrevention, SmartRouting):
    """Books, accounts and orders of the whole exchange."""

    def __init__(self, config: SimConfig, clock: ServerClock) -> None:
        self.config = config
        self.clock = clock
        # Generated client order ids: a seeded 10-character prefix, then a counter (12 hex
        # digits): 22 characters of [A-Za-z0-9] like Binance's, unique, and cheap to make.
        self._id_prefix = "".join(random.Random(config.seed * 7919 + 17).choices(_ID_CHARS, k=10))
        self._id_count = itertools.count()
        self.rules = {s.symbol: SymbolRules.of(s) for s in config.symbols}
        self.books = {s.symbol: Book(s.symbol) for s in config.symbols}
        self.accounts = {a.name: Account.of(a) for a in config.accounts}
        self.accounts[INTERNAL_ACCOUNT] = Account(INTERNAL_ACCOUNT, 1, {}, unlimited=True)
        self.next_order_id = {s.symbol: 1 for s in config.symbols}
        self.next_trade_id = {s.symbol: 1 for s in config.symbols}
        self.last_price = {s.symbol: self.rules[s.symbol].min_price for s in config.symbols}
        for s in config.symbols:
            self.last_price[s.symbol] = round(float(s.initial_price) * SCALE)
        self.trades: dict[str, deque[Trade]] = {
            s.symbol: deque(maxlen=PUBLIC_TRADES_KEPT) for s in config.symbols
        }
        self.open: dict[tuple[str, str], dict[int, Order]] = {}
        # every queryable order by (account, symbol) then id; terminal ones leave by `retention`
        self.history: dict[tuple[str, str], dict[int, Order]] = {}
        self.by_client_id: dict[tuple[str, str, str], Order] = {}
        self.account_trades: dict[str, deque[tuple[Trade, bool]]] = {}
        self.retention = Retention(config.retention, INTERNAL_ACCOUNT)
        self.listeners: list[Listener] = []
        self.first_fill_hooks: list[Callable[[str], None]] = []
        # called with every trade, listeners or not (candles, tickers, aggregate trades)
        self.trade_hooks: list[Callable[[Trade], None]] = []
        # per-operation bookkeeping for events
        self._touched: dict[str, dict[tuple[bool, int], None]] = {}
        self._first_update: dict[str, int] = {}
        self._moved: dict[str, set[str]] = {}
        # algo orders waiting for their trigger, per symbol; triggered ones wait in `_fired`
        # until the end of the engine step that triggered them
        self.stops: dict[str, dict[int, Order]] = {}
        self.open_algo: dict[tuple[str, str], int] = {}
        self.open_icebergs: dict[tuple[str, str], int] = {}
        self._fired: list[Order] = []
        # order lists by id (ids are exchange-wide) and by (account, listClientOrderId); the
        # pending orders whose working order filled wait in `_to_activate` like `_fired`
        self.order_lists: dict[int, OrderList] = {}
        self.list_by_client: dict[tuple[str, str], OrderList] = {}
        self.next_list_id = 1
        self.open_lists: dict[tuple[str, str], set[int]] = {}  # MAX_NUM_ORDER_LISTS
        self._to_activate: list[Order] = []
        self._quiet_lists = False
        # order/amend/keepPriority: each order's amendments, and the exchange's execution ids
        self.amendments: dict[tuple[str, str, int], list[Amendment]] = {}
        self.next_execution_id = 1
        # the last prevented matches per account (as many as the retention rule keeps orders)
        self.prevented: dict[str, deque[PreventedMatch]] = {}
        self.next_prevented_id = {s.symbol: 1 for s in config.symbols}
        # Smart Order Routing (sor.py): base asset -> its SOR's symbols; allocations per account
        self.sors = groups([(s.symbol, s.base) for s in config.symbols if s.sor])
        self.allocations: dict[str, deque[Allocation]] = {}
        self.next_alloc_id: dict[str, int] = {}
        # the reference/average price PERCENT_PRICE and MARKET notional use (set by SimState)
        self.average_price: Callable[[str], int] | None = None
        self._average_cache: dict[str, tuple[tuple[int, int], int]] = {}

    # ----- events (SimState shares its `listeners` list, so subscribers survive a reset) ------
    def _emit(
        self, kind: EventKind, symbol: str | None, account: str | None, data: dict[str, Any]
    ) -> None:
        event = Event(kind, symbol, account, data)
        for listener in tuple(self.listeners):
            listener(event)

    # ----- lookups --------------------------------------------------------------------------
    def symbol_rules(self, symbol: str) -> SymbolRules:
        rules = self.rules.get(symbol)
        if rules is None:
            raise SimError.of(-1121)
        return rules

    def open_orders(self, account: str, symbol: str | None = None) -> list[Order]:
        if symbol is not None:
            return sorted(self.open.get((account, symbol), {}).values(), key=lambda o: o.order_id)
        out: list[Order] = []
        for (acct, _sym), orders in self.open.items():
            if acct == account:
                out.extend(orders.values())
        return sorted(out, key=lambda o: (o.time, o.symbol, o.order_id))

    def all_orders(self, account: str, symbol: str) -> list[Order]:
        return list(self.history.get((account, symbol), {}).values())

    def find(self, account: str, symbol: str, order_id: int | None, client_id: str | None) -> Order:
        """The order by id (then checked against client id) or by client id; -2013 if none,
        -2026 if it was evicted (retention.py)."""
        self._forget(self.retention.prune(self.clock.now_ms()))
        archive = self.retention.archive
        if order_id is not None:
            o = self.history.get((account, symbol), {}).get(order_id)
            if o is None:
                archived = archive.has_id(account, symbol, order_id)
                raise SimError.of(-2026 if archived else -2013)
            if client_id is not None and o.client_order_id != client_id:
                raise SimError.of(-2039)
            return o
        assert client_id is not None
        found = self.by_client_id.get((account, symbol, client_id))
        if found is None:
            archived = archive.has_client_id(account, symbol, client_id)
            raise SimError.of(-2026 if archived else -2013)
        return found

    def _retire(self, order: Order, now: int) -> None:
        """`order` just ended: evict what the retention rule lets go (possibly not this one)."""
        self._forget(self.retention.retire(order, now))
        trades = self.account_trades.get(order.account)
        if trades is not None:
            limit, oldest = self.retention.config.max_orders, now - self.retention.horizon_ms
            while len(trades) > limit and trades[0][0].time < oldest:
                trades.popleft()

    def _forget(self, orders: Iterable[Order]) -> None:
        for o in orders:
            key = (o.account, o.symbol)
            kept = self.history.get(key)
            if kept is not None and kept.pop(o.order_id, None) is not None and not kept:
                del self.history[key]
            cid_key = (o.account, o.symbol, o.client_order_id)
            if self.by_client_id.get(cid_key) is o:
                del self.by_client_id[cid_key]
            self.amendments.pop((o.account, o.symbol, o.order_id), None)
            lst = self.list_of(o)
            if lst is not None and lst.done and not any(self._kept(x) for x in lst.orders):
                # a done list leaves with the last of its orders (retention.py)
                del self.order_lists[lst.list_id]
                if self.list_by_client.get((lst.account, lst.client_id)) is lst:
                    del self.list_by_client[(lst.account, lst.client_id)]

    def _kept(self, order: Order) -> bool:
        return self.history.get((order.account, order.symbol), {}).get(order.order_id) is order

    def new_client_order_id(self) -> str:
        return f"{self._id_prefix}{next(self._id_count):012x}"

    # ----- placing ---------------------------------------------------------------------------
    def place(
        self,
        account: str,
        symbol: str,
        side: str,
        order_type: str,
        time_in_force: str,
        qty: int | None,
        quote_qty: int | None,
        price: int | None,
        client_order_id: str | None = None,
        self_trade_prevention: str = "NONE",
        *,
        rules: SymbolRules | None = None,
        stop_price: int | None = None,
        trailing: int = 0,
        iceberg: int | None = None,
        strategy_id: int | None = None,
        strategy_type: int | None = None,
        peg: tuple[str, str | None, int | None, int] | None = None,
    ) -> Order:
        """Run one new order through the engine and return it in its final state. `rules`: what
        validate() returned for this very order just before (nothing ran between): not checked
        twice. A pegged LIMIT / LIMIT_MAKER comes with its pegged `price` (peg_price)."""
        if rules is None:
            rules = self.validate(
                account,
                symbol,
                order_type,
                qty,
                quote_qty,
                price,
                side,
                stop_price,
                trailing,
                iceberg,
            )
        order = self._new_order(
            account, symbol, side, order_type, time_in_force, qty, quote_qty, price,
            client_order_id, self_trade_prevention, rules,
        )  # fmt: skip
        order.stop_price = stop_price or 0
        order.trailing_delta = trailing
        order.iceberg_qty = iceberg
        order.strategy_id, order.strategy_type = strategy_id, strategy_type
        order.peg = peg
        self._admit(order, rules)
        return order

    def _new_order(
        self,
        account: str,
        symbol: str,
        side: str,
        order_type: str,
        time_in_force: str,
        qty: int | None,
        quote_qty: int | None,
        price: int | None,
        client_order_id: str | None,
        self_trade_prevention: str,
        rules: SymbolRules,
        pending: bool = False,
    ) -> Order:
        """The engine's own checks (-2010) and the Order, not yet numbered nor in the book.
        A `pending` order (of an OTO) is checked for funds and taking when it goes live."""
        acct = self.accounts[account]
        book = self.books[symbol]
        base, quote = rules.spec.base, rules.spec.quote
        cid = client_order_id or self.new_client_order_id()
        existing = self.by_client_id.get((account, symbol, cid))
        if existing is not None and existing.is_open:
            raise new_order_rejected("Duplicate order sent.")
        is_buy = side == "BUY"
        opposite = book.asks if is_buy else book.bids
        if order_type == "LIMIT_MAKER" and not pending:
            best = opposite.best()
            if best is not None and (price >= best if is_buy else price <= best):  # type: ignore[operator]
                raise new_order_rejected("Order would immediately match and take.")
        if order_type == "MARKET" and qty is None:
            # quoteOrderQty: the LOT_SIZE-valid quantity the book gives for that much quote
            qty = rules.round_qty(self._qty_for_quote(opposite, quote_qty or 0))
        if not pending:
            self._check_funds(
                acct, is_buy, order_type, qty, quote_qty, price, opposite, base, quote
            )
        now = self.clock.now_ms()
        return Order(
            symbol=symbol,
            order_id=0,
            client_order_id=cid,
            account=account,
            side=side,
            type=order_type,
            time_in_force=time_in_force,
            price=price or 0,
            orig_qty=qty or 0,
            orig_quote_qty=quote_qty or 0,
            time=now,
            update_time=now,
            working_time=now,
            self_trade_prevention=self_trade_prevention,
            internal=acct.unlimited,
        )

    def _admit(self, order: Order, rules: SymbolRules) -> None:
        """Number the order, report it NEW, then run it (or park it until its trigger)."""
        if order.is_algo:
            triggers.check_not_immediate(order, self.last_price[order.symbol])
        now = order.time
        self._number(order)
        if order.is_algo:
            self._park(order, rules, now)
        else:
            if self.listeners and not order.internal:
                self._report(order, "NEW", now)
            self._execute(order, rules, now)
        self._run_fired(now)
        self._flush(now)

    def _number(self, order: Order, list_id: int = -1) -> None:
        """Give the order its id and make it queryable."""
        symbol, account = order.symbol, order.account
        order.order_id = self.next_order_id[symbol]
        order.order_list_id = list_id
        self.next_order_id[symbol] += 1
        self.history.setdefault((account, symbol), {})[order.order_id] = order
        self.by_client_id[(account, symbol, order.client_order_id)] = order
        if order.status == "PENDING_NEW":
            self._add_open(order)

    def peg_price(self, symbol: str, side: str, peg_type: str, offset: int | None) -> int:
        """The price a pegged order takes now: the best price of its own side (PRIMARY_PEG) or of
        the other side (MARKET_PEG), `offset` levels deeper; -2010 when the book has no such
        level (errors.md)."""
        book = self.books[symbol]
        same = book.bids if side == "BUY" else book.asks
        side_book = (
            same if peg_type == "PRIMARY_PEG" else (book.asks if side == "BUY" else book.bids)
        )
        for i, price in enumerate(side_book.best_first()):
            if i == (offset or 0):
                return price
        raise new_order_rejected("Order book liquidity is too low for this pegged order.")

    def _resolve_peg(self, order: Order, now: int) -> bool:
        """Give a pegged order still without a price (a list's order, a triggered stop) its
        pegged price now; False (and the order REJECTED) when the book cannot."""
        if order.peg is None or order.price:
            return True
        try:
            order.price = self.peg_price(order.symbol, order.side, order.peg[0], order.peg[2])
        except SimError:
            order.working = False  # not in the book: nothing to take out of it
            self._expire(order, "REJECTED", now)
            return False
        return True

    def _execute(self, order: Order, rules: SymbolRules, now: int) -> None:
        """Match a working order and rest or expire what is left (new or just triggered)."""
        if not self._resolve_peg(order, now):
            return
        book = self.books[order.symbol]
        acct = self.accounts[order.account]
        is_buy = order.side == "BUY"
        opposite = book.asks if is_buy else book.bids
        kind = TRIGGERED_TYPE.get(order.type, order.type)
        limit = order.price if kind != "MARKET" else None
        tif = order.time_in_force
        if order.orig_qty == 0:
            self._finish(order, "EXPIRED", now, "INSUFFICIENT_LIQUIDITY")
        elif tif == "FOK" and opposite.fillable(limit, order.orig_qty) < order.orig_qty:
            self._finish(order, "EXPIRED", now, "UNFILLED_FOK_ORDER_EXPIRED")
        else:
            self._match(book, order, acct, rules, limit, now)
            if order.remaining > 0 and order.is_open:
                if kind == "MARKET":
                    self._finish(order, "EXPIRED", now, "INSUFFICIENT_LIQUIDITY")
                elif tif != "GTC":
                    self._finish(order, "EXPIRED", now, "UNFILLED_IOC_QUANTITY_EXPIRED")
                else:
                    self._rest(book, order, acct, rules.spec.base, rules.spec.quote)
        if not order.is_open:
            self._close(order, now)

    def _park(self, order: Order, rules: SymbolRules, now: int, report: bool = True) -> None:
        """An algo order: funds locked, not in the book, waiting in `stops` (isWorking false)."""
        acct = self.accounts[order.account]
        order.working, order.working_time = False, -1
        triggers.arm(order, self.last_price[order.symbol], now)
        asset, amount = triggers.lock_for(order, rules)
        if order.oco_peer is not None and order.type.startswith("STOP_LOSS"):
            amount = 0  # the pair's other order holds the funds (an OCO locks once)
        order.locked = amount
        acct.lock(asset, amount)
        if not order.internal:
            self._moved.setdefault(order.account, set()).add(asset)
        self._add_open(order)
        self.stops.setdefault(order.symbol, {})[order.order_id] = order
        if report and self.listeners and not order.internal:
            self._report(order, "NEW", now)

    def _run_fired(self, now: int) -> None:
        """Run the algo orders triggered during this step, in trigger order (their trades may
        trigger more)."""
        while self._fired or self._to_activate:
            if self._to_activate:
                self._go_live(self._to_activate.pop(0), now)
                continue
            order = self._fired.pop(0)
            if not order.is_open:
                continue
            rules = self.rules[order.symbol]
            if order.oco_peer is not None and order.oco_peer.is_open:
                self._expire(order.oco_peer, "OCO_TRIGGER", now)  # frees the pair's funds
            if order.locked:  # the triggered order pays like a new one
                asset = rules.spec.quote if order.side == "BUY" else rules.spec.base
                self.accounts[order.account].unlock(asset, order.locked)
                order.locked = 0
            if not self._can_pay(order, rules):
                self._expire(order, "REJECTED", now)
                continue
            order.working, order.working_time = True, now
            if self.listeners and not order.internal:
                self._report(order, "NEW", now)
            self._execute(order, rules, now)

    def _report(self, order: Order, exec_type: str, now: int, **kw: Any) -> None:
        self._emit(
            "executionReport",
            order.symbol,
            order.account,
            reports.execution_report(order, exec_type, now, **kw),
        )

    def _finish(self, order: Order, status: str, now: int, reason: str = "") -> None:
        order.status = status
        order.update_time = now
        order.expiry_reason = reason
        if self.listeners and not order.internal:
            self._report(order, "EXPIRED" if status == "EXPIRED" else "TRADE", now)

    def _close(self, order: Order, now: int) -> None:
        """Take a no-longer-open order out of the open set and release its remaining lock."""
        order.update_time = now
        opened = self.open.get((order.account, order.symbol))
        if opened is not None:
            if opened.pop(order.order_id, None) is not None:
                self._count_open(order, -1)
            if not opened:
                del self.open[(order.account, order.symbol)]
        if order.locked:
            rules = self.rules[order.symbol]
            asset = rules.spec.quote if order.side == "BUY" else rules.spec.base
            self.accounts[order.account].unlock(asset, order.locked)
            order.locked = 0
            if not order.internal:
                self._moved.setdefault(order.account, set()).add(asset)
        self._retire(order, now)
        if order.order_list_id != -1 and not self._quiet_lists:
            self._list_terminal(order, now)

    def _expire(self, order: Order, reason: str, now: int) -> None:
        """The exchange expires an open order wherever it is (book, trigger wait, pending)."""
        if order.working:
            book = self.books[order.symbol]
            side = book.bids if order.side == "BUY" else book.asks
            side.remove(order)
            self._touch(book, order.side == "BUY", order.price)
        else:
            self._unpark(order)
        self._finish(order, "EXPIRED", now, reason)
        self._close(order, now)

    # ----- canceling -------------------------------------------------------------------------
    def cancel(
        self,
        account: str,
        symbol: str,
        order_id: int | None,
        client_id: str | None,
        restriction: str | None = None,
    ) -> Order:
        """Cancel an open order; -2011 "Unknown order sent." when it is not open."""
        self.symbol_rules(symbol)
        try:
            order = self.find(account, symbol, order_id, client_id)
        except SimError as e:
            if e.code == -2039:
                raise
            raise cancel_rejected("Unknown order sent.") from None
        if not order.is_open:
            raise cancel_rejected("Unknown order sent.")
        if (restriction == "ONLY_NEW" and order.status != "NEW") or (
            restriction == "ONLY_PARTIALLY_FILLED" and order.status != "PARTIALLY_FILLED"
        ):
            raise cancel_rejected("Order was not canceled due to cancel restrictions.")
        now = self.clock.now_ms()
        lst = self.list_of(order)
        if lst is None:
            self._cancel(order, now)
        else:  # canceling one order of a list cancels the whole list
            self.cancel_list_orders(lst, now)
        self._flush(now)
        return order

    def cancel_all(self, account: str, symbol: str) -> list[Order]:
        self.symbol_rules(symbol)
        orders = self.open_orders(account, symbol)
        if not orders:
            raise cancel_rejected("Unknown order sent.")
        now = self.clock.now_ms()
        for o in orders:
            lst = self.list_of(o)
            if lst is not None and not lst.done:
                self.cancel_list_orders(lst, now)
            elif o.is_open:
                self._cancel(o, now)
        self._flush(now)
        return orders

    def _cancel(self, order: Order, now: int) -> None:
        if order.working:
            book = self.books[order.symbol]
            side = book.bids if order.side == "BUY" else book.asks
            side.remove(order)
            self._touch(book, order.side == "BUY", order.price)
        else:
            self._unpark(order)
        order.status = "CANCELED"
        self._close(order, now)
        if self.listeners and not order.internal:
            self._emit(
                "executionReport",
                order.symbol,
                order.account,
                reports.execution_report(
                    order, "CANCELED", now, orig_client_order_id=order.client_order_id
                ),
            )

    def _unpark(self, order: Order) -> None:
        waiting = self.stops.get(order.symbol)
        if waiting is not None:
            waiting.pop(order.order_id, None)
            if not waiting:
                del self.stops[order.symbol]

    # ----- events ----------------------------------------------------------------------------
    def _touch(self, book: Book, is_bid: bool, price: int) -> None:
        book.update_id += 1
        touched = self._touched.get(book.symbol)
        if touched is None:
            touched = self._touched[book.symbol] = {}
            self._first_update[book.symbol] = book.update_id
        touched[(is_bid, price)] = None

    def _flush(self, now: int) -> None:
        """End of one engine step: publish depth diffs and balance changes, reset bookkeeping."""
        if self.listeners:
            for symbol, touched in self._touched.items():
                book = self.books[symbol]
                data = reports.depth_event(book, self._first_update[symbol], touched, now)
                self._emit("depth", symbol, None, data)
        for name, assets in self._moved.items():
            acct = self.accounts[name]
            acct.update_time = now
            if self.listeners:
                self._emit(
                    "outboundAccountPosition",
                    None,
                    name,
                    reports.account_position(acct, assets, now),
                )
        self._touched.clear()
        self._first_update.clear()
        self._moved.clear()

    # ----- ground truth ----------------------------------------------------------------------
    def depth(
        self, symbol: str, limit: int
    ) -> tuple[int, list[tuple[int, int]], list[tuple[int, int]]]:
        book = self.books[symbol]
        return book.update_id, book.bids.depth(limit), book.asks.depth(limit)
