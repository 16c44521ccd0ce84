"""When a supervised WebSocket reconnects after its socket ended: a pure decision.

`after_end(ended, attempt, healthy_after)` reads how the socket ended and how long it lived, and
says whether to reconnect at once or after the backoff of which attempt (policy/backoff.py):

- a 1008 policy close (too many messages, pong timeout, ban) is our fault: escalate the backoff,
  never reconnect in a tight loop (hummingbot #7044);
- a planned end (1000 at Binance's 24-hour mark, 1001 going away, `serverShutdown`) of a socket
  that had settled reconnects at once, and the backoff starts over;
- a socket that lived `healthy_after` seconds — or delivered messages and lived at least
  `min(1 s, healthy_after)` — was healthy: the backoff starts over (a healthy server is rejoined
  within tens of milliseconds);
- anything else (a socket that failed young) keeps escalating, so a flapping server is not
  hammered.

web-socket-streams.md §General WSS information (24-hour disconnect, ping/pong), RFC 6455 §7.4.1.
"""

from __future__ import annotations

from dataclasses import dataclass

POLICY_CLOSE = 1008  # RFC 6455: policy violation


@dataclass(frozen=True, slots=True)
class Ended:
    """How a socket ended: its close code (None: no close frame), whether the server announced
    the end (`planned`), how long it lived (seconds) and how many data messages it carried."""

    close_code: int | None
    planned: bool
    lived: float
    messages: int


@dataclass(frozen=True, slots=True)
class Reconnect:
    """`at_once`: reconnect now (and the next failure backs off from attempt 0). Otherwise wait
    `backoff.delay(attempt)` first; the next failure uses `attempt + 1`."""

    at_once: bool
    attempt: int


def after_end(ended: Ended, attempt: int, healthy_after: float) -> Reconnect:
    """What to do after `ended`, the backoff being at `attempt`; see the module docstring."""
    settled = min(1.0, healthy_after)
    if ended.close_code == POLICY_CLOSE:
        return Reconnect(False, attempt)
    if ended.planned and ended.lived >= settled:
        return Reconnect(True, 0)
    if ended.lived >= healthy_after or (ended.messages and ended.lived >= settled):
        return Reconnect(False, 0)
    return Reconnect(False, attempt)
