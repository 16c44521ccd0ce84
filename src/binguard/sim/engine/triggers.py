"""Algo orders (STOP_LOSS, STOP_LOSS_LIMIT, TAKE_PROFIT, TAKE_PROFIT_LIMIT) and their triggers.

rest-api.md §New order: a stop price sits above the market for STOP_LOSS BUY and TAKE_PROFIT SELL,
below it for STOP_LOSS SELL and TAKE_PROFIT BUY; a stop price already reached by the last price
is rejected "Order would trigger immediately.". The engine's own trades move the last price: an
order fires when a trade reaches its stop price, then runs as a MARKET (STOP_LOSS, TAKE_PROFIT)
or LIMIT (…_LIMIT) order at the end of that engine step.

Trailing stops (`trailingDelta`, in BIPS; Binance's trailing stop FAQ): without a stop price the
trailing is active from placement; a TAKE_PROFIT with a stop price activates when the stop price
is reached; a STOP_LOSS with both trails from placement and fires at its stop price too. Once
active (`trailingTime`), the order follows the market's best price in its favour and fires when
the price comes back `trailingDelta` BIPS from it: orders that sell fire on a fall from the
highest price, orders that buy on a rise from the lowest.
"""

from __future__ import annotations

from ..errors import new_order_rejected
from ..filters import SymbolRules
from ..numbers import mul
from .orders import Order

BPS = 10_000


def stop_above(order_type: str, side: str) -> bool:
    """True when the trigger price sits above the market (STOP_LOSS BUY, TAKE_PROFIT SELL)."""
    return order_type.startswith("STOP_LOSS") == (side == "BUY")


def _reached(order: Order, price: int) -> bool:
    if stop_above(order.type, order.side):
        return price >= order.stop_price
    return price <= order.stop_price


def check_not_immediate(order: Order, last: int) -> None:
    if order.stop_price and _reached(order, last):
        raise new_order_rejected("Order would trigger immediately.")


def arm(order: Order, last: int, now: int) -> None:
    """Start the trailing of a trailing stop that is active from placement."""
    if order.trailing_delta and (not order.stop_price or order.type.startswith("STOP_LOSS")):
        order.trailing_time, order.trail_extreme = now, last


def lock_for(order: Order, rules: SymbolRules) -> tuple[str, int]:
    """What a waiting algo order holds: the base quantity (SELL) or price x quantity (BUY, at
    the limit price, or the stop price for STOP_LOSS / TAKE_PROFIT)."""
    if order.side == "SELL":
        return rules.spec.base, order.orig_qty
    return rules.spec.quote, mul(order.price or order.stop_price, order.orig_qty)


def _trail(order: Order, price: int, now: int) -> bool:
    if order.trailing_time < 0:
        if not _reached(order, price):
            return False
        order.trailing_time, order.trail_extreme = now, price
    sells = order.side == "SELL"
    if sells:
        order.trail_extreme = max(order.trail_extreme, price)
        return price * BPS <= order.trail_extreme * (BPS - order.trailing_delta)
    order.trail_extreme = min(order.trail_extreme, price)
    return price * BPS >= order.trail_extreme * (BPS + order.trailing_delta)


def fired(waiting: dict[int, Order], price: int, now: int) -> list[Order]:
    """The waiting orders a trade at `price` triggers, taken out of `waiting`."""
    out: list[Order] = []
    for order in list(waiting.values()):
        hit = _trail(order, price, now) if order.trailing_delta else False
        if not order.trailing_delta or (order.stop_price and order.type.startswith("STOP_LOSS")):
            hit = hit or _reached(order, price)
        if hit:
            del waiting[order.order_id]
            out.append(order)
    return out


def reached_now(order: Order, last: int) -> bool:
    """A stop price the last price already reached (a pending order going live)."""
    return bool(order.stop_price) and _reached(order, last)
