"""classify(): anything that can describe a Binance failure in, a typed BinanceError (or None) out.

Accepted: an HTTP response (ours, aiohttp's, requests', httpx's, or any object with a status, headers
and a body), a body alone (bytes, str or dict, JSON or HTML or empty), a WebSocket API error frame, an
exception of any library, a log line or free text. classify() is total: it never raises, whatever it
is given. The JSON body path is the hot one (every failed response goes through it), so error bodies
in Binance's own compact form are parsed by hand before falling back to json.loads.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._catalog import CatalogEntry, Template, catalog, literal_opening, words_of
from ._exceptions import (
    BinanceError,
    ConnectFailedError,
    ConnectionDroppedError,
    ExecutionUnknownError,
    IpBannedError,
    RateLimitedError,
    RequestTimeoutError,
    ServerBusyError,
    TransportError,
    UnclassifiedError,
    WafBlockedError,
    error_class,
)
from ._params import Interval, RequestInfo, redact_text

log = logging.getLogger("binguard.errors")


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A response as classify() needs it; build one when your client's response type is unusual."""

    status: int
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()
    body: bytes | str | Mapping[str, Any] | None = None


# ---------------------------------------------------------------------------------------------
# Headers


@dataclass(frozen=True, slots=True)
class RateHeaders:
    """The rate-limit facts of one response: used weight, order counts and Retry-After."""

    used_weight: Mapping[str, int]
    order_count: Mapping[str, int]
    retry_after: float | None


_WEIGHT_PREFIX = "x-mbx-used-weight-"
_ORDER_PREFIX = "x-mbx-order-count-"
_PREFIX_LEN = len(_WEIGHT_PREFIX)  # == len(_ORDER_PREFIX): 18 characters each


def parse_rate_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
) -> RateHeaders:
    """Read X-MBX-USED-WEIGHT-*, X-MBX-ORDER-COUNT-* and Retry-After, whatever the header case.
    A value that is not a count (or, for Retry-After, a non-negative number) is passed over."""
    weight: dict[str, int] = {}
    orders: dict[str, int] = {}
    retry_after: float | None = None
    if not headers:
        return RateHeaders(weight, orders, None)
    items = headers.items() if isinstance(headers, Mapping) else headers
    for raw_key, raw_value in items:  # runs for every response: kept lean
        key = raw_key.lower() if type(raw_key) is str else str(raw_key).lower()
        if key.startswith("x-mbx-"):
            if key.startswith(_WEIGHT_PREFIX):
                table = weight
            elif key.startswith(_ORDER_PREFIX):
                table = orders
            else:
                continue
            value = (raw_value if type(raw_value) is str else str(raw_value)).strip()
            # isascii(): "²" and other Unicode digits pass isdigit() but int() refuses them.
            if value.isascii() and value.isdigit():
                table[key[_PREFIX_LEN:].upper()] = int(value)
        elif key == "retry-after":
            try:
                seconds = float(str(raw_value).strip())
            except ValueError:
                continue
            if seconds == seconds and seconds >= 0:  # not NaN
                retry_after = seconds
    return RateHeaders(weight, orders, retry_after)


# ---------------------------------------------------------------------------------------------
# Bodies


# (code, msg) -> (class, template, values): Binance's error bodies repeat, and matching a message
# against its templates is the costly part of classification. Bounded; cleared when full.
_MATCH_MEMO: dict[
    tuple[int | None, str], tuple[type[BinanceError], Template | None, tuple[str, ...]]
] = {}
_MATCH_MEMO_SIZE = 4096


def _match(
    code: int | None, msg: str
) -> tuple[type[BinanceError], Template | None, tuple[str, ...]]:
    key = (code, msg)
    hit = _MATCH_MEMO.get(key)
    if hit is not None:
        return hit
    template: Template | None = None
    values: tuple[str, ...] = ()
    if code is not None:
        entry = catalog().get(code)
        found = entry.match(msg) if entry is not None else None
        if found is not None:
            template, values = found
    result = (error_class(code, template), template, values)
    if len(_MATCH_MEMO) >= _MATCH_MEMO_SIZE:
        _MATCH_MEMO.clear()
    _MATCH_MEMO[key] = result
    return result


def _error_from(
    code: int | None,
    msg: str,
    *,
    status: int | None = None,
    rate: RateHeaders | None = None,
    request: RequestInfo | None = None,
    data: Mapping[str, Any] | None = None,
    retry_after: float | None = None,
    hit: tuple[Template, tuple[str, ...]] | None = None,
) -> BinanceError:
    """Build the error for a (code, msg) pair, letting the HTTP status refine the class.

    `hit` is the template match when the caller already found it (log lines)."""
    if hit is None:
        cls, template, values = _match(code, msg)
    else:
        template, values = hit
        cls = error_class(code, template)
    may_have_executed: bool | None = None
    if status is not None:
        if status == 418:
            cls = IpBannedError
        elif status == 429 and not issubclass(cls, RateLimitedError):
            cls = RateLimitedError
        elif status == 403 and code is None:
            cls = WafBlockedError
        elif status >= 500:
            may_have_executed = True
            if code is None:
                cls = ExecutionUnknownError
    if rate is not None and retry_after is None:
        retry_after = rate.retry_after
    return cls._fast(
        msg,
        code,
        template,
        values,
        status,
        retry_after,
        rate.used_weight if rate is not None else None,
        rate.order_count if rate is not None else None,
        request,
        data,
        may_have_executed,
    )


def _fast_code_msg(body: bytes) -> tuple[int, str] | None:
    """Binance's compact error body `{"code":-1021,"msg":"..."}` without a JSON parser."""
    if not body.startswith(b'{"code":') or not body.endswith(b'"}'):
        return None
    sep = body.find(b',"msg":"', 8)
    if sep < 0:
        return None
    raw_msg = body[sep + 8 : -2]
    if b"\\" in raw_msg or b'"' in raw_msg:
        return None  # escapes or extra keys: let json handle it
    try:
        return int(body[8:sep]), raw_msg.decode()
    except (ValueError, UnicodeDecodeError):
        return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,9}\s*", value):
        return int(value)
    return None


def _from_mapping(
    body: Mapping[str, Any],
    status: int | None,
    rate: RateHeaders | None,
    request: RequestInfo | None,
) -> BinanceError | None:
    """A parsed JSON body: REST `{code,msg}` or a WebSocket API frame `{id,status,error,...}`."""
    error = body.get("error")
    if isinstance(error, Mapping):  # WebSocket API response frame
        frame_status = _as_int(body.get("status"))
        return _from_ws_error(error, frame_status or status, body.get("rateLimits"), request)
    code = _as_int(body.get("code"))
    msg = body.get("msg", body.get("message"))
    if code is None or (code == 0 and not msg):
        return None
    data = body.get("data")
    return _error_from(
        code,
        msg if isinstance(msg, str) else "" if msg is None else str(msg),
        status=status,
        rate=rate,
        request=request,
        data=data if isinstance(data, Mapping) else None,
    )


def _from_ws_error(
    error: Mapping[str, Any],
    status: int | None,
    rate_limits: Any,
    request: RequestInfo | None,
) -> BinanceError | None:
    code = _as_int(error.get("code"))
    msg = error.get("msg")
    data = error.get("data")
    data = data if isinstance(data, Mapping) else None
    weight: dict[str, int] = {}
    orders: dict[str, int] = {}
    if isinstance(rate_limits, list):
        for item in rate_limits:
            if not isinstance(item, Mapping):
                continue
            count = _as_int(item.get("count"))
            interval = Interval.parse(f"{item.get('intervalNum', '')} {item.get('interval', '')}")
            if count is None or interval is None:
                continue
            if item.get("rateLimitType") == "REQUEST_WEIGHT":
                weight[interval.letter] = count
            elif item.get("rateLimitType") == "ORDERS":
                orders[interval.letter] = count
    retry_after: float | None = None
    if data is not None:
        # WebSocket API: retryAfter is an epoch-ms timestamp, serverTime the server's "now".
        until, server_now = _as_int(data.get("retryAfter")), _as_int(data.get("serverTime"))
        if until is not None and server_now is not None and until >= server_now:
            retry_after = (until - server_now) / 1000.0
    if code is None and status is None:
        return None
    return _error_from(
        code,
        msg if isinstance(msg, str) else "",
        status=status,
        rate=RateHeaders(weight, orders, None),
        request=request,
        data=data,
        retry_after=retry_after,
    )


_HTML = re.compile(rb"\A\s*<|<html|<!doctype", re.IGNORECASE)
_TITLE = re.compile(r"<title>\s*(.*?)\s*</title>", re.IGNORECASE | re.DOTALL)


def _html_summary(text: str) -> str:
    m = _TITLE.search(text)
    return m.group(1)[:200] if m else "HTML error page"


def _from_body(
    body: bytes | str | Mapping[str, Any] | None,
    status: int | None,
    rate: RateHeaders | None,
    request: RequestInfo | None,
) -> BinanceError | None:
    if type(body) is bytes:
        raw = body
    elif isinstance(body, str):
        raw = body.encode("utf-8", "surrogatepass")
    elif isinstance(body, Mapping):
        return _from_mapping(body, status, rate, request)
    else:
        raw = bytes(body or b"")
    fast = _fast_code_msg(raw)
    if fast is not None:
        return _error_from(fast[0], fast[1], status=status, rate=rate, request=request)
    stripped = raw.strip()
    if stripped[:1] == b"{":
        try:
            parsed = json.loads(stripped)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, Mapping):
            err = _from_mapping(parsed, status, rate, request)
            if err is not None or status is None:
                return err
    if status is None:
        return None
    if status < 400:
        return None
    text = raw[:4096].decode("utf-8", "replace")
    msg = _html_summary(text) if _HTML.search(raw[:4096]) else text.strip()[:200]
    return _from_status(status, msg or f"HTTP {status}", rate, request)


def _from_status(
    status: int, msg: str, rate: RateHeaders | None, request: RequestInfo | None
) -> BinanceError:
    """A failed response whose body names no Binance code (HTML pages, empty bodies, proxies)."""
    cls: type[BinanceError]
    may_have_executed: bool | None = None
    if status == 418:
        cls = IpBannedError
    elif status == 429:
        cls = RateLimitedError
    elif status == 403:
        cls = WafBlockedError
    elif status >= 500:
        cls = ExecutionUnknownError
        may_have_executed = True
    else:
        cls = UnclassifiedError
    return cls(
        msg,
        http_status=status,
        retry_after=rate.retry_after if rate is not None else None,
        used_weight=rate.used_weight if rate is not None else None,
        order_count=rate.order_count if rate is not None else None,
        request=request,
        received_at=time.time(),
        may_have_executed=may_have_executed,
    )


# ---------------------------------------------------------------------------------------------
# Free text (log lines)

_JSON_WITH_CODE = re.compile(r'\{[^{}]*?"code"\s*:\s*-?\d+[^{}]*\}')
# A code as logs write it: `code=-1021`, `"code":-1021`, `APIError(code=-1021)`; binguard's own
# `[-1021 INVALID_TIMESTAMP] msg (HTTP 400, ...)`; the old official connector's `(400, -1021, 'msg')`.
# Separate patterns behind substring checks: an alternation without a literal opening would make
# the regex engine try every branch at every position of every line (the doctor's hot path).
_CODE_WORD = re.compile(r"code[\W_]{0,4}(-[12]\d{3})(?!\d)", re.IGNORECASE)
_CODE_BRACKET = re.compile(r"\[(-[12]\d{3})(?:\s+[A-Z][A-Z0-9_]*)?\]")
_CODE_TUPLE = re.compile(r"\(\s*([1-5]\d\d)\s*,\s*(-[12]\d{3})\s*,")


def _find_code(text: str) -> tuple[int, int | None, int] | None:
    """(code, HTTP status if the form carries one, end of the match) of the first code form."""
    m = _CODE_WORD.search(text)
    if m is not None:
        return int(m.group(1)), None, m.end()
    if "[-" in text:
        m = _CODE_BRACKET.search(text)
        if m is not None:
            return int(m.group(1)), None, m.end()
    if ", -" in text:
        m = _CODE_TUPLE.search(text)
        if m is not None:
            return int(m.group(2)), int(m.group(1)), m.end()
    return None


_BINGUARD_TAIL = re.compile(r"\s*\(HTTP \d{3}(?:, [^)]*)?\)\s*$")
_MSG_AFTER = re.compile(r"""\A[)\]'"]*\s*[:,]?\s*(?:msg|message)?\s*[=:]?\s*""", re.IGNORECASE)
_STATUS = re.compile(
    r"(?:HTTP(?:/\d(?:\.\d)?)?\s*(?:status\s*)?(?:is\s*|code\s*)?[=:]?\s*"
    r"|status(?:_code|\s*code)?\s*(?:is\s*)?[=:]?\s*)([1-5]\d\d)\b"
    r"|\b([45]\d\d)\s+(?:Bad Gateway|Service Unavailable|Gateway Time-?out|Too Many Requests"
    r"|I'm a teapot|Forbidden|Internal Server Error)",
    re.IGNORECASE,
)
# Transport failures as programs and their logs word them, most specific first.
_NETWORK: tuple[tuple[re.Pattern[str], type[TransportError]], ...] = (
    (
        re.compile(
            r"ECONNREFUSED|Connection refused|Cannot connect to host|Name or service not known"
            r"|getaddrinfo failed|Temporary failure in name resolution|Network is unreachable"
            r"|ClientConnectorError|ConnectTimeout|NewConnectionError|No route to host"
        ),
        ConnectFailedError,
    ),
    (
        re.compile(
            r"ECONNRESET|Connection reset|[Ee]rrno 104|\(104,|Connection aborted|ServerDisconnected"
            r"|Server disconnected|RemoteDisconnected|Remote end closed connection|ConnectionClosed"
            r"|IncompleteRead|ClientPayloadError|Broken pipe|EPIPE|Connection broken"
        ),
        ConnectionDroppedError,
    ),
    (
        re.compile(
            r"ETIMEDOUT|timed out|TimeoutError|ReadTimeout|RequestTimeout|Timeout on reading"
            r"|Timeout context manager|ServerTimeoutError"
        ),
        RequestTimeoutError,
    ),
    (
        re.compile(r"\bConnectionError\b|\bNetworkError\b|ClientOSError|ExchangeNotAvailable"),
        TransportError,
    ),
)


def classify_network(text: str) -> TransportError | None:
    """The transport failure a text reports (ECONNRESET, timeouts, refused connections...), if any.

    Only the network vocabulary is consulted: use classify_text() for text that may also carry a
    Binance code or message."""
    for pattern, cls in _NETWORK:
        if pattern.search(text):
            return cls(redact_text(text.strip()[:300]), received_at=time.time())
    return None


def _messages_near(text: str, end: int) -> list[str]:
    """What may be the message after a code in a log line ('): ', 'msg=', '"msg":"' ...): the rest
    of the line as written, then without one pair of surrounding quotes."""
    rest = text[end:]
    m = _MSG_AFTER.match(rest)
    rest = _BINGUARD_TAIL.sub("", (rest[m.end() :] if m else rest).strip())
    out = [rest]
    if rest[:1] in ("'", '"'):
        inner = rest[1:]
        close = inner.rfind(rest[0])
        out.append(inner[:close] if close > 0 else inner)
    return out


def _match_in(text: str, opening: str, t: Template) -> tuple[tuple[str, ...], str] | None:
    """Template `t` rendered somewhere inside `text`, found by its fixed opening: its values and
    the matched part. A log line carries more after the message, so the end is tried at the line's
    end, then at each quote, brace or separator."""
    pos = text.find(opening)
    if pos < 0:
        return None
    candidate = text[pos:]
    ends = [len(candidate)]
    for stop in ('"', "'", "}", "\n", " |", ", "):
        i = candidate.find(stop, len(opening))
        if i > 0:
            ends.append(i)
    for end in ends:
        values = t.match(candidate[:end])
        if values is not None:
            return values, candidate[:end].strip()
    return None


def _search_template(
    entry: CatalogEntry, text: str
) -> tuple[Template, tuple[str, ...], str] | None:
    """One of the entry's templates inside a longer text: the template, values and matched part."""
    for t in entry.templates:
        opening = literal_opening(t.message)
        if len(opening) >= 4:
            found = _match_in(text, opening, t)
            if found is not None:
                return t, *found
    return None


def has_catalog_message(text: str) -> bool:
    """Whether `text` contains the fixed opening of any catalog message (a cheap test)."""
    index = catalog().openings_by_word()
    for word in words_of(text[:4096]):
        for opening, _, _ in index.get(word, ()):
            if opening in text:
                return True
    return False


def _message_only(text: str) -> BinanceError | None:
    """A Binance message with no code around it (e.g. a pasted wording): only the templates whose
    opening shares a word with the text are tried."""
    index = catalog().openings_by_word()
    for word in words_of(text[:4096]):
        for opening, entry, t in index.get(word, ()):
            found = _match_in(text, opening, t)
            if found is not None:
                values, matched = found
                return _error_from(
                    entry.code,
                    matched if values else t.message,
                    status=_status_in(text),
                    hit=(t, values),
                )
    return None


def classify_text(text: str) -> BinanceError | None:
    """A log line or free text: a JSON body in it, a 'code=-1021'-style mention, an HTTP status,
    a network failure, or a bare Binance message. None when it describes no error.
    Secrets in the text (`signature=...` in a logged URL) never reach the error's message."""
    if len(text) > 65536:
        text = text[:65536]
    text = redact_text(text)
    for m in _JSON_WITH_CODE.finditer(text):
        try:
            parsed = json.loads(m.group())
        except ValueError:
            continue
        if isinstance(parsed, Mapping):
            status = _status_in(text)
            err = _from_mapping(parsed, status, None, None)
            if err is not None:
                return err
    found_code = _find_code(text)
    if found_code is not None:
        code, carried_status, code_end = found_code
        status = carried_status if carried_status is not None else _status_in(text)
        candidates = _messages_near(text, code_end)
        msg = candidates[-1]
        entry = catalog().get(code)
        hit = None
        if entry is not None:
            for candidate in candidates:
                exact = entry.match(candidate)
                if exact is not None:
                    hit = (exact[0], exact[1], candidate)
                    break
            else:
                hit = _search_template(entry, text)
        if hit is not None:
            template, values, matched = hit
            msg = matched if values else template.message
            return _error_from(code, msg, status=status, hit=(template, values))
        return _error_from(code, msg, status=status)
    status = _status_in(text)
    if status is not None and status >= 400:
        return _from_status(status, text.strip()[:200], None, None)
    found = _message_only(text)
    if found is not None:
        return found
    return classify_network(text)


def _status_in(text: str) -> int | None:
    m = _STATUS.search(text)
    if not m:
        return None
    return int(m.group(1) or m.group(2))


# ---------------------------------------------------------------------------------------------
# Entry point


def foreign_attr(obj: object, name: str) -> Any:
    """getattr for other libraries' objects, whose properties may raise anything: None then."""
    try:
        return getattr(obj, name, None)
    except Exception:  # noqa: BLE001 - a foreign property's failure is not ours to propagate
        return None


def _request_info(request: Any) -> RequestInfo | None:
    if request is None or isinstance(request, RequestInfo):
        return request
    method = foreign_attr(request, "method")
    url = foreign_attr(request, "url") or foreign_attr(request, "path")
    if isinstance(method, str) and url is not None:
        return RequestInfo.of(method, str(foreign_attr(url, "path") or url).split("?")[0])
    return None


def _response_parts(x: Any) -> tuple[int, Any, Any] | None:
    """(status, headers, body) from any response-like object, or None if it is not one."""
    status = foreign_attr(x, "status")
    if not isinstance(status, int):
        status = foreign_attr(x, "status_code")
    if not isinstance(status, int) or isinstance(status, bool):
        return None
    headers = foreign_attr(x, "headers")
    body: Any = None
    for attr in ("body", "_body", "content", "text"):
        value = foreign_attr(x, attr)
        if isinstance(value, bytes | str | Mapping):
            body = value
            break
    return status, headers, body


def classify(x: object, *, request: RequestInfo | None = None) -> BinanceError | None:
    """Turn anything describing a Binance failure into a typed error; None when there is none.

    Never raises. `request` (already redacted, see RequestInfo.of) is attached to the result and
    refines its recovery: a read that may have executed is simply retried.
    """
    try:
        err = _classify(x, request)
    except Exception:
        # crash the caller's error path. It is logged so it gets reported, not hidden.
        log.exception("binguard.classify failed on a %s; please report", type(x).__name__)
        return None
    if err is not None and request is not None and err.request is None:
        err.request = request
    return err


def _classify(x: object, request: RequestInfo | None) -> BinanceError | None:
    if type(x) is bytes or isinstance(x, bytearray | memoryview):
        raw = bytes(x)
        err = _from_body(raw, None, None, request)
        if err is None and raw[:1] not in (b"{", b"["):
            return classify_text(raw[:65536].decode("utf-8", "replace"))
        return err
    if isinstance(x, BinanceError):
        return x
    if isinstance(x, str):
        if x.lstrip()[:1] == "{":
            err = _from_body(x, None, None, request)
            if err is not None:
                return err
        return classify_text(x)
    if isinstance(x, HttpReply):
        return _from_body(x.body, x.status, parse_rate_headers(x.headers), request)
    if isinstance(x, Mapping):
        return _from_mapping(x, None, None, request)
    if isinstance(x, BaseException):
        from ._foreign import translate_exception

        return translate_exception(x, request)
    parts = _response_parts(x)
    if parts is not None:
        status, headers, body = parts
        try:
            rate = parse_rate_headers(headers)
        except (TypeError, ValueError, AttributeError):
            rate = None
        return _from_body(
            body, status, rate, request or _request_info(foreign_attr(x, "request_info"))
        )
    return None


__all__ = [
    "HttpReply",
    "RateHeaders",
    "ServerBusyError",
    "classify",
    "classify_text",
    "parse_rate_headers",
]
