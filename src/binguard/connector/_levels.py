"""One side of a local order book: exact prices, updates at dict speed, best-first reads, no sort.

`levels` maps each price, as its "house text" (the price with exactly `decimals` decimals, as
Binance renders it: '30000.01000000'), to its quantity text. An update is one `dict.update` of
the event's rows: a zero quantity stays in `levels` as a removed level (a tombstone) until a read
or a compaction drops it, and the prices that were new to `levels` are found as its last
entries (a dict keeps insertion order). Only those are checked: a price rendered otherwise
('30000.01', '3.0000001E+4') sends the event down the row-by-row path, which maps every price to
its house text first, so one price is always one level.

Reads (`best`, `top`) first fold the new prices into `order`, a list of exact integer keys
(price * 10**decimals, negated on the ask side) kept sorted with the best price LAST: bisect +
`list.insert` moves only the entries above the insertion point, a handful near the top of the
book, where a market's updates are. Then they walk `order` from the end, dropping removed levels
found there. The best level costs O(1) amortized, the top N O(N + log n) plus the removed levels
skipped (compacted away once they could double the side).

Reads return what the book always returned: Decimal of the price text with trailing zeros
stripped, Decimal of the quantity text.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any

from .models import Level

_CACHE_MAX = 1 << 14  # prices each cache remembers (several times a deep book); then forgets
_ZERO = "0.00000000"  # Binance's rendering of a removed level's quantity
_COMPACT_SLACK = 1024
_KEEP_REMOVED = 4  # removed levels best() steps over at the top before dropping them


def _canon(price: str) -> str:
    """The price text a read shows: trailing zeros stripped ('30000.01000000' -> '30000.01')."""
    if "." in price:
        price = price.rstrip("0")
        if price[-1] == ".":
            price = price[:-1]
    return price


def _removed(qty: str) -> bool:
    """A quantity of zero, in any rendering."""
    return qty == _ZERO or not qty.strip("0.")


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
    if not isinstance(exponent, int):  # NaN, Infinity: no place in an order book
        raise InvalidOperation(f"not a finite price: {text!r}")
    mantissa = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    if exponent >= 0:
        return mantissa * 10**exponent, 0
    return mantissa, -exponent


class Side:
    """The levels of one side (bids or asks); see the module docstring."""

    __slots__ = (
        "_compact_at",
        "_house",
        "_keys",
        "_prices",
        "_rebuild",
        "_shown",
        "bound",
        "decimals",
        "levels",
        "order",
        "pending",
        "sign",
        "text_of",
    )

    def __init__(self, *, bids: bool) -> None:
        self.levels: dict[str, str] = {}  # house text -> quantity text (zero: removed)
        self.pending: list[str] = []  # house texts new to `levels` since the last fold
        self.order: list[int] = []  # keys of the folded levels, sorted, best last
        self.text_of: dict[int, str] = {}  # key -> house text, for every key in `order`
        self.sign = 1 if bids else -1
        self.decimals = 8  # of a house text: Binance's; more if a price ever needs more
        self.bound: int | None = None  # the worst key a snapshot covered: reads stop there
        self._house: dict[str, str] = {}  # price text as received -> house text
        self._keys: dict[str, int] = {}  # house text -> key
        self._prices: dict[int, Decimal] = {}  # key -> the Decimal a read shows
        self._rebuild = False  # `order` is to be rebuilt from `levels` (after a rescale)
        self._compact_at = _COMPACT_SLACK
        self._shown: tuple[int, str, Level] | None = None  # best()'s last answer: key, qty, level

    # -- updates ----------------------------------------------------------------------------
    def apply(self, rows: list[Any]) -> None:
        """Apply `[price, quantity]` rows: absolute quantities, a zero one removes the level."""
        levels = self.levels
        before = len(levels)
        try:
            levels.update(rows)
        except (TypeError, ValueError):  # a row that is not a pair: row by row, as it says
            self._apply_rows(rows, before)
            return
        added = len(levels) - before
        if added:
            new = list(islice(reversed(levels), added))
            for text in new:
                if self._normal(text) != text:
                    self._apply_rows(rows, before)  # another rendering: map every price
                    return
            self.pending += new
            if len(levels) > self._compact_at:
                self._compact()

    def _apply_rows(self, rows: list[Any], before: int) -> None:
        """The event again, row by row, every price as its house text (undoing a partial
        `dict.update` first: replaying absolute quantities in order gives the same levels)."""
        levels = self.levels
        for text in list(islice(reversed(levels), len(levels) - before)):
            del levels[text]
        for row in rows:
            raw, qty = row[0], row[1]
            levels[self._normal(raw) or self._widen(raw)] = qty
        if not self._rebuild:
            self.pending += islice(reversed(levels), len(levels) - before)

    def _normal(self, raw: str) -> str | None:
        """The house text of `raw`, or None when it is no number or needs more decimals."""
        text = self._house.get(raw)
        if text is not None:
            return text
        try:
            mantissa, decimals = _parse(raw)
        except (InvalidOperation, ValueError, TypeError, AttributeError):
            return None
        while decimals > self.decimals and mantissa % 10 == 0:
            mantissa, decimals = mantissa // 10, decimals - 1
        if decimals > self.decimals:
            return None
        digits = str(abs(mantissa) * 10 ** (self.decimals - decimals)).rjust(self.decimals + 1, "0")
        sign = "-" if mantissa < 0 else ""
        split = len(digits) - self.decimals
        text = f"{sign}{digits[:split]}.{digits[split:]}" if self.decimals else sign + digits
        if len(self._house) >= _CACHE_MAX:
            self._house.clear()
        self._house[raw] = text
        return text

    def _widen(self, raw: str) -> str:
        """`raw` needs more decimals than the house texts have: rescale everything. Something
        that is no number is kept as it came (reads fail while it is there, as a sort would)."""
        try:
            _, decimals = _parse(raw)
        except (InvalidOperation, ValueError, TypeError, AttributeError):
            return raw
        factor = 10 ** (decimals - self.decimals)
        self.decimals = decimals
        self._house.clear()
        self._keys.clear()
        self._prices.clear()
        self._shown = None
        levels = self.levels
        rows = list(levels.items())
        levels.clear()
        for text, qty in rows:
            levels[self._normal(text) or text] = qty
        if self.bound is not None:
            self.bound *= factor
        self._rebuild = True
        self.pending.clear()
        return self._normal(raw) or raw

    def set_bound(self, covered: bool) -> None:
        """After a snapshot: `covered` (it held its whole `limit`) stops reads at its worst price."""
        self.fold()
        self.bound = self.order[0] if covered and self.order else None

    # -- reads -------------------------------------------------------------------------------
    def best(self) -> Level | None:
        """The best level within the bound, or None.

        Removed levels found at the top are skipped, up to `_KEEP_REMOVED` of them, and left
        in place: a price removed at the top is often quoted again soon, and then it is a plain
        update. Past that many they are dropped, so a book moving away from them stays O(1)."""
        if self.pending or self._rebuild:
            self.fold()
        order, text_of, levels = self.order, self.text_of, self.levels
        i = len(order) - 1
        while i >= 0:
            key = order[i]
            text = text_of[key]
            qty = levels[text]
            shown = self._shown
            if shown is not None and shown[0] == key and shown[1] is qty:
                return shown[2]  # the level and quantity of last time: the same answer
            if qty == _ZERO or not qty.strip("0."):  # removed since it was folded in
                if len(order) - i > _KEEP_REMOVED:
                    for gone in order[i:]:
                        del levels[text_of.pop(gone)]
                    del order[i:]
                i -= 1
                continue
            if self.bound is not None and key < self.bound:
                return None
            level = (self._price(key, text), Decimal(qty))
            self._shown = (key, qty, level)
            return level
        return None

    def top(self, depth: int | None = None) -> list[Level]:
        """The best `depth` levels (all of them when None), best first, within the bound."""
        if self.pending or self._rebuild:
            self.fold()
        if depth is not None and depth <= 0:
            return self.top()[:depth] if depth else []  # a list slice's meaning, as before
        order, text_of, levels = self.order, self.text_of, self.levels
        stop = 0 if self.bound is None else bisect_left(order, self.bound)
        out: list[Level] = []
        for i in range(len(order) - 1, stop - 1, -1):
            key = order[i]
            text = text_of[key]
            qty = levels[text]
            if not _removed(qty):
                out.append((self._price(key, text), Decimal(qty)))
                if len(out) == depth:
                    break
        return out

    # -- keeping `order` ---------------------------------------------------------------------
    def _key(self, text: str) -> int:
        """The exact integer key of a house text (remembered: prices come back)."""
        key = self._keys.get(text)
        if key is None:
            mantissa, decimals = _parse(text)
            scale: int = 10 ** (self.decimals - decimals)  # decimals <= self.decimals
            key = mantissa * scale * self.sign
            if len(self._keys) >= _CACHE_MAX:
                self._keys.clear()
            self._keys[text] = key
        return key

    def _price(self, key: int, text: str) -> Decimal:
        """The price a read shows for a level (remembered: the top is read again and again)."""
        price = self._prices.get(key)
        if price is None:
            price = Decimal(_canon(text))
            if len(self._prices) >= _CACHE_MAX:
                self._prices.clear()
            self._prices[key] = price
        return price

    def fold(self) -> None:
        """Put the new prices into `order` (raises on a price that is not a number, `order` left
        as it was: every read fails until that level goes, as a sort would)."""
        if self._rebuild:
            self._rebuild_order()
            return
        levels, text_of = self.levels, self.text_of
        fresh: list[tuple[int, str]] = []
        for text in self.pending:
            qty = levels.get(text)
            if qty is None:
                continue
            if _removed(qty):  # the removal of a level this side never had
                del levels[text]
                continue
            fresh.append((self._key(text), text))
        self.pending.clear()
        order = self.order
        for key, text in fresh:
            text_of[key] = text
        if len(fresh) <= 64:
            for key, _ in fresh:
                insort(order, key)
        else:
            order.extend(key for key, _ in fresh)
            order.sort()

    def _rebuild_order(self) -> None:
        levels = self.levels
        for text in [text for text, qty in levels.items() if _removed(qty)]:
            del levels[text]
        keyed = sorted((self._key(text), text) for text in levels)
        self.order = [key for key, _ in keyed]
        self.text_of = dict(keyed)
        self.pending.clear()
        self._rebuild = False

    def _compact(self) -> None:
        """Drop removed levels, folded or not: they pile up where a moving book has been."""
        levels, text_of = self.levels, self.text_of
        for text in [text for text, qty in levels.items() if _removed(qty)]:
            del levels[text]
        self.order = [key for key in self.order if text_of[key] in levels]
        self.text_of = {key: text_of[key] for key in self.order}
        self.pending = [text for text in self.pending if text in levels]
        self._compact_at = 2 * len(levels) + _COMPACT_SLACK
