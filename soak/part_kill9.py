"""A bot killed with SIGKILL at random moments, N times: after `recover()` nothing is lost or
duplicated.

The child (`tests.connector._child`, the kill -9 test's bot) places GTC orders through the
connector with a file journal; the order endpoint is slowed by 30 ms, so most kills land while an
order is in flight. After each kill a fresh connector on the same journal runs `recover()`; then
the journal is held against the simulator's ground truth.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from bench._common import SimProcess

from binguard.connector import ConnectorOptions, SpotConnector
from binguard.connector.journal import Stage
from binguard.sim import FlowConfig, SimConfig

from ._common import SELF, Clock, PartResult, rss_mb

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class KillSpec:
    kills: int
    seed: int


@dataclass(slots=True)
class _Tally:
    kills: int = 0
    in_flight: int = 0  # journal entries recover() had to settle
    lost: int = 0
    duplicated: int = 0
    pending_after: int = 0
    child_errors: int = 0  # a child that died of something else than our SIGKILL


def run(spec: KillSpec) -> PartResult:
    result = PartResult("kill9")
    config = SimConfig(seed=spec.seed, flow=FlowConfig(interval_ms=0))
    with SimProcess(config) as sim, tempfile.TemporaryDirectory() as tmp:
        sim.post("/_sim/faults", {"seed": 1, "rules": [
            {"action": "latency", "path": "/api/v3/order", "method": "POST", "latency_ms": 30}]})  # fmt: skip
        tally = asyncio.run(_kill_loop(sim, Path(tmp) / "orders.db", spec, result))
    result.figures.update(
        {"kills": str(tally.kills), "in flight at a kill, settled": str(tally.in_flight)}
    )
    result.zero("lost", tally.lost)
    result.zero("duplicated", tally.duplicated)
    result.zero("left unknown after recover()", tally.pending_after)
    result.zero("children dead of another cause", tally.child_errors)
    result.check("kills that hit an order in flight", tally.in_flight,
                 tally.in_flight >= max(1, spec.kills // 10), f">= {max(1, spec.kills // 10)}")  # fmt: skip
    return result


async def _kill_loop(sim: SimProcess, journal: Path, spec: KillSpec, result: PartResult) -> _Tally:
    rng = random.Random(spec.seed)
    key = sim.config.demo.keys[0]
    tally, clock = _Tally(), Clock()
    for _ in range(spec.kills):
        if not await _run_child_until_killed(sim.url, key.api_key, key.secret, journal, rng):
            tally.child_errors += 1
        tally.kills += 1
        options = ConnectorOptions(
            timeout=2.0, recv_window_ms=500, reconcile_margin_ms=200, journal_path=journal
        )
        async with SpotConnector(
            api_key=key.api_key, secret=key.secret, base_url=sim.url, options=options
        ) as bn:
            tally.in_flight += len(bn.journal.pending())
            await bn.recover()
            tally.pending_after += len(bn.journal.pending())
            entries = {e.client_order_id: e for e in bn.journal.all()}
        _compare(entries, await _truth(sim.url), tally)
        result.series.add(clock(), rss_sim=rss_mb(sim.pid), rss_soak=rss_mb(SELF),
                          settled_in_flight=tally.in_flight)  # fmt: skip
    return tally


async def _run_child_until_killed(
    url: str, api_key: str, secret: str, journal: Path, rng: random.Random
) -> bool:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.connector._child", url, api_key, secret, str(journal),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        if await asyncio.wait_for(proc.stdout.readline(), 30) != b"ready\n":
            return False
        for _ in range(rng.randrange(3)):  # after 0-2 completed orders ...
            await asyncio.wait_for(proc.stdout.readline(), 30)
        await asyncio.sleep(rng.uniform(0.0, 0.06))  # ... plus 0-60 ms into the next one
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
    return await proc.wait() == -signal.SIGKILL


async def _truth(url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_sim/orders") as reply:
        orders: list[dict[str, Any]] = await reply.json()
    return [o for o in orders if str(o["clientOrderId"]).startswith("bg")]


def _compare(entries: dict[str, Any], truth: list[dict[str, Any]], tally: _Tally) -> None:
    on_exchange = [str(o["clientOrderId"]) for o in truth]
    tally.duplicated = len(on_exchange) - len(set(on_exchange))
    lost = 0
    for order in truth:  # on the exchange but not known to the journal as placed
        entry = entries.get(str(order["clientOrderId"]))
        if entry is None or entry.stage is not Stage.ACKED or entry.order_id != order["orderId"]:
            lost += 1
    placed = {coid for coid, e in entries.items() if e.order_id is not None}
    lost += len(placed - set(on_exchange))  # believed placed, absent
    tally.lost = lost
