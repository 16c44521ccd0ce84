"""The side-by-side verdict of `binguard demo --gateway`: the same bots directly, then through
the gateway, judged from the simulator's ground truth (its request log and its orders).

- 429s: answers of 429 the exchange sent (it never saw the gateway's own, local ones);
- bans earned: bans the exchange's limiter imposed, the fault plan's forced ban excepted;
- requests during a ban: requests that reached the exchange while the IP was banned (answered
  418, or hit by a fault meanwhile), but for those arriving within IN_FLIGHT_MS of the ban's
  start: they were on their way before the 418 could reach anyone (a gateway that sends
  nothing once it knows, as tests/gateway/test_breaker.py checks, still has some in flight);
- upstream weight: the weight of every request the exchange received, at rest-api.md's weights
  (the policy's endpoint table), against the weight the bots asked for (their demand);
- orders lost: on the exchange but unknown to their bot, or believed placed and absent;
- orders duplicated: extra exchange orders for one client order id.

The gateway run is clean when its 429s, bans earned, requests during a ban, orders lost and
orders duplicated are all 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from rich.table import Table

from binguard.policy.endpoints import rest_cost

from .bots import BotState

# What each ccxt call the bots make costs (rest-api.md; load_markets is exchangeInfo).
CALL_WEIGHTS = {
    "load_markets": 20,
    "fetch_ohlcv": 2,
    "fetch_ticker": 2,
    "fetch_order_book": 5,  # limit 5
    "fetch_order": 4,
    "create_order": 1,
    "cancel_order": 1,
    "fetch_balance": 20,
}
IN_FLIGHT_MS = 250
SNAPSHOT_EXTRA = 50 - 5  # a gateway book snapshot (limit 1000) over what the log charges depth


@dataclass(frozen=True, slots=True)
class Facts:
    """One run, counted."""

    mode: str
    calls: int
    failed_calls: int
    limited_calls: int  # calls the bots saw refused with 429 or 418 (exchange's or gateway's)
    upstream_requests: int
    upstream_429: int
    bans_earned: int
    requests_during_ban: int
    demand: int
    upstream_weight: int
    orders_placed: int
    orders_on_exchange: int
    orders_unresolved: int
    orders_lost: int
    orders_duplicated: int

    @property
    def clean(self) -> bool:
        return not (
            self.upstream_429
            or self.bans_earned
            or self.requests_during_ban
            or self.orders_lost
            or self.orders_duplicated
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "clean": self.clean}


def weight_of(requests: Iterable[Mapping[str, Any]], snapshots: int = 0) -> int:
    """The weight of the REST requests in the simulator's log. The log has no parameters: each
    is costed as the bots ask (one symbol; depth at limit <= 100), plus the gateway's book
    snapshots (limit 1000), counted by the gateway itself."""
    one = {"symbol": "BTCUSDT"}
    total = sum(rest_cost(r["method"], r["path"], one).weight for r in requests)
    return total + snapshots * SNAPSHOT_EXTRA


def bans(
    requests: Iterable[Mapping[str, Any]], ban_ends: Iterable[int], forced: set[str]
) -> tuple[int, int]:
    """(bans earned, requests during a ban) from the log in arrival order and the end of each
    ban the exchange imposed (its limiter's list, in order): a 418 outside a ban starts the next
    one; a forced 418 inside a ban extends it. Times are the exchange's, in ms."""
    ends = iter(ban_ends)
    start = until = -1
    earned = during = 0
    for r in requests:
        t, forced_now = int(r["time"]), r.get("fault") in forced
        if t < until:
            during += t >= start + IN_FLIGHT_MS
            if r.get("status") == 418 and forced_now:
                until = max(until, next(ends, until))
        elif r.get("status") == 418:
            start, until = t, next(ends, t)
            earned += 0 if forced_now else 1
    return earned, during


def judge(
    mode: str,
    bots: list[BotState],
    requests: list[Mapping[str, Any]],
    orders: list[Mapping[str, Any]],
    ban_ends: list[int],
    forced_labels: set[str],
    snapshots: int = 0,
) -> Facts:
    rest = [r for r in requests if not r.get("ws")]
    earned, during = bans(rest, ban_ends, forced_labels)
    names = tuple(b.name + "-" for b in bots)
    ours = Counter(
        str(o["clientOrderId"]) for o in orders if str(o.get("clientOrderId", "")).startswith(names)
    )
    placed = {coid for b in bots for coid in b.placed}
    lost = len(set(ours) - placed) + len(placed - set(ours))
    limited = ("DDoSProtection", "RateLimitExceeded")
    return Facts(
        mode=mode,
        calls=sum(sum(b.calls.values()) for b in bots),
        failed_calls=sum(sum(b.failures.values()) for b in bots),
        limited_calls=sum(b.failures[k] for b in bots for k in limited),
        upstream_requests=len(rest),
        upstream_429=sum(1 for r in rest if r.get("status") == 429),
        bans_earned=earned,
        requests_during_ban=during,
        demand=sum(CALL_WEIGHTS.get(m, 1) * n for b in bots for m, n in b.calls.items()),
        upstream_weight=weight_of(rest, snapshots),
        orders_placed=len(placed),
        orders_on_exchange=sum(ours.values()),
        orders_unresolved=sum(len(b.unsure) for b in bots),
        orders_lost=lost,
        orders_duplicated=sum(n - 1 for n in ours.values() if n > 1),
    )


_ROWS: tuple[tuple[str, Callable[[Facts], str]], ...] = (
    ("bot calls (failed)", lambda f: f"{f.calls} ({f.failed_calls})"),
    ("calls refused 429/418", lambda f: str(f.limited_calls)),
    ("requests upstream", lambda f: str(f.upstream_requests)),
    ("429s from exchange", lambda f: str(f.upstream_429)),
    ("bans earned (418)", lambda f: str(f.bans_earned)),
    ("requests in a ban", lambda f: str(f.requests_during_ban)),
    ("weight asked", lambda f: str(f.demand)),
    ("weight upstream", lambda f: f"{f.upstream_weight} ({_share(f)})"),
    ("orders placed", lambda f: f"{f.orders_placed} ({f.orders_on_exchange} on exchange)"),
    ("orders unresolved", lambda f: str(f.orders_unresolved)),
    ("orders lost", lambda f: str(f.orders_lost)),
    ("orders duplicated", lambda f: str(f.orders_duplicated)),
)


def _share(f: Facts) -> str:
    return f"{100 * f.upstream_weight / f.demand:.0f} %" if f.demand else "-"


def table(direct: Facts, gateway: Facts) -> Table:
    """Two columns side by side; fits 80 columns."""
    out = Table(
        title="the same bots: directly, then through binguard gateway", title_justify="left"
    )
    out.add_column("", style="bold", no_wrap=True)
    out.add_column(direct.mode, justify="right")
    out.add_column(gateway.mode, justify="right")
    for label, show in _ROWS:
        out.add_row(label, show(direct), show(gateway))
    return out
