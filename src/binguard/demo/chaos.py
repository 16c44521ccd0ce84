"""The demo's exchange: the simulator with a fault plan that hits every seed failure.

`chaos` (the default): resets before and after execution, stalls past the client's timeout after
execution, 5XX answers with the order executed and not — on orders, order lists,
cancel-replaces (one with only its cancel half executed) and amendments —, HTML 502s, a server
clock 3 s ahead and drifting, a weight limit low enough that the bot reaches it, and one forced
IP ban half-way.
`calm`: no faults, for comparison. A plan file (YAML/JSON, examples/faults/): its rules on a
server clock that starts true (a plan moves it with `clock_jump` rules); the weight limit is the
demo's in every case.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from binguard.sim import FlowConfig, SimConfig
from binguard.sim.config import LimitsConfig, RateLimitSpec
from binguard.sim.faults import FaultPlan

# Low enough to be reached by a polling market maker; Binance's real limit is 6000 per minute.
DEMO_WEIGHT_LIMIT = 300


def demo_config(seed: int, *, chaos: bool) -> SimConfig:
    limits = LimitsConfig(
        rate_limits=(
            RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, DEMO_WEIGHT_LIMIT),
            RateLimitSpec("ORDERS", "SECOND", 10, 50),
            RateLimitSpec("ORDERS", "DAY", 1, 160000),
            RateLimitSpec("RAW_REQUESTS", "MINUTE", 5, 300000),
        ),
    )
    return SimConfig(
        seed=seed,
        limits=limits,
        flow=FlowConfig(interval_ms=200),
        clock_offset_ms=3000.0 if chaos else 0.0,
        clock_drift_ms_per_s=5.0 if chaos else 0.0,  # 300 ms per minute
        log_size=1_000_000,
    )


def chaos_plan(seed: int, seconds: float) -> FaultPlan:
    order = {"path": "/api/v3/order", "method": "POST"}
    cancel = {"path": "/api/v3/order", "method": "DELETE"}
    rules: list[dict[str, Any]] = [
        # First: when several rules fire on one request, the simulator applies the first one
        # that answers before the engine (and counts the others as fired).
        {
            "action": "http_418",
            "start_s": seconds * 0.5,
            "times": 1,
            "ban_s": min(5.0, seconds * 0.1),
            "name": "forced ban",
        },
        {**order, "action": "reset", "probability": 0.04, "name": "reset before engine"},
        {**order, "action": "reset_after", "probability": 0.04, "name": "reset after execution"},
        {
            **order,
            "action": "stall_after",
            "probability": 0.02,
            "stall_s": 3.0,
            "name": "stall after execution",
        },
        {
            **order,
            "action": "error",
            "status": 503,
            "code": -1007,
            "executed": True,
            "probability": 0.02,
            "name": "-1007 executed",
        },
        {
            **order,
            "action": "error",
            "status": 500,
            "code": -1006,
            "probability": 0.02,
            "name": "-1006 not executed",
        },
        {**cancel, "action": "reset_after", "probability": 0.03, "name": "cancel reset after"},
        *_edit_faults(),
        {"action": "html", "status": 502, "probability": 0.02, "name": "HTML 502"},
        {
            "method": "GET",
            "action": "error",
            "status": 503,
            "code": -1008,
            "probability": 0.02,
            "name": "-1008 busy",
        },
        # WebSockets: drops with and without a close frame, a stall, a shutdown, the 24-hour
        # close, diff depth gaps, duplicated and late executionReports.
        {
            "path": "/stream*",
            "action": "ws_reset",
            "after_s": seconds * 0.2,
            "times": 2,
            "name": "ws reset",
        },
        {"path": "/stream*", "action": "ws_gap", "probability": 0.01, "name": "depth gap"},
        {
            "path": "/ws-api/v3",
            "action": "ws_close",
            "code": 1000,
            "after_s": seconds * 0.3,
            "times": 1,
            "name": "ws-api 24h close",
        },
        {
            "path": "/stream*",
            "action": "ws_silence",
            "start_s": seconds * 0.1,  # drawn by a socket opened after the first reset
            "after_s": seconds * 0.2,
            "stall_s": 60.0,
            "times": 1,
            "name": "ws silence",
        },
        {
            "path": "/ws-api/v3",
            "action": "ws_shutdown",
            "after_s": seconds * 0.4,
            "grace_s": 0.5,
            "times": 1,
            "name": "ws-api serverShutdown",
        },
        {"path": "/ws-api/v3", "action": "ws_duplicate", "probability": 0.1, "name": "dup report"},
        {
            "path": "/ws-api/v3",
            "action": "ws_delay",
            "probability": 0.05,
            "latency_ms": 300,
            "name": "late report",
        },
    ]
    return FaultPlan.from_mapping({"seed": seed, "rules": rules})


def _edit_faults() -> list[dict[str, Any]]:
    """Execution-unknown faults on order lists and edits (issue 16): after execution and not."""
    lists = {"path": "/api/v3/orderList/*", "method": "POST"}
    replace = {"path": "/api/v3/order/cancelReplace", "method": "POST"}
    amend = {"path": "/api/v3/order/amend/keepPriority", "method": "PUT"}
    return [
        {**lists, "action": "reset_after", "probability": 0.08, "name": "list reset after"},
        {
            **lists,
            "action": "error",
            "status": 503,
            "code": -1007,
            "executed": True,
            "probability": 0.05,
            "name": "list -1007 executed",
        },
        {**lists, "action": "reset", "probability": 0.05, "name": "list reset before"},
        {**replace, "action": "reset_after", "probability": 0.08, "name": "replace reset after"},
        {
            **replace,
            "action": "error",
            "status": 503,
            "code": -1006,
            "executed": True,
            "stage": "cancel",
            "probability": 0.05,
            "name": "replace: only the cancel ran",
        },
        {
            **replace,
            "action": "stall_after",
            "probability": 0.04,
            "stall_s": 3.0,
            "name": "replace stall after",
        },
        {**amend, "action": "reset_after", "probability": 0.08, "name": "amend reset after"},
        {
            **amend,
            "action": "error",
            "status": 503,
            "code": -1007,
            "executed": False,
            "probability": 0.05,
            "name": "amend -1007 not executed",
        },
    ]


@dataclass(frozen=True)
class Scenario:
    """What the demo runs: the simulator's config, the fault plan, and how to name it."""

    name: str  # "chaos", "calm", or the plan file's name
    config: SimConfig
    plan: FaultPlan

    @property
    def forced_ban(self) -> bool:
        return any(r.action == "http_418" for r in self.plan.rules)

    @property
    def title(self) -> str:
        name = self.name if len(self.name) <= 40 else self.name[:39] + "…"
        return f"binguard demo: a market maker, faults {name}"


def scenario(faults: str, seed: int, seconds: float) -> Scenario:
    """`chaos`, `calm`, or a plan file; raises OSError/ValueError for a file it cannot use."""
    if faults == "chaos":
        return Scenario("chaos", demo_config(seed, chaos=True), chaos_plan(seed, seconds))
    if faults == "calm":
        return Scenario("calm", demo_config(seed, chaos=False), FaultPlan(seed=seed))
    plan = FaultPlan.load(Path(faults))
    # The plan's own `seed:` fixes its faults; without one, --seed draws them.
    plan = FaultPlan(plan.rules, plan.seed or seed)
    return Scenario(Path(faults).name, demo_config(seed, chaos=False), plan)
