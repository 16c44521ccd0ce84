"""The HTTP clients behind the REST transport, each behind one small seam (`Backend.exchange`).

- "http1" (default): binguard's own keep-alive HTTP/1.1 client on asyncio (transport/http1.py).
  `python -m bench connector` (b): binguard's whole signed call costs about half the CPU of
  python-binance's (aiohttp underneath); the HTTP exchange alone costs what bare asyncio streams do.
- "aiohttp": aiohttp's ClientSession, for environments that need what it brings (proxies via
  its connector, its HTTP parser's long record).

A backend sends one request and hands back the status, body and rate headers, or raises
`ExchangeError` carrying the library's own exception, the binguard error type it maps to, and
whatever of the answer had arrived. The mapping is by type, here at the boundary, from one table
per backend (`HTTP1_ERRORS`, `AIOHTTP_ERRORS`; httpx's `_transports/default.py` is the model): no
class is named so that a name table elsewhere recognises it. What a table does not map (a plain
OSError, an unexpected library error) is left to classify(), which knows the stdlib's errors.
Both backends run the whole fault matrix in tests/connector/test_acceptance.py. Answers are
decoded here too (`loads`), and rate headers are read straight from a raw head (`rate_from_head`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import aiohttp
import orjson
from yarl import URL

from binguard.errors import (
    ConnectFailedError,
    ConnectionDroppedError,
    RateHeaders,
    RequestInfo,
    RequestTimeoutError,
    TransportError,
    parse_rate_headers,
    redact_text,
    safe_str,
)

from .http1 import ConnectError, ConnectTimeout, Http1Client, HttpError, ReadTimeout
from .http1 import RemoteProtocolError as Http1ProtocolError

HttpName = Literal["http1", "aiohttp"]


@dataclass(frozen=True, slots=True)
class RestOptions:
    """Transport settings; immutable, keyword-only defaults that suit Binance."""

    timeout: float = 10.0  # one attempt; Binance itself gives up on the matching engine at 10 s
    connect_timeout: float = 5.0
    recv_window_ms: int = 5000  # Binance's default; it recommends 5000 or less
    user_agent: str = "binguard/0.1"
    http: HttpName = "http1"  # the HTTP backend; see the module docstring
    gzip: bool = True  # ask for compressed answers (exchangeInfo is megabytes uncompressed)


# -- failures mapped by type (the first row the exception is an instance of wins) ---------------
ErrorMap = tuple[
    tuple[type[BaseException] | tuple[type[BaseException], ...], type[TransportError]], ...
]

HTTP1_ERRORS: ErrorMap = (
    ((ConnectError, ConnectTimeout), ConnectFailedError),  # nothing was sent
    (ReadTimeout, RequestTimeoutError),
    (Http1ProtocolError, ConnectionDroppedError),
)
AIOHTTP_ERRORS: ErrorMap = (
    ((aiohttp.ClientConnectorError, aiohttp.ClientSSLError), ConnectFailedError),
    (aiohttp.ConnectionTimeoutError, ConnectFailedError),
    (aiohttp.ServerTimeoutError, RequestTimeoutError),
    ((aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError), ConnectionDroppedError),
    # ClientOSError is an OSError: the errno decides (classify reads it), not this table.
    (aiohttp.ClientOSError, TransportError),
    (aiohttp.ClientConnectionError, ConnectionDroppedError),
    (TimeoutError, RequestTimeoutError),  # aiohttp's total timeout is asyncio's TimeoutError
)


def map_error(table: ErrorMap, exc: BaseException) -> type[TransportError] | None:
    """The binguard error type `exc` maps to by `table`, or None: then classify() decides (a plain
    OSError by its errno, or a ClientOSError)."""
    for types, kind in table:
        if isinstance(exc, types):
            return None if kind is TransportError else kind
    return None


def transport_error(
    kind: type[TransportError], exc: BaseException, request: RequestInfo | None
) -> TransportError:
    """A `kind` error for a failure of our own HTTP clients, worded as classify() words one (the
    exception's type and text, redacted: a message may hold the signed URL)."""
    said = safe_str(exc)
    text = redact_text(f"{type(exc).__name__}: {said}"[:300]) if said else type(exc).__name__
    return kind(text, request=request, received_at=time.time(), cause=type(exc).__qualname__)


# orjson turns an integer beyond 64 bits into a float where json keeps an int. A body with a run
# of 19 digits (-2**63 has 19) is left to json, so every answer decodes exactly as json does it.
# The run is found on a copy with every digit as "0" and everything else as " " (a regex is 10x
# slower here).
_DIGITS_ONLY = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_LONG_RUN = b"0" * 19


def orjson_exact(body: bytes) -> bool:
    """Whether orjson reads `body` as json does: no run of 19+ digits (an integer past 64 bits,
    which orjson turns into a float). The one test of it, for REST answers and WebSocket frames."""
    return _LONG_RUN not in body.translate(_DIGITS_ONLY)


def loads(body: bytes) -> Any:
    """`json.loads(body)`, same result and same errors, faster in the common case."""
    if _LONG_RUN not in body.translate(_DIGITS_ONLY):  # orjson_exact(), inlined: every answer
        try:
            return orjson.loads(body)  # ~3x faster than json on Binance's answers
        except ValueError:
            pass  # NaN, a BOM, 1e400, lone surrogates...: json accepts more; let it decide
    try:
        return json.loads(body.decode())  # no encoding detection for UTF-8 without a BOM
    except ValueError:
        return json.loads(body)  # UTF-16/32 or a BOM, or the same error json.loads(body) gives


# -- rate headers straight from a raw head ------------------------------------------------------
_RATE_LINE = re.compile(
    rb"\r\n((?:x-mbx-used-weight-|x-mbx-order-count-|retry-after)[^:\r\n]*):([^\r\n]*)"
)
_NO_RATE = RateHeaders(MappingProxyType({}), MappingProxyType({}), None)  # shared: read-only


def rate_from_head(head: bytes) -> RateHeaders:
    """`parse_rate_headers` for a raw HTTP/1.1 head (status line and headers, CRLF-separated):
    the rate lines are found by one regex scan of the lower-cased head, without building a header
    dict. The usual lines (an ASCII weight or order-count name, a value of ASCII digits) are read
    here, as parse_rate_headers reads them; any other line (Retry-After, a value that is not a
    plain count) sends the whole head to parse_rate_headers, the one place that decides what such
    a value means (tests/transport/test_http1.py holds the two readers equal)."""
    lower = head.lower()
    if b"\r\nx-mbx-" not in lower and b"\r\nretry-after" not in lower:
        return _NO_RATE
    lines = _RATE_LINE.findall(lower)
    weight: dict[str, int] = {}
    orders: dict[str, int] = {}
    for name, value in lines:  # runs for every answer: kept lean
        known = _RATE_NAMES.get(name)
        if known is None:
            known = _rate_name(name)
            if known is None:  # Retry-After, or a name that is not plain ASCII
                return _rate_by_reference(lines)
        count = value.strip()
        if not count.isdigit():  # bytes.isdigit(): ASCII digits only
            return _rate_by_reference(lines)
        (weight if known[0] else orders)[known[1]] = int(count)
    return RateHeaders(weight, orders, None)


# b"x-mbx-used-weight-1m" -> (True, "1M"): a handful of names, each read once (weight or order
# count, and the key parse_rate_headers gives its interval suffix, upper-cased)
_RATE_NAMES: dict[bytes, tuple[bool, str]] = {}


def _rate_name(name: bytes) -> tuple[bool, str] | None:
    """What a lower-cased rate header name counts, or None when it is not a plain ASCII weight
    or order-count name."""
    if not name.isascii():
        return None
    if name.startswith(b"x-mbx-used-weight-"):
        known = (True, name[18:].decode().upper())
    elif name.startswith(b"x-mbx-order-count-"):
        known = (False, name[18:].decode().upper())
    else:
        return None
    if len(_RATE_NAMES) < 64:  # a server inventing names must not grow it
        _RATE_NAMES[name] = known
    return known


def _rate_by_reference(lines: list[tuple[bytes, bytes]]) -> RateHeaders:
    return parse_rate_headers(
        [(name.decode("latin-1"), value.decode("latin-1")) for name, value in lines]
    )


# -- HTTP backends ------------------------------------------------------------------------------
@dataclass(slots=True)
class Answer:
    status: int
    body: bytes
    rate: RateHeaders
    headers: Mapping[str, str] | Callable[[], Mapping[str, str]]  # a callable: parsed if needed

    def header_map(self) -> dict[str, str]:
        headers = self.headers() if callable(self.headers) else self.headers
        return dict(headers)


class ExchangeError(Exception):
    """A backend's failure, with what was known of the answer when it happened, and the error
    type its cause maps to (None: classify() decides)."""

    def __init__(
        self,
        cause: BaseException,
        status: int | None,
        rate: RateHeaders | None,
        kind: type[TransportError] | None = None,
    ):
        super().__init__(type(cause).__name__)  # not str(cause): it may hold the signed URL
        self.cause = cause
        self.status = status
        self.rate = rate
        self.kind = kind


class Backend(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def exchange(
        self,
        method: str,
        target: str,
        timeout: float,  # noqa: ASYNC109 - the client's own per-request timer
        before_write: Callable[[], None] | None,
    ) -> Answer: ...


def default_headers(api_key: str | None, options: RestOptions) -> dict[str, str]:
    headers = {"User-Agent": options.user_agent}
    if api_key:
        headers["X-MBX-APIKEY"] = api_key
    return headers


class Http1Backend:
    """transport/http1.py; its own exceptions are typed by `HTTP1_ERRORS`, an OSError by classify."""

    def __init__(
        self, base_url: str, headers: dict[str, str], options: RestOptions, local_addr: str | None
    ) -> None:
        parts = urlsplit(base_url)
        self._prefix = parts.path.rstrip("/")
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._headers = headers
        self._options = options
        self._local_addr = local_addr
        self._client: Http1Client | None = None

    async def open(self) -> None:
        if self._client is None:
            self._client = Http1Client(
                self._origin,
                headers=self._headers,
                connect_timeout=self._options.connect_timeout,
                local_addr=self._local_addr,
                accept_gzip=self._options.gzip,
            )

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def exchange(
        self,
        method: str,
        target: str,
        timeout: float,  # noqa: ASYNC109 - the client's own per-request timer
        before_write: Callable[[], None] | None,
    ) -> Answer:
        client = self._client
        if client is None:
            await self.open()
            client = self._client
            assert client is not None
        try:
            r = await client.request(
                method, self._prefix + target, timeout=timeout, before_write=before_write
            )
        except (HttpError, OSError) as exc:
            head = exc.head if isinstance(exc, HttpError) else None
            status = exc.status if isinstance(exc, HttpError) else None
            rate = rate_from_head(head) if head else None
            raise ExchangeError(exc, status, rate, map_error(HTTP1_ERRORS, exc)) from exc
        return Answer(r.status, r.body, rate_from_head(r.head), lambda: r.headers)


def no_auto_resend(session: aiohttp.ClientSession) -> aiohttp.ClientSession:
    """Stop aiohttp re-sending a request by itself when a reused connection turns out closed:
    it does so for every "idempotent" method, DELETE included, so a cancel would go twice,
    unseen by the budget and the request loop. Retries are the caller's policy alone."""
    session._retry_connection = False
    return session


class AiohttpBackend:
    """aiohttp's ClientSession; its exceptions are typed by `AIOHTTP_ERRORS` (an OSError, and
    anything the table does not know, by classify)."""

    def __init__(
        self, base_url: str, headers: dict[str, str], options: RestOptions, local_addr: str | None
    ) -> None:
        self._base = base_url
        self._headers = headers
        self._options = options
        self._local_addr = local_addr
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=64,
                local_addr=(self._local_addr, 0) if self._local_addr else None,
                enable_cleanup_closed=True,
            )
            headers = dict(self._headers)
            if not self._options.gzip:
                headers["Accept-Encoding"] = "identity"
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=headers,
                timeout=aiohttp.ClientTimeout(
                    total=self._options.timeout, connect=self._options.connect_timeout
                ),
                auto_decompress=True,
            )
            no_auto_resend(self._session)

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def exchange(
        self,
        method: str,
        target: str,
        timeout: float,  # noqa: ASYNC109 - the client's own per-request timer
        before_write: Callable[[], None] | None,
    ) -> Answer:
        """(`before_write` is not honoured: aiohttp writes after its own awaits, unhooked.)"""
        if self._session is None:
            await self.open()
        session = self._session
        assert session is not None
        url = URL(self._base + target, encoded=True)
        limits = aiohttp.ClientTimeout(total=timeout, connect=self._options.connect_timeout)
        status: int | None = None
        rate: RateHeaders | None = None
        try:
            # No redirects: Binance sends none, and a redirect elsewhere would carry the API key.
            async with session.request(method, url, timeout=limits, allow_redirects=False) as resp:
                status = resp.status
                rate = parse_rate_headers(resp.headers)
                body = await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # After the response head arrived, a failure while reading the body is a drop too.
            raise ExchangeError(exc, status, rate, map_error(AIOHTTP_ERRORS, exc)) from exc
        return Answer(status, body, rate, resp.headers)


_KINDS: dict[str, type[Http1Backend | AiohttpBackend]] = {
    "http1": Http1Backend,
    "aiohttp": AiohttpBackend,
}
HTTP_BACKENDS = frozenset(_KINDS)  # the names RestOptions.http accepts


def make_backend(
    name: str, base_url: str, headers: dict[str, str], options: RestOptions, local_addr: str | None
) -> Backend:
    """The backend called `name` (one of HTTP_BACKENDS), not yet open."""
    try:
        kind = _KINDS[name]
    except KeyError:
        raise ValueError(f"unknown HTTP backend {name!r}: one of {sorted(HTTP_BACKENDS)}") from None
    return kind(base_url, headers, options, local_addr)
