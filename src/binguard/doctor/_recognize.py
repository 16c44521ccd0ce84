"""One log message in, a Hit (or None) out: which error a line reports, in any bot's wording.

The error core's classify_text() knows Binance's texts; this module knows how each library wraps them
in a log line and hands the core a shape it reads:

- python-binance `APIError(code=-1021): ...`, ccxt/freqtrade `binance {"code":...}`, Hummingbot
  `HTTP status is 400. Error: {...}`, the old official connector's `Found error. status: 400, error
  code: -1021, ...`, raw JSON bodies and plain `code=-1021` text go to classify_text() as they are;
- the old official connector's `ClientError: (400, -1021, 'msg', {...})` and binguard's own
  `[-1021 INVALID_TIMESTAMP] msg (HTTP 400, ...)` are read by classify_text() too;
- the new SDK's `BadRequestError: msg` / `RateLimitBanError: msg` (no code, the class names the
  HTTP status) and JSON log lines (structured loggers, binguard's as_dict()) are rewritten into a
  body plus status first;
- network failures (ECONNRESET, timeouts, disconnects) come from the core's classify_network(), so
  families and explanations stay the core's;
- `'ConnectionError' object has no attribute 'code'` is the bot's own error handler crashing on a
  network exception: a finding of its own, and the evidence of a diagnosis.

A line without a Binance code is only handed to classify_text() when it contains one of the
catalog's message texts (the core's has_catalog_message()) or an HTTP status, so ordinary lines
that merely say "error" cost little. A catalog code written bare (`binance -1021: ...`,
`-1003 backing off`), without the word "code", is read as one too.

GATES lists, as regex sources, text that every accepted line contains: the scanner's prefilter
runs them (with the catalog's openings and the core's network vocabulary) so that it never skips a
line this module would accept. A new way in here needs its text in GATES.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from binguard.errors import (
    BinanceError,
    ConnectFailedError,
    ConnectionDroppedError,
    Family,
    HttpReply,
    Interval,
    RequestTimeoutError,
    TransportError,
    catalog,
    classify,
    classify_network,
    classify_text,
    has_catalog_message,
)
from binguard.errors._hints import CRASH_NAME, CRASH_PATTERN, CrashHint, handler_crash

from ._model import FindingKey, Hit, clean_text, clip

_MAX_TEXT: Final = 400  # characters of a line kept for quoting
_FILTER_NAME: Final = re.compile(r"[A-Z][A-Z0-9_]*")
# Where a logged exception's repr goes on after Binance's message: `', {'Content-Type': ...})`,
# `", {"...`, `')`, `"}`.
_WRAPPER_TAIL: Final = re.compile(r"""['"]\s*(?:,\s*[{(\[]|[)}\]])""")

_NEW_SDK: Final = re.compile(
    r"\b(BadRequestError|UnauthorizedError|ForbiddenError|NotFoundError|TooManyRequestsError"
    r"|RateLimitBanError|ServerError)\b['\"]?[:(]\s*['\"]?(.*?)['\"]?\)?\s*$"
)
_NEW_SDK_STATUS: Final = {
    "BadRequestError": 400,
    "UnauthorizedError": 401,
    "ForbiddenError": 403,
    "NotFoundError": 404,
    "RateLimitBanError": 418,
    "TooManyRequestsError": 429,
}
_SERVER_STATUS: Final = re.compile(r"\b(5\d\d)\b")
# The forms the core's classify_text() reads a code from: `code=-1021`, binguard's `[-1021 NAME]`,
# the old official connector's `(400, -1021, 'msg')`.
_HAS_CODE: Final = re.compile(r"code\W{0,4}-\d")


def _has_code(text: str) -> bool:
    # Substring checks first: one regex alternating the three forms is several times slower.
    return _HAS_CODE.search(text) is not None or "[-" in text or ", -" in text


# A catalog code written without the word "code": not part of a number, a date, a key=value or a
# duration (`offset=-1021`, `-1021ms`, `2024-1021`).
_BARE_CODE: Final = re.compile(r"(?<![\w.\-+=:/])-([12]\d{3})(?![\d.%])(?!\s*m?s\b)")

_HAS_STATUS: Final = re.compile(
    r"HTTP(?:/\d(?:\.\d)?)?\s*(?:status\s*)?(?:is\s*|code\s*)?[=:]?\s*[45]\d\d\b"
    r"|[Ss]tatus(?:_code|\s*code)?\s*(?:is\s*)?[=:]?\s*[45]\d\d\b"
    r"|\b[45]\d\d (?:Bad|Service|Gateway|Too|I'm|Forbidden|Internal|Unauthorized|Not Found)"
)
_ENDPOINT: Final = re.compile(
    r"(?:\b(GET|POST|PUT|DELETE)\s+(?:https?://[^/\s]+)?)?(/(?:api|sapi)/v\d+/[A-Za-z][A-Za-z0-9/]*)"
)
# A traceback's quoted source ("    raise ReadTimeout(e, request=request)") names exceptions
# without reporting one.
_SOURCE_LINE: Final = re.compile(
    r"(?:raise|return|await|except|if|elif|while|with|async|def|try|finally|File \")\b"
)
_CALL: Final = re.compile(r"\b((?:fetch|create|cancel|watch|get|place)_\w+)\(\)")

# Finding names of the core's transport classes.
_NETWORK_NAMES: Final[dict[type[TransportError], str]] = {
    ConnectFailedError: "CONNECT_FAILED",
    ConnectionDroppedError: "CONNECTION_DROPPED",
    RequestTimeoutError: "REQUEST_TIMEOUT",
    TransportError: "NETWORK_ERROR",
}


# What every accepted line contains, per way in (see the module docstring).
GATES: Final = (
    r"code",  # _HAS_CODE's `code=-1021`, and any JSON body's "code" key
    r"\[-",  # binguard's `[-1021 NAME]`
    r", -",  # the old connector's `(400, -1021, 'msg')`
    # _BARE_CODE with its lookarounds as consumed characters (wider: `-1021 s` stays in)
    r"(?:^|[^\w.\-+=:/\n])-[12]\d{3}(?:[^\d.%\n]|$)",
    _HAS_STATUS.pattern,
    r"Error",  # every class name _NEW_SDK knows ends in Error
    CRASH_PATTERN,
)


# Not errors, but context: lines that show binguard's simulator was the exchange (its banner,
# `binguard sim: Binance Spot simulator at ...`, or its /_sim/ admin URL). -1020 there means
# "endpoint not served here"; the scanner notes the first such line of each source.
SIMULATOR_MARKERS: Final = (b"binguard sim", b"/_sim/")


def recognize(text: str) -> Hit | None:
    """The error a log message reports, or None when it reports none. Never raises."""
    indented = text[:2].isspace()
    text = text.strip()
    if not text or (indented and _SOURCE_LINE.match(text)):
        return None
    crash = handler_crash(text)
    if crash is not None:
        return _crash_hit(text, crash)
    err = _from_structured(text) if text[:1] == "{" else None
    if err is None:
        err = _from_wrapped(text)
    if err is None:
        err = _from_text(text)
    if err is None:
        return None
    return _hit(text, err)


def _from_text(text: str) -> BinanceError | None:
    err = classify_text(text) if _has_code(text) else None
    if err is None and "-" in text:
        err = _from_bare_code(text)
    if err is None and (_HAS_STATUS.search(text) or has_catalog_message(text)):
        err = classify_text(text)
    if err is not None and _is_error(err):
        return err
    return _network(text)


def _from_bare_code(text: str) -> BinanceError | None:
    """`binance -1021: Timestamp ...`: a catalog code without the word "code" before it."""
    for m in _BARE_CODE.finditer(text):
        if -int(m.group(1)) in catalog():
            return classify_text(f"{text[: m.start()]}code={text[m.start() :]}")
    return None


def _is_error(err: BinanceError) -> bool:
    """Binance error codes are negative; a positive 'code' is an application's success code."""
    if err.code is not None:
        return err.code < 0 or err.code in catalog() or (err.http_status or 0) >= 400
    return err.http_status is not None or isinstance(err, TransportError)


def _network(text: str) -> BinanceError | None:
    return classify_network(text[:_MAX_TEXT])


def _from_wrapped(text: str) -> BinanceError | None:
    """The new SDK's class-per-status errors, whose status classify_text() cannot see."""
    m = _NEW_SDK.search(text)
    if m is not None and not _HAS_CODE.search(text):
        return _from_sdk_class(m.group(1), m.group(2))
    return None


def _from_sdk_class(cls_name: str, msg: str) -> BinanceError | None:
    """The new modular SDK raises one class per HTTP status and keeps only Binance's message."""
    status = _NEW_SDK_STATUS.get(cls_name)
    if status is None:  # ServerError: "Server error: 503"
        m = _SERVER_STATUS.search(msg)
        status = int(m.group(1)) if m else 500
    known = classify_text(msg) if has_catalog_message(msg) else None
    if known is not None and known.code is not None:
        return _body(known.code, known.msg, status)
    return classify(HttpReply(status, (), msg))


def _body(code: int, msg: str, status: int | None) -> BinanceError | None:
    body = {"code": code, "msg": msg}
    if status is None:
        return classify(body)
    return classify(HttpReply(status, (), body))


def _from_structured(text: str) -> BinanceError | None:
    """A JSON log line: a Binance body nested anywhere in it, else its message fields as text."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    body = _find_body(obj, 0)
    if body is not None:
        code, msg = body["code"], body.get("msg", body.get("message"))
        err = _body(code, str(msg), _status_field(body) or _status_field(obj))
        if err is not None:
            return err
    parts = [
        v
        for k, v in obj.items()
        if isinstance(v, str) and k in ("msg", "message", "event", "error", "exc_info", "exception")
    ]
    if not parts:
        return None
    joined = " | ".join(parts)
    return _from_wrapped(joined) or _from_text(joined)


def _status_field(obj: Mapping[str, Any]) -> int | None:
    for name in ("http_status", "status_code", "status"):
        value = obj.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and 400 <= value < 600:
            return value
    return None


def _find_body(obj: Any, depth: int) -> Mapping[str, Any] | None:
    """The first {"code": <negative int>, "msg": str} mapping, searched a few levels deep."""
    if depth > 3 or not isinstance(obj, dict):
        return None
    code, msg = obj.get("code"), obj.get("msg", obj.get("message"))
    if isinstance(code, int) and not isinstance(code, bool) and code < 0 and isinstance(msg, str):
        return obj
    for value in obj.values():
        found = _find_body(value, depth + 1)
        if found is not None:
            return found
    return None


# ---------------------------------------------------------------------------------------------


def _hit(text: str, err: BinanceError) -> Hit:
    text = clean_text(text)
    # a failure without a code has the whole line as its message: shown cleaned, not cut mid-word
    matched = _clean_message(clean_text(err.msg)) if err.code is not None and err.msg else text
    return Hit(
        key=FindingKey(err.code, _name(err), err.family),
        error=err,
        text=clip(text, _MAX_TEXT),
        matched=clip(matched, _MAX_TEXT),
        values=_values(err),
        endpoint=endpoint_of(text),
    )


def _clean_message(msg: str) -> str:
    """Binance's message without what a logger wrapped around it: `msg', {'Content-Type': ...`."""
    m = _WRAPPER_TAIL.search(msg)
    return msg[: m.start()] if m is not None and m.start() > 0 else msg


def _crash_hit(text: str, crash: CrashHint) -> Hit:
    """The bot read `.code` off an exception that has none: its error path itself is broken."""
    text = clean_text(text)
    cls_name = crash.exception
    underlying = _network(cls_name)
    family = Family.TRANSPORT if underlying is not None else Family.UNCLASSIFIED
    err = underlying or TransportError(text[:_MAX_TEXT])
    return Hit(
        key=FindingKey(None, CRASH_NAME, family),
        error=err,
        text=clip(text, _MAX_TEXT),
        matched=f"'{cls_name}' object has no attribute 'code'",
        values={"exception": cls_name},
        endpoint=None,
        crash=True,
    )


def _name(err: BinanceError) -> str | None:
    """Binance's name for a code (None where its docs give none), or the doctor's for a failure
    without a code (CONNECTION_DROPPED, HTTP_429...)."""
    if err.code is not None:
        entry = err.entry
        return entry.name if entry is not None else "UNKNOWN_CODE"
    if isinstance(err, TransportError):
        return _NETWORK_NAMES.get(type(err), "NETWORK_ERROR")
    if err.http_status is not None:
        return f"HTTP_{err.http_status}"
    return "UNCLASSIFIED"


def _values(err: BinanceError) -> dict[str, str | int]:
    out: dict[str, str | int] = {}
    for name, value in err.params.items():
        if isinstance(value, datetime):
            out[name] = value.isoformat(timespec="milliseconds")
        elif isinstance(value, Interval):
            out[name] = str(value)
        elif isinstance(value, int):
            out[name] = value
        elif isinstance(value, str):
            out[name] = _clean_value(value)
    flt = err.filter
    if flt:
        m = _FILTER_NAME.match(flt)  # a filter is one NAME: drop a logger's `', {...` after it
        out["filter"] = m.group() if m else _clean_value(flt)
    return out


def _clean_value(value: str) -> str:
    """A placeholder's value without quotes, brackets or a wrapper's tail caught with it."""
    return _clean_message(value).strip(" '\"`")


def endpoint_of(text: str) -> str | None:
    """The REST endpoint ('GET /api/v3/depth') or library call ('fetch_ticker()') a line names."""
    m = _ENDPOINT.search(text)
    if m is not None:
        method, path = m.group(1), m.group(2).rstrip("/")
        return f"{method} {path}" if method else path
    c = _CALL.search(text)
    return f"{c.group(1)}()" if c else None
