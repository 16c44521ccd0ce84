"""Orders under execution-unknown faults, over REST or the WebSocket API: none lost or duplicated.

The simulator runs in its own process with limits raised so that the budget is exercised (every
order and lookup is counted against them) but is not the bottleneck: REQUEST_WEIGHT 600,000 per
minute, ORDERS 100,000 per 10 s and 10,000,000 per day. Orders are LIMIT IOC buys below the
market: each is final (EXPIRED) at once, so the simulator's open-order book stays empty and its
memory is what it retains of terminal orders. Many tasks place concurrently through one
connector; while some wait out a reconciliation (Binance's recvWindow proof), others go on.

Ground truth: the simulator's `/_sim/orders`, polled every 3 s while the part runs (terminal orders
are evicted 30 s after they end, once 5,000 newer ones exist: the soak's retention, so the
simulator's memory reaches its plateau within the run) and once at the end; the connector's
journal (a SQLite file) after a final `recover()`.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import aiohttp
from bench._common import SimProcess

from binguard.connector import ConnectorOptions, SpotConnector
from binguard.errors import BinanceError
from binguard.sim import FlowConfig, LimitsConfig, RateLimitSpec, RetentionConfig, SimConfig

from ._common import SELF, Clock, PartResult, SecretWatch, growth_mb, rss_mb

SYMBOL = "BTCUSDT"
ORDER = {"path": "/api/v3/order", "method": "POST"}
WS_ORDER = {"path": "/ws-api/v3", "method": "order.place"}
# 10 % of order requests end with the outcome unknown to the client, plus 3 % reset before the
# engine (to the client these look the same as a reset after it).
REST_FAULTS: tuple[dict[str, Any], ...] = (
    {**ORDER, "action": "reset", "probability": 0.03, "name": "reset before engine"},
    {**ORDER, "action": "reset_after", "probability": 0.03, "name": "reset after execution"},
    {**ORDER, "action": "partial_after", "probability": 0.01, "name": "partial body, executed"},
    {**ORDER, "action": "stall_after", "probability": 0.01, "stall_s": 1.5, "name": "stall"},
    {**ORDER, "action": "error", "status": 503, "code": -1007, "executed": True,
     "probability": 0.02, "name": "-1007 executed"},
    {**ORDER, "action": "error", "status": 503, "code": -1006, "probability": 0.02,
     "name": "-1006 not executed"},
    {**ORDER, "action": "html", "status": 502, "probability": 0.01, "name": "HTML 502"},
)  # fmt: skip
# Over the WebSocket API most execution-unknown answers are typed (-1007 with the order
# executed, -1006 without): a reset or close ends the whole socket and every request in flight on
# it (up to --tasks of them), so those are rare here (0.1 % of requests, about one a second at
# this rate) where on REST each ends one request.
WS_FAULTS: tuple[dict[str, Any], ...] = (
    {**WS_ORDER, "action": "ws_reset", "probability": 0.0002, "name": "reset before engine"},
    {**WS_ORDER, "action": "ws_reset", "executed": True, "probability": 0.0005,
     "name": "reset after execution"},
    {**WS_ORDER, "action": "ws_close", "executed": True, "probability": 0.0003,
     "name": "close after execution"},
    {**WS_ORDER, "action": "ws_error", "status": 503, "code": -1007, "executed": True,
     "probability": 0.06, "name": "-1007 executed"},
    {**WS_ORDER, "action": "ws_error", "status": 503, "code": -1006, "probability": 0.04,
     "name": "-1006 not executed"},
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class OrdersSpec:
    via: Literal["rest", "ws"]
    orders: int
    tasks: int
    max_seconds: float
    seed: int


def sim_config(seed: int) -> SimConfig:
    return SimConfig(
        seed=seed,
        limits=LimitsConfig(
            rate_limits=(
                RateLimitSpec("REQUEST_WEIGHT", "MINUTE", 1, 600_000),
                RateLimitSpec("ORDERS", "SECOND", 10, 100_000),
                RateLimitSpec("ORDERS", "DAY", 1, 10_000_000),
                RateLimitSpec("RAW_REQUESTS", "MINUTE", 5, 3_000_000),
            ),
        ),
        flow=FlowConfig(interval_ms=0),
        log_size=2_000,  # request and fault logs (bounded); the sampler reads the faults each second
        # Far shorter than the default (300 s) so the simulator's memory reaches its plateau within
        # seconds; still longer than the connector's reconcile deadline below, as the rule requires.
        retention=RetentionConfig(horizon_s=5.0, max_orders=2_000),
    )


def options(sim: SimProcess, spec: OrdersSpec, journal: Path) -> ConnectorOptions:
    ws = sim.url.replace("http://", "ws://")
    return ConnectorOptions(
        timeout=1.0,
        recv_window_ms=500,
        reconcile_margin_ms=200,
        reconcile_poll=0.05,
        reconcile_deadline=4.0,
        request_deadline=30.0,
        journal_path=journal,
        orders_via=spec.via,
        stream_url=ws,
        ws_api_url=f"{ws}/ws-api/v3",
    )


def run(spec: OrdersSpec) -> PartResult:
    result = PartResult(f"orders-{spec.via}")
    # The WebSocket part faults its REST fallback too: every order meets the same 10 %.
    rules = REST_FAULTS if spec.via == "rest" else WS_FAULTS + REST_FAULTS
    with SimProcess(sim_config(spec.seed)) as sim, tempfile.TemporaryDirectory() as tmp:
        sim.post("/_sim/faults", {"seed": spec.seed, "rules": list(rules)})
        started = time.monotonic()
        asyncio.run(_drive(sim, spec, Path(tmp) / "orders.db", result))
        result.seconds = time.monotonic() - started
    return result


class _Truth:
    """The simulator's orders by client order id, accumulated from incremental polls of
    /_sim/orders (`since`: only orders newer than the last seen), every second: well inside the
    retention horizon, so every order is seen before it can be evicted."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.by_coid: dict[str, set[int]] = {}
        self._since = 0

    async def poll(self, session: aiohttp.ClientSession) -> None:
        params = {"symbol": SYMBOL, "since": str(self._since)}
        async with session.get(f"{self.url}/_sim/orders", params=params) as reply:
            for order in await reply.json():
                order_id = int(order["orderId"])
                self._since = max(self._since, order_id)
                coid = str(order["clientOrderId"])
                if coid.startswith("bg"):
                    self.by_coid.setdefault(coid, set()).add(order_id)


class _Counts:
    def __init__(self) -> None:
        self.done = 0
        self.typed: Counter[str] = Counter()
        self.unhandled: list[str] = []
        self.faults = 0


async def _place_loop(
    bn: SpotConnector, tickets: itertools.count[int], spec: OrdersSpec, end: float, n: _Counts
) -> None:
    while time.monotonic() < end:
        i = next(tickets)
        if i >= spec.orders:
            return
        try:
            await bn.place_order(
                SYMBOL, "BUY", "LIMIT", quantity="0.001",
                price=f"{20000 + i % 5000}.00", time_in_force="IOC",
            )  # fmt: skip
            n.done += 1
        except BinanceError as e:  # typed: counted, and settled by recover() at the end
            n.typed[type(e).__name__] += 1
        except Exception as e:  # noqa: BLE001  # the invariant: none may reach the bot
            n.unhandled.append(repr(e)[:200])


async def _sample(
    sim: SimProcess, bn: SpotConnector, n: _Counts, truth: _Truth, result: PartResult
) -> None:
    clock = Clock()
    last_done, last_fault_ms, last_reconciled = 0, 0, 0
    async with aiohttp.ClientSession() as session:
        while True:
            await asyncio.sleep(1.0)  # the sampling period, not synchronisation
            async with session.get(f"{sim.url}/_sim/faults") as reply:
                log = (await reply.json())["log"]
            fresh = [e for e in log if int(e["time"]) > last_fault_ms]
            if fresh:
                last_fault_ms = max(int(e["time"]) for e in fresh)
            n.faults += len(fresh)
            await truth.poll(session)
            result.series.add(
                clock(),
                orders_per_s=n.done - last_done,
                faults=len(fresh),
                reconciliations=bn.stats.reconciliations - last_reconciled,
                rss_sim=rss_mb(sim.pid),
                rss_soak=rss_mb(SELF),
            )
            last_done, last_reconciled = n.done, bn.stats.reconciliations


async def _drive(sim: SimProcess, spec: OrdersSpec, journal: Path, result: PartResult) -> None:
    key = sim_config(spec.seed).demo.keys[0]
    n, truth = _Counts(), _Truth(sim.url)
    tickets = itertools.count()
    end = time.monotonic() + spec.max_seconds
    watch = SecretWatch((key.secret,))
    with watch:
        await _drive_connector(sim, spec, journal, key, n, truth, tickets, end, result, watch)


async def _drive_connector(
    sim: SimProcess, spec: OrdersSpec, journal: Path, key: Any, n: _Counts, truth: _Truth,
    tickets: itertools.count[int], end: float, result: PartResult, watch: SecretWatch,
) -> None:  # fmt: skip
    async with SpotConnector(
        api_key=key.api_key, secret=key.secret, base_url=sim.url,
        options=options(sim, spec, journal),
    ) as bn:  # fmt: skip
        sampler = asyncio.create_task(_sample(sim, bn, n, truth, result))
        try:
            await asyncio.gather(
                *(_place_loop(bn, tickets, spec, end, n) for _ in range(spec.tasks))
            )
            await bn.recover()  # settles what a typed failure left unknown
        finally:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
        async with aiohttp.ClientSession() as session:
            await truth.poll(session)
            async with session.get(f"{sim.url}/_sim/limits") as reply:
                limits = await reply.json()
        _judge(bn, spec, n, truth, limits, result)
    result.figures["log records read (DEBUG)"] = f"{watch.records:,}"
    result.zero("secrets in log lines", watch.leaks)


def _judge(
    bn: SpotConnector,
    spec: OrdersSpec,
    n: _Counts,
    truth: _Truth,
    limits: dict[str, Any],
    result: PartResult,
) -> None:
    entries = bn.journal.all()
    placed = {e.client_order_id: e.order_id for e in entries if e.order_id is not None}
    # An order settled as ARCHIVED (-2026: it existed, Binance no longer says which id) is known.
    archived = {e.client_order_id for e in entries if e.order_id is None and e.status == "ARCHIVED"}
    lost = sum(1 for coid, oid in placed.items() if truth.by_coid.get(coid) != {oid})
    lost += sum(1 for coid in truth.by_coid if coid not in placed and coid not in archived)
    lost += sum(1 for coid in archived if coid not in truth.by_coid)
    duplicated = sum(1 for ids in truth.by_coid.values() if len(ids) > 1)
    bans = sum(len(ip["bans"]) for ip in limits["ips"].values())
    seconds = max(result.series.t[-1] if result.series.t else 1.0, 1.0)
    rss_sim = result.series.values.get("rss_sim", [])
    result.figures.update(
        {
            "intents": f"{len(entries):,}",
            "placed": f"{n.done:,}",
            "orders/s": f"{n.done / seconds:.0f}",
            "faults fired": f"{n.faults:,}",
            "reconciliations": f"{bn.stats.reconciliations:,}",
            "re-sent": f"{bn.stats.resends:,}",
            "typed failures": ", ".join(f"{k}×{v}" for k, v in n.typed.most_common()) or "0",
            "sim RSS": f"{min(rss_sim, default=0):.0f}→{max(rss_sim, default=0):.0f} MB",
        }
    )
    if bn.ws_orders is not None:  # how the WebSocket API part's order requests went
        result.figures["order requests on the socket"] = f"{bn.ws_orders.requests:,}"
        result.figures["over REST (socket down)"] = f"{bn.ws_orders.rest_fallbacks:,}"
        result.figures["socket connects"] = f"{bn.ws_orders.sup.stats.connects:,}"
    result.check("orders placed", n.done, n.done >= spec.orders * 0.9, f">= 90 % of {spec.orders}")
    result.zero("lost", lost)
    result.zero("duplicated", duplicated)
    result.zero("left unknown after recover()", len(bn.journal.pending()))
    result.zero("unhandled exceptions", len(n.unhandled))
    result.zero("429 earned (-1003)", bn.stats.errors_by_code.get("-1003", 0))
    result.zero("418 bans", bans)
    grown = growth_mb(rss_sim)
    result.check("sim RSS growth, 2nd half (MB)", round(grown, 1), grown <= 10, "<= 10")
