"""Log timestamps: the formats bots write, read from raw bytes without a general date parser.

Recognised (a leading '[' or blank is allowed, and the stamp may start within the first 40 bytes so
that `ERROR 2024-...` and `[2024-...]` work):

- ISO 8601 with 'T' or a space, with or without fractions ('.123' or Python logging's ',123'), with
  or without a zone ('Z', 'UTC', '+02:00', '+0200'): `2024-01-02T03:04:05.123Z`,
  `2024-01-02 03:04:05,123` (Hummingbot, freqtrade, Python logging's default);
- epoch seconds or milliseconds opening the line: `1704164645123 ERROR ...`;
- in JSON lines, the value of "ts", "time", "timestamp", "@timestamp", "asctime", "created" or
  "datetime": epoch s/ms/µs or an ISO string.

A stamp without a zone is taken as UTC: bots rarely log their zone, and the timeline only needs one
consistent clock. Times are returned as float epoch seconds (cheap to compare and bucket).
"""

from __future__ import annotations

import calendar
import re
from functools import lru_cache
from typing import Final

_ISO: Final = re.compile(
    rb"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9}))?"
    rb"(?: ?(Z|UTC|GMT|[+-]\d\d(?::?\d\d)?)(?![\w:]))?"
)
_EPOCH_AT_START: Final = re.compile(rb"[\[\s]{0,2}(1\d{9}(?:\.\d{1,6})?|1\d{12})(?!\d)")
_JSON_TIME: Final = re.compile(
    rb'"(?:ts|time|timestamp|@timestamp|asctime|created|datetime)"\s*:\s*"?([0-9][^",}\]]*)"?'
)
_SEARCH_SPAN: Final = 40  # a stamp must start within this many bytes of the line's start
_CONTINUATION: Final = frozenset((b"", b" ", b"\t"))


@lru_cache(maxsize=4096)
def _whole_seconds(
    year: int, month: int, day: int, hour: int, minute: int, second: int
) -> int | None:
    """Epoch of a UTC wall time; cached because consecutive log lines share their second."""
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    try:
        return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except (ValueError, OverflowError):
        return None


_SECONDS: dict[bytes, int | None] = {}
_SECONDS_LIMIT: Final = 65536


def _iso(m: re.Match[bytes]) -> float | None:
    # Lines of one second share "YYYY-MM-DD HH:MM:SS": its epoch is looked up, not recomputed.
    key = m.string[m.start() : m.end(6)]
    epoch = _SECONDS.get(key, -1)
    if epoch == -1:
        g = m.groups()
        epoch = _whole_seconds(int(g[0]), int(g[1]), int(g[2]), int(g[3]), int(g[4]), int(g[5]))
        if len(_SECONDS) >= _SECONDS_LIMIT:
            _SECONDS.clear()
        _SECONDS[key] = epoch
    if epoch is None:
        return None
    frac = m.group(7)
    value = float(epoch) + (int(frac) / 10 ** len(frac) if frac else 0.0)
    zone = m.group(8)
    if zone and zone[0] in b"+-":
        digits = zone[1:].replace(b":", b"")
        offset = int(digits[:2]) * 3600 + (int(digits[2:4]) * 60 if len(digits) >= 4 else 0)
        value -= offset if zone[0] == 43 else -offset  # 43 is '+'
    return value


def epoch_seconds(raw: bytes) -> float | None:
    """An epoch number in s, ms or µs (as JSON logs write it) as float seconds; None if it is not."""
    try:
        number = float(raw)
    except ValueError:
        return None
    if number != number or number <= 0:
        return None
    if number > 1e14:
        number /= 1e6
    elif number > 1e11:
        number /= 1e3
    return number if 1e8 < number < 1e10 else None


def find_stamp(line: bytes) -> tuple[float | None, int, int]:
    """(time, start, end) of the line's own timestamp; (None, 0, 0) when it carries none.

    The span lets a caller leave the stamp out of a cache key (JSON stamps sit mid-line)."""
    first = line[:1]
    if first == b"{":
        m = _JSON_TIME.search(line, 0, 4096)
        if m is None:
            return None, 0, 0
        raw = m.group(1).strip()
        if raw[:1].isdigit() and b"-" not in raw[:5]:
            return epoch_seconds(raw), m.start(), m.end()
        iso = _ISO.match(raw)
        return (_iso(iso) if iso else None), m.start(), m.end()
    m = _ISO.match(line)  # the common case: the stamp opens the line
    if m is None:
        if first in _CONTINUATION:  # traceback and wrapped lines carry no stamp of their own
            return None, 0, 0
        e = _EPOCH_AT_START.match(line)
        if e is not None:
            return epoch_seconds(e.group(1)), e.start(1), e.end(1)
        m = _ISO.search(line, 0, _SEARCH_SPAN + 40)
        if m is None or m.start() > _SEARCH_SPAN:
            return None, 0, 0
    return _iso(m), m.start(), m.end()


def line_time(line: bytes) -> float | None:
    """The time a log line was written, or None when the line carries no timestamp."""
    return find_stamp(line)[0]
