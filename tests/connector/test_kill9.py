"""A bot killed with `kill -9` at random points loses and duplicates nothing after recover().

A child process places orders through the connector, journalling to a file; the test kills it 20
times at random moments (the order endpoint is slowed by 30 ms, so most kills land while an order
is in flight), runs recover() with a fresh connector on the same journal after each kill, and
compares the journal with the simulator's ground truth.
"""

from __future__ import annotations

import asyncio
import random
import signal
import sys
from pathlib import Path

from binguard.connector.client import SpotConnector
from binguard.connector.journal import Stage
from binguard.sim import Simulator

from .conftest import FAST, ground_truth, load_faults

ROOT = Path(__file__).resolve().parents[2]


async def _run_child_until_killed(sim: Simulator, journal: Path, rng: random.Random) -> None:
    key = sim.config.demo.keys[0]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.connector._child",
        sim.url,
        key.api_key,
        key.secret,
        str(journal),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"ready\n"
    # The kill point: after 0-2 completed orders, plus 0-60 ms into the next one.
    for _ in range(rng.randrange(3)):
        await asyncio.wait_for(proc.stdout.readline(), 30)
    await asyncio.sleep(rng.uniform(0.0, 0.06))  # chooses the kill point; nothing waits on it
    proc.send_signal(signal.SIGKILL)
    assert await proc.wait() == -signal.SIGKILL


async def test_kill9_twenty_times_nothing_lost_or_duplicated(
    sim: Simulator, tmp_path: Path
) -> None:
    rng = random.Random(20261122)
    journal = tmp_path / "orders.db"
    load_faults(
        sim, {"action": "latency", "path": "/api/v3/order", "method": "POST", "latency_ms": 30}
    )
    key = sim.config.demo.keys[0]
    recovered_unknown = 0
    for _ in range(20):
        await _run_child_until_killed(sim, journal, rng)
        options = FAST.with_(recv_window_ms=500, reconcile_margin_ms=200, journal_path=journal)
        async with SpotConnector(
            api_key=key.api_key, secret=key.secret, base_url=sim.url, options=options
        ) as bn:
            recovered_unknown += len(bn.journal.pending())
            await bn.recover()
            assert bn.journal.pending() == []
            entries = {e.client_order_id: e for e in bn.journal.all()}

        truth = [o for o in await ground_truth(sim) if str(o["clientOrderId"]).startswith("bg-")]
        on_exchange = [o["clientOrderId"] for o in truth]
        assert len(on_exchange) == len(set(on_exchange)), "an order was placed twice"
        for order in truth:  # nothing on the exchange the journal does not know as placed
            entry = entries.get(order["clientOrderId"])
            assert entry is not None and entry.stage is Stage.ACKED
            assert entry.order_id == order["orderId"]
        placed = {coid for coid, e in entries.items() if e.order_id is not None}
        assert placed == set(on_exchange)  # nothing believed placed that is not there
    # The kills must really have hit orders in flight, or the test proves little.
    assert recovered_unknown >= 5, recovered_unknown
