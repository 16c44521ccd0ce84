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

from ..numbers import mul
from .base import EngineBase
from .book import BookSide
from .orders import Order, PreventedMatch


def quantities(mode: str, taker_left: int, maker_left: int) -> tuple[int | None, int | None]:
    """What the taker's mode takes off the taker and off the maker (None: nothing)."""
    if mode in ("DECREMENT", "TRANSFER"):  # TRANSFER within one account is DECREMENT
        q = min(taker_left, maker_left)
        return q, q
    taker = taker_left if mode in ("EXPIRE_TAKER", "EXPIRE_BOTH") else None
    maker = maker_left if mode in ("EXPIRE_MAKER", "EXPIRE_BOTH") else None
    return taker, maker


class SelfTradePrevention(EngineBase):
    """The Engine's self-trade prevention (a mixin of core.Engine)."""

    def _prevent(self, side: BookSide, price: int, taker: Order, maker: Order, now: int) -> None:
        """Apply the taker's STP mode against `maker`, the first order of the level."""
        mode = taker.self_trade_prevention
        taker_q, maker_q = quantities(mode, taker.remaining, maker.remaining)
        symbol = taker.symbol
        match_id = self.next_prevented_id[symbol]
        self.next_prevented_id[symbol] += 1
        kept = self.prevented.get(taker.account)
        if kept is None:
            kept = self.prevented[taker.account] = deque(
                maxlen=max(1, self.retention.config.max_orders)
            )
        kept.append(
            PreventedMatch(
                symbol, match_id, taker.order_id, maker.order_id, mode, price, taker_q,
                maker_q, now, taker.account,
            )
        )  # fmt: skip
        if maker_q:
            self._take_prevented(maker, maker_q, match_id, now)
            side.cut(maker, maker_q, traded=False)
            if not maker.is_open:
                side.levels[price].popleft()
                self._close(maker, now)
            else:
                self._release_prevented(maker, maker_q)
        if taker_q:
            self._take_prevented(taker, taker_q, match_id, now)

    def _take_prevented(self, order: Order, qty: int, match_id: int, now: int) -> None:
        """Add `qty` to the order's prevented quantity; expire it when nothing is left."""
        order.prevented_qty += qty
        order.prevented_match_id = match_id
        order.update_time = now
        if order.remaining == 0:
            order.status = "EXPIRED_IN_MATCH"
            if self.listeners and not order.internal:
                self._report(order, "TRADE_PREVENTION", now, prevented=qty)

    def _release_prevented(self, maker: Order, qty: int) -> None:
        """A resting order kept after DECREMENT frees the funds of its prevented part."""
        rules = self.rules[maker.symbol]
        if maker.side == "BUY":
            asset, amount = rules.spec.quote, min(maker.locked, mul(maker.price, qty))
        else:
            asset, amount = rules.spec.base, min(maker.locked, qty)
        self.accounts[maker.account].unlock(asset, amount)
        maker.locked -= amount
        self._moved.setdefault(maker.account, set()).add(asset)
