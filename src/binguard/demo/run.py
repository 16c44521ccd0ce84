"""One demo run: start the simulator, trade through the connector on time, settle, judge.

Trading lasts `seconds` (plus at most the strategy's grace for a call still running); settling
(recover(), cancels, the book and fills checks) is timed step by step and reported apart, since
its waits are the exchange's (a spent weight window, a book catching up), not the bot's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import aiohttp
from rich.console import Console
from rich.live import Live

from binguard.connector.book import OrderBook
from binguard.connector.client import SpotConnector
from binguard.connector.events import Event
from binguard.connector.options import ConnectorOptions
from binguard.sim import Simulator
from binguard.sim.faults import FaultPlan
from binguard.sim.numbers import fmt

from .chaos import DEMO_WEIGHT_LIMIT, Scenario
from .dashboard import Dashboard
from .report import Report
from .runlog import RunLog
from .story import ClockFacts, Facts, Timing, tell
from .strategy import SYMBOL, MarketMaker
from .verdict import count_book_mismatches, count_missed_fills, judge

log = logging.getLogger("binguard.demo")
T = TypeVar("T")

OPTIONS = ConnectorOptions(
    timeout=2.0,
    recv_window_ms=2000,
    reconcile_margin_ms=500,
    # One lookup a second while an order's fate is open: a lookup weighs 4, and at 4 a second
    # one reconciliation alone would spend a third of the demo's 300-a-minute weight limit.
    reconcile_poll=1.0,
    resync_every=5.0,
    request_deadline=8.0,
    client_order_id_prefix="demo",
    book_limit=100,  # weight 5 per snapshot: the demo's weight limit is low on purpose
)


async def demo(seconds: float, chosen: Scenario, console: Console | None) -> Report:
    """Run the demo; `console` None: no dashboard (--json)."""
    if console is not None:
        console.print(chosen.title)
        console.print(f"seed {chosen.config.seed}: {seconds:.0f} s of trading, then a verdict")
    async with Simulator(chosen.config) as sim:
        key = chosen.config.demo.keys[0]
        options = OPTIONS.with_(stream_url=sim.ws_url, ws_api_url=f"{sim.ws_url}/ws-api/v3")
        async with SpotConnector(
            api_key=key.api_key, secret=key.secret, base_url=sim.url, options=options
        ) as bn:
            return await _session(sim, bn, chosen, seconds, console)


async def _session(
    sim: Simulator, bn: SpotConnector, chosen: Scenario, seconds: float, console: Console | None
) -> Report:
    runlog = RunLog()
    bn.on(runlog.on_event)
    learnt: list[int] = []  # when the connector learnt of each ban, on the sim's clock

    def on_ban(event: Event) -> None:
        if event.kind == "ban_start":
            learnt.append(sim.state.clock.now_ms())

    bn.on(on_ban)
    sim.state.faults.load(chosen.plan)  # faults start once the bot is up
    # WebSockets first: fills pushed over the WebSocket API, a local book from diffs (their
    # sockets draw their connection faults from the plan as they open).
    await bn.start_user_data([SYMBOL])
    book = await bn.order_book(SYMBOL)
    mm = MarketMaker(bn, book=book)
    board = Dashboard(bn, mm, seconds, book, log=runlog, title=chosen.title)
    offset_start = bn.time.offset_ms
    runlog.start()
    timing = Timing(asked=seconds)
    await _trade(mm, board, seconds, console)
    timing.traded, timing.cut_short = time.time() - runlog.started, mm.state.cut_short
    clock = ClockFacts(
        offset_start_ms=offset_start,
        offset_end_ms=bn.time.offset_ms,
        drift_known=bn.time.drift != 0.0,
        drift_ms_per_min=bn.time.drift_ms_per_min,
        clock_errors=bn.stats.clock_errors,
        clock_errors_after_sync=bn.stats.clock_errors_after_sync,
    )
    if console is not None:
        console.print("settling: recover(), cancel what is open, check book and fills")
    settled = await _settle(sim, bn, mm, book, timing)
    verdict = judge(
        journal=bn.journal.all(),
        lists=bn.journal.lists.all(),
        edits=bn.journal.edits.all(),
        exchange_orders=await _admin(sim.url, "orders"),
        exchange_lists=await _admin(sim.url, "order_lists"),
        amendments=await _admin(sim.url, "amendments"),
        requests=await _admin(sim.url, "requests"),
        forced_ban_labels={r.label for r in chosen.plan.rules if r.action == "http_418"},
        bans_learnt_at=learnt,
        clock_errors_after_sync=clock.clock_errors_after_sync,
        unhandled=mm.state.unhandled,
        prefix=bn.options.client_order_id_prefix,
        book_mismatches=settled["book_mismatches"],
        missed_fills=settled["missed_fills"],
    )
    facts = Facts(runlog, verdict, timing, clock, DEMO_WEIGHT_LIMIT, board.weight_peak)
    story = tell(facts, forced_ban=chosen.forced_ban)
    counted = sum(bn.stats.errors_by_code.values())
    return Report(verdict, story, timing, runlog.errors, counted)


async def _trade(
    mm: MarketMaker, board: Dashboard, seconds: float, console: Console | None
) -> None:
    """Run the strategy for `seconds`, refreshing the dashboard (live on a terminal only)."""
    runner = asyncio.create_task(mm.run(seconds))
    live = None
    if console is not None and console.is_terminal:
        live = Live(board.render(), console=console, refresh_per_second=4)
    with live or contextlib.nullcontext():
        while not runner.done():
            await asyncio.wait({runner}, timeout=0.25)
            await board.refresh_usage()
            if live is not None:
                live.update(board.render())
    await runner
    if console is not None and live is None:
        console.print(board.render())  # no terminal: the dashboard once, as trading ended


async def _timed(timing: Timing, name: str, step: Callable[[], Awaitable[T]]) -> T:
    started = time.monotonic()
    try:
        return await step()
    finally:
        timing.settling[name] = time.monotonic() - started


async def _settle(
    sim: Simulator, bn: SpotConnector, mm: MarketMaker, book: OrderBook, timing: Timing
) -> dict[str, int]:
    """Calm water, then settle every order and check the book and the fills (each step timed)."""
    sim.state.faults.load(FaultPlan())
    found = await _timed(timing, "recover()", bn.recover)
    mm.adopt(found)
    await _timed(timing, "cancels", mm.flatten)
    mismatches = await _timed(timing, "book check", lambda: _book_mismatches(sim, book))
    missed = await _timed(timing, "fills check", lambda: _missed_fills(sim.url, bn))
    return {"book_mismatches": mismatches, "missed_fills": missed}


async def _admin(url: str, path: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.get(f"{url}/_sim/{path}") as r:
        data: list[dict[str, Any]] = await r.json()
        return data


async def _book_mismatches(sim: Simulator, book: OrderBook, wait_s: float = 75.0) -> int:
    """Compare the local book with the simulator's at the same update id (the crowd keeps
    trading: wait for an instant where the book has caught up with the engine's last update).

    The wait is bounded by more than one weight window: a book resyncing at the end may wait for
    the budget to allow its snapshot (the demo's weight limit is low on purpose). A consistent
    book returns at once."""
    engine_book = sim.state.engine.books[book.symbol]
    deadline = asyncio.get_running_loop().time() + wait_s
    while asyncio.get_running_loop().time() < deadline:
        if book.ready and (u := book.last_update_id) == engine_book.update_id:
            _, bids, asks = sim.state.engine.depth(book.symbol, 100_000)
            theirs = (
                [(Decimal(fmt(p)), Decimal(fmt(q))) for p, q in bids],
                [(Decimal(fmt(p)), Decimal(fmt(q))) for p, q in asks],
            )
            bad = count_book_mismatches((book.bids(), book.asks()), theirs)
            if bad:
                log.warning("order book: %d levels differ from the exchange's at u=%d", bad, u)
            return bad
        await asyncio.sleep(0.005)
    log.warning(
        "order book never matched the exchange's update id within %.0f s (ready %s, local u=%s,"
        " exchange u=%s)",
        wait_s,
        book.ready,
        book.last_update_id,
        engine_book.update_id,
    )
    return 1  # never consistent with the exchange within the wait


async def _missed_fills(url: str, bn: SpotConnector, wait_s: float = 75.0) -> int:
    """Fills of the account the connector does not know; the stream gets a moment to deliver
    (and a REST catch-up as long as one weight window, should it wait for the budget)."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        missed = count_missed_fills(await _admin(url, "fills"), bn.tracker.trade_ids())
        if not missed or asyncio.get_running_loop().time() > deadline:
            return missed
        await asyncio.sleep(0.1)
