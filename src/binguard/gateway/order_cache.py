"""Keys mode's order cache: one real key's orders, as `GET /api/v3/order` would show them.

An entry's *shape* is the order in rest-api.md §Query order's form. It comes from an
`executionReport` (user-data-stream.md §Order Update: every report carries the order's whole
state) or from an upstream answer to a query; the answers to placements and cancels (ACK, RESULT,
FULL; rest-api.md §New order, §Cancel order) teach the order's ids and how far it has got, never
its shape. An entry answers only while its shape has got at least as far as anything seen of the
order (`_Progress`: status rank, then executed quantity), so a bot that was told FILLED by a
placement answer is never answered NEW from an older report.

The cache is only as fresh as the stream: the owner (userdata.py) clears it on every gap and
feeds it upstream answers only when the subscription held across the request.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import orjson

# rest-api.md §Query order: the fields always shown, from the report's letters
_ALWAYS: Final = (
    ("symbol", "s"),
    ("orderId", "i"),
    ("orderListId", "g"),
    ("clientOrderId", "c"),
    ("price", "p"),
    ("origQty", "q"),
    ("executedQty", "z"),
    ("cummulativeQuoteQty", "Z"),
    ("status", "X"),
    ("timeInForce", "f"),
    ("type", "o"),
    ("side", "S"),
    ("stopPrice", "P"),
    ("icebergQty", "F"),
    ("time", "O"),
    ("updateTime", "T"),
    ("isWorking", None),
    ("workingTime", "W"),
    ("origQuoteOrderQty", "Q"),
    ("selfTradePreventionMode", "V"),
)
# §Conditional fields in Order Responses, from the report's conditional letters
_CONDITIONAL: Final = (
    ("preventedMatchId", "v"),
    ("preventedQuantity", "A"),
    ("strategyId", "j"),
    ("strategyType", "J"),
    ("trailingDelta", "d"),
    ("trailingTime", "D"),
    ("expiryReason", "eR"),
    ("usedSor", "uS"),  # an order placed with SOR: "two extra fields" (faqs/sor_faq.md)
    ("workingFloor", "k"),
)
# A report with any other letter (pegged orders, allocations) is not shaped: its query goes
# upstream.
_KNOWN: Final = frozenset(
    {"e", "E", "s", "c", "S", "o", "f", "q", "p", "P", "F", "g", "C", "x", "X", "r", "i", "l",
     "z", "L", "n", "N", "T", "t", "I", "w", "m", "M", "O", "Z", "Y", "Q", "W", "V", "v", "A",
     "B", "u", "U", "Cs", "pl", "pL", "pY", "j", "J", "d", "D", "eR", "uS", "k"}
)  # fmt: skip
_RANK: Final = {"PENDING_NEW": 0, "NEW": 0, "PARTIALLY_FILLED": 1, "PENDING_CANCEL": 2}
_FINAL_RANK = 3  # FILLED, CANCELED, EXPIRED, EXPIRED_IN_MATCH, REJECTED
CAPACITY = 20_000  # orders kept per real key; the oldest learnt goes first

_Progress = tuple[int, Decimal]


def _progress(status: object, executed: object) -> _Progress | None:
    if not isinstance(status, str):
        return None
    try:
        qty = Decimal(str(executed))
    except InvalidOperation:
        return None
    return _RANK.get(status, _FINAL_RANK), qty


@dataclass(slots=True)
class _Entry:
    shape: dict[str, Any] | None = None
    shaped: _Progress | None = None  # how far `shape` has got
    seen: _Progress | None = None  # the furthest seen from any source


class OrderCache:
    """Orders by (symbol, orderId), with (symbol, clientOrderId) → orderId beside."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._orders: OrderedDict[tuple[str, int], _Entry] = OrderedDict()
        self._ids: dict[tuple[str, str], int] = {}
        self._capacity = capacity

    def __len__(self) -> int:
        return len(self._orders)

    def clear(self) -> None:
        self._orders.clear()
        self._ids.clear()

    def answer(self, symbol: str, order_id: int | None, client_id: str | None) -> bytes | None:
        """The query answer for a known order whose shape is current, else None (go upstream).
        Both ids given: the order found by `order_id` must carry `client_id` (rest-api.md)."""
        if order_id is None:
            if client_id is None:
                return None
            order_id = self._ids.get((symbol, client_id))
            if order_id is None:
                return None
        entry = self._orders.get((symbol, order_id))
        if entry is None or entry.shape is None or entry.shaped is None:
            return None
        if entry.seen is not None and entry.shaped < entry.seen:
            return None  # something newer was seen (a placement or cancel answer): not stale
        if client_id is not None and entry.shape.get("clientOrderId") != client_id:
            return None  # Binance refuses the pair: let it say so
        return orjson.dumps(entry.shape)

    def on_report(self, event: dict[str, Any]) -> None:
        """An `executionReport`: the order's whole state (or, unshapeable, how far it got)."""
        symbol, order_id = event.get("s"), event.get("i")
        if not isinstance(symbol, str) or not isinstance(order_id, int):
            return
        entry = self._entry(symbol, order_id)
        reached = _progress(event.get("X"), event.get("z"))
        original = event.get("C")
        client: object
        if event.get("x") == "CANCELED" and isinstance(original, str) and original:
            client = original  # "c" is the cancel request's own id
        else:
            client = event.get("c")
            if isinstance(original, str) and original and original != client:
                self._ids.pop((symbol, original), None)  # REPLACED: the order's id changed
        if isinstance(client, str):
            self._ids[(symbol, client)] = order_id
        shape = _shape(event, client)
        self._see(entry, reached)
        if shape is None or reached is None:
            entry.shape = entry.shaped = None
        else:
            self._keep(entry, shape, reached)

    def on_answer(self, body: Any) -> None:
        """An upstream answer about an order (query, placement, cancel; or a list of them)."""
        if isinstance(body, list):
            for item in body:
                self.on_answer(item)
            return
        if not isinstance(body, dict):
            return
        for report in body.get("orderReports") or ():
            self.on_answer(report)
        symbol, order_id = body.get("symbol"), body.get("orderId")
        if not isinstance(symbol, str) or not isinstance(order_id, int):
            return
        entry = self._entry(symbol, order_id)
        client = body.get("origClientOrderId") or body.get("clientOrderId")
        if isinstance(client, str):
            self._ids[(symbol, client)] = order_id
        reached = _progress(body.get("status"), body.get("executedQty"))
        self._see(entry, reached)
        if reached is not None and {"time", "updateTime", "isWorking"} <= body.keys():
            self._keep(entry, dict(body), reached)  # a query answer: the shape itself

    def _entry(self, symbol: str, order_id: int) -> _Entry:
        key = (symbol, order_id)
        entry = self._orders.get(key)
        if entry is None:
            entry = self._orders[key] = _Entry()
            while len(self._orders) > self._capacity:
                (old_symbol, _), gone = self._orders.popitem(last=False)
                held = gone.shape.get("clientOrderId") if gone.shape else None
                if isinstance(held, str):
                    self._ids.pop((old_symbol, held), None)
        return entry

    @staticmethod
    def _see(entry: _Entry, reached: _Progress | None) -> None:
        if reached is not None and (entry.seen is None or reached > entry.seen):
            entry.seen = reached

    @staticmethod
    def _keep(entry: _Entry, shape: dict[str, Any], reached: _Progress) -> None:
        """Keep `shape` unless the one held has got further (or as far, and is newer)."""
        if entry.shape is not None and entry.shaped is not None:
            if reached < entry.shaped:
                return
            if reached == entry.shaped and _updated(shape) < _updated(entry.shape):
                return
        entry.shape, entry.shaped = shape, reached


def _updated(shape: dict[str, Any]) -> int:
    value = shape.get("updateTime")
    return value if isinstance(value, int) else 0


def _shape(event: dict[str, Any], client: object) -> dict[str, Any] | None:
    """The query shape of a report, or None when the report cannot be shaped exactly (an
    unknown letter; no working time: an untriggered stop's workingTime is not in the report)."""
    if not _KNOWN.issuperset(event) or "W" not in event or not isinstance(client, str):
        return None
    out: dict[str, Any] = {}
    for name, letter in _ALWAYS:
        if letter is None:
            out[name] = True  # working: "W" is "only visible if the order has been placed"
        elif letter == "c":
            out[name] = client
        elif letter in event:
            out[name] = event[letter]
        else:
            return None
    for name, letter in _CONDITIONAL:
        if letter in event:
            out[name] = event[letter]
    return out
