"""The REST transport: signs, sends, reads rate headers, and turns every failure into a typed error.

It is the one boundary where HTTP clients' and asyncio's exceptions are translated (through
binguard.errors.classify); callers only ever see BinanceError subclasses. It makes no decisions:
it asks the rate gate before sending, tells it what happened after, and leaves retries and
reconciliation to the connector.

The HTTP client behind it is chosen by `RestOptions.http` (transport/http_backends.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote

from binguard.errors import (
    BinanceError,
    ConnectionDroppedError,
    HttpReply,
    RateHeaders,
    RequestInfo,
    classify,
    redact_text,
    safe_str,
)
from binguard.policy.weights import Cost, rest_cost

from .http_backends import (
    Backend,
    ExchangeError,
    HttpName,
    default_headers,
    loads,
    make_backend,
)
from .signing import Signer


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
        self._plain_costs: dict[tuple[str, str], Cost] = {}
        self._http: Backend = make_backend(
            self.options.http,
            self.base_url,
            default_headers(api_key, self.options),
            self.options,
            local_addr,
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
        except ExchangeError as failure:
            exc = failure.cause
            request = RequestInfo.of(method, path, params)
            said = safe_str(exc)
            err = classify(exc, request=request) or ConnectionDroppedError(
                redact_text(f"{type(exc).__name__}: {said}"), request=request
            )
            if failure.status is not None and err.http_status is None:
                err.http_status = failure.status
            if gate is not None:
                await gate.settle(ticket, ok=False, headers=failure.rate)
                await gate.on_error(err, sent_ms=sent_ms)
            # Some libraries put the whole URL, signature included, in their message (aiohttp's
            # ClientResponseError): such a cause is not chained (a traceback would print it).
            raise err from (exc if redact_text(said) == said else None)
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
            data = loads(body) if body else None
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
