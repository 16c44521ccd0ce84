"""`binguard demo` / `make demo`: a market maker runs through the chaos simulator, then a verdict.

    binguard demo [--seconds 60] [--faults chaos|calm|PLAN.yaml] [--seed N] [--json]

An embedded simulator (binguard.sim) plays Binance with a fault plan; the connector trades
through it for --seconds while a live dashboard shows requests/s, weight used vs the limit, the
clock offset, errors by code, retries, reconciliations and the ban state. At the end the
connector's journal is compared with the simulator's ground truth. Exit status 0 only when
nothing was lost or duplicated, no ban was earned, nothing was sent during a ban, no -1021 came
after the first clock sync and no exception escaped unhandled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from decimal import Decimal
from pathlib import Path

import aiohttp
from rich.console import Console
from rich.live import Live
from rich.table import Table

from binguard.connector.book import OrderBook
from binguard.connector.client import SpotConnector
from binguard.connector.events import Event
from binguard.connector.options import ConnectorOptions
from binguard.sim import Simulator
from binguard.sim.faults import FaultPlan
from binguard.sim.numbers import fmt

from .chaos import chaos_plan, demo_config
from .dashboard import Dashboard
from .strategy import SYMBOL, MarketMaker
from .verdict import Verdict, count_book_mismatches, count_missed_fills, judge


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to trade (60)")
    parser.add_argument(
        "--faults", default="chaos", help="chaos (default), calm, or a fault plan file (YAML/JSON)"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the simulator and faults")
    parser.add_argument("--json", action="store_true", help="print the verdict as one JSON object")


def _plan(name: str, seed: int, seconds: float) -> FaultPlan:
    if name == "chaos":
        return chaos_plan(seed, seconds)
    if name == "calm":
        return FaultPlan()
    return FaultPlan.load(Path(name))


async def _admin(url: str, path: str) -> list[dict[str, object]]:
    async with aiohttp.ClientSession() as s, s.get(f"{url}/_sim/{path}") as r:
        data: list[dict[str, object]] = await r.json()
        return data


log = logging.getLogger("binguard.demo")


async def demo(seconds: float, faults: str, seed: int, console: Console | None) -> Verdict:
    plan = _plan(faults, seed, seconds)
    config = demo_config(seed, chaos=faults != "calm")
    options = ConnectorOptions(
        timeout=2.0,
        recv_window_ms=2000,
        reconcile_margin_ms=500,
        reconcile_poll=0.25,
        resync_every=5.0,
        request_deadline=8.0,
        client_order_id_prefix="demo",
        book_limit=100,  # weight 5 per snapshot: the demo's weight limit is low on purpose
    )
    async with Simulator(config) as sim:
        key = config.demo.keys[0]
        options = options.with_(stream_url=sim.ws_url, ws_api_url=f"{sim.ws_url}/ws-api/v3")
        async with SpotConnector(
            api_key=key.api_key, secret=key.secret, base_url=sim.url, options=options
        ) as bn:
            learnt: list[int] = []  # when the connector learnt of each ban, on the sim's clock

            def on_event(event: Event) -> None:
                if event.kind == "ban_start":
                    learnt.append(sim.state.clock.now_ms())

            bn.on(on_event)
            sim.state.faults.load(plan)  # faults start once the bot is up
            # WebSockets first: fills pushed over the WebSocket API, a local book from diffs
            # (their sockets draw their connection faults from the plan as they open).
            await bn.start_user_data([SYMBOL])
            book = await bn.order_book(SYMBOL)
            mm = MarketMaker(bn, book=book)
            board = Dashboard(bn, mm, seconds, book)
            runner = asyncio.create_task(mm.run(seconds))
            live = Live(board.render(), console=console, refresh_per_second=4) if console else None
            with live or contextlib.nullcontext():
                while not runner.done():
                    await asyncio.wait({runner}, timeout=0.25)
                    await board.refresh_usage()
                    if live is not None:
                        live.update(board.render())
            await runner
            sim.state.faults.load(FaultPlan())  # settle in calm water
            await mm.flatten()
            await bn.recover()
            mismatches = await _book_mismatches(sim, book)
            missed = await _missed_fills(sim.url, bn)
            return judge(
                journal=bn.journal.all(),
                exchange_orders=await _admin(sim.url, "orders"),
                requests=await _admin(sim.url, "requests"),
                forced_ban_labels={r.label for r in plan.rules if r.action == "http_418"},
                bans_learnt_at=learnt,
                clock_errors_after_sync=bn.stats.clock_errors_after_sync,
                unhandled=mm.state.unhandled,
                prefix=options.client_order_id_prefix,
                book_mismatches=mismatches,
                missed_fills=missed,
            )


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


def _print_verdict(console: Console, verdict: Verdict) -> None:
    table = Table(title="verdict: connector vs the exchange's ground truth")
    table.add_column("check")
    table.add_column("count", justify="right")
    table.add_column("")
    for key, value in verdict.as_dict().items():
        if key == "ok":
            continue
        must_be_zero = key in Verdict.MUST_BE_ZERO
        mark = ("[green]✓[/]" if value == 0 else "[red]✗[/]") if must_be_zero else ""
        table.add_row(key, str(value), mark)
    console.print(table)
    console.print("[green]PASS[/]" if verdict.ok else "[red]FAIL[/]")


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING)
    console = None if args.json else Console()
    try:
        verdict = asyncio.run(demo(args.seconds, args.faults, args.seed, console))
    except (OSError, ValueError) as exc:
        print(f"binguard demo: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(verdict.as_dict()))
    else:
        assert console is not None
        _print_verdict(console, verdict)
    return 0 if verdict.ok else 1
