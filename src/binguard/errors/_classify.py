"""classify(): anything that can describe a Binance failure in, a typed BinanceError (or None) out.

This module only dispatches on the input's shape; each shape has its reader:

    bytes, str, Mapping, HttpReply, response-like objects  -> _bodies (JSON, WebSocket frames, HTML)
    log lines and free text                                 -> _text
    exceptions of any library                               -> _foreign
    rate-limit headers and WebSocket rateLimits             -> _headers

The imports run one way: _classify -> _foreign -> _text -> _bodies -> _build -> _headers/_params.
classify() is total: it never raises, whatever it is given.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from ._bodies import HttpReply, compact_error, from_body, from_mapping
from ._exceptions import BinanceError, UnclassifiedError
from ._foreign import translate_exception
from ._headers import foreign_rate, parse_rate_headers
from ._params import RequestInfo, foreign_attr, foreign_int, safe_str
from ._text import classify_text

log = logging.getLogger("binguard.errors")


def _request_info(request: Any) -> RequestInfo | None:
    if request is None or isinstance(request, RequestInfo):
        return request
    method = foreign_attr(request, "method")
    url = foreign_attr(request, "url")
    if url is None or url == "":
        url = foreign_attr(request, "path")
    if isinstance(method, str) and url is not None:
        path = foreign_attr(url, "path")
        text = path if isinstance(path, str) and path else safe_str(url)
        return RequestInfo.of(method, text.split("?")[0])
    return None


def _response_parts(x: Any) -> tuple[int, Any, Any] | None:
    """(status, headers, body) from any response-like object, or None if it is not one."""
    status = foreign_int(foreign_attr(x, "status"))
    if status is None:
        status = foreign_int(foreign_attr(x, "status_code"))
    if status is None:
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

    Never raises, and never answers None for an input it could not read (UnclassifiedError then).
    `request` (already redacted, see RequestInfo.of) is attached to the result and refines its
    recovery: a read that may have executed is simply retried.
    """
    try:
        if type(x) is bytes:  # the hot path: a failed response's body
            err = compact_error(x, request)
            if err is not None:
                return err
        err = _classify(x, request)
    except Exception:  # the last resort: each reader is total on its own
        # A bug here must not crash the caller's error path, nor turn its error into None: the
        # caller gets a typed error, and the failure is logged so that it gets reported. What
        # could not be read is never assumed not executed: an order is then left for recover().
        log.exception("binguard.classify failed on a %s; please report", type(x).__name__)
        return UnclassifiedError(
            f"binguard could not read this {type(x).__name__}",
            request=request,
            received_at=time.time(),
            may_have_executed=True,
            cause=type(x).__qualname__,
        )
    if err is not None and request is not None and err.request is None:
        err.request = request
    return err


def _classify(x: object, request: RequestInfo | None) -> BinanceError | None:
    if type(x) is bytes or isinstance(x, bytearray | memoryview):
        raw = bytes(x)
        err = from_body(raw, None, None, request)
        if err is None and raw[:1] not in (b"{", b"["):
            return classify_text(raw[:65536].decode("utf-8", "replace"))
        return err
    if isinstance(x, BinanceError):
        return x
    if isinstance(x, str):
        if x.lstrip()[:1] == "{":
            err = from_body(x, None, None, request)
            if err is not None:
                return err
        return classify_text(x)
    if isinstance(x, HttpReply):
        return from_body(x.body, x.status, parse_rate_headers(x.headers), request)
    if isinstance(x, Mapping):
        return from_mapping(x, None, None, request)
    if isinstance(x, BaseException):
        return translate_exception(x, request)
    parts = _response_parts(x)
    if parts is not None:
        status, headers, body = parts
        return from_body(
            body,
            status,
            foreign_rate(headers),
            request or _request_info(foreign_attr(x, "request_info")),
        )
    return None


__all__ = ["classify"]
