"""Ground truth under /_sim/, config loading and the `binguard sim` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import aiohttp
import pytest

from binguard.sim import SimConfig, Simulator, cli

from .helpers import Api


async def test_admin_ground_truth(sim: Simulator, api: Api) -> None:
    await api.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    orders = await api.admin("orders?account=demo")
    assert [o["status"] for o in orders] == ["FILLED"]
    fills = await api.admin("fills?account=demo")
    assert fills and all(f["account"] == "demo" for f in fills)
    limits = await api.admin("limits")
    assert limits["ips"]["127.0.0.1"]["weight"]["1M"] >= 0
    assert limits["orders"]["demo"] == {"10S": 0, "1D": 0}  # filled: decremented
    log = await api.admin("requests")
    assert log[-1]["path"] == "/api/v3/order" and log[-1]["account"] == "demo"
    step = await api.admin("crowd/step?n=3", "POST")
    assert step["steps"] == 3
    await api.admin("latency", "POST", '{"ms": 0}')
    await api.admin("reset", "POST")
    assert await api.admin("orders?account=demo") == []


async def test_admin_rejects_bad_input(sim: Simulator, session: aiohttp.ClientSession) -> None:
    for path, body in [
        ("faults", "rules: [{action: explode}]"),
        ("clock", "[1]"),
        ("crowd/step?n=x", ""),
    ]:
        async with session.post(f"{sim.url}/_sim/{path}", data=body) as r:
            assert r.status == 400


def test_config_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text(
        "seed: 5\n"
        "limits: {rate_limits: [{kind: REQUEST_WEIGHT, interval: SECOND, interval_num: 1, "
        "limit: 10}], ban_scale: 0.01}\n"
        "accounts: [{name: bot, keys: [{api_key: abc, secret: s3}], balances: {USDT: 5}}]\n"
        "flow: {enabled: false}\n"
    )
    config = SimConfig.load(path)
    assert config.seed == 5 and config.limits.rate_limits[0].limit == 10
    assert config.accounts[0].name == "bot" and config.flow.enabled is False
    path.write_text("nonsense_key: 1\n")
    with pytest.raises(ValueError, match="nonsense_key"):
        SimConfig.load(path)


def test_cli_flags_build_config_and_plan() -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(
        [
            "--seed",
            "9",
            "--api-key",
            "K1",
            "--api-secret",
            "S1",
            "--fault",
            "reset_after:path=/api/v3/order,every_nth=3",
        ]
    )
    config, plan = cli.build(args)
    assert config.seed == 9
    assert (config.demo.keys[0].api_key, config.demo.keys[0].secret) == ("K1", "S1")
    assert plan.rules[0].action == "reset_after" and plan.rules[0].every_nth == 3


async def test_cli_runs_a_server() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "binguard",
        "sim",
        "--port",
        "0",
        "--seed",
        "4",
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 20)).decode() for _ in range(5)]
        url = lines[0].rsplit(" ", 1)[-1].strip()
        assert any("HMAC secret" in line for line in lines)
        async with aiohttp.ClientSession() as s, s.get(url + "/api/v3/ping") as r:
            assert r.status == 200
    finally:
        proc.terminate()
        await proc.wait()
