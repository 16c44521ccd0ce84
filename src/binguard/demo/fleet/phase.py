"""One run of the fleet demo: a fresh simulator with the chaos plan, N ccxt bots on its one IP,
either straight at it or through a `binguard gateway` process in front of it.

The gateway runs as its own process, started with the command an operator types (nothing
imports the gateway: tests/test_layers.py), and the bots know only its URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from binguard.sim import Simulator
from binguard.sim.config import LimitsConfig, RateLimitSpec, SimConfig
from binguard.sim.faults import FaultPlan

from ..chaos import Scenario
from .bots import Bot
from .verdict import Facts, judge

# REQUEST_WEIGHT a minute per bot (1200 for 4: Binance's limit of old, and binance-proxy's): a
# bot asks ~34 a second (bots.py), so polling directly they overrun it within seconds.
WEIGHT_PER_BOT = 300
BAN_SCALE = 1 / 24  # bans of 5 s, 25 s, 150 s...: Binance's ladder (2 min to 3 days), shortened
SETTLE_S = 8.0  # after trading: time to resolve unknown outcomes and cancel (faults off)
GATEWAY_START_S = 30.0


def fleet_config(base: SimConfig, bots: int) -> SimConfig:
    """The demo's exchange (binguard.demo.chaos, `base`) with a weight limit that `bots` bots
    overrun when they poll it directly, and bans short enough for a one-minute demo."""
    limits = LimitsConfig(
        rate_limits=(
            RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, WEIGHT_PER_BOT * bots),
            *(s for s in base.limits.rate_limits if s.kind != "REQUEST_WEIGHT"),
        ),
        ban_scale=BAN_SCALE,
    )
    return dataclasses.replace(base, limits=limits)


@contextlib.asynccontextmanager
async def gateway_process(upstream: str) -> AsyncIterator[str]:
    """`binguard gateway --upstream <sim>` on a free loopback port; yields its URL, then stops
    it with SIGTERM (it drains and exits)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "binguard",
        "gateway",
        "--upstream",
        upstream,
        "--listen",
        "127.0.0.1:0",
        "--log-level",
        "ERROR",
        "--drain",
        "2",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), GATEWAY_START_S)).decode()
        if " on " not in line:
            raise OSError("binguard gateway did not start")
        yield line.split(" on ", 1)[1].split(" -> ", 1)[0]
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def run_phase(chosen: Scenario, bots: int, seconds: float, *, through_gateway: bool) -> Facts:
    """One run: the scenario's fault plan for `seconds` of trading, then calm while the bots
    settle."""
    config = fleet_config(chosen.config, bots)
    plan = chosen.plan
    forced = {r.label for r in plan.rules if r.action == "http_418"}
    async with Simulator(config) as sim:
        key = config.demo.keys[0]
        if through_gateway:
            async with gateway_process(sim.url) as url:
                states = await _trade(sim, url, key.api_key, key.secret, bots, seconds, plan)
                status = await _get(url + "/status")
            books = status["caches"]["books"]
            snapshots = sum(b["snapshots"] for b in books.values())
            mode = "through gateway"
        else:
            states = await _trade(sim, sim.url, key.api_key, key.secret, bots, seconds, plan)
            snapshots, mode = 0, "direct"
        orders = await _get(sim.url + "/_sim/orders")
        ip = sim.state.limits.ips.get("127.0.0.1")
        ends = list(ip.bans) if ip is not None else []
        return judge(mode, states, list(sim.state.requests), orders, ends, forced, snapshots)


async def _trade(
    sim: Simulator, url: str, key: str, secret: str, n: int, seconds: float, plan: FaultPlan
) -> list[Any]:
    fleet = [Bot(f"b{i + 1}", url, key, secret) for i in range(n)]
    try:
        await asyncio.gather(*(_start(b) for b in fleet))
        sim.state.faults.load(plan)  # faults start once the bots are up
        await asyncio.gather(*(b.run(seconds) for b in fleet))
        sim.state.faults.load(FaultPlan())
        await asyncio.gather(*(b.settle(SETTLE_S) for b in fleet))
    finally:
        await asyncio.gather(*(b.close() for b in fleet))
    return [b.state for b in fleet]


async def _start(bot: Bot) -> None:
    """load_markets (exchangeInfo), as every ccxt bot starts; tried again until it answers."""
    for _ in range(20):
        try:
            await bot._call("load_markets")
            return
        except bot.ccxt.BaseError:
            await asyncio.sleep(0.5)
    raise OSError(f"bot {bot.state.name}: load_markets never answered")


async def _get(url: str) -> Any:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return await r.json()
