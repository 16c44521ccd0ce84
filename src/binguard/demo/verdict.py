"""The demo's verdict: the connector's view against the simulator's ground truth.

- orders_intended: order intents the connector journalled;
- orders_on_exchange: orders with the connector's client order ids in the simulator;
- lost: orders on the exchange the connector does not know it placed, plus orders it believes
  placed that the exchange does not have;
- duplicated: extra exchange orders for one intent (one client order id placed twice);
- bans: 418s the connector earned itself (after its own 429s); the fault plan's forced ban does
  not count, but every request sent during a ban the connector knew of does
  (requests_during_ban; see count_bans);
- clock_errors_after_sync: -1021 answers after the first clock sync;
- unhandled_exceptions: non-Binance exceptions that reached the application;
- book_mismatches: levels where the local order book (WebSocket diffs) differs from the
  simulator's book at the same update id, at the end (or 1 if it never caught up);
- missed_fills: fills of the account in the simulator's ground truth (/_sim/fills) that the
  connector does not know (user data stream + REST catch-up).

Every count but the first two must be 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from binguard.connector.journal import JournalEntry, Stage


@dataclass(frozen=True, slots=True)
class Verdict:
    orders_intended: int
    orders_on_exchange: int
    lost: int
    duplicated: int
    bans: int
    requests_during_ban: int
    clock_errors_after_sync: int
    unhandled_exceptions: int
    book_mismatches: int = 0
    missed_fills: int = 0

    # Every count but the first two is an invariant of the demo (the verdict).
    MUST_BE_ZERO: ClassVar[tuple[str, ...]] = (
        "lost",
        "duplicated",
        "bans",
        "requests_during_ban",
        "clock_errors_after_sync",
        "unhandled_exceptions",
        "book_mismatches",
        "missed_fills",
    )

    @property
    def ok(self) -> bool:
        return not any(getattr(self, name) for name in self.MUST_BE_ZERO)

    def as_dict(self) -> dict[str, int | bool]:
        return {**asdict(self), "ok": self.ok}


def count_bans(
    requests: Iterable[Mapping[str, Any]], forced_labels: set[str], known_at: Iterable[int] = ()
) -> tuple[int, int]:
    """(bans earned, requests during a known ban) from the simulator's request log, in order.

    A 418 starts a ban unless one is running; a ban started by a forced-ban fault is not earned.
    A further 418 while a ban runs is a request sent during it; it counts as sent during a *known*
    ban when it arrived after the connector learnt of the ban (`known_at`: instants on the
    simulator's clock, ms). Requests already on their way when the ban was learnt are not the
    connector's doing; 1 ms of grace absorbs the clock's granularity and the event loop the demo's
    simulator shares with the connector. A ban the connector never learnt of counts every further
    418. Any other answer means the ban is over."""
    learnt = sorted(known_at)
    earned = during = 0
    started: int | None = None  # arrival of the 418 that began the running ban
    for r in requests:
        if r.get("status") != 418:
            if r.get("status"):
                started = None
            continue
        arrived = int(r.get("time", 0))
        if started is not None:
            # When the connector learnt of this ban; a ban it never learnt of counts in full.
            learnt_at = next((k for k in learnt if k >= started), started - 1)
            if arrived > learnt_at + 1:
                during += 1
            continue
        if r.get("fault") not in forced_labels:
            earned += 1
        started = arrived
    return earned, during


def judge(
    *,
    journal: Iterable[JournalEntry],
    exchange_orders: Iterable[Mapping[str, Any]],
    requests: Iterable[Mapping[str, Any]],
    forced_ban_labels: set[str],
    bans_learnt_at: Iterable[int] = (),
    clock_errors_after_sync: int,
    unhandled: int,
    prefix: str,
    book_mismatches: int = 0,
    missed_fills: int = 0,
) -> Verdict:
    entries = {e.client_order_id: e for e in journal}
    ours = [o for o in exchange_orders if str(o.get("clientOrderId", "")).startswith(prefix + "-")]
    per_id = Counter(str(o["clientOrderId"]) for o in ours)
    duplicated = sum(n - 1 for n in per_id.values() if n > 1)
    lost = 0
    for coid in per_id:
        entry = entries.get(coid)
        if entry is None or entry.order_id is None or entry.stage not in (Stage.ACKED, Stage.FINAL):
            lost += 1  # on the exchange, unknown to the connector
    for coid, entry in entries.items():
        if entry.order_id is not None and coid not in per_id:
            lost += 1  # the connector believes it placed an order the exchange does not have
    bans, during = count_bans(requests, forced_ban_labels, bans_learnt_at)
    return Verdict(
        orders_intended=len(entries),
        orders_on_exchange=len(ours),
        lost=lost,
        duplicated=duplicated,
        bans=bans,
        requests_during_ban=during,
        clock_errors_after_sync=clock_errors_after_sync,
        unhandled_exceptions=unhandled,
        book_mismatches=book_mismatches,
        missed_fills=missed_fills,
    )


def count_missed_fills(exchange_fills: Iterable[Mapping[str, Any]], known: set[int]) -> int:
    """Fills on the exchange (trade ids) the connector does not know."""
    return len({int(f["id"]) for f in exchange_fills} - known)


def count_book_mismatches(
    local: tuple[list[tuple[Any, Any]], list[tuple[Any, Any]]],
    exchange: tuple[list[tuple[Any, Any]], list[tuple[Any, Any]]],
) -> int:
    """Levels that differ between the local book and the exchange's, within the local depth."""
    bad = 0
    for mine, theirs in zip(local, exchange, strict=True):
        theirs = theirs[: len(mine)]
        bad += sum(1 for a, b in zip(mine, theirs, strict=False) if a != b)
        bad += abs(len(mine) - len(theirs))
    return bad
