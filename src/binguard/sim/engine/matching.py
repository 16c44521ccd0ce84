"""Matching and settlement (a mixin of core.Engine): price-time matching of a taker against one
side of a book, one trade's funds and commissions, resting an order, and the funds checks.

Funds: a resting BUY locks price x remaining quote, a resting SELL locks the remaining base; the
taker part of an order pays from free balance. Commission is charged on the received asset at the
account's maker or taker rate. Self-trade prevention follows the taker's mode (stp.py).
"""

from __future__ import annotations

from collections import deque

from ..errors import SimError, new_order_rejected
from ..filters import SymbolRules
from ..numbers import SCALE, mul
from . import reports, triggers
from .accounts import Account
from .base import EngineBase
from .book import Book, BookSide
from .orders import TRIGGERED_TYPE, Fill, Order, Trade


class Matching(EngineBase):
    """The Engine's matching and settlement."""

    def _can_pay(self, order: Order, rules: SymbolRules) -> bool:
        book = self.books[order.symbol]
        is_buy = order.side == "BUY"
        kind = TRIGGERED_TYPE.get(order.type, order.type)
        price = order.price if kind != "MARKET" else None
        try:
            self._check_funds(
                self.accounts[order.account], is_buy, kind, order.orig_qty, None, price,
                book.asks if is_buy else book.bids, rules.spec.base, rules.spec.quote,
            )  # fmt: skip
        except SimError:
            return False
        return True

    def _check_funds(
        self,
        acct: Account,
        is_buy: bool,
        order_type: str,
        qty: int | None,
        quote_qty: int | None,
        price: int | None,
        opposite: BookSide,
        base: str,
        quote: str,
    ) -> None:
        if acct.unlimited:
            return
        if is_buy:
            if order_type != "MARKET":
                need = mul(price or 0, qty or 0)
            elif quote_qty is not None:
                need = quote_qty
            else:
                need = self._cost(opposite, qty or 0)
            ok = acct.has(quote, need)
        else:
            ok = acct.has(base, qty or 0)
        if not ok:
            raise new_order_rejected("Account has insufficient balance for requested action.")

    @staticmethod
    def _cost(side: BookSide, qty: int) -> int:
        cost = 0
        for p in side.best_first():
            take = min(qty, side.totals[p])
            cost += mul(p, take)
            qty -= take
            if qty <= 0:
                break
        return cost

    @staticmethod
    def _qty_for_quote(side: BookSide, quote_qty: int) -> int:
        qty = 0
        for p in side.best_first():
            level_quote = mul(p, side.totals[p])
            if level_quote >= quote_qty:
                return qty + quote_qty * SCALE // p
            qty += side.totals[p]
            quote_qty -= level_quote
        return qty

    def _match(
        self,
        book: Book,
        taker: Order,
        acct: Account,
        rules: SymbolRules,
        limit: int | None,
        now: int,
    ) -> None:
        is_buy = taker.side == "BUY"
        side = book.asks if is_buy else book.bids
        prices = side.prices
        while taker.remaining > 0 and prices:
            p = prices[0] if is_buy else prices[-1]
            if limit is not None and (p > limit if is_buy else p < limit):
                break
            level = side.levels[p]
            while level and taker.remaining > 0:
                maker = level[0]
                if (
                    taker.self_trade_prevention != "NONE"
                    and maker.account == taker.account
                    and not taker.internal
                ):
                    self._prevent(side, p, taker, maker, now)
                    continue
                qty = min(taker.remaining, maker.remaining)
                if maker.iceberg_qty is not None:
                    qty = min(qty, maker.shown)  # an iceberg trades its visible slice
                self._trade(book, taker, maker, acct, rules, p, qty, now)
                side.cut(maker, qty, traded=True)
                if maker.remaining == 0:
                    level.popleft()
                    self._close(maker, now)
            self._touch(book, not is_buy, p)
            if not level:
                side.drop(p)
            if not taker.is_open:  # expired by self-trade prevention
                break

    def _trade(
        self,
        book: Book,
        taker: Order,
        maker: Order,
        taker_acct: Account,
        rules: SymbolRules,
        price: int,
        qty: int,
        now: int,
    ) -> None:
        base, quote = rules.spec.base, rules.spec.quote
        maker_acct = self.accounts[maker.account]
        quote_qty = mul(price, qty)
        taker_is_buyer = taker.side == "BUY"
        buyer, seller = (taker, maker) if taker_is_buyer else (maker, taker)
        buyer_acct, seller_acct = (
            (taker_acct, maker_acct) if taker_is_buyer else (maker_acct, taker_acct)
        )
        buyer_bps = buyer_acct.taker_bps if taker_is_buyer else buyer_acct.maker_bps
        seller_bps = seller_acct.maker_bps if taker_is_buyer else seller_acct.taker_bps
        buyer_fee = qty * buyer_bps // 10000
        seller_fee = quote_qty * seller_bps // 10000
        # the maker's funds come out of its lock, the taker's out of free balance
        if taker_is_buyer:
            buyer_acct.debit(quote, quote_qty)
            seller_acct.debit_locked(base, qty)
            maker.locked -= min(maker.locked, qty)
        else:
            seller_acct.debit(base, qty)
            spent = min(maker.locked, quote_qty)
            buyer_acct.debit_locked(quote, spent)
            maker.locked -= spent
        buyer_acct.credit(base, qty - buyer_fee)
        seller_acct.credit(quote, quote_qty - seller_fee)
        trade = Trade(
            symbol=book.symbol,
            trade_id=self.next_trade_id[book.symbol],
            price=price,
            qty=qty,
            quote_qty=quote_qty,
            time=now,
            buyer_is_maker=not taker_is_buyer,
            buy_order=buyer,
            sell_order=seller,
            buyer_commission=buyer_fee,
            buyer_commission_asset=base,
            seller_commission=seller_fee,
            seller_commission_asset=quote,
        )
        self.next_trade_id[book.symbol] += 1
        self.trades[book.symbol].append(trade)
        self.last_price[book.symbol] = price
        waiting = self.stops.get(book.symbol)
        if waiting:
            self._fired.extend(triggers.fired(waiting, price, now))
        for trade_hook in self.trade_hooks:
            trade_hook(trade)
        for o, is_buyer, fee, asset in (
            (buyer, True, buyer_fee, base),
            (seller, False, seller_fee, quote),
        ):
            first = o.executed_qty == 0
            o.executed_qty += qty
            o.cum_quote += quote_qty
            o.update_time = now
            o.fills.append(Fill(price, qty, fee, asset, trade.trade_id))
            if not o.internal:
                self.account_trades.setdefault(o.account, deque()).append((trade, is_buyer))
                self._moved.setdefault(o.account, set()).update((base, quote))
                if first:
                    for hook in self.first_fill_hooks:
                        hook(o.account)
            if first and o.oco_peer is not None:
                self._list_first_trade(o, now)
        taker.status = "FILLED" if taker.remaining == 0 else "PARTIALLY_FILLED"
        maker.status = "FILLED" if maker.remaining == 0 else "PARTIALLY_FILLED"
        if self.listeners:
            self._emit("trade", book.symbol, None, reports.trade_event(trade, now))
            for o in (taker, maker):
                if not o.internal:
                    self._emit(
                        "executionReport",
                        o.symbol,
                        o.account,
                        reports.execution_report(o, "TRADE", now, trade, is_maker=o is maker),
                    )

    def _rest(self, book: Book, order: Order, acct: Account, base: str, quote: str) -> None:
        if order.side == "BUY":
            order.locked = mul(order.price, order.remaining)
            acct.lock(quote, order.locked)
            self._moved.setdefault(order.account, set()).add(quote)
            book.bids.add(order)
        else:
            order.locked = order.remaining
            acct.lock(base, order.locked)
            self._moved.setdefault(order.account, set()).add(base)
            book.asks.add(order)
        if acct.unlimited:
            self._moved.pop(order.account, None)
        self._add_open(order)
        self._touch(book, order.side == "BUY", order.price)
