"""What the connector went through, from its events: errors in three groups and a timeline.

The connector counts every failed attempt in `stats.errors_by_code` and emits a `request_error`
event for each (same code, with the error's type). The dashboard and the verdict's story need to
know more than the code: whether the exchange said it, whether the connector refused the request
itself (nothing was sent), or whether it was a lookup that was expected to fail. The events tell
them apart without any change to the connector:

- refused locally: the budget's own refusals (`BudgetExhaustedError`, `BanInForceError`,
  policy/refusals.py), raised before anything is written to the socket;
- reconciliation lookups: `-2013 Order does not exist.` while a reconciliation is open (between
  its `reconcile_start` and `reconcile_result`): the order is looked up by client order id until
  Binance can no longer execute the lost attempt, so "not found" is the expected answer;
- from the exchange: everything else (the plan's injected faults, Binance's own error answers,
  resets and timeouts on the way).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from binguard.connector.events import Event
from binguard.errors import IpBannedError, RateLimitedError
from binguard.policy import BanInForceError, BudgetExhaustedError

LOCAL_REFUSALS = frozenset({BudgetExhaustedError.__name__, BanInForceError.__name__})
NOT_FOUND = -2013  # errors.md: NO_SUCH_ORDER, "Order does not exist."

EXCHANGE, LOCAL, LOOKUPS = "exchange", "local", "lookups"


def error_key(code: int | None, type_name: str) -> str:
    """The label of one error: its Binance code, or its type without the "Error" suffix."""
    return str(code) if code is not None else type_name.removesuffix("Error")


@dataclass
class ErrorGroups:
    """Failed attempts by group (EXCHANGE, LOCAL, LOOKUPS), each a Counter of error labels."""

    exchange: Counter[str] = field(default_factory=Counter)
    local: Counter[str] = field(default_factory=Counter)
    lookups: Counter[str] = field(default_factory=Counter)

    def total(self) -> int:
        return sum(self.exchange.values()) + sum(self.local.values()) + sum(self.lookups.values())

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {EXCHANGE: dict(self.exchange), LOCAL: dict(self.local), LOOKUPS: dict(self.lookups)}


@dataclass
class RunLog:
    """An event hook (`bn.on(log.on_event)`) keeping what the dashboard and the story show.

    Times are seconds since `start()` (the start of trading), from the events' wall clock."""

    started: float = field(default_factory=time.time)
    errors: ErrorGroups = field(default_factory=ErrorGroups)
    open_reconciliations: set[str] = field(default_factory=set)
    reconciliations: list[float] = field(default_factory=list)
    found: int = 0
    absent: int = 0
    resends: int = 0
    resyncs: list[tuple[float, float]] = field(default_factory=list)  # (t, offset ms)
    bans: list[tuple[float, float]] = field(default_factory=list)  # (t learnt, t it ends)
    refused_during_ban: int = 0
    first_budget_refusal: float | None = None
    rate_limited: int = 0  # 429 answers (-1003, -1015): the exchange's, not the budget's
    ban_answers: int = 0  # 418 answers
    ws_drops: list[float] = field(default_factory=list)
    ws_reconnects: int = 0
    book_resyncs: int = 0
    book_gaps: int = 0
    catch_ups: int = 0
    caught_up_fills: int = 0

    def start(self) -> None:
        self.started = time.time()

    def since(self, event: Event) -> float:
        return event.at - self.started

    def on_event(self, event: Event) -> None:
        handler = _HANDLERS.get(event.kind)
        if handler is not None:
            handler(self, event, self.since(event))

    # -- handlers (quick: hooks run in the connector's task) ------------------------------------
    def _request_error(self, event: Event, t: float) -> None:
        code: int | None = event.data.get("code")
        type_name = str(event.data.get("type", "Error"))
        key = error_key(code, type_name)
        if type_name in LOCAL_REFUSALS:
            self.errors.local[key] += 1
            if type_name == BudgetExhaustedError.__name__ and self.first_budget_refusal is None:
                self.first_budget_refusal = t
            if type_name == BanInForceError.__name__:
                self.refused_during_ban += 1
        elif code == NOT_FOUND and self.open_reconciliations:
            self.errors.lookups[key] += 1
        else:
            self.errors.exchange[key] += 1
            self.rate_limited += type_name == RateLimitedError.__name__
            self.ban_answers += type_name == IpBannedError.__name__

    def _reconcile_start(self, event: Event, t: float) -> None:
        self.open_reconciliations.add(str(event.data.get("client_order_id")))
        self.reconciliations.append(t)

    def _reconcile_result(self, event: Event, t: float) -> None:
        self.open_reconciliations.discard(str(event.data.get("client_order_id")))
        if event.data.get("found"):
            self.found += 1
        else:
            self.absent += 1

    def _resend(self, event: Event, t: float) -> None:
        self.resends += 1

    def _resync(self, event: Event, t: float) -> None:
        self.resyncs.append((t, float(event.data.get("offset_ms") or 0.0)))

    def _ban_start(self, event: Event, t: float) -> None:
        until_ms = event.data.get("until_ms")
        known_ms = event.data.get("known_at_ms")
        length = (until_ms - known_ms) / 1000 if until_ms and known_ms else 0.0
        self.bans.append((t, t + length))

    def _ws_drop(self, event: Event, t: float) -> None:
        self.ws_drops.append(t)

    def _ws_reconnect(self, event: Event, t: float) -> None:
        self.ws_reconnects += 1

    def _book(self, event: Event, t: float) -> None:
        if event.kind == "book_gap":
            self.book_gaps += 1
        else:
            self.book_resyncs += 1

    def _catch_up(self, event: Event, t: float) -> None:
        self.catch_ups += 1
        self.caught_up_fills += int(event.data.get("new_fills") or 0)


_HANDLERS: dict[str, Any] = {
    "request_error": RunLog._request_error,
    "reconcile_start": RunLog._reconcile_start,
    "reconcile_result": RunLog._reconcile_result,
    "resend": RunLog._resend,
    "resync": RunLog._resync,
    "ban_start": RunLog._ban_start,
    "ws_disconnect": RunLog._ws_drop,
    "ws_reconnect": RunLog._ws_reconnect,
    "book_gap": RunLog._book,
    "book_resync": RunLog._book,
    "user_data_catch_up": RunLog._catch_up,
}
