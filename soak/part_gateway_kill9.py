"""A keys-mode gateway killed with SIGKILL mid-order, N times (issue 17: 20): after each restart
and its journal's recovery nothing is lost or duplicated.

The rounds are tests/gateway/gw_kill9.py's (shared with the suite's 3-kill test): a bot places
two orders and an OCO list through `binguard gateway --keys` (one order with its own client
id; the other and the list without), the
gateway is killed while they are in flight, a new one on the same journal settles them by query,
and the bot sends its own again with the same id; then the journal is held against the
simulator's ground truth.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench._common import SimProcess
from tests.gateway.gw_kill9 import kill_rounds

from binguard.sim import FlowConfig, SimConfig

from ._common import PartResult


@dataclass(frozen=True, slots=True)
class GatewayKillSpec:
    kills: int
    seed: int


def run(spec: GatewayKillSpec) -> PartResult:
    result = PartResult("gateway-kill9")
    config = SimConfig(seed=spec.seed, flow=FlowConfig(interval_ms=0))
    with SimProcess(config) as sim, tempfile.TemporaryDirectory() as tmp:
        real = sim.config.demo.keys[0]
        tally = asyncio.run(
            kill_rounds(sim.url, (real.api_key, real.secret), Path(tmp), spec.kills, spec.seed)
        )
    result.figures.update(
        {
            "kills": str(tally.kills),
            "in flight at a kill, settled": str(tally.in_flight),
            "... found executed": str(tally.found),
            "orders on the exchange": str(tally.placed),
            "order lists on the exchange": str(tally.lists),
        }
    )
    result.zero("lost", tally.lost)
    result.zero("duplicated", tally.duplicated)
    result.zero("left unsettled after recovery", tally.pending_after)
    result.zero("re-sends not answered with the order", tally.bad_answers)
    result.zero("other problems", len(tally.problems) - tally.lost - tally.bad_answers)
    floor = max(1, spec.kills // 3)
    result.check("kills that hit an order in flight", tally.in_flight,
                 tally.in_flight >= floor, f">= {floor}")  # fmt: skip
    for problem in tally.problems[:10]:
        print(f"   gateway-kill9: {problem}", flush=True)
    return result
