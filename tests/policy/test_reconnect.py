"""The reconnect decision (policy/reconnect.py) as a table: how a socket ended → at once, or the
backoff of which attempt. web-socket-streams.md (24-hour close), RFC 6455 §7.4.1 (1000/1001/1008)."""

from __future__ import annotations

import pytest

from binguard.policy.reconnect import Ended, Reconnect, after_end

HEALTHY = 10.0


@pytest.mark.parametrize(
    ("ended", "attempt", "expected", "why"),
    [
        (Ended(1000, True, 86_000.0, 10), 3, Reconnect(True, 0), "24-hour mark: at once"),
        (Ended(1001, True, 5.0, 0), 2, Reconnect(True, 0), "going away after settling"),
        (Ended(None, True, 2.0, 0), 4, Reconnect(True, 0), "serverShutdown, settled"),
        (Ended(1000, True, 0.2, 0), 4, Reconnect(False, 4), "planned but young: no tight loop"),
        (Ended(1008, False, 100.0, 50), 3, Reconnect(False, 3), "1008: escalate"),
        (Ended(1008, True, 100.0, 50), 3, Reconnect(False, 3), "1008 wins over planned"),
        (Ended(None, False, 10.0, 0), 5, Reconnect(False, 0), "lived healthy_after: reset"),
        (Ended(None, False, 1.5, 3), 5, Reconnect(False, 0), "messages and settled: reset"),
        (Ended(None, False, 0.5, 3), 5, Reconnect(False, 5), "messages but young"),
        (Ended(None, False, 3.0, 0), 2, Reconnect(False, 2), "quiet and young: escalate"),
        (Ended(1006, False, 0.0, 0), 0, Reconnect(False, 0), "failed at once, first attempt"),
    ],
)
def test_after_end(ended: Ended, attempt: int, expected: Reconnect, why: str) -> None:
    assert after_end(ended, attempt, HEALTHY) == expected, why


def test_a_short_healthy_after_bounds_settling() -> None:
    """`settled` is min(1 s, healthy_after): with healthy_after 0.3 a 0.3 s socket is healthy."""
    assert after_end(Ended(None, False, 0.3, 0), 6, 0.3) == Reconnect(False, 0)
    assert after_end(Ended(1000, True, 0.3, 0), 6, 0.3) == Reconnect(True, 0)
