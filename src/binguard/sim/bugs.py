"""Simulator bugs, counted: one log line each, never a flood of tracebacks.

A bug is an unexpected exception in a handler (HTTP or WebSocket). Each one is logged as a single
ERROR line naming where it happened, the exception and the innermost frame of its traceback, with
a running count (`simulator bug #12 ...`); the full traceback goes to DEBUG only, so a fuzz run
that trips one bug a million times writes a million short lines, not gigabytes. Tests read the
first `KEPT` descriptions (`Simulator.bugs`, asserted empty) and `total`.
"""

from __future__ import annotations

import logging
import traceback

log = logging.getLogger("binguard.sim")

KEPT = 100  # descriptions kept for tests and /_sim/; beyond that only the count grows


class BugLog(list[str]):
    """The bugs one simulator met: the first `KEPT` descriptions, and `total` (all of them)."""

    total: int = 0

    def record(self, where: str, exc: BaseException) -> None:
        """Log one line for this bug (with the running count) and keep its description."""
        self.total += 1
        frames = traceback.extract_tb(exc.__traceback__)
        at = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
        text = describe(exc)
        log.error("simulator bug #%d on %s: %s%s", self.total, where, text, at)
        log.debug("simulator bug #%d traceback", self.total, exc_info=exc)
        if len(self) < KEPT:
            self.append(f"{where}: {text}")


def describe(exc: BaseException, limit: int = 300) -> str:
    """`repr(exc)` on one line, at most `limit` characters (a broken __repr__ still describes)."""
    try:
        text = repr(exc)
    except Exception:  # noqa: BLE001 - a bug report must not raise a second bug
        text = f"<{type(exc).__name__} with a broken __repr__>"
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."
