"""Per-hour counts laid out for drawing: a continuous series, widened to fit a chart.

Findings keep sparse per-hour counts; a chart needs every bucket between the first and last hour,
and no more than a few hundred bars, so long logs are drawn with wider buckets (2 h, 6 h, a day...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

HOUR: Final = 3600
_WIDTHS: Final = (1, 2, 3, 6, 12, 24, 48, 168, 336, 720)  # bucket widths in hours


def bucket_hours(first: int, last: int, max_buckets: int) -> int:
    """The narrowest bucket width (in hours) that shows first..last in at most max_buckets bars."""
    span = (last - first) // HOUR + 1
    for width in _WIDTHS:
        if -(-span // width) <= max_buckets:
            return width
    return -(-span // max_buckets)


def series(
    timelines: Iterable[Mapping[int, int]], max_buckets: int = 120
) -> tuple[list[int], int, list[list[int]]]:
    """(bucket starts, bucket width in hours, one row of counts per timeline), on a common axis."""
    rows = [dict(t) for t in timelines]
    hours = [h for t in rows for h in t]
    if not hours:
        return [], 1, [[] for _ in rows]
    first, last = min(hours), max(hours)
    width = bucket_hours(first, last, max_buckets)
    n = (last - first) // (width * HOUR) + 1
    starts = [first + i * width * HOUR for i in range(n)]
    out: list[list[int]] = []
    for t in rows:
        counts = [0] * n
        for h, c in t.items():
            counts[(h - first) // (width * HOUR)] += c
        out.append(counts)
    return starts, width, out


_BLOCKS: Final = " ▁▂▃▄▅▆▇█"


def sparkline(counts: list[int], top: int | None = None) -> str:
    """Counts as block characters scaled to `top` (default: their max); zero is a blank."""
    peak = top if top else max(counts, default=0)
    if peak <= 0:
        return " " * len(counts)
    return "".join(
        _BLOCKS[0] if c <= 0 else _BLOCKS[max(1, min(8, round(c / peak * 8)))] for c in counts
    )
