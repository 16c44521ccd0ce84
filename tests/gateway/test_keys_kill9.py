"""`kill -9` of a keys-mode gateway mid-order, 3 times: no order or order list lost or
duplicated after restart and recovery (issue 17, item 2; the soak part `gateway-kill9` does it
20 times). The rounds are tests/gateway/gw_kill9.py's: real gateway processes, the simulator
over loopback."""

from __future__ import annotations

from pathlib import Path

from binguard.sim import Simulator

from .gw_kill9 import kill_rounds


async def test_three_kills_mid_order_lose_and_duplicate_nothing(
    sim: Simulator, tmp_path: Path
) -> None:
    real = sim.config.demo.keys[0]
    tally = await kill_rounds(sim.url, (real.api_key, real.secret), tmp_path, kills=3, seed=7)
    assert tally.problems == []
    assert (tally.kills, tally.lost, tally.duplicated, tally.pending_after) == (3, 0, 0, 0)
    assert tally.bad_answers == 0
    assert 3 <= tally.placed <= 6  # the bot's 3 orders, and those of the gateway's ids that left
    assert tally.lists <= 3
    assert tally.in_flight >= 1  # at least one kill caught an order between journal and answer
