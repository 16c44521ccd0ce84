"""Response bodies: Binance's `{code,msg}` JSON, WebSocket API error frames, HTML and empty pages.

The JSON body path is the hot one (every failed response goes through it), so error bodies in
Binance's own compact form are read by hand before falling back to json.loads. A body that names
no Binance code is an error only through its HTTP status (>= 400).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._build import error_from, from_status
from ._exceptions import BinanceError
from ._headers import RateHeaders, as_int, parse_rate_limits
from ._params import RequestInfo


@dataclass(frozen=True, slots=True)
class HttpReply:
    """A response as classify() needs it; build one when your client's response type is unusual."""

    status: int
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()
    body: bytes | str | Mapping[str, Any] | None = None


def fast_code_msg(body: bytes) -> tuple[int, str] | None:
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


# body -> the error it gives without a status or headers, as a prototype that is copied for each
# caller (BinanceError._again). Binance's error bodies repeat byte for byte, so classify(bytes)
# mostly costs a dict lookup and a copy. Bounded; cleared when full.
_BODY_MEMO: dict[bytes, BinanceError] = {}
_BODY_MEMO_SIZE = 2048
_BODY_MEMO_MAX_LEN = 512  # Binance's error bodies are shorter; a huge one is not kept


def compact_error(body: bytes, request: RequestInfo | None) -> BinanceError | None:
    """The error of a compact body `{"code":..,"msg":".."}` read alone (no status, no headers),
    for `request`; None when the body is not in that form (from_body() reads the rest)."""
    proto = _BODY_MEMO.get(body)
    if proto is None:
        fast = fast_code_msg(body)
        if fast is None:
            return None
        proto = error_from(fast[0], fast[1])
        if len(body) <= _BODY_MEMO_MAX_LEN:
            if len(_BODY_MEMO) >= _BODY_MEMO_SIZE:
                _BODY_MEMO.clear()
            _BODY_MEMO[body] = proto
    return proto._again(request)


def from_mapping(
    body: Mapping[str, Any],
    status: int | None,
    rate: RateHeaders | None,
    request: RequestInfo | None,
) -> BinanceError | None:
    """A parsed JSON body: REST `{code,msg}` or a WebSocket API frame `{id,status,error,...}`."""
    error = body.get("error")
    if isinstance(error, Mapping):  # WebSocket API response frame
        frame_status = as_int(body.get("status"))
        return _from_ws_error(error, frame_status or status, body.get("rateLimits"), request)
    code = as_int(body.get("code"))
    msg = body.get("msg", body.get("message"))
    if code is None or (code == 0 and not msg):
        return None
    data = body.get("data")
    return error_from(
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
    code = as_int(error.get("code"))
    msg = error.get("msg")
    data = error.get("data")
    data = data if isinstance(data, Mapping) else None
    rate = parse_rate_limits(rate_limits)
    retry_after: float | None = None
    if data is not None:
        # WebSocket API: retryAfter is an epoch-ms timestamp, serverTime the server's "now".
        until, server_now = as_int(data.get("retryAfter")), as_int(data.get("serverTime"))
        if until is not None and server_now is not None and until >= server_now:
            retry_after = (until - server_now) / 1000.0
    if code is None and status is None:
        return None
    return error_from(
        code,
        msg if isinstance(msg, str) else "",
        status=status,
        rate=rate,
        request=request,
        data=data,
        retry_after=retry_after,
    )


_HTML = re.compile(rb"\A\s*<|<html|<!doctype", re.IGNORECASE)
_TITLE = re.compile(r"<title>\s*(.*?)\s*</title>", re.IGNORECASE | re.DOTALL)


def _html_summary(text: str) -> str:
    m = _TITLE.search(text)
    return m.group(1)[:200] if m else "HTML error page"


def from_body(
    body: bytes | str | Mapping[str, Any] | None,
    status: int | None,
    rate: RateHeaders | None,
    request: RequestInfo | None,
) -> BinanceError | None:
    """The error a body (with its response's status, when known) describes; None for none."""
    if type(body) is bytes:
        raw = body
    elif isinstance(body, str):
        raw = body.encode("utf-8", "surrogatepass")
    elif isinstance(body, Mapping):
        return from_mapping(body, status, rate, request)
    else:
        raw = bytes(body or b"")
    fast = fast_code_msg(raw)
    if fast is not None:
        return error_from(fast[0], fast[1], status=status, rate=rate, request=request)
    stripped = raw.strip()
    if stripped[:1] == b"{":
        try:
            parsed = json.loads(stripped)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, Mapping):
            err = from_mapping(parsed, status, rate, request)
            if err is not None or status is None:
                return err
    if status is None or status < 400:
        return None
    text = raw[:4096].decode("utf-8", "replace")
    msg = _html_summary(text) if _HTML.search(raw[:4096]) else text.strip()[:200]
    return from_status(status, msg or f"HTTP {status}", rate, request)


__all__ = ["HttpReply", "compact_error", "fast_code_msg", "from_body", "from_mapping"]
