"""Typed values extracted from Binance's message placeholders, and the request an error came from.

Binance renders numbers, intervals and ban times into its messages ("current limit is 50 orders per
10 SECOND", "IP banned until 1659146400000"); these helpers turn the captured strings into numbers,
`Interval`s and aware datetimes. Conversion never raises: a value that does not parse stays a string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

_UNIT_SECONDS: Final = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
_LETTER_UNIT: Final = {"S": "SECOND", "M": "MINUTE", "H": "HOUR", "D": "DAY"}
_INTERVAL = re.compile(r"\A'?\s*([0-9]+)?\s*([A-Za-z]+?)S?\s*'?\Z")
_LETTERED = re.compile(r"\A([0-9]+)([SMHD])\Z")


@dataclass(frozen=True, slots=True)
class Interval:
    """A rate-limit window as Binance names it: `num` times `unit` (SECOND, MINUTE, HOUR, DAY)."""

    num: int
    unit: str

    @property
    def seconds(self) -> int:
        return self.num * _UNIT_SECONDS[self.unit]

    @property
    def letter(self) -> str:
        """The header suffix Binance uses, e.g. '1M' in X-MBX-USED-WEIGHT-1M."""
        return f"{self.num}{self.unit[0]}"

    def __str__(self) -> str:
        return f"{self.num} {self.unit}"

    @classmethod
    def parse(cls, text: str) -> Interval | None:
        """'10 SECOND', '1 MINUTE', "'1 minute'", 'MINUTE', '10S' -> Interval; anything else -> None."""
        text = text.strip()
        m = _LETTERED.match(text.upper())
        if m:
            return cls(int(m.group(1)), _LETTER_UNIT[m.group(2)])
        m = _INTERVAL.match(text)
        if not m:
            return None
        unit = m.group(2).upper()
        if unit not in _UNIT_SECONDS:
            return None
        return cls(int(m.group(1) or 1), unit)


def epoch_to_datetime(value: str | int | float) -> datetime | None:
    """An epoch time in s, ms or µs (Binance uses ms; logs sometimes show s) as an aware UTC datetime."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number or number <= 0:  # NaN or non-positive
        return None
    if number > 1e14:
        number /= 1e6
    elif number > 1e11:
        number /= 1e3
    try:
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _as_int(text: str) -> int | str:
    try:
        return int(text.strip().strip("'"))
    except ValueError:
        return text


def typed_params(names: Iterable[str], values: Iterable[str]) -> dict[str, object]:
    """Name the captured placeholder values and give each its natural type."""
    out: dict[str, object] = {}
    for name, raw in zip(names, values, strict=False):
        value: object = raw.strip().strip("'") if isinstance(raw, str) else raw
        if name == "banned_until":
            value = epoch_to_datetime(raw) or raw
        elif name in ("limit", "hours", "interval_num", "expected", "read", "sent", "maximum"):
            value = _as_int(raw)
        elif name == "interval":
            value = Interval.parse(raw) or raw
        out[name] = value
    if "interval_num" in out and "interval_unit" in out:
        interval = Interval.parse(f"{out.pop('interval_num')} {out.pop('interval_unit')}")
        if interval is not None:
            out["interval"] = interval
    return out


# Parameter and header names whose values are secrets: never stored, printed or logged.
SECRET_KEYS: Final = frozenset(
    {
        "signature",
        "apikey",
        "api_key",
        "x-mbx-apikey",
        "secret",
        "secretkey",
        "secret_key",
        "api_secret",
        "privatekey",
        "private_key",
        "listenkey",
        "password",
    }
)
REDACTED: Final = "<redacted>"


def is_secret(name: str) -> bool:
    return name.lower() in SECRET_KEYS


_SECRET_HINT: Final = re.compile(r"(?i)signature|api_?key|secret|private_?key|listenkey|password")
_SECRET_VALUE: Final = re.compile(
    r"(?i)\b(" + "|".join(sorted(map(re.escape, SECRET_KEYS), key=len, reverse=True)) + r")\b"
    r"([\"']?\s*[=:]\s*[\"']?)([^&\s'\",;}\]]+)"
)


def redact_text(text: str) -> str:
    """`text` with the value of every `secret=value` / `"secret": "value"` replaced by
    '<redacted>' (URLs with `signature=` in other libraries' messages, log lines...). Cheap when
    no secret's name appears, the common case."""
    if ("=" not in text and ":" not in text) or _SECRET_HINT.search(text) is None:
        return text  # a value needs `name=` or `name:` before it: two memchr scans rule most out
    return _SECRET_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def safe_str(value: object) -> str:
    """str(value), or "" when its __str__ raises (someone else's broken exception)."""
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - any failure of a foreign __str__ means "no text"
        return ""


def foreign_int(value: object) -> int | None:
    """An integer read from a foreign object, as a plain int; None for a bool or any other type.

    Decided on the type alone (an object's own `__class__` may lie or raise), and converted by
    int's own slot, which an int subclass cannot override."""
    kind = type(value)
    if kind is int:
        return value  # type: ignore[return-value]  # checked just above, cheaper than a cast
    if issubclass(kind, int) and not issubclass(kind, bool):
        return int.__int__(value)  # type: ignore[arg-type]  # an int subclass, checked above
    return None


def foreign_attr(obj: object, name: str) -> Any:
    """getattr for other libraries' objects, whose properties may raise anything: None then."""
    try:
        return getattr(obj, name, None)
    except Exception:  # noqa: BLE001 - a foreign property's failure is not ours to propagate
        return None


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The request an error belongs to, with every secret already replaced by '<redacted>'."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(
        cls,
        method: str,
        path: str,
        params: Mapping[str, object] | Iterable[tuple[str, object]] | None = None,
    ) -> RequestInfo:
        items = params.items() if isinstance(params, Mapping) else (params or ())
        safe = tuple((str(k), REDACTED if is_secret(str(k)) else str(v)) for k, v in items)
        return cls(method.upper(), path, safe)

    def param(self, name: str) -> str | None:
        for k, v in self.params:
            if k == name:
                return v
        return None

    @property
    def is_read(self) -> bool:
        """GET requests (and WebSocket API queries) never change state: safe to re-send."""
        return self.method in ("GET", "HEAD")

    def __str__(self) -> str:
        return f"{self.method} {self.path}"
