"""Fleet budget (issue 7): 4 processes saturating one IP, with the Redis store and without it.

PROCS OS processes, each with its own SpotConnector and TASKS concurrent tasks reading
`GET /api/v3/ticker/bookTicker?symbol=BTCUSDT` (weight 2) as fast as its budget admits, all from
one source address (IP) against one simulator (its own process) whose only weight limit is
WEIGHT_LIMIT per 1 SECOND. The processes start together (a barrier: "go" is given once all are
connected and synced) and read for RUN_S seconds. Two runs in the same benchmark run:

1. every process keeps its budget in one real redis-server started here
   (`store_from_url("redis://127.0.0.1:PORT/0", ip=..., account=...)`, default options);
   goal: >= 97 % of the limit used in each full window and 0 x 429;
2. every process keeps its own in-memory budget (the default): the 429s and 418s it earns;
3. the Redis store again, for OUTAGE_RUN_S, with redis-server SIGKILLed OUTAGE_AT_S into the run
   and restarted empty on the same port OUTAGE_S later (issue #12 item 1): the requests each
   process made during the outage (on its local share) and every 429 / 418 of the run;
   goal: every process kept trading during the outage, 0 x 429 and 0 x 418.

Counting is the simulator's: its request log gives, per window of its clock, the weight answered
2xx and every 429 / 418; its limits give the bans. The first and last partial windows are left out
of the utilisation figures. Bans are scaled down (LimitsConfig.ban_scale) so that run 2 stays a
benchmark, not a two-minute wait; the ban ladder still escalates (1.2 s, 6 s, 36 s, ...).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from typing import Any

from binguard.backends import BudgetStore
from binguard.backends.redis_url import store_from_url
from binguard.connector.client import SpotConnector
from binguard.connector.options import ConnectorOptions
from binguard.errors import BinanceError
from binguard.policy.refusals import BanInForceError
from binguard.sim import LimitsConfig

from ._common import (
    READY_TIMEOUT,
    SYMBOL,
    RedisProcess,
    SimProcess,
    Truth,
    pct,
    saturation_config,
    sim_weight,
    truth_from_log,
    utilisation,
)
from ._goals import goal

PROCS = 4
TASKS = 4  # per process
RUN_S = 20.0
WEIGHT_LIMIT = 400  # per 1 SECOND window, for the whole IP: 200 bookTicker reads
INTERVAL_MS = 1000
IP = "127.0.0.3"  # every process sends from this one address
ACCOUNT = "demo"
BAN_SCALE = 0.01
GOAL = 0.97
OUTAGE_RUN_S = 10.0
OUTAGE_AT_S = 3.0  # after "go"
OUTAGE_S = 4.0


@dataclass(frozen=True, slots=True)
class _WorkerConfig:
    base_url: str
    api_key: str
    secret: str
    store_url: str | None  # None: the connector's own in-memory store
    run_s: float = RUN_S


# -- one fleet member (a spawned process) ------------------------------------------------------
def _worker(
    cfg: _WorkerConfig, ready: Queue[int], go: Event, results: Queue[dict[str, Any]]
) -> None:
    try:
        report = asyncio.run(_member(cfg, ready, go))
    except BaseException as exc:
        results.put({"pid": os.getpid(), "failed": f"{type(exc).__name__}: {exc}"})
        raise
    results.put(report)


async def _member(cfg: _WorkerConfig, ready: Queue[int], go: Event) -> dict[str, Any]:
    store: BudgetStore | None = None
    if cfg.store_url is not None:
        store = store_from_url(cfg.store_url, ip=IP, account=ACCOUNT)
    errors: Counter[str] = Counter()
    ok = degraded_ok = 0
    try:
        async with SpotConnector(
            api_key=cfg.api_key,
            secret=cfg.secret,
            base_url=cfg.base_url,
            options=ConnectorOptions(local_addr=IP),
            store=store,
        ) as bn:
            await bn.book_ticker(SYMBOL)
            ready.put(os.getpid())
            if not await asyncio.to_thread(go.wait, 2 * READY_TIMEOUT):
                raise RuntimeError("the benchmark never gave the start signal")
            start_ms = bn.time.now_ms()
            stop = time.monotonic() + cfg.run_s

            async def reader() -> None:
                nonlocal ok, degraded_ok
                while time.monotonic() < stop:
                    try:
                        await bn.book_ticker(SYMBOL)
                        ok += 1
                        degraded_ok += bool(getattr(store, "degraded", False))
                    except BanInForceError as err:
                        errors["BanInForceError (local)"] += 1
                        left = max(0.0, stop - time.monotonic())
                        await asyncio.sleep(min(err.retry_after or 1.0, left))
                    except BinanceError as err:
                        errors[f"{type(err).__name__} HTTP {err.http_status}"] += 1

            await asyncio.gather(*(reader() for _ in range(TASKS)))
            stats = bn.stats
            return {
                "pid": os.getpid(),
                "span": (start_ms, start_ms + int(cfg.run_s * 1000)),
                "ok": ok,
                "ok_on_local_share": degraded_ok,
                "errors": dict(errors),
                "retries": stats.retries,
                "bans_seen": stats.bans,
                "outages": getattr(store, "outages", None),
                "skew_ms": getattr(store, "last_skew_ms", None),
            }
    finally:
        aclose = getattr(store, "aclose", None)
        if aclose is not None:
            await aclose()


# -- the parent: start the fleet, give "go", collect, read the simulator's truth ----------------
@dataclass(frozen=True, slots=True)
class _Outcome:
    truth: Truth
    reports: tuple[dict[str, Any], ...]
    bans: tuple[int, ...]  # ban ends (server ms) the simulator handed to the IP
    outage: tuple[int, int] | None = None  # (killed, back) in wall-clock ms: the simulator's clock


def _fleet(
    sim: SimProcess,
    store_url: str | None,
    *,
    run_s: float = RUN_S,
    outage_of: RedisProcess | None = None,
) -> _Outcome:
    key = next(k for k in sim.config.demo.keys if k.kind == "HMAC")
    cfg = _WorkerConfig(sim.url, key.api_key, key.secret, store_url, run_s)
    ctx = multiprocessing.get_context("spawn")
    ready: Queue[int] = ctx.Queue()
    results: Queue[dict[str, Any]] = ctx.Queue()
    go = ctx.Event()
    procs = [
        ctx.Process(target=_worker, args=(cfg, ready, go, results), daemon=True)
        for _ in range(PROCS)
    ]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            _get(ready, procs, 2 * READY_TIMEOUT, "a fleet member never became ready")
        go.set()
        outage = None
        if outage_of is not None:
            time.sleep(OUTAGE_AT_S)  # the scenario's timing, not a synchronisation
            killed = int(time.time() * 1000)
            outage_of.kill()
            time.sleep(OUTAGE_S)
            outage_of.restart()
            outage = (killed, int(time.time() * 1000))
        reports = [_get(results, procs, run_s + 60, "a fleet member never reported") for _ in procs]
        for p in procs:
            p.join(30)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(10)
    failed = [r["failed"] for r in reports if "failed" in r]
    if failed:
        raise RuntimeError(f"fleet member failed: {failed[0]}")
    span = (max(r["span"][0] for r in reports), min(r["span"][1] for r in reports))
    weights = {
        ("GET", "/api/v3/ticker/bookTicker"): sim_weight(
            "GET", "/api/v3/ticker/bookTicker", {"symbol": SYMBOL}
        ),
        ("GET", "/api/v3/time"): sim_weight("GET", "/api/v3/time"),
        ("GET", "/api/v3/exchangeInfo"): sim_weight("GET", "/api/v3/exchangeInfo"),
    }
    truth = truth_from_log(
        sim.get("/_sim/requests"), ip=IP, interval_ms=INTERVAL_MS, weights=weights, span=span
    )
    bans = tuple(sim.get("/_sim/limits")["ips"].get(IP, {}).get("bans", ()))
    return _Outcome(truth, tuple(reports), bans, outage)


def _get(
    q: Queue[Any], procs: Sequence[multiprocessing.process.BaseProcess], timeout: float, what: str
) -> Any:
    """One item from `q` within `timeout`, failing early when a member died without a word."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return q.get(timeout=0.2)
        except queue.Empty:
            dead = [p for p in procs if p.exitcode not in (None, 0)]
            if dead or time.monotonic() > deadline:
                codes = [p.exitcode for p in procs]
                raise RuntimeError(f"{what} (exit codes {codes})") from None


# -- report -------------------------------------------------------------------------------------
def _ban_seconds(n: int) -> float:
    ladder = LimitsConfig().ban_ladder_s
    return sum(ladder[min(i, len(ladder) - 1)] * BAN_SCALE for i in range(n))


def _column(o: _Outcome) -> dict[str, str]:
    lo, med, hi = utilisation(o.truth.full, WEIGHT_LIMIT)
    oks = [r["ok"] for r in o.reports]
    total = sum(oks) or 1
    outages = [r["outages"] for r in o.reports if r["outages"] is not None]
    errors: Counter[str] = Counter()
    for r in o.reports:
        errors.update(r["errors"])
    over = sum(1 for w in o.truth.full if w.counted > WEIGHT_LIMIT)
    return {
        "full windows": str(len(o.truth.full)),
        "used per window, min": pct(lo).strip(),
        "used per window, median": pct(med).strip(),
        "used per window, max": pct(hi).strip(),
        "requests reaching the simulator": str(o.truth.requests),
        "429 answers": str(o.truth.n429),
        "418 answers": str(o.truth.n418),
        "bans earned (their total length)": f"{len(o.bans)} ({_ban_seconds(len(o.bans)):.1f} s)",
        "full windows charged over the limit": str(over),
        "2xx per process": "/".join(f"{x * 100 / total:.0f}%" for x in oks),
        "Redis fallbacks (outages)": str(sum(outages)) if outages else "n/a",
        "errors the callers saw": str(sum(errors.values())),
    }


def _print(redis_run: _Outcome, memory_run: _Outcome) -> None:
    left, right = _column(redis_run), _column(memory_run)
    print(f"   {'':38s} {'Redis store':>18s} {'in-memory stores':>18s}")
    for name in left:
        print(f"   {name:38s} {left[name]:>18s} {right[name]:>18s}")
    for label, o in (("Redis", redis_run), ("in-memory", memory_run)):
        per = " ".join(f"{w.ok_weight * 100 // WEIGHT_LIMIT}" for w in o.truth.full)
        print(f"   {label} run, % of the limit used per full window: {per}")
        errors: Counter[str] = Counter()
        for r in o.reports:
            errors.update(r["errors"])
        if errors:
            print(f"   {label} run, errors the callers saw: {dict(errors)}")
    lo = utilisation(redis_run.truth.full, WEIGHT_LIMIT)[0]
    passed = lo >= GOAL and redis_run.truth.n429 == 0 and bool(redis_run.truth.full)
    goal(
        "fleet on one Redis budget",
        f"min {lo * 100:.0f} % of the limit per full window, {redis_run.truth.n429} x 429",
        f"in-memory stores: {memory_run.truth.n429} x 429, {memory_run.truth.n418} x 418, "
        f"{len(memory_run.bans)} bans",
        f">= {GOAL * 100:.0f} % in every full window and 0 x 429",
        passed,
    )


def _print_outage(o: _Outcome) -> None:
    assert o.outage is not None
    killed, back = o.outage
    inside = [
        w for w in o.truth.windows if killed <= w.start_ms and w.start_ms + INTERVAL_MS <= back
    ]
    used = [w.ok_weight * 100 // WEIGHT_LIMIT for w in inside]
    local = [r["ok_on_local_share"] for r in o.reports]
    outages = [r["outages"] for r in o.reports]
    over = sum(1 for w in o.truth.windows if w.counted > WEIGHT_LIMIT)
    passed = all(n > 0 for n in local) and o.truth.n429 == 0 and o.truth.n418 == 0
    print(
        f"   outage: Redis killed {OUTAGE_AT_S:.0f} s into a {OUTAGE_RUN_S:.0f} s run, back empty "
        f"{(back - killed) / 1000:.1f} s later; reads answered on the local share per process: "
        f"{'/'.join(map(str, local))}; % of the limit used per window inside the outage: "
        f"{' '.join(map(str, used)) or '-'}"
    )
    goal(
        "fleet through a Redis outage",
        f"{o.truth.n429} x 429, {o.truth.n418} x 418, {over} windows over the limit, "
        f"{len(o.bans)} bans",
        f"fallbacks per process {'/'.join(map(str, outages))}",
        "every process kept trading, 0 x 429, 0 x 418",
        passed,
    )


def run() -> None:
    print(
        f"{PROCS} processes x {TASKS} tasks from {IP}, bookTicker reads for {RUN_S:.0f} s each run; "
        f"REQUEST_WEIGHT {WEIGHT_LIMIT} / 1 SECOND; bans scaled x{BAN_SCALE}",
        flush=True,
    )
    with SimProcess(saturation_config(WEIGHT_LIMIT, BAN_SCALE)) as sim, RedisProcess() as redis:
        redis_run = _fleet(sim, redis.url)
        sim.post("/_sim/reset")  # fresh limits, bans and log for the second run
        memory_run = _fleet(sim, None)
        sim.post("/_sim/reset")
        outage_run = _fleet(sim, redis.url, run_s=OUTAGE_RUN_S, outage_of=redis)
    _print(redis_run, memory_run)
    _print_outage(outage_run)


if __name__ == "__main__":
    run()
