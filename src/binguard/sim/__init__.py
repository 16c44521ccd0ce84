"""binguard sim: a local Binance Spot exchange with execution-aware fault injection.

REST `/api/v3/...` with Binance's parameters, validation, signatures, weights and error bodies, a
price-time matching engine with a seeded crowd of other traders, rate limits and bans, fault plans,
and ground truth under `/_sim/`. It follows Binance's documentation, never binguard's client code.
"""

from .app import Extension, Simulator, build_app
from .config import (
    AccountSpec,
    FlowConfig,
    KeySpec,
    LimitsConfig,
    RateLimitSpec,
    SimConfig,
    SymbolSpec,
)
from .engine import Event, Listener
from .faults import FaultPlan, FaultRule
from .state import SimState

__all__ = [
    "AccountSpec",
    "Event",
    "Extension",
    "FaultPlan",
    "FaultRule",
    "FlowConfig",
    "KeySpec",
    "LimitsConfig",
    "Listener",
    "RateLimitSpec",
    "SimConfig",
    "SimState",
    "Simulator",
    "SymbolSpec",
    "build_app",
]
