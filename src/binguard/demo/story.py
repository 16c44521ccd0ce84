"""The verdict's opening: what happened during the run and what binguard did, with timestamps.

Each line is a fact from the run (the connector's events, its stats, the verdict's counts); times
are seconds since trading started. The lines are plain text: the CLI wraps them to the terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .runlog import RunLog
from .verdict import Verdict


@dataclass
class Timing:
    """How long the demo took: trading (asked for `asked` seconds), then settling, per step.

    `cut_short`: calls still running when trading time was up, cancelled after a short grace
    (an order among them stays in the journal and recover() settles it)."""

    asked: float
    traded: float = 0.0
    cut_short: int = 0
    settling: dict[str, float] = field(default_factory=dict)

    @property
    def settled(self) -> float:
        return sum(self.settling.values())

    def as_dict(self) -> dict[str, object]:
        return {
            "asked_s": self.asked,
            "traded_s": round(self.traded, 2),
            "cut_short": self.cut_short,
            "settling_s": {k: round(v, 2) for k, v in self.settling.items()},
        }


@dataclass(frozen=True)
class ClockFacts:
    """The connector's clock at the start and the end of trading, and its -1021 counts."""

    offset_start_ms: float
    offset_end_ms: float
    drift_known: bool
    drift_ms_per_min: float
    clock_errors: int
    clock_errors_after_sync: int


def _s(t: float) -> str:
    return f"{t:.1f} s"


def _n(count: int, noun: str, plural: str | None = None) -> str:
    """`1 call`, `3 calls`."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def _sec(ms: float) -> str:
    return f"{round(ms / 1000, 2) + 0.0:+.2f} s"  # (+ 0.0: no "-0.00")


def ban_lines(log: RunLog, verdict: Verdict, forced: bool) -> list[str]:
    lines = []
    for learnt, ends in log.bans:
        kind = "forced ban" if forced and not verdict.bans else "ban"
        lines.append(
            f"{kind} at {_s(learnt)} (until {_s(ends)}) handled: "
            f"{_n(verdict.requests_during_ban, 'request')} sent during it, "
            f"{_n(log.refused_during_ban, 'call')} refused locally until it ended"
        )
    if verdict.bans:
        lines.append(f"{_n(verdict.bans, 'ban')} earned by the connector itself")
    return lines


def reconcile_lines(log: RunLog) -> list[str]:
    n = len(log.reconciliations)
    if not n:
        return ["no order's outcome was unknown: nothing to reconcile"]
    lookups = sum(log.errors.lookups.values())
    return [
        f"{_n(n, 'unknown outcome')} (first at {_s(log.reconciliations[0])}, last at "
        f"{_s(log.reconciliations[-1])}) reconciled by client order id: {log.found} found, "
        f"{log.absent} proven absent, {log.resends} re-sent; {lookups} expected "
        "'not found' lookups"
    ]


def clock_lines(log: RunLog, clock: ClockFacts) -> list[str]:
    drift = (
        f"drift {clock.drift_ms_per_min:+.0f} ms/min"
        if clock.drift_known
        else "drift still being estimated"
    )
    return [
        f"server clock {_sec(clock.offset_start_ms)} off at the start, "
        f"{_sec(clock.offset_end_ms)} at the end ({drift}): {_n(len(log.resyncs), 'resync')}, "
        f"{clock.clock_errors} x -1021 in all, {clock.clock_errors_after_sync} "
        "after the first sync"
    ]


def budget_lines(log: RunLog, limit: int, peak: int) -> list[str]:
    held = log.errors.local.get("BudgetExhausted", 0)
    fullest = f"weight limit {limit}/min (fullest window {peak})"
    answers = f"{log.rate_limited} x 429 from the exchange"
    if log.first_budget_refusal is None:
        return [f"{fullest}: no call refused by the budget; {answers}"]
    return [
        f"{fullest} reached at {_s(log.first_budget_refusal)}: {_n(held, 'call')} refused "
        f"locally (nothing sent); {answers}"
    ]


def socket_lines(log: RunLog) -> list[str]:
    drops = len(log.ws_drops)
    when = f" (first at {_s(log.ws_drops[0])})" if drops else ""
    return [
        f"WebSockets: {_n(drops, 'drop')}{when}, {_n(log.ws_reconnects, 'reconnect')}; "
        f"order book resynced {_n(log.book_resyncs, 'time')} after {_n(log.book_gaps, 'gap')}; "
        f"user data caught up {_n(log.catch_ups, 'time')} (+{_n(log.caught_up_fills, 'fill')})"
    ]


def timing_lines(timing: Timing) -> list[str]:
    cut = ""
    if timing.cut_short:
        cut = f"; {_n(timing.cut_short, 'call')} still running then was cut short"
    steps = ", ".join(f"{name} {_s(t)}" for name, t in timing.settling.items())
    return [
        f"traded {_s(timing.traded)} of the {timing.asked:.0f} s asked{cut}",
        f"then settling took {_s(timing.settled)} (not counted above): {steps}",
    ]


@dataclass(frozen=True)
class Facts:
    """Everything the story is told from."""

    log: RunLog
    verdict: Verdict
    timing: Timing
    clock: ClockFacts
    weight_limit: int
    weight_peak: int


def tell(facts: Facts, *, forced_ban: bool) -> list[str]:
    """The story, most telling facts first."""
    log = facts.log
    return [
        *ban_lines(log, facts.verdict, forced_ban),
        *reconcile_lines(log),
        *clock_lines(log, facts.clock),
        *budget_lines(log, facts.weight_limit, facts.weight_peak),
        *socket_lines(log),
        *timing_lines(facts.timing),
    ]
