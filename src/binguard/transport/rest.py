"""The REST transport: signs, sends, reads rate headers, and turns every failure into a typed error.

It is the one boundary where aiohttp's and asyncio's exceptions are translated (through
binguard.errors.classify); callers only ever see BinanceError subclasses. It makes no decisions:
it asks the rate gate before sending, tells it what happened after, and leaves retries and
reconciliation to the connector.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp
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


@dataclass(frozen=True, slots=True)
class RestOptions:
    """Transport settings; immutable, keyword-only defaults that suit Binance."""

    timeout: float = 10.0  # whole request; Binance itself gives up on the matching engine at 10 s
    connect_timeout: float = 5.0
    recv_window_ms: int = 5000  # Binance's default; it recommends 5000 or less
    user_agent: str = "binguard/0.1"


@dataclass(frozen=True, slots=True)
class RestResponse:
    status: int
    data: Any
    rate: RateHeaders
    request: RequestInfo


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
    """One HTTP session to one Binance REST base URL."""

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
        self._api_key = api_key
        self._signer = signer
        self._time = time_source
        self._gate = gate
        self.options = options or RestOptions()
        self._local_addr = local_addr
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"RestTransport({self.base_url!r}, signer={self._signer!r})"

    async def __aenter__(self) -> RestTransport:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=64,
                local_addr=(self._local_addr, 0) if self._local_addr else None,
                enable_cleanup_closed=True,
            )
            headers = {"User-Agent": self.options.user_agent}
            if self._api_key:
                headers["X-MBX-APIKEY"] = self._api_key
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers=headers,
                timeout=aiohttp.ClientTimeout(
                    total=self.options.timeout, connect=self.options.connect_timeout
                ),
                auto_decompress=True,
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
        if self._session is None:
            await self.open()
        session = self._session
        assert session is not None
        if signed and (self._signer is None or self._time is None):
            raise RuntimeError("signed requests need a signer and a time source")
        gate = self._gate
        ticket = None
        if gate is not None:
            ticket = await gate.acquire(cost or rest_cost(method, path, params), deadline=deadline)
        # Signed after the budget admitted the request: a wait for capacity must not age the
        # timestamp past recvWindow (that would earn -1021 for a request never sent late).
        query = encode_query(params)
        request = RequestInfo.of(method, path, params)
        if signed and self._signer is not None and self._time is not None:
            stamp = f"recvWindow={self.options.recv_window_ms}&timestamp={self._time.now_ms()}"
            query = f"{query}&{stamp}" if query else stamp
            query = f"{query}&signature={self._signer.sign(query.encode())}"
        url = URL(
            f"{self.base_url}{path}?{query}" if query else f"{self.base_url}{path}", encoded=True
        )
        timeout = None
        if deadline is not None:
            timeout = aiohttp.ClientTimeout(total=max(0.05, deadline - time.monotonic()))
        sent_ms = self._time.now_ms() if self._time is not None else None
        status: int | None = None
        rate: RateHeaders | None = None
        try:
            async with session.request(method, url, timeout=timeout) as resp:
                status = resp.status
                rate = parse_rate_headers(resp.headers)
                body = await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            # After the response head arrived, a failure while reading the body is a drop too.
            err = classify(exc, request=request) or ConnectionDroppedError(
                f"{type(exc).__name__}: {exc}", request=request
            )
            if status is not None and err.http_status is None:
                err.http_status = status
            if gate is not None:
                await gate.settle(ticket, ok=False, headers=rate)
                await gate.on_error(err, sent_ms=sent_ms)
            raise err from exc
        except BaseException:
            # Cancelled mid-flight: the request may have left, so its weight counts.
            if gate is not None:
                await asyncio.shield(gate.settle(ticket, ok=False, headers=rate))
            raise
        if status >= 400:
            failure = classify(HttpReply(status, dict(resp.headers), body), request=request)
            # classify() always finds an error in a >= 400 answer; the fallback keeps the type.
            err = failure or BinanceError(f"HTTP {status}", http_status=status, request=request)
            if gate is not None:
                await gate.settle(ticket, ok=False, headers=rate)
                await gate.on_error(err, sent_ms=sent_ms)
            raise err
        if gate is not None:
            await gate.settle(ticket, ok=True, headers=rate)
        try:
            data = json.loads(body) if body else None
        except ValueError as exc:
            # A 2xx with a cut or foreign body: the request was processed, its answer lost.
            raise ConnectionDroppedError(
                f"HTTP {status} with an unreadable body ({len(body)} bytes)",
                request=request,
                http_status=status,
            ) from exc
        return RestResponse(status, data, rate, request)
