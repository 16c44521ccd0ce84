"""The one place the gateway reads the policy layer: endpoint costs, the budget, the clock.

The policy package is being reshaped (weights.py becomes endpoints.py with one endpoint table);
everything the gateway needs from it is imported here, so that change touches this file only.
"""

from __future__ import annotations

from binguard.policy.budget import BanInForceError, BudgetExhaustedError, RateBudget, Ticket
from binguard.policy.clock import Clock, SystemClock
from binguard.policy.endpoints import REST, WS_API_CONNECT, Cost, rest_cost, ws_api_cost
from binguard.policy.servertime import ServerTimeSync

FREE = Cost(0, raw=0)
"""What a request outside /api/v3 is charged: nothing, but the ban and the pause still stop it."""


def known_endpoint(method: str, path: str) -> bool:
    """True when the cost table names this REST endpoint (metrics label it; others are 'other')."""
    return (method.upper(), path.rstrip("/")) in REST


__all__ = [
    "FREE",
    "WS_API_CONNECT",
    "BanInForceError",
    "BudgetExhaustedError",
    "Clock",
    "Cost",
    "RateBudget",
    "ServerTimeSync",
    "SystemClock",
    "Ticket",
    "known_endpoint",
    "rest_cost",
    "ws_api_cost",
]
