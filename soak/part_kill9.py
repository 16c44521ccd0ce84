"""A bot killed with SIGKILL at random moments, N times: after `recover()` nothing is lost or
duplicated.

The child (`tests.connector._child`, the kill -9 test's bot) places GTC orders through the
connector with a file journal — in `mixed` mode also an OCO list and a cancel-replace each round;
the order, list and cancel-replace endpoints are slowed by 30 ms, so most kills land while one
is in flight. After each kill a fresh connector on the same journal runs `recover()`; then the
journal (orders, lists with their legs, edits) is held against the simulator's ground truth with
the demo's verdict (demo/verdict.py `judge`).
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
from binguard.demo.verdict import judge
from binguard.sim import FlowConfig, SimConfig

from ._common import SELF, Clock, PartResult, rss_mb

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class KillSpec:
    kills: int
    seed: int
    mode: str = "orders"  # or "mixed": lists and cancel-replaces too


_SLOWED = {
    "orders": ("/api/v3/order",),
    "mixed": ("/api/v3/order", "/api/v3/orderList/oco", "/api/v3/order/cancelReplace"),
}


@dataclass(slots=True)
class _Tally:
    kills: int = 0
    in_flight: int = 0  # journal entries recover() had to settle
    lost: int = 0
    duplicated: int = 0
    pending_after: int = 0
    child_errors: int = 0  # a child that died of something else than our SIGKILL
    lists: int = 0  # lists and edits journalled so far (mixed mode)
    edits: int = 0


def run(spec: KillSpec) -> PartResult:
    result = PartResult("kill9" if spec.mode == "orders" else f"kill9-{spec.mode}")
    config = SimConfig(seed=spec.seed, flow=FlowConfig(interval_ms=0))
    with SimProcess(config) as sim, tempfile.TemporaryDirectory() as tmp:
        sim.post("/_sim/faults", {"seed": 1, "rules": [
            {"action": "latency", "path": path, "method": "POST", "latency_ms": 30}
            for path in _SLOWED[spec.mode]]})  # fmt: skip
        tally = asyncio.run(_kill_loop(sim, Path(tmp) / "orders.db", spec, result))
    result.figures.update(
        {"kills": str(tally.kills), "in flight at a kill, settled": str(tally.in_flight)}
    )
    result.zero("lost", tally.lost)
    result.zero("duplicated", tally.duplicated)
    if spec.mode == "mixed":
        result.figures["lists placed"] = str(tally.lists)
        result.figures["edits made"] = str(tally.edits)
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
        if not await _run_child_until_killed(
            sim.url, key.api_key, key.secret, journal, rng, spec.mode
        ):
            tally.child_errors += 1
        tally.kills += 1
        options = ConnectorOptions(
            timeout=2.0, recv_window_ms=500, reconcile_margin_ms=200, journal_path=journal
        )
        async with SpotConnector(
            api_key=key.api_key, secret=key.secret, base_url=sim.url, options=options
        ) as bn:
            j = bn.journal
            tally.in_flight += len(j.pending()) + len(j.lists.pending()) + len(j.edits.pending())
            await bn.recover()
            tally.pending_after += (
                len(j.pending()) + len(j.lists.pending()) + len(j.edits.pending())
            )
            verdict = judge(
                journal=j.all(),
                lists=j.lists.all(),
                edits=j.edits.all(),
                exchange_orders=await _truth(sim.url, "orders"),
                exchange_lists=await _truth(sim.url, "order_lists"),
                amendments=await _truth(sim.url, "amendments"),
                requests=(),
                forced_ban_labels=set(),
                clock_errors_after_sync=0,
                unhandled=0,
                prefix="bg",
            )
            tally.lost = verdict.lost + verdict.lists_lost + verdict.edits_lost
            tally.duplicated = (
                verdict.duplicated + verdict.lists_duplicated + verdict.edits_duplicated
            )
            tally.lists, tally.edits = verdict.lists_placed, verdict.edits_made
            for left in await bn.open_order_lists():  # a list's stop leg would pile up
                await bn.cancel_order_list("BTCUSDT", order_list_id=left.order_list_id)
        result.series.add(clock(), rss_sim=rss_mb(sim.pid), rss_soak=rss_mb(SELF),
                          settled_in_flight=tally.in_flight)  # fmt: skip
    return tally


async def _run_child_until_killed(
    url: str, api_key: str, secret: str, journal: Path, rng: random.Random, mode: str
) -> bool:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.connector._child", url, api_key, secret, str(journal), mode,
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


async def _truth(url: str, what: str) -> list[dict[str, Any]]:
    """The simulator's ground truth (`/_sim/orders`, `order_lists`, `amendments`)."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/_sim/{what}") as reply:
        rows: list[dict[str, Any]] = await reply.json()
    return rows
