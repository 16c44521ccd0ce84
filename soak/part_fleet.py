"""Four processes on one Redis budget while Redis is killed and restarted: trading goes on, and
the IP earns no 429 and no 418.

Each member is a spawned process with its own SpotConnector (the Redis store from `--store`'s URL
form) and several tasks reading `ticker/bookTicker` as fast as the budget admits, all from one
address against a simulator (its own process) whose binding limit is REQUEST_WEIGHT per second.
redis-server is killed (SIGKILL) and started again on the same port `restarts` times. The
simulator's request log counts 429s and 418s; each member counts its successful reads per second,
so the table shows what the fleet did while Redis was down.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

from bench._common import (
    READY_TIMEOUT,
    RedisProcess,
    SimProcess,
    saturation_config,
    sim_weight,
    truth_from_log,
)

from binguard.backends.redis_url import store_from_url
from binguard.connector import ConnectorOptions, SpotConnector
from binguard.errors import BinanceError

from ._common import SELF, Clock, PartResult, rss_mb

SYMBOL = "BTCUSDT"
MEMBERS = 4
TASKS = 4
WEIGHT_LIMIT = 400  # per second, for the whole IP
IP = "127.0.0.4"
UP_S, DOWN_S = 8.0, 4.0  # Redis up, then killed for DOWN_S, per cycle


@dataclass(frozen=True, slots=True)
class FleetSpec:
    restarts: int
    seed: int


@dataclass(frozen=True, slots=True)
class _Member:
    base_url: str
    api_key: str
    secret: str
    store_url: str
    run_s: float


def _member_main(cfg: _Member, ready: Queue[int], go: Event, out: Queue[dict[str, Any]]) -> None:
    try:
        out.put(asyncio.run(_member(cfg, ready, go)))
    except BaseException as exc:
        out.put({"pid": os.getpid(), "failed": f"{type(exc).__name__}: {exc}"})
        raise


async def _member(cfg: _Member, ready: Queue[int], go: Event) -> dict[str, Any]:
    store = store_from_url(cfg.store_url, ip=IP, account="demo")
    per_second: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    unhandled: list[str] = []
    try:
        async with SpotConnector(
            api_key=cfg.api_key, secret=cfg.secret, base_url=cfg.base_url,
            options=ConnectorOptions(local_addr=IP), store=store,
        ) as bn:  # fmt: skip
            ready.put(os.getpid())
            if not await asyncio.to_thread(go.wait, 2 * READY_TIMEOUT):
                raise RuntimeError("never given the start signal")
            start = time.monotonic()

            async def reader() -> None:
                while (elapsed := time.monotonic() - start) < cfg.run_s:
                    try:
                        await bn.book_ticker(SYMBOL)
                        per_second[int(elapsed)] += 1
                    except BinanceError as err:  # a typed refusal: wait what it says
                        errors[type(err).__name__] += 1
                        await asyncio.sleep(min(err.retry_after or 0.2, 1.0))
                    except Exception as err:  # noqa: BLE001  # the invariant: none reach the bot
                        unhandled.append(repr(err)[:200])

            await asyncio.gather(*(reader() for _ in range(TASKS)))
    finally:
        await store.aclose()
    return {"pid": os.getpid(), "per_second": dict(per_second), "errors": dict(errors),
            "unhandled": unhandled}  # fmt: skip


def run(spec: FleetSpec) -> PartResult:
    result = PartResult("fleet")
    run_s = spec.restarts * (UP_S + DOWN_S) + UP_S
    with SimProcess(saturation_config(WEIGHT_LIMIT, ban_scale=0.01)) as sim:
        redis = RedisProcess()
        redis.__enter__()
        try:
            outages, reports = _run_fleet(sim, redis, spec, run_s, result)
        finally:
            redis.close()
        log = sim.get("/_sim/requests")
        bans = sim.get("/_sim/limits")["ips"].get(IP, {}).get("bans", [])
    _judge(result, outages, reports, log, bans)
    return result


def _run_fleet(
    sim: SimProcess, redis: RedisProcess, spec: FleetSpec, run_s: float, result: PartResult
) -> tuple[list[tuple[float, float]], list[dict[str, Any]]]:
    key = next(k for k in sim.config.demo.keys if k.kind == "HMAC")
    cfg = _Member(sim.url, key.api_key, key.secret, redis.url, run_s)
    ctx = multiprocessing.get_context("spawn")
    ready: Queue[int] = ctx.Queue()
    out: Queue[dict[str, Any]] = ctx.Queue()
    go = ctx.Event()
    procs = [ctx.Process(target=_member_main, args=(cfg, ready, go, out), daemon=True)
             for _ in range(MEMBERS)]  # fmt: skip
    for p in procs:
        p.start()
    outages: list[tuple[float, float]] = []
    try:
        pids = [_get(ready, 2 * READY_TIMEOUT) for _ in procs]
        go.set()
        clock = Clock()
        for _ in range(spec.restarts):
            _sample_until(clock, UP_S * (len(outages) + 1) + DOWN_S * len(outages), sim, redis,
                          pids, result)  # fmt: skip
            down = clock()
            redis.kill()
            _sample_until(clock, down + DOWN_S, sim, redis, pids, result)
            redis.restart()
            outages.append((down, clock()))
        _sample_until(clock, run_s, sim, redis, pids, result)
        reports = [_get(out, run_s + 60) for _ in procs]
    finally:
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    return outages, reports


def _sample_until(
    clock: Clock, until: float, sim: SimProcess, redis: RedisProcess, pids: list[int],
    result: PartResult,
) -> None:  # fmt: skip
    while clock() < until:
        time.sleep(min(1.0, max(0.0, until - clock())))  # the sampling period
        result.series.add(
            clock(),
            rss_sim=rss_mb(sim.pid),
            rss_redis=rss_mb(redis.pid) if redis.pid else float("nan"),
            rss_members=sum(rss_mb(p) for p in pids),
            rss_soak=rss_mb(SELF),
        )


def _get(q: Queue[Any], timeout: float) -> Any:
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        raise RuntimeError(f"a fleet member did not answer within {timeout:.0f} s") from None


def _judge(
    result: PartResult,
    outages: list[tuple[float, float]],
    reports: list[dict[str, Any]],
    log: list[dict[str, Any]],
    bans: list[Any],
) -> None:
    failed = [r["failed"] for r in reports if "failed" in r]
    per_second: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    for r in reports:
        per_second.update({int(k): v for k, v in r.get("per_second", {}).items()})
        errors.update(r.get("errors", {}))
    during = [sum(per_second[s] for s in range(int(a) + 1, int(b))) for a, b in outages]
    for t, _ in enumerate(result.series.t):
        result.series.values.setdefault("reads_per_s", []).append(per_second.get(t, 0))
    weights = {
        ("GET", p): sim_weight("GET", p, {"symbol": SYMBOL} if "book" in p else None)
        for p in ("/api/v3/ticker/bookTicker", "/api/v3/time", "/api/v3/exchangeInfo")
    }
    truth = truth_from_log(log, ip=IP, interval_ms=1000, weights=weights, span=(0, 1))  # fmt: skip
    over = sum(1 for w in truth.windows if w.counted > WEIGHT_LIMIT)
    result.figures.update(
        {
            "members × tasks": f"{MEMBERS} × {TASKS}, REQUEST_WEIGHT {WEIGHT_LIMIT}/s",
            "Redis outages": ", ".join(f"{a:.0f}–{b:.0f} s" for a, b in outages),
            "reads during each outage": ", ".join(str(d) for d in during),
            "reads in all": f"{sum(per_second.values()):,}",
            "refusals the callers saw": ", ".join(f"{k}×{v}" for k, v in errors.items()) or "0",
        }
    )
    result.zero("members failed", len(failed))
    result.zero("unhandled exceptions", sum(len(r.get("unhandled", [])) for r in reports))
    result.zero("429 answers", truth.n429)
    result.zero("418 answers", truth.n418 + len(bans))
    result.zero("windows charged over the limit", over)
    stalled = sum(1 for d in during if d == 0)
    result.zero("outages with no read at all", stalled)
