"""Rate-limit facts from the two shapes Binance sends them in: REST headers and WebSocket
`rateLimits` arrays. Both give the same `RateHeaders`, so the budget reads one shape.

REST: `X-MBX-USED-WEIGHT-(intervalNum)(intervalLetter)`, `X-MBX-ORDER-COUNT-...` and `Retry-After`
(rest-api.md, "LIMITS"). WebSocket API: `rateLimits: [{rateLimitType, interval, intervalNum,
limit, count}]` (web-socket-api.md, "Rate limits").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._params import Interval


@dataclass(frozen=True, slots=True)
class RateHeaders:
    """The rate-limit facts of one response: used weight, order counts and Retry-After."""

    used_weight: Mapping[str, int]
    order_count: Mapping[str, int]
    retry_after: float | None


_WEIGHT_PREFIX = "x-mbx-used-weight-"
_ORDER_PREFIX = "x-mbx-order-count-"
_PREFIX_LEN = len(_WEIGHT_PREFIX)  # == len(_ORDER_PREFIX): 18 characters each


def parse_rate_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
) -> RateHeaders:
    """Read X-MBX-USED-WEIGHT-*, X-MBX-ORDER-COUNT-* and Retry-After, whatever the header case.
    A value that is not a count (or, for Retry-After, a non-negative number) is passed over."""
    weight: dict[str, int] = {}
    orders: dict[str, int] = {}
    retry_after: float | None = None
    if not headers:
        return RateHeaders(weight, orders, None)
    items = headers.items() if isinstance(headers, Mapping) else headers
    for raw_key, raw_value in items:  # runs for every response: kept lean
        key = raw_key.lower() if type(raw_key) is str else str(raw_key).lower()
        if key.startswith("x-mbx-"):
            if key.startswith(_WEIGHT_PREFIX):
                table = weight
            elif key.startswith(_ORDER_PREFIX):
                table = orders
            else:
                continue
            value = (raw_value if type(raw_value) is str else str(raw_value)).strip()
            # isascii(): "²" and other Unicode digits pass isdigit() but int() refuses them.
            if value.isascii() and value.isdigit():
                table[key[_PREFIX_LEN:].upper()] = int(value)
        elif key == "retry-after":
            try:
                seconds = float(str(raw_value).strip())
            except ValueError:
                continue
            if seconds == seconds and seconds >= 0:  # not NaN
                retry_after = seconds
    return RateHeaders(weight, orders, retry_after)


def foreign_rate(headers: Any) -> RateHeaders | None:
    """parse_rate_headers() for another library's headers object, whose methods may raise
    anything: None when it is missing, empty or cannot be read."""
    try:
        return parse_rate_headers(headers) if headers else None
    except Exception:  # noqa: BLE001 - a foreign object's failure means "no headers", not ours
        return None


def parse_rate_limits(rate_limits: Any) -> RateHeaders:
    """The WebSocket API's `rateLimits` array as RateHeaders (keyed like the REST headers: '1M',
    '10S', '1D'). Items that are not well-formed are passed over; Retry-After has no equivalent."""
    weight: dict[str, int] = {}
    orders: dict[str, int] = {}
    if isinstance(rate_limits, list):
        for item in rate_limits:
            if not isinstance(item, Mapping):
                continue
            count = as_int(item.get("count"))
            interval = Interval.parse(f"{item.get('intervalNum', '')} {item.get('interval', '')}")
            if count is None or interval is None:
                continue
            if item.get("rateLimitType") == "REQUEST_WEIGHT":
                weight[interval.letter] = count
            elif item.get("rateLimitType") == "ORDERS":
                orders[interval.letter] = count
    return RateHeaders(weight, orders, None)


_INT_TEXT = re.compile(r"\s*-?\d{1,9}\s*")


def as_int(value: Any) -> int | None:
    """A JSON integer, or a string holding one (up to 9 digits); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_TEXT.fullmatch(value):
        return int(value)
    return None


__all__ = ["RateHeaders", "as_int", "foreign_rate", "parse_rate_headers", "parse_rate_limits"]
