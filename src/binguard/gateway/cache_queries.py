"""Which of a bot's account and order queries the keys-mode caches answer, and the answers.

Only queries the caches can answer exactly as Binance would (rest-api.md §Account information,
§Query order): known parameters only, a valid `recvWindow`; anything else (None) is forwarded.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qsl

from .account_cache import AccountCache
from .order_cache import OrderCache

_COMMON: Final = frozenset({"recvWindow", "timestamp", "signature"})


def query_params(query: str) -> dict[str, str] | None:
    """A query string's parameters; None when a name repeats."""
    pairs = parse_qsl(query, keep_blank_values=True)
    params = dict(pairs)
    return None if len(params) != len(pairs) else params  # a repeated name: Binance decides


def account_answer(cache: AccountCache, params: dict[str, str]) -> bytes | None:
    """`GET /api/v3/account` from the cache, or None."""
    if not params.keys() <= _COMMON | {"omitZeroBalances"}:
        return None
    omit = params.get("omitZeroBalances", "false").lower()
    if omit not in ("true", "false") or not _recv_window_ok(params):
        return None
    return cache.answer(omit == "true")


def order_answer(cache: OrderCache, params: dict[str, str]) -> bytes | None:
    """`GET /api/v3/order` from the cache, or None."""
    if not params.keys() <= _COMMON | {"symbol", "orderId", "origClientOrderId"}:
        return None
    order_id = params.get("orderId")
    if order_id is not None and not order_id.isdigit():
        return None
    if not _recv_window_ok(params) or "symbol" not in params:
        return None
    return cache.answer(
        params["symbol"],
        None if order_id is None else int(order_id),
        params.get("origClientOrderId"),
    )


def _recv_window_ok(params: dict[str, str]) -> bool:
    """rest-api.md: recvWindow is a decimal no greater than 60000; else Binance answers."""
    raw = params.get("recvWindow")
    if raw is None:
        return True
    try:
        return 0 < float(raw) <= 60000
    except ValueError:
        return False
