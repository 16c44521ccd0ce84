"""Errors built from what the input shapes found: a (code, msg) pair, or an HTTP status alone.

Shared by the body, text and foreign-exception readers; it reads no input itself. The HTTP status,
when there is one, refines the class the code gives (a 418 is a ban whatever the body says).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ._catalog import Template, catalog
from ._exceptions import (
    BinanceError,
    ExecutionUnknownError,
    IpBannedError,
    RateLimitedError,
    UnclassifiedError,
    WafBlockedError,
    error_class,
)
from ._headers import RateHeaders
from ._params import RequestInfo, redact_text

Match = tuple[type[BinanceError], Template | None, tuple[str, ...]]

# (code, msg) -> (class, template, values): Binance's error bodies repeat, and matching a message
# against its templates is the costly part of classification. Bounded; cleared when full.
_MATCH_MEMO: dict[tuple[int | None, str], Match] = {}
_MATCH_MEMO_SIZE = 4096
_MATCH_MEMO_MAX_LEN = 512  # Binance's messages are shorter; a huge one is not kept


def match(code: int | None, msg: str) -> Match:
    """The class, template and placeholder values for a (code, msg) pair (memoised)."""
    key = (code, msg)
    hit = _MATCH_MEMO.get(key)
    if hit is not None:
        return hit
    template: Template | None = None
    values: tuple[str, ...] = ()
    if code is not None:
        entry = catalog().get(code)
        found = entry.match(msg) if entry is not None else None
        if found is not None:
            template, values = found
    result = (error_class(code, template), template, values)
    if len(msg) <= _MATCH_MEMO_MAX_LEN:
        if len(_MATCH_MEMO) >= _MATCH_MEMO_SIZE:
            _MATCH_MEMO.clear()
        _MATCH_MEMO[key] = result
    return result


def error_from(
    code: int | None,
    msg: str,
    *,
    status: int | None = None,
    rate: RateHeaders | None = None,
    request: RequestInfo | None = None,
    data: Mapping[str, Any] | None = None,
    retry_after: float | None = None,
    hit: tuple[Template, tuple[str, ...]] | None = None,
) -> BinanceError:
    """Build the error for a (code, msg) pair, letting the HTTP status refine the class.

    `hit` is the template match when the caller already found it (log lines). The message is
    foreign text (a body, a proxy's page, a log line): secrets in it never reach the error."""
    msg = redact_text(msg)
    if hit is None:
        cls, template, values = match(code, msg)
    else:
        template, values = hit
        cls = error_class(code, template)
    may_have_executed: bool | None = None
    if status is not None:
        if status == 418:
            cls = IpBannedError
        elif status == 429 and not issubclass(cls, RateLimitedError):
            cls = RateLimitedError
        elif status == 403 and code is None:
            cls = WafBlockedError
        elif status >= 500:
            may_have_executed = True
            if code is None:
                cls = ExecutionUnknownError
    if rate is not None and retry_after is None:
        retry_after = rate.retry_after
    return cls._fast(
        msg,
        code,
        template,
        values,
        status,
        retry_after,
        rate.used_weight if rate is not None else None,
        rate.order_count if rate is not None else None,
        request,
        data,
        may_have_executed,
    )


def from_status(
    status: int, msg: str, rate: RateHeaders | None, request: RequestInfo | None
) -> BinanceError:
    """A failed response whose body names no Binance code (HTML pages, empty bodies, proxies)."""
    msg = redact_text(msg)
    cls: type[BinanceError]
    may_have_executed: bool | None = None
    if status == 418:
        cls = IpBannedError
    elif status == 429:
        cls = RateLimitedError
    elif status == 403:
        cls = WafBlockedError
    elif status >= 500:
        cls = ExecutionUnknownError
        may_have_executed = True
    else:
        cls = UnclassifiedError
    return cls(
        msg,
        http_status=status,
        retry_after=rate.retry_after if rate is not None else None,
        used_weight=rate.used_weight if rate is not None else None,
        order_count=rate.order_count if rate is not None else None,
        request=request,
        received_at=time.time(),
        may_have_executed=may_have_executed,
    )


__all__ = ["error_from", "from_status", "match"]
