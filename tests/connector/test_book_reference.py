"""The order book's levels against a reference: a plain dict of levels, sorted on demand.

Unit tests of one layer: the book is installed from a snapshot and fed diff events directly
(`_install`, `on_event`), with no socket and no simulator (test_book.py covers those). The rules
are web-socket-streams.md §How to manage a local order book correctly: quantities are absolute, a
zero quantity removes the level, and a snapshot of `limit` levels covers prices down (bids) or up
(asks) to its worst one only. Every read (best, bids, asks at any depth, view) must equal the
reference's, Decimal for Decimal (same digits and exponent), whatever the price's rendering.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binguard.connector._levels import _KEEP_REMOVED, Side
from binguard.connector.book import OrderBook
from binguard.connector.models import Level


def _emit(kind: str, **data: Any) -> None:
    assert kind == "book_synced", (kind, data)


async def _no_snapshot(symbol: str, limit: int) -> dict[str, Any]:
    raise AssertionError("installed by the test")


def _canon(price: str) -> str:
    return price.rstrip("0").rstrip(".") if "." in price else price


class Reference:
    """The obvious book: dicts of canonical price text -> quantity text, sorted at each read."""

    def __init__(self, snap: dict[str, Any], limit: int) -> None:
        self.sides: dict[str, dict[str, str]] = {"b": {}, "a": {}}
        self.apply(snap["bids"], snap["asks"])
        bids, asks = self.sides["b"], self.sides["a"]
        covered_b = len(snap["bids"]) >= limit and bids
        covered_a = len(snap["asks"]) >= limit and asks
        self.bid_bound = min(map(Decimal, bids)) if covered_b else None
        self.ask_bound = max(map(Decimal, asks)) if covered_a else None

    def apply(self, bids: list[list[str]], asks: list[list[str]]) -> None:
        for key, rows in (("b", bids), ("a", asks)):
            side = self.sides[key]
            for price, qty in rows:
                if Decimal(qty):
                    side[_canon(price)] = qty
                else:
                    side.pop(_canon(price), None)

    def bids(self) -> list[Level]:
        prices = sorted(self.sides["b"], key=Decimal, reverse=True)
        bound = self.bid_bound
        return [
            (Decimal(p), Decimal(self.sides["b"][p]))
            for p in prices
            if bound is None or Decimal(p) >= bound
        ]

    def asks(self) -> list[Level]:
        prices = sorted(self.sides["a"], key=Decimal)
        bound = self.ask_bound
        return [
            (Decimal(p), Decimal(self.sides["a"][p]))
            for p in prices
            if bound is None or Decimal(p) <= bound
        ]

    def best_text(self, side: str) -> str | None:
        prices = self.sides[side]
        if not prices:
            return None
        pick = max if side == "b" else min
        return pick(prices, key=Decimal)


def _exact(levels: list[Level]) -> list[tuple[str, str]]:
    """Levels as text: equal only if the Decimals have the same digits and exponent."""
    return [(str(p), str(q)) for p, q in levels]


# Prices on a small grid (so levels collide, vanish and come back), in Binance's 8-decimal
# rendering and others; now and then a price with more decimals than 8 (the keys rescale).
_TICK = st.integers(0, 40)
_RENDER = st.sampled_from(["{:.8f}", "{:.2f}", "{:.4f}", "{}"])
_QTY = st.sampled_from(["0.00000000", "0", "0.0", "1.50000000", "0.00100000", "2", "7.25"])


@st.composite
def _price(draw: st.DrawFn, base: Decimal, step: Decimal) -> str:
    if draw(st.integers(0, 30)) == 0:
        return f"{base + step * draw(_TICK) + Decimal('0.0000000001') * draw(st.integers(1, 9))}"
    value = base + step * draw(_TICK)
    text: str = draw(_RENDER).format(value)
    return text


def _rows(draw: st.DrawFn, side: str, ref: Reference, n: int) -> list[list[str]]:
    base, step = (
        (Decimal("100"), Decimal("-0.01")) if side == "b" else (Decimal("100.5"), Decimal("0.01"))
    )
    rows = []
    for _ in range(n):
        best = ref.best_text(side)
        if best is not None and draw(st.integers(0, 3)) == 0:
            price = best  # remove or re-quote the best level, in another rendering sometimes
            if draw(st.booleans()):
                price = f"{Decimal(best):.8f}"
        else:
            price = draw(_price(base, step))
        rows.append([price, draw(_QTY)])
    return rows


def _check(book: OrderBook, ref: Reference, depth: int | None) -> None:
    bids, asks = ref.bids(), ref.asks()
    assert _exact(book.bids(depth)) == _exact(bids[:depth])
    assert _exact(book.asks(depth)) == _exact(asks[:depth])
    bid, ask = book.best()
    assert _exact([bid] if bid else []) == _exact(bids[:1])
    assert _exact([ask] if ask else []) == _exact(asks[:1])


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_book_reads_equal_the_reference(data: st.DataObject) -> None:
    limit = data.draw(st.integers(1, 12), label="limit")
    seed = Reference({"bids": [], "asks": []}, limit)
    snap = {
        "lastUpdateId": 10,
        "bids": _rows(data.draw, "b", seed, data.draw(st.integers(0, 15))),
        "asks": _rows(data.draw, "a", seed, data.draw(st.integers(0, 15))),
    }
    ref = Reference(snap, limit)
    book = OrderBook(None, _no_snapshot, _emit, "BTCUSDT", limit=limit)  # type: ignore[arg-type]
    assert book._install(snap, trusted=True)
    u = 10
    for _ in range(data.draw(st.integers(1, 40), label="events")):
        bids = _rows(data.draw, "b", ref, data.draw(st.integers(0, 8)))
        asks = _rows(data.draw, "a", ref, data.draw(st.integers(0, 8)))
        book.on_event("btcusdt@depth@100ms", {"U": u + 1, "u": u + 2, "b": bids, "a": asks})
        u += 2
        ref.apply(bids, asks)
        if data.draw(st.integers(0, 2)):  # reads after some events only: updates pile up unread
            _check(book, ref, data.draw(st.sampled_from([None, 0, 1, 2, 5, -1])))
    assert book.last_update_id == u
    _check(book, ref, None)
    view = book.view(3)
    assert view.last_update_id == u and view.bids == tuple(book.bids(3))


def test_churn_unread_stays_bounded_and_is_compacted() -> None:
    """Updates nobody reads keep memory bounded; a deep sweep of removals is compacted away."""
    side = Side(bids=True)
    for n in range(300):  # 3,000 prices come and go, never read
        side.apply([[f"{(n * 10 + i) / 100:.8f}", "1.00000000"] for i in range(10)])
        side.apply([[f"{(n * 10 + i) / 100:.8f}", "0.00000000"] for i in range(10)])
        assert len(side.pending) <= 1024 + len(side.levels)
    assert side.best() is None and side.top() == []
    side.apply([[f"{i / 100:.8f}", "1.00000000"] for i in range(1, 3001)])
    assert side.best() == (Decimal("30"), Decimal("1"))
    side.apply([[f"{i / 100:.8f}", "0"] for i in range(1, 2900)])  # all but the top 101 go
    side.apply([[f"{i / 100:.8f}", "2.5"] for i in range(2950, 2990)])  # re-quoted
    side.apply([["0.005", "3"]])  # a new price, deep
    want = [
        (_canon(f"{i / 100:.8f}"), "2.5" if 2950 <= i < 2990 else "1.00000000")
        for i in range(3000, 2899, -1)
    ]
    assert _exact(side.top()) == [*want, ("0.005", "3")]
    assert len(side.order) <= 2 * len(side.levels) + 64  # the removed levels' keys are gone


def test_a_price_that_is_no_number_fails_reads_until_it_goes() -> None:
    """As the sorted dict did: reads raise InvalidOperation while the level is there."""
    side = Side(bids=False)
    side.apply([["1.5", "1"], ["abc", "1"]])
    with pytest.raises(InvalidOperation):
        side.best()
    side.apply([["abc", "0"]])
    assert side.best() == (Decimal("1.5"), Decimal("1"))
    assert side.top() == [(Decimal("1.5"), Decimal("1"))]


def test_removals_at_the_top_are_stepped_over_then_dropped() -> None:
    """A few removed levels at the top are stepped over (a re-quote is then a plain update);
    past `_KEEP_REMOVED` of them they are dropped, so best() stays O(1) in a falling market."""
    side = Side(bids=True)
    side.apply([[f"{i}.00000000", "1.00000000"] for i in range(1, 101)])
    assert side.best() == (Decimal("100"), Decimal("1"))
    for top in range(100, 90, -1):  # the bid falls one level at a time
        side.apply([[f"{top}.00000000", "0.00000000"]])
        assert side.best() == (Decimal(top - 1), Decimal("1"))
    assert len(side.order) <= 90 + _KEEP_REMOVED
    side.apply([["99.00000000", "2.00000000"], ["95", "3"]])  # re-quoted, one in another rendering
    assert _exact(side.top(3)) == [("99", "2.00000000"), ("95", "3"), ("90", "1.00000000")]
    assert side.best() == (Decimal("99"), Decimal("2"))
    assert _exact(side.top(-90)) == [("99", "2.00000000"), ("95", "3")]
