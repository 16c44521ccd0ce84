"""One bot request, forwarded: admitted by the budget, sent unchanged, retried only when safe.

- The request's bytes (path, raw query string, body) go upstream unchanged, so the bot's
  signature stays valid; only hop-by-hop headers and Host are replaced.
- Reads (GET, signed or not) are retried on a reset, a timeout, a 5XX, -1001 or -1008, with
  capped full-jitter backoff, while the bot's own request is still valid: a signed read's last
  attempt starts before `timestamp + recvWindow` on Binance's clock (rest-api.md §Timing
  security); an unsigned read's before `read_deadline_s`. Every attempt passes the budget again.
- Anything else (orders, cancels, every POST/PUT/DELETE) is sent once. When its outcome is
  unknown (the link failed after the request left, a timeout, a 5XX page that is not Binance's
  JSON) the bot gets Binance's own execution-unknown answer (-1007, answers.py), never an HTML
  page or a bare 502: its own "check before re-sending" handling applies.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

import aiohttp
import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from binguard.errors import parse_rate_headers

from . import answers
from ._costs import FREE, BanInForceError, BudgetExhaustedError, Cost, Ticket, known_endpoint
from ._costs import rest_cost as _rest_cost
from .gate import Gate
from .metrics import Metrics
from .resign import Resigner

log = logging.getLogger("binguard.gateway")

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "expect",
    }
)
_RETRY_CODES = frozenset({-1001, -1008})
_DEFAULT_RECV_WINDOW_MS = 5000.0  # rest-api.md §Timing security: recvWindow defaults to 5000


@dataclass(slots=True)
class Call:
    """A bot's request as the gateway forwards it (path without a token prefix)."""

    method: str
    path: str
    query: str
    body: bytes
    headers: CIMultiDict[str]
    cost: Cost
    read: bool
    endpoint: str  # metrics label: a path of the cost table, or 'other'
    deadline: float  # monotonic: no attempt starts after it
    key_prefix: str  # the API key's first characters, for logs
    params: dict[str, str]  # query and form body, decoded (the last of a repeated name)


@dataclass(slots=True)
class _Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes


@dataclass(slots=True)
class _Failed:
    sent: bool  # False: the connection never opened, nothing can have executed


class Forwarder:
    """Sends `Call`s to the upstream REST host through the gate (module docstring)."""

    def __init__(
        self,
        gate: Gate,
        session: aiohttp.ClientSession,
        metrics: Metrics,
        resigner: Resigner | None = None,
    ) -> None:
        self._gate = gate
        self._resigner = resigner  # keys mode (gateway/resign.py); None: pass-through
        self._session = session
        self._metrics = metrics
        self._cfg = gate.config
        self._base = gate.config.rest_url
        self._timeout = aiohttp.ClientTimeout(total=gate.config.upstream_timeout_s)
        self._last_answer: float | None = None  # wall time of the last upstream answer
        self._last_failure: tuple[float, str] | None = None  # and of the last failure (type)

    def health(self) -> dict[str, object]:
        """For /status: when upstream last answered, and the last failure to reach it."""
        fail = self._last_failure
        return {
            "last_answer": self._last_answer,
            "last_failure": None if fail is None else {"at": fail[0], "what": fail[1]},
        }

    def call(
        self,
        method: str,
        path: str,
        query: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        resign: bool = True,
    ) -> Call:
        """Build the `Call`: cost from the cost table (/api/v3 only), deadline, headers.
        Keys mode re-signs it here, raising `LocalAuthError` for what it refuses (`resign`
        False: the gateway's own request, signed with a real key already)."""
        fwd: CIMultiDict[str] = CIMultiDict()
        for k, v in headers.items():
            if k.lower() not in HOP_BY_HOP:
                fwd.add(k, v)
        if self._resigner is not None and resign:
            query, body = self._resigner.request(
                method, path, query, body, fwd, self._gate.now_ms()
            )
        params = dict(parse_qsl(query, keep_blank_values=True))
        if body and "x-www-form-urlencoded" in fwd.get("Content-Type", ""):
            params.update(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        budgeted = path.startswith("/api/v3/")
        cost = _rest_cost(method, path, params) if budgeted else FREE
        read = method in ("GET", "HEAD")
        known = budgeted and known_endpoint(method, path)
        key = headers.get("X-MBX-APIKEY", "")  # the bot's own (a local key in keys mode)
        return Call(
            method,
            path,
            query,
            body,
            fwd,
            cost,
            read,
            path if known else "other",
            self._deadline(params),
            (key[:6] + "…") if key else "-",
            params,
        )

    def _deadline(self, params: dict[str, str]) -> float:
        now = time.monotonic()
        limit = now + self._cfg.read_deadline_s
        stamp = params.get("timestamp")
        if stamp is None or "signature" not in params:
            return limit
        try:
            end_ms = float(stamp) + float(params.get("recvWindow", _DEFAULT_RECV_WINDOW_MS))
        except ValueError:
            return now  # Binance will refuse it; one attempt only
        return min(limit, now + (end_ms - self._gate.now_ms()) / 1000 - 0.05)

    async def forward(self, call: Call) -> web.StreamResponse:
        attempt = 0
        while True:
            try:
                ticket = await self._admit(call, attempt)
            except BanInForceError as e:
                return await self._local_ban(e)
            except BudgetExhaustedError as e:
                return await self._local_refusal(e)
            result = await self._send(call, ticket)
            if not self._retryable(call, result):
                break
            delay = random.uniform(
                0, min(self._cfg.backoff_cap_s, self._cfg.backoff_base_s * 2**attempt)
            )
            if attempt >= self._cfg.read_retries or time.monotonic() + delay >= call.deadline:
                break
            self._metrics.retries.labels(call.endpoint).inc()
            await asyncio.sleep(delay)
            attempt += 1
        return await self._respond(call, result)

    async def _admit(self, call: Call, attempt: int) -> Ticket:
        """A budget ticket, waiting up to max_wait (a retry: also within the call's deadline);
        re-checks the ban right before the request leaves."""
        started = time.monotonic()
        deadline = started + self._cfg.max_wait_s
        if attempt:
            deadline = min(deadline, call.deadline)
        ticket = await self._gate.budget.acquire(call.cost, deadline=deadline)
        self._metrics.waited(call.endpoint, time.monotonic() - started)
        try:
            self._gate.budget.check()  # a ban learnt while this one waited stops it too
        except BanInForceError:
            await self._gate.budget.settle(ticket, ok=False)
            raise
        return ticket

    async def _send(self, call: Call, ticket: Ticket) -> _Reply | _Failed:
        url = URL(self._base + call.path + ("?" + call.query if call.query else ""), encoded=True)
        started = time.monotonic()
        reply: _Reply | None = None
        try:
            async with self._session.request(
                call.method,
                url,
                data=call.body or None,
                headers=call.headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as resp:
                reply = _Reply(resp.status, resp.headers, await resp.read())
        except aiohttp.ClientConnectorError:
            self._failed(call, "connect_failed", started)
            return _Failed(sent=False)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            self._failed(call, type(e).__name__, started)
            return _Failed(sent=True)
        finally:
            ok = reply is not None and reply.status < 400
            rate = parse_rate_headers(reply.headers) if reply is not None else None
            await self._gate.budget.settle(ticket, ok=ok, headers=rate)
        self._metrics.upstream(call.endpoint, str(reply.status), time.monotonic() - started)
        self._last_answer = time.time()
        if reply.status >= 400:
            await self._gate.on_answer(reply.status, reply.headers, reply.body)
        return reply

    def _failed(self, call: Call, what: str, started: float) -> None:
        self._metrics.upstream(call.endpoint, what, time.monotonic() - started)
        self._last_failure = (time.time(), what)

    @staticmethod
    def _retryable(call: Call, result: _Reply | _Failed) -> bool:
        if not call.read:
            return False
        if isinstance(result, _Failed):
            return True
        return result.status >= 500 or _code(result.body) in _RETRY_CODES

    async def _respond(self, call: Call, result: _Reply | _Failed) -> web.StreamResponse:
        if isinstance(result, _Failed):
            answer = answers.execution_unknown() if result.sent and not call.read else None
            return self._count(call, answer or answers.read_failed())
        if result.status >= 500 and _code(result.body) is None:
            # an HTML page or an empty body: Binance's own words instead (module docstring)
            answer = answers.read_failed() if call.read else answers.execution_unknown()
            return self._count(call, answer)
        headers: CIMultiDict[str] = CIMultiDict(
            (k, v) for k, v in result.headers.items() if k.lower() not in HOP_BY_HOP
        )
        await self._ip_wide(headers)
        log.debug(
            "gateway %s %s -> %d key=%s", call.method, call.path, result.status, call.key_prefix
        )
        return web.Response(body=result.body, status=result.status, headers=headers)

    async def _ip_wide(self, headers: CIMultiDict[str]) -> None:
        """X-MBX-USED-WEIGHT-*: the larger of Binance's count and the budget's (which also
        holds what other bots behind this IP have in flight), so a bot's own throttle sees it."""
        if not any(k.lower().startswith("x-mbx-used-weight-") for k in headers):
            return
        for name, used in (await self._gate.used_headers()).items():
            given = headers.get(name)
            if given is not None and given.isdigit() and int(given) < int(used):
                headers[name] = used
                if name == "X-MBX-USED-WEIGHT-1M" and "X-MBX-USED-WEIGHT" in headers:
                    headers["X-MBX-USED-WEIGHT"] = used  # the legacy header some clients read

    def _count(self, call: Call, answer: web.Response) -> web.Response:
        reason = answer.headers[answers.GATEWAY_HEADER]
        self._metrics.local.labels(reason).inc()
        log.info(
            "gateway %s %s answered locally: %s key=%s",
            call.method,
            call.path,
            reason,
            call.key_prefix,
        )
        return answer

    async def _local_ban(self, e: BanInForceError) -> web.Response:
        now = self._gate.now_ms()
        until = now + int((e.retry_after or 0) * 1000)
        answer = answers.banned(until, now)
        answer.headers.update(await self._gate.used_headers())
        self._metrics.local.labels("banned").inc()
        return answer

    async def _local_refusal(self, e: BudgetExhaustedError) -> web.Response:
        snap = await self._gate.snapshot()
        limit, interval = e.params.get("limit"), e.params.get("interval")
        named = None
        if limit is not None and interval is not None and str(limit).isdigit():
            named = self._gate.published_limit(int(str(limit)), str(interval))
        answer = answers.too_much_weight(
            named[0] if named else None,
            named[1] if named else None,
            e.retry_after,
            paused=snap.paused_until_ms is not None,
        )
        answer.headers.update(await self._gate.used_headers())
        self._metrics.local.labels(answer.headers[answers.GATEWAY_HEADER]).inc()
        return answer


def _code(body: bytes) -> int | None:
    """The `code` of a Binance JSON error body, else None (HTML, empty, anything else)."""
    if not body.startswith(b"{"):
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None
