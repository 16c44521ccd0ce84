"""Pure decisions for the connector: server time, rate budget, request weights, retries.

No module here touches the network. Time, sleep and randomness come in through constructors,
so every decision is tested with a `FakeClock` and pinned randomness.
"""

from .backoff import Backoff
from .budget import (
    RateBudget,
    Ticket,
    effective_limits,
    ws_rate_headers,
)
from .clock import Clock, FakeClock, SystemClock
from .refusals import BanInForceError, BudgetExhaustedError
from .retry import Action, Attempt, Decision, RetryPolicy
from .servertime import ServerTimeSync, TimeSample
from .weights import Cost, Rule, rest_cost, ws_api_cost

__all__ = [
    "Action",
    "Attempt",
    "Backoff",
    "BanInForceError",
    "BudgetExhaustedError",
    "Clock",
    "Cost",
    "Decision",
    "FakeClock",
    "RateBudget",
    "RetryPolicy",
    "Rule",
    "ServerTimeSync",
    "SystemClock",
    "Ticket",
    "TimeSample",
    "effective_limits",
    "rest_cost",
    "ws_api_cost",
    "ws_rate_headers",
]
