"""Binance's server time, estimated NTP-style from `GET /api/v3/time` samples.

A sample is (monotonic send time, `serverTime`, monotonic receive time). The server read its clock
somewhere between send and receive, so the midpoint of the round trip is off by at most half the
round-trip time (RTT): the lowest-RTT samples are the best. Everything is anchored to the monotonic
clock, so a wall-clock step (NTP) on this machine changes nothing. Binance's clock may also run at
a slightly different rate (the drift); with samples spread over time it is estimated by a weighted
least-squares fit and applied between resyncs.

Signed requests use `now_ms()`. Resync when `needs_resync()` says so: never synced, periodically,
or after `invalidate()` — called on -1021, since the server just told us the estimate is wrong
(rest-api.md §Timing security).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from .clock import Clock, SystemClock


@dataclass(frozen=True, slots=True)
class TimeSample:
    """One round trip to `/api/v3/time`: monotonic seconds around Binance's `serverTime` (ms)."""

    sent: float
    server_ms: int
    received: float

    @property
    def rtt_ms(self) -> float:
        return (self.received - self.sent) * 1000.0

    @property
    def mid(self) -> float:
        return (self.sent + self.received) / 2.0

    @property
    def offset_ms(self) -> float:
        """Server time minus the monotonic clock (ms) at the midpoint of the round trip."""
        return self.server_ms - self.mid * 1000.0


class ServerTimeSync:
    """Keeps an estimate of Binance's clock; pure, fed by the transport with samples.

    - `rtt_tolerance`: samples with RTT above `min_rtt * rtt_tolerance + 1 ms` are outliers
      (queued behind other traffic) and ignored.
    - `dispersion_per_s`: how fast an old sample loses credibility (ms lost per second of age,
      as NTP's PHI); the best sample minimises `rtt/2 + age * dispersion_per_s`.
    - `min_drift_span`: seconds the kept samples must span before the drift is estimated.
    - `max_drift`: bound on the estimated rate difference (0.01 = 600 ms per minute).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        resync_every: float = 300.0,
        keep: int = 16,
        rtt_tolerance: float = 2.0,
        dispersion_per_s: float = 0.05,
        min_drift_span: float = 60.0,
        max_drift: float = 0.01,
    ) -> None:
        if resync_every <= 0 or keep < 1 or rtt_tolerance < 1:
            raise ValueError("resync_every > 0, keep >= 1 and rtt_tolerance >= 1 are required")
        self._clock = clock
        # Bound once: now_ms() runs several times per request. The system clock's is time's own.
        self._monotonic = time.monotonic if type(clock) is SystemClock else clock.monotonic
        self.resync_every = resync_every
        self._samples: deque[TimeSample] = deque(maxlen=keep)
        self._rtt_tolerance = rtt_tolerance
        self._dispersion = dispersion_per_s
        self._min_span = min_drift_span
        self._max_drift = max_drift
        self._best: TimeSample | None = None
        # now_ms()'s inputs, copied from _best and _drift whenever they change (hot path)
        self._best_mid = 0.0
        self._best_ms = 0
        self._rate = 1.0
        self._drift = 0.0
        self._last_sync: float | None = None
        self._stale = False

    # -- feeding ----------------------------------------------------------------------------
    def add(self, sent: float, server_ms: int, received: float) -> None:
        """Record one `/api/v3/time` round trip (monotonic seconds of this Clock)."""
        if received < sent:
            raise ValueError("a sample cannot be received before it was sent")
        self._samples.append(TimeSample(sent, server_ms, received))
        self._last_sync = received
        self._stale = False
        self._estimate()

    def invalidate(self) -> None:
        """-1021 seen: the estimate is wrong (clock jump?); forget the samples, ask for a resync."""
        self._samples.clear()
        self._stale = True

    def _estimate(self) -> None:
        min_rtt = min(s.rtt_ms for s in self._samples)
        good = [s for s in self._samples if s.rtt_ms <= min_rtt * self._rtt_tolerance + 1.0]
        if good[-1].mid - good[0].mid >= self._min_span:
            self._drift = self._fit_drift(good)
        latest = good[-1].mid
        self._best = best = min(
            good, key=lambda s: s.rtt_ms / 2 + (latest - s.mid) * self._dispersion
        )
        self._best_mid, self._best_ms, self._rate = best.mid, best.server_ms, 1.0 + self._drift

    def _fit_drift(self, samples: list[TimeSample]) -> float:
        """Slope of offset vs time, each sample weighted by 1/RTT²; bounded by `max_drift`."""
        weights = [1.0 / (s.rtt_ms + 1.0) ** 2 for s in samples]
        total = sum(weights)
        mean_t = sum(w * s.mid for w, s in zip(weights, samples, strict=True)) / total
        mean_o = sum(w * s.offset_ms for w, s in zip(weights, samples, strict=True)) / total
        cov = sum(
            w * (s.mid - mean_t) * (s.offset_ms - mean_o)
            for w, s in zip(weights, samples, strict=True)
        )
        var = sum(w * (s.mid - mean_t) ** 2 for w, s in zip(weights, samples, strict=True))
        slope = cov / var / 1000.0 if var > 0 else 0.0  # ms of offset per ms of time
        return max(-self._max_drift, min(self._max_drift, slope))

    # -- reading ----------------------------------------------------------------------------
    def now_ms(self) -> int:
        """Binance's time now, in ms, for `timestamp=`; the wall clock until the first sample."""
        if self._best is None:
            return int(self._clock.time() * 1000)
        elapsed = self._monotonic() - self._best_mid
        return int(self._best_ms + elapsed * 1000.0 * self._rate)

    @property
    def synced(self) -> bool:
        return self._best is not None

    @property
    def offset_ms(self) -> float:
        """Binance's clock minus this machine's wall clock, now (0 until synced)."""
        if self._best is None:
            return 0.0
        return self.now_ms() - self._clock.time() * 1000.0

    @property
    def rtt_ms(self) -> float | None:
        """RTT of the sample the estimate rests on; the offset error is at most half of it."""
        return self._best.rtt_ms if self._best is not None else None

    @property
    def drift(self) -> float:
        """Rate of Binance's clock relative to ours, minus 1 (0.001 = 60 ms gained per minute)."""
        return self._drift

    @property
    def drift_ms_per_min(self) -> float:
        return self._drift * 60_000.0

    # -- when to sync -------------------------------------------------------------------------
    def resync_due(self) -> float:
        """Monotonic time at which the next periodic resync is due (now if never synced)."""
        if self._last_sync is None:
            return self._clock.monotonic()
        return self._last_sync + self.resync_every

    def needs_resync(self) -> bool:
        """True when never synced, invalidated, or `resync_every` passed since the last sample
        (`resync_due()`, inlined: the connector asks before every signed request)."""
        last = self._last_sync
        return self._stale or last is None or self._monotonic() >= last + self.resync_every
