"""The REST transport: signs, sends, reads rate headers, and turns every failure into a typed error.

It is the one boundary where HTTP clients' and asyncio's exceptions are translated (our own
clients' by type, in transport/http_backends.py; anything else through binguard.errors.classify);
callers only ever see BinanceError subclasses. It makes no decisions:
it asks the rate gate before sending, tells it what happened after, and leaves retries and
reconciliation to the connector.

The HTTP client behind it is chosen by `RestOptions.http` (transport/http_backends.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
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
from binguard.policy.endpoints import REST, UNKNOWN, Cost, Rule, rest_cost
from binguard.policy.gate import Admission, RateGate

from .http_backends import (
    Answer,
    Backend,
    ExchangeError,
    RestOptions,
    default_headers,
    loads,
    make_backend,
    transport_error,
)
from .signing import Signer

__all__ = ["RateGate", "RestOptions", "RestResponse", "RestTransport", "TimeSource", "encode_query"]


class TimeSource(Protocol):
    """Binance's clock as the transport needs it (binguard.policy.servertime.ServerTimeSync)."""

    def now_ms(self) -> int: ...


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


# What quote(s, safe="") leaves as it is: a string made only of these is its own encoding.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch
_PLAIN_QUERY = re.compile(r"[A-Za-z0-9_.~=&-]*").fullmatch  # the same, and the separators
_KEYS: dict[str, str] = {}  # parameter names, encoded once (a handful of fixed names)


def _encoded(text: str) -> str:
    """`quote(text, safe="")`, skipping the work for the common all-unreserved value."""
    return text if _UNRESERVED(text) else quote(text, safe="")


def _key(name: str) -> str:
    encoded = _KEYS.get(name)
    if encoded is None:
        encoded = _encoded(name)
        if len(_KEYS) < 1024:  # names are few; a caller inventing names must not grow it
            _KEYS[name] = encoded
    return encoded


def encode_query(params: Mapping[str, object] | None) -> str:
    """k=v&... in the caller's order, percent-encoded (Binance signs the encoded form, so non-ASCII
    must be encoded before signing: CHANGELOG 2025-12-17). Each name and value is encoded once,
    and only when it holds a character that needs it."""
    if not params:
        return ""
    # (k + "=": a name that is not a str raises TypeError here, as it always did)
    parts = [
        k + "=" + (v if type(v) is str else _fmt(v)) for k, v in params.items() if v is not None
    ]
    query = "&".join(parts)
    # The usual case, one check for all: only unreserved characters besides the separators, and
    # no more separators than the parts put there (else a name or value holds one: encode it).
    if _PLAIN_QUERY(query) and query.count("=") == len(parts) == query.count("&") + 1:
        return query
    return "&".join(
        [
            f"{_key(k)}={_encoded(v if type(v) is str else _fmt(v))}"
            for k, v in params.items()
            if v is not None
        ]
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
        self._check = gate.check if gate is not None else None  # bound once, not per request
        self.options = options or RestOptions()
        # per (method, path): its cost when no parameter changes it, else None (_fixed_cost)
        self._fixed_costs: dict[tuple[str, str], Cost | None] = {}
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
        """Send one request and return its parsed answer; raise a typed BinanceError otherwise.

        The gate admits it first and is settled on every exit (`policy/gate.py` `admit`)."""
        if signed and (self._signer is None or self._time is None):
            raise RuntimeError("signed requests need a signer and a time source")
        gate = self._gate
        if gate is None:
            slot = Admission(None, None, deadline)
        else:
            if cost is None:
                cost = self._cost(method, path, params)
            slot = gate.admit(cost, deadline=deadline)
        async with slot:
            # Signed after the budget admitted the request: a wait for capacity must not age the
            # timestamp past recvWindow (that would earn -1021 for a request never sent late).
            target, slot.sent_ms = self._target(path, params, signed)
            timeout = self.options.timeout
            if deadline is not None:  # min(timeout, max(0.05, time left)), without the calls
                left = deadline - time.monotonic()
                bound = left if left > 0.05 else 0.05
                if bound < timeout:
                    timeout = bound
            try:
                answer = await self._http.exchange(method, target, timeout, self._check)
            except ExchangeError as failure:
                slot.headers = failure.rate
                err, cause = _failed(failure, RequestInfo.of(method, path, params))
                # Some libraries put the whole URL, signature included, in their message
                # (aiohttp's ClientResponseError): such a cause is not chained.
                raise err from cause
            slot.headers = answer.rate
            if answer.status >= 400:
                raise _refused(answer, RequestInfo.of(method, path, params))
            slot.ok = True
        body = answer.body
        try:
            data = loads(body) if body else None
        except ValueError as exc:
            raise _unreadable(answer, RequestInfo.of(method, path, params)) from exc
        return RestResponse(
            answer.status, data, answer.rate, method, path, tuple(params.items()) if params else ()
        )

    def _cost(self, method: str, path: str, params: Mapping[str, object] | None) -> Cost:
        """What the request costs: remembered per endpoint when its parameters cannot change it
        (an order's cost is the same whatever its price), else computed from them."""
        key = (method, path)
        try:
            fixed = self._fixed_costs[key]
        except KeyError:
            fixed = _fixed_cost(method, path)
            if len(self._fixed_costs) < 1024:  # endpoints are few; invented paths must not grow it
                self._fixed_costs[key] = fixed
        return rest_cost(method, path, params) if fixed is None else fixed

    def _target(
        self, path: str, params: Mapping[str, object] | None, signed: bool
    ) -> tuple[str, int | None]:
        """The request target (path and query, signed when asked) and its server-time stamp."""
        query = encode_query(params) if params else ""
        clock = self._time
        sent_ms = clock.now_ms() if clock is not None else None
        if signed:
            assert self._signer is not None
            stamp = f"recvWindow={self.options.recv_window_ms}&timestamp={sent_ms}"
            query = f"{query}&{stamp}" if query else stamp
            # built once with its signature: no intermediate copy of the signed query
            return f"{path}?{query}&signature={self._signer.sign(query.encode())}", sent_ms
        return (f"{path}?{query}" if query else path), sent_ms


def _fixed_cost(method: str, path: str) -> Cost | None:
    """The endpoint's cost when its rule reads no parameter (every field that would read one is
    at its default: a rule with a new such field is not taken for fixed), else None."""
    rule = REST.get((method.upper(), path.rstrip("/")), UNKNOWN)
    if rule == Rule(rule.weight, rule.orders, rule.free_if_ok):
        return rest_cost(method, path, None)
    return None


def _failed(
    failure: ExchangeError, request: RequestInfo
) -> tuple[BinanceError, BaseException | None]:
    """The typed error for a backend's failure (mapped by type there, else by classify), and
    the cause to chain: none when its text held something that had to be redacted."""
    exc = failure.cause
    said = safe_str(exc)
    if failure.kind is not None:
        err: BinanceError = transport_error(failure.kind, exc, request)
    else:
        err = classify(exc, request=request) or ConnectionDroppedError(
            redact_text(f"{type(exc).__name__}: {said}"), request=request
        )
    if failure.status is not None and err.http_status is None:
        err.http_status = failure.status
    return err, (exc if redact_text(said) == said else None)


def _refused(answer: Answer, request: RequestInfo) -> BinanceError:
    """The typed error for an answer >= 400."""
    status = answer.status
    found = classify(HttpReply(status, answer.header_map(), answer.body), request=request)
    # classify() always finds an error in a >= 400 answer; the fallback keeps the type.
    return found or BinanceError(f"HTTP {status}", http_status=status, request=request)


def _unreadable(answer: Answer, request: RequestInfo) -> ConnectionDroppedError:
    """A 2xx with a cut or foreign body: the request was processed, its answer lost."""
    return ConnectionDroppedError(
        f"HTTP {answer.status} with an unreadable body ({len(answer.body)} bytes)",
        request=request,
        http_status=answer.status,
    )
