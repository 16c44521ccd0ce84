"""`binguard gateway --dashboard`: a live terminal view of the gateway, like the demo's.

Laid out as the demo's dashboard is (binguard/demo/dashboard.py, which the gateway may not
import: nothing below the CLI depends on the demo): 80 columns, one fact per row, a 17-column
label and a value of at most ~58 characters; counts by code or reason are cut to their largest.

`take(gateway)` reads one `Board` (the gateway's /status and its metrics, at one instant);
`View.render(board)` draws it (pure: tests render a known Board without a terminal); `run()`
refreshes it a few times a second on a terminal, or prints it every PRINT_EVERY_S seconds and
once at the end when stdout is not one (a log, a pipe).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import Metric
from rich.console import Console
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from binguard._view import VALUE_WIDTH, top

if TYPE_CHECKING:
    from .app import Gateway

PRINT_EVERY_S = 30.0


@dataclass(slots=True)
class Board:
    """What the view shows, taken at one instant (`take`)."""

    upstream: str
    uptime_s: float
    requests: int = 0  # sent upstream (every attempt), in all
    statuses: Counter[str] = field(default_factory=Counter)  # upstream answers by status
    local: Counter[str] = field(default_factory=Counter)  # local answers by reason
    queued: int = 0
    waits: int = 0
    wait_s: float = 0.0  # total wait for budget over `waits` admissions
    latency_n: int = 0
    latency_s: float = 0.0  # total upstream round trip over `latency_n`
    hits: int = 0
    misses: Counter[str] = field(default_factory=Counter)  # by reason
    windows: list[tuple[str, int, int]] = field(default_factory=list)  # (key, used, max)
    banned_left_s: float | None = None
    paused_left_s: float | None = None
    bots: int = 0
    ws_api_bots: int = 0
    upstream_up: bool = False
    reconnects: int = 0
    synced: bool = False
    offset_ms: float = 0.0
    draining: bool = False
    in_flight: int = 0


def _by(metric: Metric, label: str) -> Counter[str]:
    """A counter family's `_total` samples summed by one label."""
    out: Counter[str] = Counter()
    for s in metric.samples:
        if s.name.endswith("_total"):
            out[s.labels[label]] += int(s.value)
    return out


def _histogram(metric: Metric) -> tuple[int, float]:
    count = total = 0.0
    for s in metric.samples:
        if s.name.endswith("_count"):
            count = s.value
        elif s.name.endswith("_sum"):
            total = s.value
    return int(count), total


async def take(gw: Gateway) -> Board:
    """The gateway's state now: its /status and its metrics."""
    status = await gw.status()
    m = gw.metrics
    now_ms = gw.gate.now_ms()
    (requests,) = m.requests.collect()
    (local,) = m.local.collect()
    (queued,) = m.queued.collect()
    (misses,) = m.cache_misses.collect()
    (hits,) = m.cache_hits.collect()
    (wait,) = m.queue_wait.collect()
    (latency,) = m.latency.collect()
    waits, wait_s = _histogram(wait)
    latency_n, latency_s = _histogram(latency)
    streams, clock = status["streams"], status["clock"]
    banned, paused = status["banned_until_ms"], status["paused_until_ms"]
    return Board(
        upstream=status["upstream"],
        uptime_s=time.time() - gw.started_at,
        requests=sum(_by(requests, "status").values()),
        statuses=_by(requests, "status"),
        local=_by(local, "reason"),
        queued=sum(_by(queued, "endpoint").values()),
        waits=waits,
        wait_s=wait_s,
        latency_n=latency_n,
        latency_s=latency_s,
        hits=sum(_by(hits, "cache").values()),
        misses=_by(misses, "reason"),
        windows=[(b["limit"], b["used"], b["max"]) for b in status["budget"]],
        banned_left_s=None if banned is None else max(0.0, (banned - now_ms) / 1000),
        paused_left_s=None if paused is None else max(0.0, (paused - now_ms) / 1000),
        bots=streams["bot_sockets"],
        ws_api_bots=status["ws_api"]["bot_sockets"],
        upstream_up=streams["upstream_connected"],
        reconnects=streams["reconnects"],
        synced=clock["synced"],
        offset_ms=clock["offset_ms"],
        draining=status["draining"],
        in_flight=status["in_flight"],
    )


class View:
    """Draws Boards; remembers the last one for the request rate and each window's peak."""

    def __init__(self, title: str = "binguard gateway") -> None:
        self.title = title
        self._last: tuple[float, int] | None = None
        self._rate = 0.0
        self.peaks: dict[str, int] = {}  # the fullest each window has been

    def render(self, board: Board, now: float | None = None) -> Panel:
        now = time.monotonic() if now is None else now
        if self._last is None:
            self._last = (now, board.requests)
        elif now - self._last[0] >= 1.0:
            self._rate = (board.requests - self._last[1]) / (now - self._last[0])
            self._last = (now, board.requests)
        for key, used, _ in board.windows:
            self.peaks[key] = max(self.peaks.get(key, 0), used)
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", width=17, no_wrap=True)
        table.add_column()
        for label, value in self.rows(board):
            table.add_row(label, value)
        return Panel(table, title=self.title, title_align="left")

    def rows(self, b: Board) -> list[tuple[str, str]]:
        state = "[yellow]draining[/]" if b.draining else "[green]ready[/]"
        upstream = b.upstream if len(b.upstream) <= 40 else b.upstream[:39] + "…"
        rows = [
            ("gateway", f"{state}, up {b.uptime_s:.0f} s, {b.in_flight} in flight"),
            ("upstream", f"{upstream}, clock {self._clock(b)}"),
            ("requests", f"{self._rate:.1f}/s upstream, {b.requests} in all"),
            (" answers", top(b.statuses)),
        ]
        rows += [(label, value) for label, value in self._windows(b)]
        rows += [
            ("ban", self._ban(b)),
            ("local answers", top(b.local)),
            ("queued", self._queued(b)),
            ("caches", self._caches(b)),
            ("latency", self._latency(b)),
            (
                "sockets",
                f"upstream {'[green]up[/]' if b.upstream_up else '[red]down[/]'}, "
                f"reconnects {b.reconnects}; bots: streams {b.bots}, ws-api {b.ws_api_bots}",
            ),
        ]
        return rows

    def _windows(self, b: Board) -> list[tuple[str, str]]:
        out = []
        for key, used, most in b.windows:
            kind, _, window = key.partition(":")
            label = {"REQUEST_WEIGHT": "weight", "ORDERS": "orders", "RAW_REQUESTS": "raw"}
            pct = 100 * used / most if most else 0.0
            peak = self.peaks.get(key, used)
            value = f"{used}/{most} per {window} ({pct:.0f} %), fullest {peak}"
            out.append((f"{label.get(kind, kind.lower())} {window}", value))
        return out

    @staticmethod
    def _clock(b: Board) -> str:
        return f"{b.offset_ms:+.1f} ms" if b.synced else "not synced"

    @staticmethod
    def _ban(b: Board) -> str:
        if b.banned_left_s is not None:
            return f"[red]BANNED[/] {b.banned_left_s:.1f} s more: nothing is sent upstream"
        if b.paused_left_s is not None:
            return f"[yellow]paused[/] (429) {b.paused_left_s:.1f} s more: nothing is sent"
        return "none"

    @staticmethod
    def _queued(b: Board) -> str:
        mean = 1000 * b.wait_s / b.waits if b.waits else 0.0
        return f"{b.queued} held for budget; mean wait {mean:.1f} ms over {b.waits}"

    @staticmethod
    def _caches(b: Board) -> str:
        asked = b.hits + sum(b.misses.values())
        share = f" ({100 * b.hits / asked:.0f} %)" if asked else ""
        head = f"hits {b.hits}{share}; misses: "
        return head + top(b.misses, VALUE_WIDTH - len(head))

    @staticmethod
    def _latency(b: Board) -> str:
        mean = 1000 * b.latency_s / b.latency_n if b.latency_n else 0.0
        return f"upstream mean {mean:.1f} ms over {b.latency_n} round trips"


async def run(gw: Gateway, stop: asyncio.Event, console: Console) -> None:
    """Show the view until `stop` is set: live on a terminal, else printed every PRINT_EVERY_S
    and once at the end."""
    view = View()
    live = None
    if console.is_terminal:
        live = Live(view.render(await take(gw)), console=console, refresh_per_second=4)
    printed = time.monotonic()
    with live or contextlib.nullcontext():
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)
            board = await take(gw)
            if live is not None:
                live.update(view.render(board))
            elif time.monotonic() - printed >= PRINT_EVERY_S:
                console.print(view.render(board))
                printed = time.monotonic()
    if live is None:
        console.print(view.render(await take(gw)))
