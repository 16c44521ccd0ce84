"""The REST transport: signs, sends, reads rate headers, and turns every failure into a typed error.

It is the one boundary where HTTP clients' and asyncio's exceptions are translated (through
binguard.errors.classify); callers only ever see BinanceError subclasses. It makes no decisions:
it asks the rate gate before sending, tells it what happened after, and leaves retries and
reconciliation to the connector.

Two HTTP backends sit behind it (`RestOptions.http`):
- "http1" (default): binguard's own keep-alive HTTP/1.1 client on asyncio (transport/http1.py).
  `python -m bench connector` (b): a whole signed call costs about half the CPU it costs on
  aiohttp (~125 vs ~270 µs), the HTTP exchange alone about a third.
- "aiohttp": aiohttp's ClientSession, for environments that need what it brings (proxies via
  its connector, its HTTP parser's long record).
Both raise library exceptions that classify() types the same way (tests/connector/test_acceptance.py
runs the fault matrix on both).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Literal, Protocol
from urllib.parse import quote, urlsplit

import aiohttp
import orjson
from yarl import URL

from binguard.errors import (
    BinanceError,
    ConnectionDroppedError,
    HttpReply,
    RateHeaders,
    RequestInfo,
    classify,
    parse_rate_headers,
)
from binguard.policy.weights import Cost, rest_cost

from .http1 import Http1Client, HttpError
from .signing import Signer

HttpName = Literal["http1", "aiohttp"]


class TimeSource(Protocol):
    """Binance's clock as the transport needs it (binguard.policy.servertime.ServerTimeSync)."""

    def now_ms(self) -> int: ...


class RateGate(Protocol):
    """The budget as the transport sees it (binguard.policy.budget.RateBudget): ask before
    sending, report after. `settle` runs for every ticket, even when the caller is cancelled."""

    async def acquire(self, cost: Cost, *, deadline: float | None) -> Any: ...

    async def settle(
        self, ticket: Any, *, ok: bool, headers: RateHeaders | None = None
    ) -> None: ...

    async def on_error(self, error: BinanceError, *, sent_ms: int | None = None) -> None: ...

    def check(self) -> None:
        """Raise (a typed BinanceError) if nothing may leave now: called right before the bytes
        of an admitted request are written, when a wait lay between (a new connection)."""


@dataclass(frozen=True, slots=True)
class RestOptions:
    """Transport settings; immutable, keyword-only defaults that suit Binance."""

    timeout: float = 10.0  # one attempt; Binance itself gives up on the matching engine at 10 s
    connect_timeout: float = 5.0
    recv_window_ms: int = 5000  # Binance's default; it recommends 5000 or less
    user_agent: str = "binguard/0.1"
    http: HttpName = "http1"  # the HTTP backend; see the module docstring
    gzip: bool = True  # ask for compressed answers (exchangeInfo is megabytes uncompressed)


class RestResponse:
    """A 2xx answer: status, decoded JSON, rate headers, and the request (redacted, built on
    first use: most callers never look at it)."""

    __slots__ = ("_info", "_method", "_params", "_path", "data", "rate", "status")

    def __init__(
        self,
        status: int,
        data: Any,
        rate: RateHeaders,
        method: str,
        path: str,
        params: tuple[tuple[str, object], ...] = (),
    ) -> None:
        self.status = status
        self.data = data
        self.rate = rate
        self._method = method
        self._path = path
        self._params = params
        self._info: RequestInfo | None = None

    @property
    def request(self) -> RequestInfo:
        if self._info is None:
            self._info = RequestInfo.of(self._method, self._path, self._params)
        return self._info

    def __repr__(self) -> str:
        return f"RestResponse({self.status}, {self._method} {self._path})"


def _fmt(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def encode_query(params: Mapping[str, object] | None) -> str:
    """k=v&... in the caller's order, percent-encoded (Binance signs the encoded form, so non-ASCII
    must be encoded before signing: CHANGELOG 2025-12-17)."""
    if not params:
        return ""
    return "&".join(
        f"{quote(k, safe='')}={quote(_fmt(v), safe='')}" for k, v in params.items() if v is not None
    )


# orjson turns an integer beyond 64 bits into a float where json keeps an int. A body with a run
# of 19 digits (-2**63 has 19) is left to json, so every answer decodes exactly as json does it.
# The run is found on a copy with every digit as "0" and everything else as " " (a regex is 10x
# slower here).
_DIGITS_ONLY = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))
_LONG_RUN = b"0" * 19


def _loads(body: bytes) -> Any:
    """`json.loads(body)`, same result and same errors, faster in the common case."""
    if _LONG_RUN not in body.translate(_DIGITS_ONLY):
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
    dict; their values are read by parse_rate_headers (one place decides what a value means)."""
    lower = head.lower()
    if b"\r\nx-mbx-" not in lower and b"\r\nretry-after" not in lower:
        return _NO_RATE
    return parse_rate_headers(
        [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in _RATE_LINE.findall(lower)
        ]
    )


# -- HTTP backends ------------------------------------------------------------------------------
@dataclass(slots=True)
class _Answer:
    status: int
    body: bytes
    rate: RateHeaders
    headers: Mapping[str, str] | Callable[[], Mapping[str, str]]  # a callable: parsed if needed

    def header_map(self) -> dict[str, str]:
        headers = self.headers() if callable(self.headers) else self.headers
        return dict(headers)


class _ExchangeError(Exception):
    """A backend's failure, with what was known of the answer when it happened."""

    def __init__(self, cause: BaseException, status: int | None, rate: RateHeaders | None):
        super().__init__(str(cause))
        self.cause = cause
        self.status = status
        self.rate = rate


class _Backend(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def exchange(
        self,
        method: str,
        target: str,
        timeout: float,  # noqa: ASYNC109 - the client's own per-request timer
        before_write: Callable[[], None] | None,
    ) -> _Answer: ...


def _default_headers(api_key: str | None, options: RestOptions) -> dict[str, str]:
    headers = {"User-Agent": options.user_agent}
    if api_key:
        headers["X-MBX-APIKEY"] = api_key
    return headers


class _Http1Backend:
    """transport/http1.py; its exceptions (HttpError, OSError) are classify()'s to type."""

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
    ) -> _Answer:
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
            raise _ExchangeError(exc, status, rate_from_head(head) if head else None) from exc
        return _Answer(r.status, r.body, rate_from_head(r.head), lambda: r.headers)


class _AiohttpBackend:
    """aiohttp's ClientSession; its exceptions (ClientError, TimeoutError, OSError) are
    classify()'s to type."""

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
    ) -> _Answer:
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
            async with session.request(method, url, timeout=limits) as resp:
                status = resp.status
                rate = parse_rate_headers(resp.headers)
                body = await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # After the response head arrived, a failure while reading the body is a drop too.
            raise _ExchangeError(exc, status, rate) from exc
        return _Answer(status, body, rate, resp.headers)


_BACKENDS: dict[str, type[_Http1Backend | _AiohttpBackend]] = {
    "http1": _Http1Backend,
    "aiohttp": _AiohttpBackend,
}
HTTP_BACKENDS = frozenset(_BACKENDS)  # the names RestOptions.http accepts


class RestTransport:
    """One HTTP client to one Binance REST base URL."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        signer: Signer | None = None,
        time_source: TimeSource | None = None,
        gate: RateGate | None = None,
        options: RestOptions | None = None,
        local_addr: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._signer = signer
        self._time = time_source
        self._gate = gate
        self.options = options or RestOptions()
        if self.options.http not in HTTP_BACKENDS:
            raise ValueError(f"unknown HTTP backend {self.options.http!r}: http1 or aiohttp")
        self._plain_costs: dict[tuple[str, str], Cost] = {}
        backend: type[_Http1Backend | _AiohttpBackend] = _BACKENDS[self.options.http]
        self._http: _Backend = backend(
            self.base_url, _default_headers(api_key, self.options), self.options, local_addr
        )

    def __repr__(self) -> str:
        return f"RestTransport({self.base_url!r}, signer={self._signer!r})"

    async def __aenter__(self) -> RestTransport:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        await self._http.open()

    async def close(self) -> None:
        await self._http.close()

    async def server_time(self) -> tuple[float, int, float]:
        """One clock sample: (monotonic sent, server ms, monotonic received)."""
        sent = time.monotonic()
        response = await self.send("GET", "/api/v3/time")
        received = time.monotonic()
        return sent, int(response.data["serverTime"]), received

    async def send(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        signed: bool = False,
        deadline: float | None = None,
        cost: Cost | None = None,
    ) -> RestResponse:
        """Send one request and return its parsed answer; raise a typed BinanceError otherwise."""
        signer, clock = self._signer, self._time
        if signed and (signer is None or clock is None):
            raise RuntimeError("signed requests need a signer and a time source")
        gate = self._gate
        ticket = None
        if gate is not None:
            if cost is None:
                # Without parameters an endpoint's cost is fixed: computed once (hot path).
                cost = None if params else self._plain_costs.get((method, path))
                if cost is None:
                    cost = rest_cost(method, path, params)
                    if not params:
                        self._plain_costs[(method, path)] = cost
            ticket = await gate.acquire(cost, deadline=deadline)
        # Signed after the budget admitted the request: a wait for capacity must not age the
        # timestamp past recvWindow (that would earn -1021 for a request never sent late).
        query = encode_query(params) if params else ""
        sent_ms = clock.now_ms() if clock is not None else None
        if signed:
            assert signer is not None
            stamp = f"recvWindow={self.options.recv_window_ms}&timestamp={sent_ms}"
            query = f"{query}&{stamp}" if query else stamp
            query = f"{query}&signature={signer.sign(query.encode())}"
        timeout = self.options.timeout
        if deadline is not None:
            timeout = min(timeout, max(0.05, deadline - time.monotonic()))
        try:
            answer = await self._http.exchange(
                method,
                f"{path}?{query}" if query else path,
                timeout,
                gate.check if gate is not None else None,
            )
        except _ExchangeError as failure:
            exc = failure.cause
            request = RequestInfo.of(method, path, params)
            err = classify(exc, request=request) or ConnectionDroppedError(
                f"{type(exc).__name__}: {exc}", request=request
            )
            if failure.status is not None and err.http_status is None:
                err.http_status = failure.status
            if gate is not None:
                await gate.settle(ticket, ok=False, headers=failure.rate)
                await gate.on_error(err, sent_ms=sent_ms)
            raise err from exc
        except BaseException:
            # Cancelled mid-flight: the request may have left, so its weight counts.
            if gate is not None:
                await asyncio.shield(gate.settle(ticket, ok=False))
            raise
        status, body, rate = answer.status, answer.body, answer.rate
        if status >= 400:
            request = RequestInfo.of(method, path, params)
            found = classify(HttpReply(status, answer.header_map(), body), request=request)
            # classify() always finds an error in a >= 400 answer; the fallback keeps the type.
            err = found or BinanceError(f"HTTP {status}", http_status=status, request=request)
            if gate is not None:
                await gate.settle(ticket, ok=False, headers=rate)
                await gate.on_error(err, sent_ms=sent_ms)
            raise err
        if gate is not None:
            await gate.settle(ticket, ok=True, headers=rate)
        try:
            data = _loads(body) if body else None
        except ValueError as exc:
            # A 2xx with a cut or foreign body: the request was processed, its answer lost.
            raise ConnectionDroppedError(
                f"HTTP {status} with an unreadable body ({len(body)} bytes)",
                request=RequestInfo.of(method, path, params),
                http_status=status,
            ) from exc
        return RestResponse(
            status, data, rate, method, path, tuple(params.items()) if params else ()
        )
