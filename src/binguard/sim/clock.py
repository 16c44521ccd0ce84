"""The exchange's clock: wall time plus an offset and a drift, both changeable while running.

A client's -1021 handling can only be tested against a server whose time differs from its own,
so the simulator's "now" is `wall + offset + drift x (wall - anchor)`. Changing offset or drift
re-anchors, so time never jumps unless asked to (`jump`).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class ServerClock:
    """Server time in µs and ms. `drift_ms_per_s` > 0 makes the server run fast."""

    def __init__(
        self,
        offset_ms: float = 0.0,
        drift_ms_per_s: float = 0.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._wall = wall
        self._anchor = wall()
        self._offset_us = offset_ms * 1000.0
        self._drift = drift_ms_per_s / 1000.0

    def now_us(self) -> int:
        wall = self._wall()
        return int(wall * 1e6 + self._offset_us + self._drift * (wall - self._anchor) * 1e6)

    def now_ms(self) -> int:
        return self.now_us() // 1000

    @property
    def offset_ms(self) -> float:
        """The current total offset from wall time (initial offset plus accumulated drift)."""
        return (self.now_us() - self._wall() * 1e6) / 1000.0

    @property
    def drift_ms_per_s(self) -> float:
        return self._drift * 1000.0

    def set(self, offset_ms: float | None = None, drift_ms_per_s: float | None = None) -> None:
        """Set the offset (from wall time, in ms) and/or the drift; re-anchors at the current time."""
        current = self.offset_ms
        self._anchor = self._wall()
        self._offset_us = (current if offset_ms is None else offset_ms) * 1000.0
        if drift_ms_per_s is not None:
            self._drift = drift_ms_per_s / 1000.0

    def jump(self, delta_ms: float) -> None:
        """Move server time by `delta_ms` at once (a fault: an NTP step on the exchange)."""
        self.set(offset_ms=self.offset_ms + delta_ms)
