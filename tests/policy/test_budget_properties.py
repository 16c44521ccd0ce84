"""Property: under random request mixes, completions, header corrections, other programs' usage
and fills, the budget never lets a window exceed its limit.

The model plays Binance: it counts what each window really holds (weight when a request is
processed, 0 for a successful order since 2026-04-02; unfilled orders net of fills) and answers
every completion with X-MBX-USED-WEIGHT-1M / X-MBX-ORDER-COUNT-10S headers.

Invariants, per current window:
1. our own weight, net of refunds, never exceeds the limit (whatever else happens);
2. a grant never takes ours plus the other programs' weight seen in headers past it, as long
   as every header in that window arrived with nothing else in flight (with requests in flight, Binance's
   `max` rule can undercount by what overlaps: that is what `margin` is for);
3. the unfilled orders Binance counts (ours in flight or accepted, minus observed fills) never
   exceed the ORDERS limit — fills free capacity, in-flight orders keep theirs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from binguard.backends import Limit, LimitKind
from binguard.errors import Interval, RateHeaders
from binguard.policy import BudgetExhaustedError, FakeClock, RateBudget, Ticket, rest_cost

from .store_contract import NOON

WEIGHT = Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "MINUTE"), 60)
ORDERS = Limit(LimitKind.ORDERS, Interval(10, "SECOND"), 3)
RAW = Limit(LimitKind.RAW_REQUESTS, Interval(5, "MINUTE"), 80)

REQUESTS = [
    rest_cost("GET", "/api/v3/depth", {"limit": 100}),  # 5
    rest_cost("GET", "/api/v3/depth", {"limit": 500}),  # 25
    rest_cost("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}),  # 6
    rest_cost("GET", "/api/v3/account"),  # 20
    rest_cost("GET", "/api/v3/time"),  # 1
    rest_cost("DELETE", "/api/v3/order"),  # 1 (0 if ok)
    *[rest_cost("POST", "/api/v3/order")] * 4,  # 1 (0 if ok), 1 order; often, to fill ORDERS
]


@dataclass
class Window:
    """Counts of one window of one limit, as Binance and as the test sees ours."""

    start: int
    server: int = 0  # what Binance counts (ours processed + others')
    ours_net: int = 0  # our reservations minus our refunds, by grant window
    others_seen: int = 0  # others' weight included in the last applied header
    others: int = 0
    fills: int = 0
    fills_seen: int = 0
    accepted: int = 0  # our orders Binance counts (in flight or accepted)
    tainted: bool = False


@dataclass
class InFlight:
    ticket: Ticket
    granted_ms: int


class BudgetMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock(wall=NOON / 1000)
        self.budget = RateBudget([WEIGHT, ORDERS, RAW], clock=self.clock, sleep=self.clock.sleep)
        self.in_flight: list[InFlight] = []
        self.windows: dict[str, Window] = {}

    def teardown(self) -> None:
        self.loop.close()

    def now(self) -> int:
        return int(self.clock.time() * 1000)

    def window(self, limit: Limit, at_ms: int | None = None) -> Window:
        start = limit.window(self.now() if at_ms is None else at_ms)
        w = self.windows.get(limit.key)
        if w is None or w.start < start:
            w = self.windows[limit.key] = Window(start)
        return w

    def same_window(self, limit: Limit, granted_ms: int) -> bool:
        return limit.window(granted_ms) == limit.window(self.now())

    @rule(i=st.integers(0, len(REQUESTS) - 1))
    def acquire(self, i: int) -> None:
        cost = REQUESTS[i]
        try:
            ticket = self.loop.run_until_complete(
                self.budget.acquire(cost, deadline=self.clock.monotonic())
            )
        except BudgetExhaustedError:
            return
        now = self.now()
        self.window(WEIGHT).ours_net += cost.weight
        self.window(RAW).ours_net += cost.raw
        if cost.orders:
            self.window(ORDERS).ours_net += cost.orders
            self.window(ORDERS).accepted += cost.orders
        self.in_flight.append(InFlight(ticket, now))
        w = self.window(WEIGHT)
        if not w.tainted:  # invariant 2, checked when we add weight (others may add any time)
            assert w.ours_net + w.others_seen <= WEIGHT.limit

    @precondition(lambda self: bool(self.in_flight))
    @rule(data=st.data(), ok=st.booleans(), with_headers=st.booleans())
    def complete(self, data: st.DataObject, ok: bool, with_headers: bool) -> None:
        job = self.in_flight.pop(data.draw(st.integers(0, len(self.in_flight) - 1)))
        cost = job.ticket.cost
        weight_w, orders_w = self.window(WEIGHT), self.window(ORDERS)
        # Binance processes it now: successful orders/cancels weigh 0, failures pay.
        weight_w.server += cost.weight - (cost.refund_if_ok if ok else 0)
        if cost.orders:
            granted_here = self.same_window(ORDERS, job.granted_ms)
            if ok:
                orders_w.server += cost.orders
            elif granted_here:
                orders_w.accepted -= cost.orders  # a failed placement is not counted
        if ok and cost.refund_if_ok and self.same_window(WEIGHT, job.granted_ms):
            weight_w.ours_net -= cost.refund_if_ok
        headers = None
        if with_headers:
            headers = RateHeaders(
                {"1M": weight_w.server}, {"10S": max(0, orders_w.server - orders_w.fills)}, None
            )
            for limit, w in ((WEIGHT, weight_w), (ORDERS, orders_w)):
                if self.same_window(limit, job.granted_ms):
                    w.others_seen = w.others
                    w.fills_seen = w.fills
                    w.tainted |= bool(self.in_flight)
        self.loop.run_until_complete(self.budget.settle(job.ticket, ok=ok, headers=headers))

    @rule(n=st.integers(1, 30))
    def other_programs(self, n: int) -> None:
        w = self.window(WEIGHT)
        w.server += n
        w.others += n

    @rule(n=st.integers(1, 3))
    def fills(self, n: int) -> None:
        w = self.window(ORDERS)
        w.fills = min(w.fills + n, w.server)  # Binance's count never goes below 0

    @rule(ms=st.integers(1, 3_000) | st.integers(1, 70_000))
    def advance(self, ms: int) -> None:
        self.clock.advance(ms / 1000)

    @invariant()
    def our_weight_fits(self) -> None:
        for limit in (WEIGHT, RAW):
            assert self.window(limit).ours_net <= limit.limit

    @invariant()
    def unfilled_orders_fit(self) -> None:
        w = self.window(ORDERS)
        assert w.accepted - w.fills_seen <= ORDERS.limit


BudgetMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)
TestBudgetNeverExceeds = BudgetMachine.TestCase
