"""The -1021 diagnoses: the clock ahead of Binance's, or requests arriving outside recvWindow.

Binance sends -1021 INVALID_TIMESTAMP with two messages (errors.md) that mean opposite things, so
each gets its own diagnosis, over one source's events (a file or stdin: one bot, one clock):

- clock_ahead, "Timestamp for this request was 1000ms ahead of the server's time.": the client's
  clock was more than AHEAD_LIMIT_MS ahead of Binance's;
- clock_behind, "Timestamp for this request is outside of the recvWindow.": the request arrived
  more than recvWindow after its timestamp (the clock is behind, or the request was delayed).
  recvWindow is read from the source where a line names it, else Binance's default 5000 ms.

Drift is estimated per episode. -1021s closer than CLOCK_EPISODE_GAP belong to one episode. A clock
drifting at r ms/h crosses a threshold T about T/r hours after it was last in sync, so when the
client resyncs after each episode (Hummingbot and binguard do), an episode that starts `s` seconds
after the previous one gives r = T / s * 3600; the source's figure is the median over its episodes.
With one episode only, assuming the clock was in sync when the log begins, r >= T / (first -1021 -
log start): a lower bound. Both assume linear drift: an estimate to size the problem, not a
measurement. An episode that lasts minutes means the client does not resync at all.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any, Final

from binguard.errors import Family, catalog

from ._model import Diagnosis, Event, Evidence, iso

CLOCK_MIN_EVENTS: Final = 2
CLOCK_EPISODE_GAP: Final = 300.0  # s: -1021s closer than this belong to one episode
AHEAD_LIMIT_MS: Final = 1000  # Binance rejects timestamps more than 1 s ahead of its clock
DEFAULT_RECV_WINDOW_MS: Final = 5000  # Binance's default when a request sends none
STUCK_EPISODE: Final = (5, 60.0)  # events and seconds: an episode this long means no resync
MAX_EVIDENCE: Final = 6
MAX_EPISODES: Final = 50  # listed in the JSON data


def is_ahead(e: Event) -> bool:
    return "ahead" in e.hit.matched


def clock_diagnoses(
    events: Sequence[Event], log_start: float | None, cite: Callable[[Event], Evidence]
) -> list[Diagnosis]:
    """Zero, one or two diagnoses (ahead, behind) for one source's events."""
    clock = [e for e in events if e.hit.key.family is Family.CLOCK_SKEW]
    windows = [e.recv_window for e in events if e.recv_window]
    out = []
    ahead = [e for e in clock if is_ahead(e)]
    behind = [e for e in clock if not is_ahead(e)]
    if len(ahead) >= CLOCK_MIN_EVENTS:
        out.append(_diagnosis("ahead", ahead, AHEAD_LIMIT_MS, False, log_start, cite))
    if len(behind) >= CLOCK_MIN_EVENTS:
        window = max(windows) if windows else DEFAULT_RECV_WINDOW_MS
        out.append(_diagnosis("behind", behind, window, not windows, log_start, cite))
    return out


def episodes_of(events: Sequence[Event]) -> list[list[Event]]:
    """Timed events grouped into episodes (gaps over CLOCK_EPISODE_GAP split them)."""
    timed = sorted((e for e in events if e.time is not None), key=lambda e: e.time or 0.0)
    episodes: list[list[Event]] = []
    for e in timed:
        if episodes and (e.time or 0.0) - (episodes[-1][-1].time or 0.0) <= CLOCK_EPISODE_GAP:
            episodes[-1].append(e)
        else:
            episodes.append([e])
    return episodes


def _episode_rows(episodes: list[list[Event]], threshold: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    previous: float | None = None
    for ep in episodes:
        start, end = ep[0].time or 0.0, ep[-1].time or 0.0
        row: dict[str, Any] = {
            "start": iso(start),
            "end": iso(end),
            "events": len(ep),
            "seconds": round(end - start, 3),
            "since_previous_s": None,
            "drift_ms_per_hour": None,
        }
        if previous is not None and start > previous:
            row["since_previous_s"] = round(start - previous, 3)
            row["drift_ms_per_hour"] = round(threshold / (start - previous) * 3600, 1)
        rows.append(row)
        previous = start
    return rows


def _estimate(
    rows: list[dict[str, Any]], first: float | None, log_start: float | None, threshold: int
) -> tuple[float | None, str | None, str]:
    """(ms per hour, method, sentence) for the source, from its episodes."""
    rates = [r["drift_ms_per_hour"] for r in rows if r["drift_ms_per_hour"] is not None]
    if rates:
        rate = statistics.median(rates)
        spacing = threshold / rate * 3600
        return (
            round(rate, 1),
            "episode spacing",
            f" Episodes start every {_duration(spacing)} (median over {len(rates)}): a clock "
            f"that drifts about {rate:,.0f} ms per hour crosses the {threshold} ms limit that "
            "often after each resync (assuming linear drift).",
        )
    if first is not None and log_start is not None and first - log_start > 60:
        rate = threshold / (first - log_start) * 3600
        return (
            round(rate, 1),
            "time to first error (lower bound)",
            f" The first one came {_duration(first - log_start)} after the log began: if the "
            f"clock was in sync then, it drifts at least {rate:,.0f} ms per hour (lower bound, "
            "assuming linear drift).",
        )
    return None, None, ""


_SIDE: Final = {
    "ahead": (
        "clock_ahead",
        "Recurring -1021 'ahead of the server's time': the local clock runs ahead of Binance's",
        "the local clock ran more than {t} ms ahead of Binance's",
    ),
    "behind": (
        "clock_behind",
        "Recurring -1021 'outside of the recvWindow': requests reach Binance too late",
        "requests arrived more than {t} ms (recvWindow) after their timestamp: the local clock "
        "is behind Binance's, or requests were delayed between signing and arrival",
    ),
}


def _diagnosis(
    side: str,
    clock: list[Event],
    threshold: int,
    assumed: bool,
    log_start: float | None,
    cite: Callable[[Event], Evidence],
) -> Diagnosis:
    ident, title, what = _SIDE[side]
    episodes = episodes_of(clock)
    rows = _episode_rows(episodes, threshold)
    first = episodes[0][0].time if episodes else None
    rate, method, estimate = _estimate(rows, first, log_start, threshold)
    data: dict[str, Any] = {
        "events": len(clock),
        "direction": side,
        "threshold_ms": threshold,
        "threshold_assumed": assumed,
        "drift_ms_per_hour": rate,
        "method": method,
        "episodes": len(episodes),
        "episode_list": rows[:MAX_EPISODES],
    }
    stuck = _stuck(episodes, data)
    evidence = [ep[0] for ep in episodes[: MAX_EVIDENCE - 1]] or clock[: MAX_EVIDENCE - 1]
    if clock[-1] not in evidence:
        evidence.append(clock[-1])
    return Diagnosis(
        id=ident,
        severity="warning",
        title=title,
        summary=(
            f"-1021 INVALID_TIMESTAMP rejected {len(clock)} request(s) in "
            f"{len(episodes) or '?'} episode(s): {what.format(t=threshold)}.{estimate}{stuck}"
        ),
        fix=(
            "Keep the host clock disciplined (chrony or systemd-timesyncd), sign requests with "
            "server-corrected time (GET /api/v3/time, RTT-compensated) and resync periodically "
            "and after every -1021; keep recvWindow at 5000 ms or less. binguard does this: "
            + catalog().families[Family.CLOCK_SKEW].binguard
        ),
        evidence=[cite(e) for e in evidence],
        data=data,
    )


def _stuck(episodes: list[list[Event]], data: dict[str, Any]) -> str:
    longest = max(episodes, key=len) if episodes else []
    if not longest:
        return ""
    length = (longest[-1].time or 0.0) - (longest[0].time or 0.0)
    events, seconds = STUCK_EPISODE
    if len(longest) < events or length < seconds:
        return ""
    data["longest_episode"] = {"events": len(longest), "seconds": round(length, 3)}
    return (
        f" One episode lasted {_duration(length)} with {len(longest)} rejections: the client "
        "does not resync its clock after a -1021."
    )


def _duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
