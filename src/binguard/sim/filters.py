"""Symbol filters (Binance filters.md): PRICE_FILTER, PERCENT_PRICE_BY_SIDE (or PERCENT_PRICE),
LOT_SIZE, NOTIONAL, ICEBERG_PARTS, MARKET_LOT_SIZE, TRAILING_DELTA, MAX_NUM_ORDERS,
MAX_NUM_ORDER_LISTS, MAX_NUM_ALGO_ORDERS, MAX_NUM_ICEBERG_ORDERS, MAX_NUM_ORDER_AMENDS,
MAX_POSITION. Each failure is -1013 "Filter failure: NAME" with the catalog's text
(PERCENT_PRICE_BY_SIDE has no row in errors.md; its text follows the same pattern).

Rules as documented: price in [minPrice, maxPrice] and (price - minPrice) % tickSize == 0;
quantity likewise against LOT_SIZE (every order) and MARKET_LOT_SIZE (MARKET orders, stepSize 0
meaning no step rule); notional = price x quantity within [minNotional, maxNotional], applied to
MARKET orders at the average price; at most maxNumOrders open orders per symbol and account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import SymbolSpec
from .errors import SimError, filter_error
from .numbers import SCALE, fmt, mul, to_atoms

BPS = 10_000


def _ratio(text: str) -> int:
    """A multiplier as parts per 10^8 (atoms)."""
    return to_atoms(text)


def _filter_failure(name: str) -> SimError:
    if name == "PERCENT_PRICE_BY_SIDE":  # no errors.md row (binance-spot-errors.json)
        return SimError(-1013, "Filter failure: PERCENT_PRICE_BY_SIDE")
    return filter_error(name)


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
    bid_up: int
    bid_down: int
    ask_up: int
    ask_down: int
    max_position: int

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
            bid_up=_ratio(s.bid_multiplier_up),
            bid_down=_ratio(s.bid_multiplier_down),
            ask_up=_ratio(s.ask_multiplier_up if s.percent_price_by_side else s.bid_multiplier_up),
            ask_down=_ratio(
                s.ask_multiplier_down if s.percent_price_by_side else s.bid_multiplier_down
            ),
            max_position=to_atoms(s.max_position),
        )

    def check_percent_price(self, price: int, is_buy: bool, average: int) -> None:
        """PERCENT_PRICE(_BY_SIDE): average x multiplierDown <= price <= average x multiplierUp.
        `average`: the reference price if any, else the weighted average (filters.md)."""
        up, down = (self.bid_up, self.bid_down) if is_buy else (self.ask_up, self.ask_down)
        if price * SCALE > average * up or price * SCALE < average * down:
            name = "PERCENT_PRICE_BY_SIDE" if self.spec.percent_price_by_side else "PERCENT_PRICE"
            raise _filter_failure(name)

    def check_iceberg(self, qty: int, iceberg: int) -> None:
        """LOT_SIZE applies to icebergQty too; ICEBERG_PARTS is CEIL(qty / icebergQty)."""
        self.check_lot(iceberg)
        if -(-qty // iceberg) > self.spec.iceberg_parts:
            raise filter_error("ICEBERG_PARTS")

    def check_trailing(self, delta: int, above: bool) -> None:
        """TRAILING_DELTA: `above` for STOP_LOSS BUY / TAKE_PROFIT SELL (filters.md)."""
        s = self.spec
        low, high = (
            (s.min_trailing_above_delta, s.max_trailing_above_delta)
            if above
            else (s.min_trailing_below_delta, s.max_trailing_below_delta)
        )
        if not low <= delta <= high:
            raise filter_error("TRAILING_DELTA")

    def check_counts(self, open_orders: int, algo: int | None, iceberg: int | None) -> None:
        """MAX_NUM_ORDERS, then MAX_NUM_ALGO_ORDERS / MAX_NUM_ICEBERG_ORDERS when the new order
        is one (counts of the account's open orders on the symbol before it)."""
        self.check_num_orders(open_orders)
        if algo is not None and algo >= self.spec.max_num_algo_orders:
            raise filter_error("MAX_NUM_ALGO_ORDERS")
        if iceberg is not None and iceberg >= self.spec.max_num_iceberg_orders:
            raise filter_error("MAX_NUM_ICEBERG_ORDERS")

    def check_position(self, position: int, qty: int) -> None:
        """MAX_POSITION (BUY orders): base balance + open BUY quantity + this order."""
        if self.max_position and position + qty > self.max_position:
            raise filter_error("MAX_POSITION")

    def check_order_lists(self, open_lists: int) -> None:
        if open_lists >= self.spec.max_num_order_lists:
            raise filter_error("MAX_NUM_ORDER_LISTS")

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
        out: list[dict[str, Any]] = [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": fmt(self.min_price),
                "maxPrice": fmt(self.max_price),
                "tickSize": fmt(self.tick),
            },
            self._percent_filter(),
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
            {"filterType": "ICEBERG_PARTS", "limit": s.iceberg_parts},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": self.max_num_orders},
            {"filterType": "MAX_NUM_ORDER_LISTS", "maxNumOrderLists": s.max_num_order_lists},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": s.max_num_algo_orders},
            {
                "filterType": "MAX_NUM_ICEBERG_ORDERS",
                "maxNumIcebergOrders": s.max_num_iceberg_orders,
            },
            {
                "filterType": "TRAILING_DELTA",
                "minTrailingAboveDelta": s.min_trailing_above_delta,
                "maxTrailingAboveDelta": s.max_trailing_above_delta,
                "minTrailingBelowDelta": s.min_trailing_below_delta,
                "maxTrailingBelowDelta": s.max_trailing_below_delta,
            },
            {"filterType": "MAX_NUM_ORDER_AMENDS", "maxNumOrderAmends": s.max_num_order_amends},
        ]
        if self.max_position:
            out.append({"filterType": "MAX_POSITION", "maxPosition": fmt(self.max_position)})
        return out

    def _percent_filter(self) -> dict[str, Any]:
        s = self.spec
        if s.percent_price_by_side:
            return {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": s.bid_multiplier_up,
                "bidMultiplierDown": s.bid_multiplier_down,
                "askMultiplierUp": s.ask_multiplier_up,
                "askMultiplierDown": s.ask_multiplier_down,
                "avgPriceMins": s.avg_price_mins,
            }
        return {
            "filterType": "PERCENT_PRICE",
            "multiplierUp": s.bid_multiplier_up,
            "multiplierDown": s.bid_multiplier_down,
            "avgPriceMins": s.avg_price_mins,
        }
