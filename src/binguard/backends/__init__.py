"""Stores behind the rate budget: in-memory (default) and, for a fleet, Redis.

A store keeps the counters, windows and ban state; `binguard.policy.budget.RateBudget` decides
what to charge. `BudgetStore` (in `base`) is the whole contract a new backend has to meet.
"""

from .base import (
    BlockKind,
    BudgetStore,
    Granted,
    Held,
    Limit,
    LimitKind,
    Refused,
    Scope,
    SharesLimits,
    Snapshot,
    StoreConfigError,
    Usage,
)
from .memory import MemoryStore

__all__ = [
    "BlockKind",
    "BudgetStore",
    "Granted",
    "Held",
    "Limit",
    "LimitKind",
    "MemoryStore",
    "Refused",
    "Scope",
    "SharesLimits",
    "Snapshot",
    "StoreConfigError",
    "Usage",
]
