"""The budget's own refusals: typed like Binance's rate-limit errors, but nothing was sent.

Both say `may_have_executed=False` and carry no HTTP status, so callers (and the retry policy)
can tell them from a real 429/418 while `except RateLimitedError` / `except IpBannedError`
still catch them.
"""

from __future__ import annotations

from binguard.backends import Limit
from binguard.errors import IpBannedError, RateLimitedError


class BudgetExhaustedError(RateLimitedError):
    """Refused locally, nothing sent: the budget has no room before the caller's deadline.

    `retry_after` is how long the wait would have been (None: the request can never fit).
    """

    def __init__(self, msg: str, *, wait: float | None, limit: Limit | None = None) -> None:
        values = (str(limit.limit), str(limit.interval)) if limit else ()
        super().__init__(
            msg,
            retry_after=wait,
            values=values,
            param_names=("limit", "interval") if limit else (),
            may_have_executed=False,
        )


class BanInForceError(IpBannedError):
    """Refused locally, nothing sent: the IP is banned; requests go again at `banned_until`
    (the ban's stated end plus the budget's BAN_MARGIN_MS, see policy/budget.py)."""

    def __init__(self, until_ms: int, now_ms: int) -> None:
        super().__init__(
            f"IP banned until {until_ms}; refused locally, nothing was sent.",
            retry_after=max(0, until_ms - now_ms) / 1000,
            values=(str(until_ms),),
            param_names=("banned_until",),
            may_have_executed=False,
        )
