"""`binguard sim` refuses every bad option, config value and fault-plan value: one line, status 2.

The CLI runs as a real subprocess (`python -m binguard sim ...`); each case asserts the exact
exit status, that stderr is one line starting `binguard sim: ` naming the problem, and that
nothing started (stdout empty). A bad fault plan sent to the admin API is refused the same way
(HTTP 400) instead of being accepted and turning every request into an HTTP 500.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from binguard.sim import Simulator

FILES = {
    "broken.yaml": "symbols: [\n  bad",
    "flow-type.yaml": "flow:\n  interval_ms: fast\n",
    "price.yaml": "symbols:\n  - {symbol: X, base: A, quote: B, initial_price: abc}\n",
    "zero-tick.yaml": "symbols:\n  - {symbol: X, base: A, quote: B, initial_price: '1', tick_size: '0'}\n",
    "list.yaml": "- 1\n- 2\n",
    "ws-negative.yaml": "ws:\n  ping_interval_s: -5\n",
    "retention.yaml": "retention:\n  max_orders: lots\n",
    "neg-plan.yaml": "rules:\n  - {action: reset, probability: -0.5}\n",
    "broken-plan.yaml": "rules: [\n",
    "rule-list.yaml": "rules: reset\n",
    "nth-plan.yaml": "rules:\n  - {action: reset_after, every_nth: abc}\n",
}

CASES = [
    (["--port", "99999"], "--port: must be within 0-65535, not 99999"),
    (["--port", "-1"], "--port: must be within 0-65535"),
    (["--port", "http"], "--port: must be an integer"),
    (["--host", "not a host"], "--host: 'not a host' is not an address"),
    (["--seed", "x"], "--seed: invalid int value"),
    (["--retain-s", "-1"], "--retain-s: must be >= 0"),
    (["--retain-orders", "1.5"], "--retain-orders: must be an integer"),
    (["--api-key", "k"], "--api-key and --api-secret go together"),
    (["--api-key", "a b", "--api-secret", "s"], "--api-key must be printable ASCII"),
    (["--bogus"], "unrecognized arguments: --bogus"),
    (["--config", "/nonexistent.yaml"], "cannot read --config /nonexistent.yaml"),
    (["--config", "broken.yaml"], "broken.yaml: invalid YAML/JSON: while parsing"),
    (["--config", "flow-type.yaml"], "FlowConfig.interval_ms must be int, not 'fast'"),
    (["--config", "price.yaml"], "symbol X: initial_price must be a decimal number"),
    (["--config", "zero-tick.yaml"], "symbol X: tick_size must be above 0"),
    (["--config", "list.yaml"], "expected a mapping at the top level"),
    (["--config", "ws-negative.yaml"], "WsConfig.ping_interval_s must be a finite number >= 0"),
    (["--config", "retention.yaml"], "RetentionConfig.max_orders must be int, not 'lots'"),
    (["--faults", "/nonexistent.yaml"], "cannot read --faults /nonexistent.yaml"),
    (["--faults", "neg-plan.yaml"], "probability must not be negative, not -0.5"),
    (["--faults", "broken-plan.yaml"], "broken-plan.yaml: invalid YAML"),
    (["--faults", "rule-list.yaml"], "'rules' must be a list"),
    (["--faults", "nth-plan.yaml"], "every_nth must be an integer, not 'abc'"),
    (["--fault", "reset_after:every_nth=abc"], "every_nth must be an integer, not 'abc'"),
    (["--fault", "bogus"], "unknown fault action 'bogus'"),
    (["--fault", "reset:probability=-0.1"], "probability must not be negative"),
    (["--fault", "reset:probability=1.5"], "probability must be within [0, 1]"),
    (["--fault", "reset:times=1.5"], "times must be an integer, not 1.5"),
    (["--fault", "reset:every_nth"], "'every_nth' must be key=value"),
    (["--fault", "reset:wat=1"], "unknown fault rule keys: ['wat']"),
    (["--fault", "error:status=999"], "status must be an HTTP status (100-599)"),
    (["--fault", "latency:latency_ms=.inf"], "latency_ms must be a finite number"),
    (["--fault", "stall_after:stall_s=-3"], "stall_s must not be negative"),
    (["--fault", "reset:executed=maybe"], "executed must be true or false"),
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    for name, text in FILES.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(("args", "problem"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_input_is_one_line_and_status_2(files: Path, args: list[str], problem: str) -> None:
    argv = [str(files / a) if a in FILES else a for a in args]
    done = subprocess.run(
        [sys.executable, "-m", "binguard", "sim", "--port", "0", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("binguard sim: ")
    assert problem in lines[0]


async def test_admin_refuses_a_bad_fault_plan(session: aiohttp.ClientSession) -> None:
    """The admin API used to accept every_nth "abc"; then every request answered HTTP 500."""
    async with Simulator() as sim:
        plan = '{"rules": [{"action": "reset_after", "every_nth": "abc"}]}'
        async with session.post(sim.url + "/_sim/faults", data=plan) as r:
            assert r.status == 400
            assert "every_nth must be an integer" in (await r.json())["error"]
        async with session.get(sim.url + "/api/v3/ping") as r:
            assert r.status == 200
        assert sim.bugs == []
