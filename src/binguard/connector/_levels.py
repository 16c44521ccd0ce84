"""One side of a local order book: exact prices, cheap updates, best-first reads without a sort.

Updates (`apply`) cost a few dict operations per level: a price new to the side is only noted in
`pending`, and a removed level is only dropped from `levels`. Reads (`best`, `top`) first fold the
pending prices into `order`, a list of exact integer keys kept sorted with the best price LAST
(bisect + `list.insert` moves only the entries above the insertion point: near the top of the
book, where a market's updates are, that is a handful), then walk it from the end, skipping keys
whose level has gone. So the best level costs O(1) amortized and the top N levels O(N + log n),
with no Decimal sort anywhere.

A key is the price scaled to an integer, `price * 10**scale` (negated on the ask side, so the best
price of either side is the largest key): exact for any decimal text, `scale` grows (and every key
is rescaled once) if a price ever has more decimals than seen so far. Prices are kept as the text
Binance sent with trailing zeros stripped (one level per price whatever the rendering) and
quantities as text, as the book has always kept them; reads convert the levels they return to
Decimal.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from decimal import Decimal, InvalidOperation
from typing import Any

from .models import Level

_CACHE_MAX = 1 << 16  # distinct price texts remembered (canonical form, key); then forgotten
_ZERO = "0.00000000"  # Binance's rendering of a removed level's quantity


def _canon(price: str) -> str:
    """One text per price: '30000.01000000' and '30000.01' are the same level."""
    if "." in price:
        price = price.rstrip("0")
        if price[-1] == ".":
            price = price[:-1]
    return price


def _parse(text: str) -> tuple[int, int]:
    """(mantissa, decimals) with text == mantissa * 10**-decimals, exactly.

    Raises decimal.InvalidOperation for text that is not a finite number.
    """
    dot = text.find(".")
    if dot >= 0 and text.isascii():
        whole, frac = text[:dot], text[dot + 1 :]
        if frac.isdigit() and (whole.isdigit() or (whole[:1] == "-" and whole[1:].isdigit())):
            return int(whole + frac), len(frac)
    elif text.isdigit() and text.isascii():
        return int(text), 0
    sign, digits, exponent = Decimal(text).as_tuple()
    if not isinstance(exponent, int):  # NaN, Infinity: no place in an order
        raise InvalidOperation(f"not a finite price: {text!r}")
    mantissa = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    if exponent >= 0:
        return mantissa * 10**exponent, 0
    return mantissa, -exponent


class Side:
    """The levels of one side (bids or asks); see the module docstring."""

    __slots__ = (
        "_canon",
        "_keys",
        "bound",
        "levels",
        "order",
        "pending",
        "scale",
        "sign",
        "text_of",
    )

    def __init__(self, *, bids: bool) -> None:
        self.levels: dict[str, str] = {}  # canonical price text -> quantity text (live levels)
        self.pending: list[str] = []  # price texts added since the last fold (maybe repeated)
        self.order: list[int] = []  # sorted keys, best last; a key may outlive its level
        self.text_of: dict[int, str] = {}  # key -> price text, for every key in `order`
        self.sign = 1 if bids else -1
        self.scale = 8  # decimals in a key (Binance's prices have at most 8)
        self.bound: int | None = None  # the worst key a snapshot covered: reads stop there
        self._canon: dict[str, str] = {}  # price text as received -> canonical text
        self._keys: dict[str, int] = {}  # canonical text -> key at the current scale

    def apply(self, rows: list[Any]) -> None:
        """Apply `[price, quantity]` rows: absolute quantities, a zero one removes the level."""
        levels, canon = self.levels, self._canon
        get, pop, note = canon.get, levels.pop, self.pending.append
        for row in rows:
            raw, qty = row[0], row[1]
            price = get(raw)
            if price is None:
                price = _canon(raw)
                if len(canon) >= _CACHE_MAX:
                    canon.clear()
                canon[raw] = price
            if qty != _ZERO and qty.strip("0."):
                if price not in levels:
                    note(price)
                levels[price] = qty
            else:
                pop(price, None)
        if len(self.pending) > 1024 + len(levels):
            self.fold()  # bounded memory for a book nobody reads

    def set_bound(self, covered: bool) -> None:
        """After a snapshot: `covered` (it held its whole `limit`) stops reads at its worst price."""
        self.fold()
        self.bound = self.order[0] if covered and self.order else None

    # -- reads -------------------------------------------------------------------------------
    def best(self) -> Level | None:
        """The best level within the bound, or None."""
        if self.pending:
            self.fold()
        order, text_of, levels = self.order, self.text_of, self.levels
        while order:
            key = order[-1]
            price = text_of[key]
            qty = levels.get(price)
            if qty is None:  # the level has gone since it was folded in: drop its key
                del text_of[order.pop()]
                continue
            if self.bound is not None and key < self.bound:
                return None
            return Decimal(price), Decimal(qty)
        return None

    def top(self, depth: int | None = None) -> list[Level]:
        """The best `depth` levels (all of them when None), best first, within the bound."""
        if self.pending:
            self.fold()
        if depth is not None and depth <= 0:
            return self.top()[:depth] if depth else []  # a list slice's meaning, as before
        order, text_of, levels = self.order, self.text_of, self.levels
        stop = 0 if self.bound is None else bisect_left(order, self.bound)
        out: list[Level] = []
        for i in range(len(order) - 1, stop - 1, -1):
            price = text_of[order[i]]
            qty = levels.get(price)
            if qty is not None:
                out.append((Decimal(price), Decimal(qty)))
                if len(out) == depth:
                    break
        return out

    # -- keeping `order` -------------------------------------------------------------------
    def fold(self) -> None:
        """Put the pending prices into `order` (raises on a price that is not a number, leaving
        the side as it was: every read fails until that level goes, as a sort would)."""
        levels, text_of, keys = self.levels, self.text_of, self._keys
        fresh: list[tuple[str, int]] = []
        for price in dict.fromkeys(self.pending):
            if price not in levels:
                continue
            key = keys.get(price)
            if key is None:
                mantissa, decimals = _parse(price)
                if decimals > self.scale:
                    self._rescale(decimals)
                    self.fold()  # start again at the new scale
                    return
                key = mantissa * 10 ** (self.scale - decimals) * self.sign
                if len(keys) >= _CACHE_MAX:
                    keys.clear()
                keys[price] = key
            if key not in text_of:
                fresh.append((price, key))
        self.pending.clear()
        order = self.order
        for price, key in fresh:
            text_of[key] = price
        if len(fresh) <= 64:
            for _, key in fresh:
                insort(order, key)
        else:
            order.extend(key for _, key in fresh)
            order.sort()
        if len(order) > 2 * len(levels) + 64:
            self._compact()

    def _compact(self) -> None:
        """Drop the keys of levels that have gone (they pile up deep in a moving book)."""
        levels, text_of = self.levels, self.text_of
        keep = [key for key in self.order if text_of[key] in levels]
        self.order = keep
        self.text_of = {key: text_of[key] for key in keep}

    def _rescale(self, decimals: int) -> None:
        factor = 10 ** (decimals - self.scale)
        self.scale = decimals
        self.order = [key * factor for key in self.order]
        self.text_of = {key * factor: text for key, text in self.text_of.items()}
        if self.bound is not None:
            self.bound *= factor
        self._keys.clear()
