"""Rate limits as Binance counts them (rest-api.md §LIMITS; web-socket-api.md §rate limits).

- REQUEST_WEIGHT and RAW_REQUESTS per client IP, ORDERS (the unfilled order count) per account.
- Fixed windows aligned to interval boundaries of (server) UTC time: a window's index is
  `now_ms // length_ms`, so 1 MINUTE resets at :00 and 1 DAY at 00:00 UTC.
- Over the weight limit: 429, -1003 "Too much request weight used; ...", Retry-After = seconds
  to the window's end. Requests that keep coming while over the limit in that window earn a 418
  ban, "IP banned until <ms>", with durations escalating per repeat (2 minutes ... 3 days,
  scaled). Retry-After on a 418 is the seconds until the ban ends.
- ORDERS over the limit: 429 -1015 with Retry-After, the seconds until the exhausted window ends
  (rest-api.md §Unfilled Order Count: "a 429 error with the `Retry-After` header"). The first
  fill of an order lowers every ORDERS count by one, never below zero; once the DAY count is over,
  the SECOND counts stop growing (CHANGELOG 2025-04-07).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .config import LimitsConfig, RateLimitSpec
from .errors import SimError

UNIT_MS = {"SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}
LETTER = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}


@dataclass(slots=True)
class Window:
    """One fixed-window counter."""

    spec: RateLimitSpec
    length_ms: int
    index: int = -1
    count: int = 0

    def current(self, now_ms: int) -> int:
        idx = now_ms // self.length_ms
        if idx != self.index:
            self.index, self.count = idx, 0
        return self.count

    def add(self, amount: int, now_ms: int) -> int:
        self.current(now_ms)
        self.count += amount
        return self.count

    def ms_to_reset(self, now_ms: int) -> int:
        return (now_ms // self.length_ms + 1) * self.length_ms - now_ms

    @property
    def header_suffix(self) -> str:
        return f"{self.spec.interval_num}{LETTER[self.spec.interval]}"

    @property
    def label(self) -> str:
        return f"{self.spec.interval_num} {self.spec.interval}"


def _windows(specs: tuple[RateLimitSpec, ...], kind: str) -> list[Window]:
    return [Window(s, s.interval_num * UNIT_MS[s.interval]) for s in specs if s.kind == kind]


@dataclass(slots=True)
class IpState:
    """What the exchange knows about one IP: weight windows, 429 history, bans."""

    weight: list[Window]
    raw: list[Window]
    over_index: int | None = None  # window index in which this IP was told 429
    requests_over: int = 0
    ban_level: int = 0
    banned_until_ms: int = 0
    bans: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The limiter's answer for one request: headers to send, and an error if refused."""

    headers: dict[str, str]
    error: SimError | None = None


class RateLimiter:
    """Weight per IP and order counts per account."""

    def __init__(self, config: LimitsConfig) -> None:
        self.config = config
        self.specs = config.rate_limits
        self.ips: dict[str, IpState] = {}
        self.orders: dict[str, list[Window]] = {}

    def _ip(self, ip: str) -> IpState:
        state = self.ips.get(ip)
        if state is None:
            state = self.ips[ip] = IpState(
                _windows(self.specs, "REQUEST_WEIGHT"), _windows(self.specs, "RAW_REQUESTS")
            )
        return state

    def weight_headers(self, ip: str, now_ms: int) -> dict[str, str]:
        state = self._ip(ip)
        headers = {
            f"X-MBX-USED-WEIGHT-{w.header_suffix}": str(w.current(now_ms)) for w in state.weight
        }
        if state.weight:  # the legacy header python-binance and others still read
            headers["X-MBX-USED-WEIGHT"] = headers[
                f"X-MBX-USED-WEIGHT-{state.weight[0].header_suffix}"
            ]
        return headers

    def banned(self, ip: str, now_ms: int) -> SimError | None:
        """The 418 for a request from a banned IP, or None."""
        state = self._ip(ip)
        if state.banned_until_ms and now_ms < state.banned_until_ms:
            return self._ban_error(state, now_ms)
        if state.banned_until_ms:  # ban over: start afresh, but remember the record
            state.banned_until_ms = 0
            state.over_index = None
            state.requests_over = 0
            for w in state.weight:
                w.index, w.count = -1, 0
        return None

    def _ban_error(self, state: IpState, now_ms: int) -> SimError:
        retry = max(1, math.ceil((state.banned_until_ms - now_ms) / 1000))
        err = SimError.of(-1003, 2, state.banned_until_ms, status=418)
        err.headers["Retry-After"] = str(retry)
        return err

    def charge(self, ip: str, weight: int, now_ms: int) -> Verdict:
        """Count one request of `weight` (also when refused) and decide 200, 429 or 418."""
        state = self._ip(ip)
        banned = self.banned(ip, now_ms)
        if banned is not None:
            return Verdict(self.weight_headers(ip, now_ms), banned)
        for w in state.raw:
            if w.add(1, now_ms) > w.spec.limit:
                return self._over(state, ip, w, now_ms, SimError.of(-1003, 0, status=429))
        for w in state.weight:
            if w.add(weight, now_ms) > w.spec.limit:
                err = SimError.of(-1003, 1, w.spec.limit, w.label, status=429)
                return self._over(state, ip, w, now_ms, err)
        return Verdict(self.weight_headers(ip, now_ms))

    def add_weight(self, ip: str, weight: int, now_ms: int) -> dict[str, str]:
        """Charge weight decided after the fact (failed orders pay; successful ones do not)."""
        for w in self._ip(ip).weight:
            w.add(weight, now_ms)
        return self.weight_headers(ip, now_ms)

    def _over(self, state: IpState, ip: str, w: Window, now_ms: int, err: SimError) -> Verdict:
        index = now_ms // w.length_ms
        if state.over_index == index:
            state.requests_over += 1
            if state.requests_over >= self.config.requests_before_ban:
                self.ban(ip, now_ms)
                return Verdict(self.weight_headers(ip, now_ms), self._ban_error(state, now_ms))
        else:
            state.over_index, state.requests_over = index, 0
        err.headers["Retry-After"] = str(max(1, math.ceil(w.ms_to_reset(now_ms) / 1000)))
        return Verdict(self.weight_headers(ip, now_ms), err)

    def ban(self, ip: str, now_ms: int, seconds: float | None = None) -> int:
        """Ban `ip` for the next step of the ladder (or `seconds`); returns the end in ms."""
        state = self._ip(ip)
        ladder = self.config.ban_ladder_s
        if seconds is None:
            seconds = ladder[min(state.ban_level, len(ladder) - 1)] * self.config.ban_scale
        state.ban_level += 1
        state.banned_until_ms = now_ms + max(1, int(seconds * 1000))
        state.bans.append(state.banned_until_ms)
        return state.banned_until_ms

    # ----- orders -----------------------------------------------------------------------------
    def _orders(self, account: str) -> list[Window]:
        windows = self.orders.get(account)
        if windows is None:
            windows = self.orders[account] = _windows(self.specs, "ORDERS")
        return windows

    def check_order(self, account: str, now_ms: int) -> None:
        """-1015 when one more order would go over an ORDERS limit."""
        for w in self._orders(account):
            if w.current(now_ms) + 1 > w.spec.limit:
                err = SimError.of(-1015, 1, w.spec.limit, w.label)
                err.headers["Retry-After"] = str(max(1, math.ceil(w.ms_to_reset(now_ms) / 1000)))
                raise err

    def count_order(self, account: str, now_ms: int) -> dict[str, str]:
        windows = self._orders(account)
        day_over = any(
            w.spec.interval == "DAY" and w.current(now_ms) >= w.spec.limit for w in windows
        )
        for w in windows:
            if not (day_over and w.spec.interval == "SECOND"):
                w.add(1, now_ms)
        return self.order_headers(account, now_ms)

    def order_filled(self, account: str, now_ms: int) -> None:
        for w in self._orders(account):
            if w.current(now_ms) > 0:
                w.count -= 1

    def order_headers(self, account: str, now_ms: int) -> dict[str, str]:
        return {
            f"X-MBX-ORDER-COUNT-{w.header_suffix}": str(w.current(now_ms))
            for w in self._orders(account)
        }

    def order_usage(self, account: str, now_ms: int) -> list[dict[str, object]]:
        """GET /api/v3/rateLimit/order."""
        return [
            {
                "rateLimitType": "ORDERS",
                "interval": w.spec.interval,
                "intervalNum": w.spec.interval_num,
                "limit": w.spec.limit,
                "count": w.current(now_ms),
            }
            for w in self._orders(account)
        ]

    def snapshot(self, now_ms: int) -> dict[str, object]:
        """Ground truth for the admin API."""
        return {
            "ips": {
                ip: {
                    "weight": {w.header_suffix: w.current(now_ms) for w in s.weight},
                    "banned_until": s.banned_until_ms if s.banned_until_ms > now_ms else None,
                    "ban_level": s.ban_level,
                    "bans": list(s.bans),
                }
                for ip, s in self.ips.items()
            },
            "orders": {
                acct: {w.header_suffix: w.current(now_ms) for w in ws}
                for acct, ws in self.orders.items()
            },
        }
