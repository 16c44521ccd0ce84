"""`binguard demo`, the README's main job, end to end: a short chaos run (resets, stalls, 5XX
executed and not, HTML 502s, clock offset and drift, a reachable weight limit, a forced ban,
WebSocket drops) must end with a clean verdict and exit status 0."""

from __future__ import annotations

import json
import subprocess
import sys


def test_a_short_chaos_demo_exits_0_with_a_clean_verdict() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "binguard", "demo", "--seconds", "12", "--json", "--seed", "5"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    verdict = json.loads(run.stdout.strip().splitlines()[-1])
    assert run.returncode == 0, (verdict, run.stderr[-2000:])
    assert verdict["ok"] is True
    assert verdict["orders_intended"] > 0
    assert verdict["orders_on_exchange"] == verdict["orders_intended"]
    broken = {
        k: v
        for k, v in verdict.items()
        if k not in ("orders_intended", "orders_on_exchange", "ok") and v
    }
    assert broken == {}
