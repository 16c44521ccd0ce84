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

from .conftest import FAST, admin, ground_truth, load_faults

ROOT = Path(__file__).resolve().parents[2]


async def _run_child_until_killed(
    sim: Simulator, journal: Path, rng: random.Random, mode: str = "orders"
) -> None:
    key = sim.config.demo.keys[0]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.connector._child",
        sim.url,
        key.api_key,
        key.secret,
        str(journal),
        mode,
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


MIXED_KILLS = 8  # a shorter run in the suite; `make soak` kills the orders-only child 20 times


async def test_kill9_with_lists_and_cancel_replaces(sim: Simulator, tmp_path: Path) -> None:
    """The child places an order, an OCO list and a cancel-replace per round: after each kill and
    recover(), every order, list and edit on the exchange is known to the journal once, and
    nothing the journal believes placed is missing (ground truth /_sim/orders, /_sim/order_lists)."""
    rng = random.Random(20261205)
    journal = tmp_path / "orders.db"
    paths = ("/api/v3/order", "/api/v3/orderList/oco", "/api/v3/order/cancelReplace")
    load_faults(sim, *({"action": "latency", "path": p, "latency_ms": 30} for p in paths))
    key = sim.config.demo.keys[0]
    in_flight = 0
    for _ in range(MIXED_KILLS):
        await _run_child_until_killed(sim, journal, rng, "mixed")
        options = FAST.with_(recv_window_ms=500, reconcile_margin_ms=200, journal_path=journal)
        async with SpotConnector(
            api_key=key.api_key, secret=key.secret, base_url=sim.url, options=options
        ) as bn:
            j = bn.journal
            in_flight += len(j.pending()) + len(j.lists.pending()) + len(j.edits.pending())
            await bn.recover()
            assert (j.pending(), j.lists.pending(), j.edits.pending()) == ([], [], [])
            await _assert_journal_is_the_truth(sim, bn)
            for left in await bn.open_order_lists():  # a recovered list's stop leg counts
                await bn.cancel_order_list("BTCUSDT", order_list_id=left.order_list_id)
    assert in_flight >= 2, in_flight


async def _assert_journal_is_the_truth(sim: Simulator, bn: SpotConnector) -> None:
    j = bn.journal
    orders = {e.client_order_id: e for e in j.all()}
    legs = {leg.client_order_id: leg for e in j.lists.all() for leg in e.legs}
    edits = {e.edit_id: e for e in j.edits.all()}
    truth = [o for o in await ground_truth(sim) if str(o["clientOrderId"]).startswith("bg-")]
    on_exchange = [o["clientOrderId"] for o in truth]
    assert len(on_exchange) == len(set(on_exchange)), "an order was placed twice"
    for order in truth:  # every order on the exchange is known to the journal, with its id
        coid, oid = order["clientOrderId"], order["orderId"]
        known = orders.get(coid) or legs.get(coid) or edits.get(coid)
        assert known is not None, f"{coid} is on the exchange, unknown to the journal"
        assert known.order_id == oid, (coid, known)
    believed = {c for c, e in orders.items() if e.order_id is not None}
    believed |= {c for c, leg in legs.items() if leg.order_id is not None}
    believed |= {
        c for c, e in edits.items() if e.kind == "cancel_replace" and e.order_id is not None
    }
    assert believed <= set(on_exchange), "believed placed, not on the exchange"
    lists = [t for t in await admin(sim, "order_lists") if t["listClientOrderId"].startswith("bg-")]
    ids = [t["listClientOrderId"] for t in lists]
    assert len(ids) == len(set(ids)), "a list was placed twice"
    for t in lists:
        entry = j.lists.get(t["listClientOrderId"])
        assert entry is not None and entry.order_list_id == t["orderListId"]
        assert entry.stage in (Stage.ACKED, Stage.FINAL)
