"""The live dashboard: what the connector is going through, refreshed a few times a second.

Laid out for 80 columns (a pipe, a CI log): one fact per row, a 17-column label and a value of
at most ~58 characters; long lists (errors by code) are cut to their largest entries.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from binguard._view import VALUE_WIDTH, top
from binguard.backends import LimitKind
from binguard.connector.book import OrderBook
from binguard.connector.client import SpotConnector
from binguard.transport.ws import WsSupervisor

from .runlog import RunLog
from .strategy import MarketMaker


class Dashboard:
    def __init__(
        self,
        bn: SpotConnector,
        strategy: MarketMaker,
        seconds: float,
        book: OrderBook | None = None,
        *,
        log: RunLog | None = None,
        title: str = "binguard demo",
    ) -> None:
        self.bn = bn
        self.book = book
        self.strategy = strategy
        self.seconds = seconds
        self.log = log or RunLog()
        self.title = title
        self.started = time.monotonic()
        self._last = (self.started, 0)
        self._rate = 0.0
        self.weight_used = 0
        self.weight_limit = 0
        self.weight_peak = 0  # the fullest window so far: shows the limit was reached
        # where the offset stood when trading started: the dashboard shows how far it moved
        self.first_offset_ms = bn.time.offset_ms if bn.time.synced else None

    async def refresh_usage(self) -> None:
        budget = self.bn.budget
        if budget is None:
            return
        snap = await budget.snapshot()
        for usage in snap.usage:
            if usage.limit.kind is LimitKind.REQUEST_WEIGHT:
                self.weight_used, self.weight_limit = usage.used, usage.limit.limit
                self.weight_peak = max(self.weight_peak, usage.used)

    def _clock(self) -> str:
        time_sync = self.bn.time
        offset = time_sync.offset_ms
        if self.first_offset_ms is None and time_sync.synced:
            self.first_offset_ms = offset
        moved = offset - (self.first_offset_ms or offset)
        # ServerTimeSync keeps drift at exactly 0.0 until its samples span long enough to fit
        # one (policy/servertime.py, min_drift_span): 0 there means "not known yet".
        drift = (
            f"drift {time_sync.drift_ms_per_min:+.0f} ms/min"
            if time_sync.drift != 0.0
            else "drift estimating"
        )
        return f"{offset:+.1f} ms ({moved:+.1f} since start), {drift}"

    def _rows(self) -> list[tuple[str, str]]:
        now = time.monotonic()
        last_t, last_n = self._last
        if now - last_t >= 1.0:
            self._rate = (self.bn.stats.requests - last_n) / (now - last_t)
            self._last = (now, self.bn.stats.requests)
        stats, errors = self.bn.stats, self.log.errors
        rows = [
            ("elapsed", f"{min(now - self.started, self.seconds):.1f} / {self.seconds:.0f} s"),
            ("requests", f"{self._rate:.1f}/s, {stats.requests} in all, {stats.retries} retried"),
        ]
        if self.weight_limit:
            pct = 100 * self.weight_used / self.weight_limit
            rows.append(
                (
                    "weight",
                    f"{self.weight_used}/{self.weight_limit} a minute ({pct:.0f} %), "
                    f"fullest window {self.weight_peak}",
                )
            )
        rows += [
            ("clock offset", self._clock()),
            ("errors:", "by where they came from"),
            (" from exchange", top(errors.exchange)),
            (" refused here", top(errors.local, VALUE_WIDTH - 15) + " (nothing sent)"),
            (" lookups", top(errors.lookups, VALUE_WIDTH - 11) + " (expected)"),
            (
                "reconciled",
                f"{stats.reconciliations}: found {stats.reconciled_found}, "
                f"absent {stats.reconciled_absent}, re-sent {stats.resends}",
            ),
        ]
        return rows + self._socket_rows() + self._strategy_rows()

    def _socket_rows(self) -> list[tuple[str, str]]:
        rows = []
        for name, sup in self._sockets():
            s = sup.stats
            state = "[green]up[/]" if s.connected else "[red]down[/]"
            rows.append(
                (
                    name,
                    f"{state}, reconnects {s.reconnects}, silences {s.silences}, "
                    f"shutdowns {s.server_shutdowns}",
                )
            )
        if self.book is not None:
            b = self.book.stats
            rows.append(
                (
                    "order book",
                    f"{self.book.state.value} at u={self.book.last_update_id}, "
                    f"resyncs {b.resyncs}, gaps {b.gaps}",
                )
            )
        ud = self.bn.user_data
        if ud is not None:
            rows.append(
                (
                    "user data",
                    f"{'[green]healthy[/]' if ud.healthy else '[red]down[/]'}, reports "
                    f"{ud.reports}, catch-ups {ud.catch_ups} (+{ud.fills_caught_up} fills)",
                )
            )
        return rows

    def _strategy_rows(self) -> list[tuple[str, str]]:
        state = self.strategy.state
        ban = state.banned_until
        ban_text = "none"
        if ban is not None:
            left = (ban - datetime.now(tz=UTC)).total_seconds()
            ban_text = f"[red]BANNED[/] {max(0.0, left):.1f} s more: nothing is sent"
        return [
            ("ban", ban_text),
            (
                "orders",
                f"placed {state.placed}, cancelled {state.cancelled}, filled {state.filled}, "
                f"open {len(state.open)}",
            ),
            (
                "strategy",
                f"quotes: book {state.book_reads}, REST {state.book_waits}; "
                f"budget waits {state.budget_waits}; unhandled {state.unhandled}",
            ),
        ]

    def render(self) -> Group:
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", width=17, no_wrap=True)
        table.add_column()
        for label, value in self._rows():
            table.add_row(label, value)
        return Group(Panel(table, title=self.title, title_align="left"))

    def _sockets(self) -> list[tuple[str, WsSupervisor]]:
        out = [("market data ws", sup) for sup in self.bn.streams.shards]
        if self.bn.user_data is not None:
            out.append(("user data ws", self.bn.user_data.sup))
        return out
