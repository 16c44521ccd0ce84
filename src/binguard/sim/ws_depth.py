"""Diff depth streams at Binance's update speeds: engine steps merged per 1000 ms or 100 ms.

The engine emits one `depthUpdate` per step (U..u, absolute quantities of the levels it touched).
`<symbol>@depth` pushes every 1000 ms and `<symbol>@depth@100ms` every 100 ms
(web-socket-streams.md §Diff. Depth Stream), so a batch keeps the first U, the last u and the
latest quantity of each level. Consecutive batches of one stream chain exactly (U = previous u + 1)
because every engine update lands in exactly one batch while the stream has subscribers. An
interval of 0 publishes each step at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

Publish = Callable[[str, dict[str, Any]], None]


class _Batch:
    __slots__ = ("asks", "bids", "first", "last", "symbol")

    def __init__(self, data: dict[str, Any]) -> None:
        self.symbol: str = data["s"]
        self.first: int = data["U"]
        self.last: int = data["u"]
        self.bids: dict[str, str] = dict(data["b"])
        self.asks: dict[str, str] = dict(data["a"])

    def merge(self, data: dict[str, Any]) -> None:
        self.last = data["u"]
        self.bids.update(data["b"])
        self.asks.update(data["a"])

    def event(self, now_ms: int) -> dict[str, Any]:
        return {
            "e": "depthUpdate",
            "E": now_ms,
            "s": self.symbol,
            "U": self.first,
            "u": self.last,
            "b": [[p, q] for p, q in self.bids.items()],
            "a": [[p, q] for p, q in self.asks.items()],
        }


class DepthBatcher:
    """Merges the diffs of each stream of one speed and publishes them every `interval_ms`."""

    def __init__(self, interval_ms: int, publish: Publish) -> None:
        self.interval_ms = interval_ms
        self.publish = publish
        self.pending: dict[str, _Batch] = {}

    def add(self, stream: str, data: dict[str, Any]) -> None:
        if self.interval_ms <= 0:
            self.publish(stream, data)
            return
        batch = self.pending.get(stream)
        if batch is None:
            self.pending[stream] = _Batch(data)
        else:
            batch.merge(data)

    def flush(self, now_ms: int) -> None:
        pending, self.pending = self.pending, {}
        for stream, batch in pending.items():
            self.publish(stream, batch.event(now_ms))

    def drop(self, stream: str) -> None:
        """Forget a stream's pending batch (its last subscriber left)."""
        self.pending.pop(stream, None)

    async def run(self, now_ms: Callable[[], int]) -> None:
        """Publish the pending batches every interval, until cancelled."""
        if self.interval_ms <= 0:
            return
        while True:
            await asyncio.sleep(self.interval_ms / 1000.0)
            if self.pending:
                self.flush(now_ms())
