"""The API-side checks that precede the matching engine (a mixin of core.Engine): the filters
(-1013 "Filter failure: ...") against the reference price, and the open-order counts the
MAX_NUM_ORDERS / MAX_NUM_ALGO_ORDERS / MAX_NUM_ICEBERG_ORDERS / MAX_POSITION filters read.
"""

from __future__ import annotations

from ..errors import filter_error
from ..filters import SymbolRules
from ..numbers import mul
from . import triggers
from .base import EngineBase
from .orders import TRIGGERED_TYPE, Order


class Checks(EngineBase):
    """The Engine's pre-engine checks and open-order counts."""

    def average(self, symbol: str) -> int:
        """The price filters compare against: the symbols have no reference price, so the
        weighted average of the last `avgPriceMins` minutes (filters.md, CHANGELOG 2026-05-06)."""
        if self.average_price is not None:
            # one computation per symbol, second and trade (a 5-minute average moves by less
            # than any tick within one second without a trade)
            key = (self.clock.now_ms() // 1000, self.next_trade_id[symbol])
            cached = self._average_cache.get(symbol)
            if cached is not None and cached[0] == key:
                return cached[1]
            price = self.average_price(symbol)
            if price > 0:
                self._average_cache[symbol] = (key, price)
                return price
        return self.last_price[symbol]

    def validate(
        self,
        account: str,
        symbol: str,
        order_type: str,
        qty: int | None,
        quote_qty: int | None,
        price: int | None,
        side: str = "BUY",
        stop_price: int | None = None,
        trailing: int = 0,
        iceberg: int | None = None,
    ) -> SymbolRules:
        """The API-side checks (-1013 filter failures) that precede the matching engine."""
        rules = self.symbol_rules(symbol)
        is_buy = side == "BUY"
        if price is None:  # MARKET, STOP_LOSS, TAKE_PROFIT
            if qty is not None:
                rules.check_lot(qty)
                rules.check_market_lot(qty)
                # NOTIONAL applies to MARKET orders at the average price (applyMinToMarket)
                if mul(self.average(symbol), qty) < rules.min_notional:
                    raise filter_error("NOTIONAL")
            elif quote_qty is not None and quote_qty < rules.min_notional:
                raise filter_error("NOTIONAL")
        else:
            assert qty is not None
            rules.check_price(price)
            rules.check_percent_price(price, is_buy, self.average(symbol))
            rules.check_lot(qty)
            rules.check_notional(price, qty)
        if stop_price is not None:
            rules.check_price(stop_price)
        if iceberg is not None and qty is not None:
            rules.check_iceberg(qty, iceberg)
        if trailing:
            rules.check_trailing(trailing, triggers.stop_above(order_type, side))
        self._check_counts(account, symbol, rules, order_type, iceberg is not None)
        if is_buy and rules.max_position and qty is not None:
            rules.check_position(self._position(account, symbol, rules), qty)
        return rules

    def _check_counts(
        self, account: str, symbol: str, rules: SymbolRules, order_type: str, iceberg: bool
    ) -> None:
        key = (account, symbol)
        algo = self.open_algo.get(key, 0) if order_type in TRIGGERED_TYPE else None
        icebergs = self.open_icebergs.get(key, 0) if iceberg else None
        rules.check_counts(len(self.open.get(key, ())), algo, icebergs)

    def _add_open(self, order: Order) -> None:
        opened = self.open.setdefault((order.account, order.symbol), {})
        if order.order_id not in opened:
            opened[order.order_id] = order
            self._count_open(order, 1)

    def _count_open(self, order: Order, step: int) -> None:
        """MAX_NUM_ALGO_ORDERS / MAX_NUM_ICEBERG_ORDERS counts, kept as orders open and end."""
        key = (order.account, order.symbol)
        if order.is_algo:
            self.open_algo[key] = self.open_algo.get(key, 0) + step
        if order.iceberg_qty is not None:
            self.open_icebergs[key] = self.open_icebergs.get(key, 0) + step

    def _position(self, account: str, symbol: str, rules: SymbolRules) -> int:
        """MAX_POSITION's position: base free + locked + the open BUY orders' quantity."""
        acct = self.accounts[account]
        base = rules.spec.base
        buys = sum(
            o.remaining for o in self.open.get((account, symbol), {}).values() if o.side == "BUY"
        )
        return acct.free[base] + acct.locked[base] + buys
