"""Server-time estimation: NTP-style midpoints, lowest RTT wins, drift, resync triggers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from binguard.policy import FakeClock, ServerTimeSync


class FakeServer:
    """Binance's clock: `offset_ms` ahead of our monotonic clock, running `1 + drift` as fast."""

    def __init__(self, clock: FakeClock, offset_ms: float, drift: float = 0.0) -> None:
        self.clock, self.offset_ms, self.drift = clock, offset_ms, drift
        self.origin = clock.monotonic()

    def true_ms(self, mono: float | None = None) -> float:
        t = self.clock.monotonic() if mono is None else mono
        return t * 1000 + self.offset_ms + (t - self.origin) * 1000 * self.drift

    def round_trip(self, sync: ServerTimeSync, up: float, down: float, busy: float = 0.0) -> None:
        """One /api/v3/time: `up` s to reach Binance, `busy` s there, `down` s back."""
        sent = self.clock.monotonic()
        self.clock.advance(up)
        self.clock.advance(busy / 2)
        server_ms = int(self.true_ms())  # Binance reports whole ms
        self.clock.advance(busy / 2 + down)
        sync.add(sent, server_ms, self.clock.monotonic())


delays = st.floats(0.0005, 0.5)


@given(
    offset_ms=st.floats(-60_000, 60_000),
    trips=st.lists(st.tuples(delays, delays, st.floats(0, 0.01)), min_size=1, max_size=12),
    later=st.floats(0, 30),
)
def test_offset_error_is_at_most_half_the_rtt(
    offset_ms: float, trips: list[tuple[float, float, float]], later: float
) -> None:
    clock = FakeClock()
    server = FakeServer(clock, offset_ms)
    sync = ServerTimeSync(clock)
    for up, down, busy in trips:
        server.round_trip(sync, up, down, busy)
        clock.advance(0.5)
    clock.advance(later)
    assert sync.rtt_ms is not None
    error = abs(sync.now_ms() - server.true_ms())
    # Two floors stack: Binance stamps whole ms (up to 1 ms early) and now_ms() truncates to an
    # int (up to 1 ms more), so the bound is RTT/2 + 2 ms, strictly less.
    assert error < sync.rtt_ms / 2 + 2.0
    # The sample it rests on is one of the lowest-RTT ones: never an outlier (above twice the
    # lowest RTT + 1 ms). A newer one may win over the very lowest by NTP's dispersion rule
    # (an old sample loses credibility as it ages); the bound above holds for either.
    lowest = min((u + d + b) * 1000 for u, d, b in trips)
    assert lowest - 1e-6 <= sync.rtt_ms <= lowest * 2 + 1.0 + 1e-6


def test_lowest_rtt_sample_wins_over_a_congested_one() -> None:
    clock = FakeClock()
    server = FakeServer(clock, offset_ms=3_000)
    sync = ServerTimeSync(clock)
    server.round_trip(sync, up=0.002, down=0.002)  # clean: error <= 2 ms
    server.round_trip(sync, up=0.400, down=0.001)  # queued on the way up: midpoint 200 ms off
    assert sync.rtt_ms == pytest.approx(4.0)
    assert abs(sync.now_ms() - server.true_ms()) <= 3


def test_an_aged_sample_loses_to_a_fresh_one_of_nearly_equal_rtt() -> None:
    """NTP's dispersion: 0.05 ms of doubt per second of age. A 2 ms sample 60 s old (doubt
    1 + 3 ms) loses to a fresh 4 ms one (doubt 2 ms); a fresh 8 ms one is an outlier (above twice
    the lowest RTT + 1 ms) and never wins."""
    clock = FakeClock()
    server = FakeServer(clock, offset_ms=1_000)
    sync = ServerTimeSync(clock)
    server.round_trip(sync, up=0.001, down=0.001)
    clock.advance(60)
    server.round_trip(sync, up=0.004, down=0.004)
    assert sync.rtt_ms == pytest.approx(2.0)  # 8 ms > 2 * 2 + 1 ms: an outlier
    server.round_trip(sync, up=0.002, down=0.002)
    assert sync.rtt_ms == pytest.approx(4.0)  # 4 / 2 + 0 < 2 / 2 + 3: the fresh one wins
    assert abs(sync.now_ms() - server.true_ms()) <= 2 + 2


def test_offset_is_against_the_wall_clock_and_survives_a_wall_step() -> None:
    clock = FakeClock()
    server = FakeServer(clock, offset_ms=clock.time() * 1000 - clock.monotonic() * 1000 + 3_000)
    sync = ServerTimeSync(clock)
    assert not sync.synced and sync.now_ms() == int(clock.time() * 1000)  # wall until synced
    server.round_trip(sync, 0.01, 0.01)
    assert sync.offset_ms == pytest.approx(3_000, abs=11)
    before = sync.now_ms()
    clock.step_wall(-3600)  # NTP steps this machine's wall clock back an hour
    assert sync.now_ms() == before  # signing time follows Binance, not our wall clock
    assert sync.offset_ms == pytest.approx(3_000 + 3_600_000, abs=11)


@pytest.mark.parametrize("drift_ms_per_min", [100.0, -100.0, 0.0])
def test_drift_is_estimated_and_applied(drift_ms_per_min: float) -> None:
    clock = FakeClock()
    server = FakeServer(clock, offset_ms=-30_000, drift=drift_ms_per_min / 60_000)
    sync = ServerTimeSync(clock, min_drift_span=60)
    for _ in range(6):  # one sample a minute, RTT 2-6 ms, asymmetric
        server.round_trip(sync, up=0.001, down=0.003)
        clock.advance(60)
    assert sync.drift_ms_per_min == pytest.approx(drift_ms_per_min, abs=5)
    clock.advance(240)  # four minutes later without a sample: still within a few ms
    assert abs(sync.now_ms() - server.true_ms()) <= 2 + 5 * 5


def test_no_drift_estimate_from_samples_too_close_together() -> None:
    clock = FakeClock()
    server = FakeServer(clock, offset_ms=0, drift=0.01)
    sync = ServerTimeSync(clock, min_drift_span=60)
    for _ in range(5):
        server.round_trip(sync, 0.001, 0.001)
        clock.advance(1)
    assert sync.drift == 0.0


def test_drift_is_bounded() -> None:
    clock = FakeClock()
    sync = ServerTimeSync(clock, min_drift_span=1, max_drift=0.001)
    sync.add(clock.monotonic(), 0, clock.monotonic())
    clock.advance(10)
    sync.add(clock.monotonic(), 20_000, clock.monotonic())  # a clock jump, not a rate
    assert sync.drift == 0.001


def test_periodic_resync() -> None:
    clock = FakeClock()
    sync = ServerTimeSync(clock, resync_every=60)
    assert sync.needs_resync()  # never synced
    sync.add(clock.monotonic(), 1, clock.monotonic() + 0.25)
    clock.advance(0.25)
    assert not sync.needs_resync()
    clock.advance(59.5)
    assert not sync.needs_resync()
    clock.advance(0.5)
    assert sync.needs_resync()
    assert sync.resync_due() == pytest.approx(clock.monotonic())


def test_minus_1021_invalidates_and_a_fresh_sample_replaces_the_estimate() -> None:
    clock = FakeClock()
    server = FakeServer(clock, offset_ms=0)
    sync = ServerTimeSync(clock)
    server.round_trip(sync, 0.001, 0.001)
    server.offset_ms += 3_000  # Binance's clock jumps 3 s
    sync.invalidate()
    assert sync.needs_resync()
    assert sync.synced  # the old estimate still signs until the resync
    clock.advance(1)
    server.round_trip(sync, 0.02, 0.02)  # worse RTT than the forgotten sample, but current
    assert not sync.needs_resync()
    assert abs(sync.now_ms() - server.true_ms()) <= 21


def test_rejects_a_sample_received_before_it_was_sent() -> None:
    sync = ServerTimeSync(FakeClock())
    with pytest.raises(ValueError, match="before it was sent"):
        sync.add(10.0, 1, 9.0)
