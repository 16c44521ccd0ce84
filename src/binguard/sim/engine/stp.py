"""Self-trade prevention (enums.md §STP Modes; Binance's STP FAQ).

The taker's mode decides: EXPIRE_TAKER expires the taker's remaining quantity, EXPIRE_MAKER the
resting order's, EXPIRE_BOTH both; DECREMENT adds the smaller remaining quantity to both orders'
prevented quantity and expires whichever reaches zero (both if equal). TRANSFER between orders of
one account behaves as DECREMENT (the FAQ; the simulator has no trade groups, `tradeGroupId` -1).
An expired order ends EXPIRED_IN_MATCH with `preventedMatchId` and `preventedQuantity`, and its
executionReport has execution type TRADE_PREVENTION. Every prevention is one prevented match,
queryable with GET /api/v3/myPreventedMatches.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from .book import BookSide
from .orders import Order, PreventedMatch

if TYPE_CHECKING:
    from .core import Engine


def prevent(
    engine: Engine, side: BookSide, price: int, taker: Order, maker: Order, now: int
) -> None:
    """Apply the taker's STP mode against `maker`, the first order of the level at `price`."""
    mode = taker.self_trade_prevention
    effective = "DECREMENT" if mode == "TRANSFER" else mode
    taker_q: int | None = None
    maker_q: int | None = None
    if effective == "DECREMENT":
        taker_q = maker_q = min(taker.remaining, maker.remaining)
    else:
        if effective in ("EXPIRE_TAKER", "EXPIRE_BOTH"):
            taker_q = taker.remaining
        if effective in ("EXPIRE_MAKER", "EXPIRE_BOTH"):
            maker_q = maker.remaining
    symbol = taker.symbol
    match_id = engine.next_prevented_id[symbol]
    engine.next_prevented_id[symbol] += 1
    kept = engine.prevented.get(taker.account)
    if kept is None:
        kept = engine.prevented[taker.account] = deque(
            maxlen=max(1, engine.retention.config.max_orders)
        )
    kept.append(
        PreventedMatch(
            symbol, match_id, taker.order_id, maker.order_id, mode, price, taker_q, maker_q,
            now, taker.account,
        )
    )  # fmt: skip
    if maker_q:
        side.totals[price] -= maker_q
        _take(engine, maker, maker_q, match_id, now)
        if not maker.is_open:
            side.levels[price].popleft()
            engine._close(maker, now)
        else:
            _release(engine, maker, maker_q)
    if taker_q:
        _take(engine, taker, taker_q, match_id, now)


def _take(engine: Engine, order: Order, qty: int, match_id: int, now: int) -> None:
    """Add `qty` to the order's prevented quantity; expire it when nothing is left."""
    order.prevented_qty += qty
    order.prevented_match_id = match_id
    order.update_time = now
    if order.remaining == 0:
        order.status = "EXPIRED_IN_MATCH"
        if engine.listeners and not order.internal:
            engine._report(order, "TRADE_PREVENTION", now, prevented=qty)


def _release(engine: Engine, maker: Order, qty: int) -> None:
    """A resting order kept after DECREMENT frees the funds of its prevented part."""
    rules = engine.rules[maker.symbol]
    if maker.side == "BUY":
        asset, amount = rules.spec.quote, min(maker.locked, maker.price * qty // 10**8)
    else:
        asset, amount = rules.spec.base, min(maker.locked, qty)
    engine.accounts[maker.account].unlock(asset, amount)
    maker.locked -= amount
    engine._moved.setdefault(maker.account, set()).add(asset)
