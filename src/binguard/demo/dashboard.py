"""The live dashboard: what the connector is going through, refreshed a few times a second."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from binguard.backends import LimitKind
from binguard.connector.book import OrderBook
from binguard.connector.client import SpotConnector
from binguard.transport.ws import WsSupervisor

from .strategy import MarketMaker


class Dashboard:
    def __init__(
        self,
        bn: SpotConnector,
        strategy: MarketMaker,
        seconds: float,
        book: OrderBook | None = None,
    ) -> None:
        self.bn = bn
        self.book = book
        self.strategy = strategy
        self.seconds = seconds
        self.started = time.monotonic()
        self._last = (self.started, 0)
        self._rate = 0.0
        self.weight_used = 0
        self.weight_limit = 0
        self.weight_peak = 0  # the fullest window so far: shows the limit was reached

    async def refresh_usage(self) -> None:
        budget = self.bn.budget
        if budget is None:
            return
        snap = await budget.snapshot()
        for usage in snap.usage:
            if usage.limit.kind is LimitKind.REQUEST_WEIGHT:
                self.weight_used, self.weight_limit = usage.used, usage.limit.limit
                self.weight_peak = max(self.weight_peak, usage.used)

    def render(self) -> Group:
        now = time.monotonic()
        last_t, last_n = self._last
        if now - last_t >= 1.0:
            self._rate = (self.bn.stats.requests - last_n) / (now - last_t)
            self._last = (now, self.bn.stats.requests)
        stats, st = self.bn.stats, self.strategy.state
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        elapsed = now - self.started
        table.add_row("elapsed", f"{elapsed:5.1f} / {self.seconds:.0f} s")
        table.add_row("requests/s", f"{self._rate:6.1f}   (total {stats.requests})")
        if self.weight_limit:
            pct = 100 * self.weight_used / self.weight_limit
            table.add_row(
                "weight",
                f"{self.weight_used} / {self.weight_limit} per minute ({pct:3.0f} %), "
                f"fullest window {self.weight_peak}",
            )
        rtt = self.bn.time.rtt_ms
        table.add_row(
            "clock offset",
            f"{self.bn.time.offset_ms:+8.1f} ms  drift {self.bn.time.drift_ms_per_min:+.0f} ms/min"
            + (f"  rtt {rtt:.1f} ms" if rtt is not None else ""),
        )
        errors = ", ".join(f"{k}×{v}" for k, v in stats.errors_by_code.most_common(8)) or "none"
        table.add_row("errors", errors)
        table.add_row("retries", str(stats.retries))
        table.add_row(
            "reconciliations",
            f"{stats.reconciliations} (found {stats.reconciled_found}, "
            f"absent {stats.reconciled_absent}, re-sent {stats.resends})",
        )
        for name, sup in self._sockets():
            s = sup.stats
            state = "[green]connected[/]" if s.connected else "[red]down[/]"
            table.add_row(
                name,
                f"{state}  reconnects {s.reconnects}, rotations {s.rotations}, "
                f"silences {s.silences}, shutdowns {s.server_shutdowns}"
                + (f"  (last: {s.last_reason})" if s.last_reason else ""),
            )
        if self.book is not None:
            b = self.book.stats
            table.add_row(
                "order book",
                f"{self.book.state.value} at u={self.book.last_update_id}  resyncs {b.resyncs}, "
                f"gaps {b.gaps}, continued {b.continued}",
            )
        ud = self.bn.user_data
        if ud is not None:
            table.add_row(
                "user data",
                f"{'[green]healthy[/]' if ud.healthy else '[red]down[/]'}  reports {ud.reports}, "
                f"catch-ups {ud.catch_ups} (+{ud.fills_caught_up} fills), "
                f"fills known {len(self.bn.tracker.fills)}, REST polls {ud.polls}",
            )
        ban = st.banned_until
        ban_text = "none"
        if ban is not None:
            left = (ban - datetime.now(tz=UTC)).total_seconds()
            ban_text = f"[red]BANNED[/] for {max(0.0, left):.1f} s more — nothing is sent"
        table.add_row("ban", ban_text)
        table.add_row(
            "strategy",
            f"placed {st.placed}, cancelled {st.cancelled}, filled {st.filled}, "
            f"open {len(st.open)}, rejected {st.rejected}, waited for budget {st.budget_waits}, "
            f"quoted from the book {st.book_reads} (from REST while resyncing {st.book_waits}), "
            f"unhandled {st.unhandled}",
        )
        return Group(
            Panel(table, title="binguard demo — market maker through chaos", title_align="left")
        )

    def _sockets(self) -> list[tuple[str, WsSupervisor]]:
        out = []
        if self.bn._streams is not None:
            out += [("market data", sup) for sup in self.bn._streams.shards]
        if self.bn.user_data is not None:
            out.append(("user data ws", self.bn.user_data.sup))
        return out
