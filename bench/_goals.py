"""One wording for every benchmark goal, and the tally that decides `make bench`'s exit status.

Every goal line reads the same way, so a reader (or grep) finds them all:

    GOAL  <what>: <figure>  |  <peer or floor, same run>  |  goal <rule>  PASS

A bench calls `goal()` once per goal; `python -m bench` exits 1 when any goal of the run failed.
"""

from __future__ import annotations

_failed: list[str] = []


def goal(what: str, figure: str, reference: str, rule: str, ok: bool) -> bool:
    """Print one goal line and remember a failure; returns `ok` so callers can chain on it."""
    print(f"GOAL  {what}: {figure}  |  {reference}  |  goal {rule}  {'PASS' if ok else 'FAIL'}")
    if not ok:
        _failed.append(what)
    return ok


def failed() -> tuple[str, ...]:
    """The goals that failed so far in this process, in order."""
    return tuple(_failed)
