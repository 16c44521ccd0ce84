"""binguard sim: a local Binance Spot exchange with execution-aware fault injection.

REST `/api/v3/...` with Binance's parameters, validation, signatures, weights and error bodies, a
price-time matching engine with a seeded crowd of other traders (every Spot order type, iceberg,
trailing and pegged orders, every STP mode, order lists OCO / OTO / OTOCO / OPO / OPOCO,
cancel-replace and amend, every symbol filter of filters.md), rate limits and bans, fault plans,
and ground truth under `/_sim/`; on the same port, WebSocket streams (`/ws`, `/stream`) and the
WebSocket API (`/ws-api/v3`) with user data and WebSocket faults; candles, tickers and aggregate
trades from a seeded history plus the engine's own trades (market.py). It follows Binance's
documentation, never binguard's client code.
"""

from .app import Extension, Simulator, build_app
from .config import (
    AccountSpec,
    FlowConfig,
    KeySpec,
    LimitsConfig,
    MarketConfig,
    RateLimitSpec,
    RetentionConfig,
    SimConfig,
    SymbolSpec,
    WsConfig,
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
    "MarketConfig",
    "RateLimitSpec",
    "RetentionConfig",
    "SimConfig",
    "SimState",
    "Simulator",
    "SymbolSpec",
    "WsConfig",
    "build_app",
]
