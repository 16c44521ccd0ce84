"""What every soak part shares: a part's result, and the resident memory of processes over time."""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Check:
    """One invariant of a part: what was counted, and what it must be."""

    name: str
    value: float
    ok: bool
    rule: str  # e.g. "= 0", "<= 10 MB"


@dataclass(slots=True)
class Series:
    """Samples over a part's run, one per second: orders/s, faults, reconciliations, RSS."""

    t: list[float] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, t: float, **values: float) -> None:
        self.t.append(t)
        for key, value in values.items():
            column = self.values.setdefault(key, [])
            column.extend([float("nan")] * (len(self.t) - 1 - len(column)))
            column.append(value)


@dataclass(slots=True)
class PartResult:
    """A part's figures (shown in the table) and its invariants (which decide the exit status)."""

    name: str
    figures: dict[str, str] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    series: Series = field(default_factory=Series)
    seconds: float = 0.0

    def check(self, name: str, value: float, ok: bool, rule: str) -> None:
        self.checks.append(Check(name, value, ok, rule))

    def zero(self, name: str, value: float) -> None:
        """An invariant that the count is 0."""
        self.check(name, value, value == 0, "= 0")

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)


def rss_mb(pid: int) -> float:
    """Resident memory of a live process in MB (from /proc); NaN once it is gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def growth_mb(samples: list[float]) -> float:
    """RSS growth over the second half of a run: a leak keeps growing, a warm-up does not."""
    clean = [s for s in samples if s == s]  # drop NaN
    if len(clean) < 4:
        return 0.0
    half = clean[len(clean) // 2 :]
    return max(half) - half[0]


class Clock:
    """Seconds since the part started (monotonic), for the series."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self._start


SELF = os.getpid()


class SecretWatch(logging.Handler):
    """Reads every binguard log record (DEBUG and up) while attached, and counts the ones that
    carry a secret: the API secret itself, or a signature value (64 hex digits or base64)."""

    _SIGNATURE = re.compile(r"signature=(?!<redacted>)[A-Za-z0-9%+/=]{20,}")

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__(logging.DEBUG)
        self.secrets = tuple(s for s in secrets if s)
        self.records = 0
        self.leaks = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        text = self.format(record)
        if any(s in text for s in self.secrets) or self._SIGNATURE.search(text):
            self.leaks += 1

    def __enter__(self) -> SecretWatch:
        logger = logging.getLogger("binguard")
        self._level = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self)
        return self

    def __exit__(self, *_: object) -> None:
        logger = logging.getLogger("binguard")
        logger.removeHandler(self)
        logger.setLevel(self._level)
