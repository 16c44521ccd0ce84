"""Symbol filters (Binance filters.md): PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, NOTIONAL,
MAX_NUM_ORDERS. Each failure is -1013 "Filter failure: NAME" with the catalog's text.

Rules as documented: price in [minPrice, maxPrice] and (price - minPrice) % tickSize == 0;
quantity likewise against LOT_SIZE (every order) and MARKET_LOT_SIZE (MARKET orders, stepSize 0
meaning no step rule); notional = price x quantity within [minNotional, maxNotional], applied to
MARKET orders at the average price; at most maxNumOrders open orders per symbol and account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import SymbolSpec
from .errors import filter_error
from .numbers import fmt, mul, to_atoms


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """A symbol's filters as atoms, ready for the hot path."""

    spec: SymbolSpec
    tick: int
    min_price: int
    max_price: int
    step: int
    min_qty: int
    max_qty: int
    market_step: int
    market_min_qty: int
    market_max_qty: int
    min_notional: int
    max_notional: int
    max_num_orders: int

    @classmethod
    def of(cls, s: SymbolSpec) -> SymbolRules:
        return cls(
            spec=s,
            tick=to_atoms(s.tick_size),
            min_price=to_atoms(s.min_price),
            max_price=to_atoms(s.max_price),
            step=to_atoms(s.step_size),
            min_qty=to_atoms(s.min_qty),
            max_qty=to_atoms(s.max_qty),
            market_step=0,
            market_min_qty=to_atoms(s.market_min_qty),
            market_max_qty=to_atoms(s.market_max_qty),
            min_notional=to_atoms(s.min_notional),
            max_notional=to_atoms(s.max_notional),
            max_num_orders=s.max_num_orders,
        )

    def check_price(self, price: int) -> None:
        if price < self.min_price or price > self.max_price or (price - self.min_price) % self.tick:
            raise filter_error("PRICE_FILTER")

    def check_lot(self, qty: int) -> None:
        if qty < self.min_qty or qty > self.max_qty or (qty - self.min_qty) % self.step:
            raise filter_error("LOT_SIZE")

    def check_market_lot(self, qty: int) -> None:
        if (
            qty < self.market_min_qty
            or qty > self.market_max_qty
            or (self.market_step and (qty - self.market_min_qty) % self.market_step)
        ):
            raise filter_error("MARKET_LOT_SIZE")

    def check_notional(self, price: int, qty: int) -> None:
        notional = mul(price, qty)
        if notional < self.min_notional or notional > self.max_notional:
            raise filter_error("NOTIONAL")

    def check_num_orders(self, open_orders: int) -> None:
        if open_orders >= self.max_num_orders:
            raise filter_error("MAX_NUM_ORDERS")

    def round_qty(self, qty: int) -> int:
        """Largest LOT_SIZE-valid quantity not above `qty` (for quoteOrderQty market orders)."""
        if qty < self.min_qty:
            return 0
        return qty - (qty - self.min_qty) % self.step

    def exchange_filters(self) -> list[dict[str, Any]]:
        """The `filters` array of exchangeInfo for this symbol."""
        s = self.spec
        return [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": fmt(self.min_price),
                "maxPrice": fmt(self.max_price),
                "tickSize": fmt(self.tick),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": fmt(self.min_qty),
                "maxQty": fmt(self.max_qty),
                "stepSize": fmt(self.step),
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": fmt(self.market_min_qty),
                "maxQty": fmt(self.market_max_qty),
                "stepSize": fmt(self.market_step),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": s.min_notional,
                "applyMinToMarket": True,
                "maxNotional": s.max_notional,
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": self.max_num_orders},
        ]
