"""The local order book: the cost of reading the top after every update, next to ccxt's book.

The same pre-decoded diff depth events (10 bid and 10 ask levels each, contiguous update ids) are
applied to a book installed from a snapshot of N levels per side (tick 0.01, 8-decimal rendering
as Binance sends it). An event's prices sit near the top of the book as a market's do (distance
from the initial best drawn from an exponential law, mean 30 ticks, capped at N), and 30 % of its
rows remove their level, so the best price is removed and re-inserted all the time.

Goals (issue 18, goal 1), best of several rounds, microseconds per event:
- at 5,000 levels per side: `on_event` + `best()` <= 2x `on_event` alone;
- at 1,000 levels per side: ours (`on_event` + `best()`) <= 0.5x ccxt's book (its
  `OrderBookSide.storeArray` per row, fed floats as ccxt.pro's Binance handler feeds it, then the
  first bid and ask). The peer is timed without ccxt's `safe_float` conversions and message
  handling: the bare book, a floor for ccxt.

    python -m bench book
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from ccxt.async_support.base.ws.order_book import OrderBook as CcxtBook

from bench._goals import goal
from binguard.connector.book import OrderBook

ROUNDS = 9
EVENTS = 4000
ROWS = 10  # levels per side in each event
FIRST_ID = 71_000_000_000  # update ids and event times as large as Binance's (same digit counts)


def _quiet_emit(kind: str, **data: Any) -> None:
    if kind != "book_synced":
        raise AssertionError(f"unexpected {kind}: {data}")


async def _no_snapshot(symbol: str, limit: int) -> dict[str, Any]:
    raise AssertionError("the bench installs its snapshot itself")


def snapshot(levels: int) -> dict[str, Any]:
    """A book of `levels` per side around 30000, Binance's rendering."""
    return {
        "lastUpdateId": FIRST_ID,
        "bids": [[f"{30000 - i * 0.01:.8f}", "1.00000000"] for i in range(levels)],
        "asks": [[f"{30000.01 + i * 0.01:.8f}", "1.00000000"] for i in range(levels)],
    }


def events(n: int, levels: int, seed: int = 7) -> list[dict[str, Any]]:
    """`n` contiguous diff depth events (the `data` of combined-stream frames) for a book of
    `levels` per side."""
    rng = random.Random(seed)

    def rows(base: float, step: float) -> list[list[str]]:
        out = []
        for _ in range(ROWS):
            ticks = min(int(rng.expovariate(1 / 30)), levels - 1)
            qty = 0.0 if rng.random() < 0.3 else rng.uniform(0.001, 5)
            out.append([f"{base + step * ticks:.8f}", f"{qty:.8f}"])
        return out

    out, u = [], FIRST_ID
    for i in range(n):
        first, u = u + 1, u + rng.randint(1, 5)
        out.append(
            {
                "e": "depthUpdate",
                "E": 1_733_400_000_000 + i * 100,
                "s": "BTCUSDT",
                "U": first,
                "u": u,
                "b": rows(30000.0, -0.01),
                "a": rows(30000.01, 0.01),
            }
        )
    return out


def installed(snap: dict[str, Any]) -> OrderBook:
    """A live book from `snap`, as `_sync` leaves it (no socket, no snapshot request)."""
    book = OrderBook(None, _no_snapshot, _quiet_emit, "BTCUSDT", limit=len(snap["bids"]))  # type: ignore[arg-type]
    assert book._install(snap, trusted=True)
    return book


def _best_of(run: Callable[[], float]) -> float:
    return min(run() for _ in range(ROUNDS))


def _ours_once(snap: dict[str, Any], evs: list[dict[str, Any]], *, read: bool) -> float:
    """Seconds per event: `on_event` (+ `best()` after each when `read`)."""
    book = installed(snap)
    on_event, best = book.on_event, book.best
    start = time.perf_counter()
    if read:
        for data in evs:
            on_event("btcusdt@depth@100ms", data)
            best()
    else:
        for data in evs:
            on_event("btcusdt@depth@100ms", data)
    elapsed = time.perf_counter() - start
    assert book.ready
    assert book.stats.gaps == 0
    return elapsed / len(evs)


def ours(snap: dict[str, Any], evs: list[dict[str, Any]]) -> tuple[float, float]:
    """(update alone, update + best()) in seconds per event, rounds interleaved so that a noisy
    neighbour hits both alike; best of each."""
    alone = read = float("inf")
    for _ in range(ROUNDS):
        alone = min(alone, _ours_once(snap, evs, read=False))
        read = min(read, _ours_once(snap, evs, read=True))
    return alone, read


def ccxt(snap: dict[str, Any], evs: list[dict[str, Any]]) -> float:
    """Seconds per event for ccxt's order book: every row stored, then the first bid and ask."""
    floats = {side: [[float(p), float(q)] for p, q in snap[side]] for side in ("bids", "asks")}

    def run() -> float:
        book = CcxtBook({"bids": floats["bids"], "asks": floats["asks"]})
        bids, asks = book["bids"], book["asks"]
        start = time.perf_counter()
        for data in evs:
            for row in data["a"]:
                asks.storeArray([float(row[0]), float(row[1])])
            for row in data["b"]:
                bids.storeArray([float(row[0]), float(row[1])])
            book["nonce"] = data["u"]
            (bids[0] if bids else None, asks[0] if asks else None)
        return (time.perf_counter() - start) / len(evs)

    return _best_of(run)


def run() -> None:
    big = snapshot(5000)
    big_events = events(EVENTS, 5000)
    alone, read = ours(big, big_events)
    print(f"order book, 5,000 levels per side, {ROWS} + {ROWS} levels per event:")
    print(f"   on_event           {alone * 1e6:8.2f} us/event")
    print(f"   on_event + best()  {read * 1e6:8.2f} us/event")
    goal(
        "book update + best() at 5,000 levels",
        f"{read * 1e6:.2f} us = {read / alone:.2f}x the update alone",
        f"update alone {alone * 1e6:.2f} us",
        "<= 2.0x",
        read / alone <= 2.0,
    )
    mid = snapshot(1000)
    mid_events = events(EVENTS, 1000)
    mine, peer = float("inf"), float("inf")
    for _ in range(3):  # interleaved, best of each
        mine = min(mine, ours(mid, mid_events)[1])
        peer = min(peer, ccxt(mid, mid_events))
    print("order book, 1,000 levels per side:")
    print(f"   binguard on_event + best()         {mine * 1e6:8.2f} us/event")
    print(f"   ccxt OrderBookSide.storeArray + [0] {peer * 1e6:8.2f} us/event")
    goal(
        "book update + best() at 1,000 levels vs ccxt",
        f"{mine * 1e6:.2f} us = {mine / peer:.2f}x ccxt",
        f"ccxt {peer * 1e6:.2f} us",
        "<= 0.5x",
        mine / peer <= 0.5,
    )
