"""The one place where other libraries' exceptions become binguard errors.

aiohttp, asyncio, OSError and ssl are recognised by type; requests/urllib3, httpx, python-binance and
ccxt by class name and attributes (duck typing), so binguard imports none of them. The order of the
checks matters: the most specific cause wins (a ClientConnectorError is also an OSError).

aiohttp is not imported here: an aiohttp exception exists only once something imported aiohttp, so
it is looked up in `sys.modules` when an exception is classified (importing it costs ~0.15 s, and
`binguard.doctor` and `binguard.errors` users need none of it).
"""

from __future__ import annotations

import asyncio
import errno
import ssl
import sys
import time
from typing import TYPE_CHECKING, TypeGuard

from ._bodies import from_body
from ._build import error_from, from_status
from ._exceptions import (
    BinanceError,
    ConnectFailedError,
    ConnectionDroppedError,
    RequestTimeoutError,
    TransportError,
)
from ._headers import foreign_rate
from ._params import RequestInfo, foreign_attr, foreign_int, redact_text, safe_str
from ._text import classify_text

if TYPE_CHECKING:
    import aiohttp

_REFUSED = {errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL}
_DROPPED = {errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ESHUTDOWN}

# Class names of other clients' exceptions, checked along the MRO.
_NAME_MAP: tuple[tuple[str, type[TransportError]], ...] = (
    ("ConnectTimeout", ConnectFailedError),  # requests/httpx: never connected
    ("ConnectError", ConnectFailedError),  # httpx
    ("NewConnectionError", ConnectFailedError),  # urllib3
    ("ReadTimeout", RequestTimeoutError),
    ("ReadTimeoutError", RequestTimeoutError),
    ("RequestTimeout", RequestTimeoutError),  # ccxt
    ("WriteTimeout", RequestTimeoutError),
    ("RemoteProtocolError", ConnectionDroppedError),  # httpx
    ("ProtocolError", ConnectionDroppedError),  # urllib3 "Connection aborted."
    ("ChunkedEncodingError", ConnectionDroppedError),
    ("ConnectionClosed", ConnectionDroppedError),  # websockets
    ("ConnectionClosedError", ConnectionDroppedError),
    ("BinanceWebsocketUnableToConnect", ConnectFailedError),
)


def _transport(
    cls: type[TransportError], exc: BaseException, request: RequestInfo | None
) -> TransportError:
    said = safe_str(exc)
    text = redact_text(f"{type(exc).__name__}: {said}"[:300]) if said else type(exc).__name__
    return cls(text, request=request, received_at=time.time(), cause=type(exc).__qualname__)


def _from_oserror(exc: OSError, request: RequestInfo | None) -> TransportError:
    code = foreign_int(foreign_attr(exc, "errno"))  # any object a library stored there
    if isinstance(exc, ConnectionRefusedError) or code in _REFUSED:
        return _transport(ConnectFailedError, exc, request)
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return _transport(ConnectionDroppedError, exc, request)
    if code in _DROPPED:
        return _transport(ConnectionDroppedError, exc, request)
    if isinstance(exc, TimeoutError) or code == errno.ETIMEDOUT:
        return _transport(RequestTimeoutError, exc, request)
    if isinstance(exc, ssl.SSLError):
        return _transport(ConnectFailedError, exc, request)
    # Unknown socket failure: assume the request may have been sent (the safe side for orders).
    return _transport(TransportError, exc, request)


def _aiohttp_error(exc: BaseException) -> TypeGuard[aiohttp.ClientError]:
    """Whether `exc` is an aiohttp.ClientError, without importing aiohttp (an instance of it can
    only exist once aiohttp is imported)."""
    module = sys.modules.get("aiohttp")
    base = getattr(module, "ClientError", None) if module is not None else None
    return isinstance(base, type) and isinstance(exc, base)


def _from_aiohttp(exc: aiohttp.ClientError, request: RequestInfo | None) -> BinanceError | None:
    # Imported by now (`exc` is one of its exceptions): this import is a dict lookup.
    import aiohttp

    if isinstance(exc, aiohttp.ClientResponseError):
        # Raised by raise_for_status(): the body is gone; the status and headers are not.
        status = foreign_int(foreign_attr(exc, "status"))
        if status is not None:
            message = foreign_attr(exc, "message")
            text = message if isinstance(message, str) and message else f"HTTP {status}"
            return from_status(status, text, foreign_rate(foreign_attr(exc, "headers")), request)
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ClientSSLError):
        return _transport(ConnectFailedError, exc, request)
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return _transport(ConnectFailedError, exc, request)
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return _transport(RequestTimeoutError, exc, request)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return _transport(ConnectionDroppedError, exc, request)
    if isinstance(exc, aiohttp.ClientOSError):
        return _from_oserror(exc, request)
    if isinstance(exc, aiohttp.ClientConnectionError):
        return _transport(ConnectionDroppedError, exc, request)
    return _transport(TransportError, exc, request)


def _duck_binance(exc: BaseException, request: RequestInfo | None) -> BinanceError | None:
    """Exceptions of other Binance clients: a `code` attribute (python-binance's
    BinanceAPIException has code/message/status_code/response), or a JSON body in the text (ccxt)."""
    code = foreign_int(foreign_attr(exc, "code"))
    status = foreign_int(foreign_attr(exc, "status_code"))
    if code is not None and code < 0:
        msg = foreign_attr(exc, "message")
        headers = foreign_attr(foreign_attr(exc, "response"), "headers")
        return error_from(
            code,
            msg if isinstance(msg, str) else safe_str(exc),
            status=status,
            rate=foreign_rate(headers),
            request=request,
        )
    body = foreign_attr(exc, "body")
    if not (isinstance(body, bytes | str) and body):
        body = foreign_attr(exc, "response_text")
    if status is not None and isinstance(body, bytes | str):
        return from_body(body, status, None, request)
    return None


def translate_exception(
    exc: BaseException, request: RequestInfo | None = None
) -> BinanceError | None:
    """The binguard error for a foreign exception, or None when it is not a Binance/network failure."""
    if isinstance(exc, BinanceError):
        return exc
    if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit | GeneratorExit):
        return None  # control flow, never a failure to recover from
    if _aiohttp_error(exc):
        return _from_aiohttp(exc, request)
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return _transport(RequestTimeoutError, exc, request)
    duck = _duck_binance(exc, request)
    if duck is not None:
        return duck
    names = [c.__name__ for c in type(exc).__mro__]
    for name, cls in _NAME_MAP:
        if name in names:
            return _transport(cls, exc, request)
    if isinstance(exc, OSError):
        return _from_oserror(exc, request)
    # Other libraries wrap Binance's body or a socket error in their message (ccxt, requests).
    text = safe_str(exc)
    found = classify_text(f"{type(exc).__name__}: {text}"[:65536]) if text else None
    if found is not None and found.request is None:
        found.request = request
    return found
