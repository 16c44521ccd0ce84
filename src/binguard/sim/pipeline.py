"""The path of one REST request: log, faults, weight and bans, security, handler, reply.

One function instead of a stack of middlewares keeps the hot path short (order placement is
benchmarked). Order of the steps follows Binance: a banned IP gets 418 before anything else;
weight is counted for every request, failed order/cancel requests pay their weight afterwards;
SIGNED requests are checked (key, signature, timing) before the handler; configured latency sits
between the receipt-time check and the matching engine, where the second timing check happens.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from . import transport
from .auth import authenticate
from .call import Call, Endpoint, RawJson
from .errors import JSON as JSON  # re-exported: the WebSocket faces import it from here
from .errors import SimError
from .faults import MODIFIERS, FaultRule
from .params import Params
from .state import SimState
from .time_unit import in_micros, wants_micros


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


async def serve(request: web.Request, endpoint: Endpoint, state: SimState) -> web.StreamResponse:
    ip = request.remote or "?"
    now_ms = state.clock.now_ms()
    entry: dict[str, Any] = {
        "time": now_ms,
        "ip": ip,
        "method": request.method,
        "path": endpoint.path,
        "status": 0,
        "account": None,
        "fault": None,
    }
    state.requests.append(entry)
    after: FaultRule | None = None
    if state.faults.active:
        for rule in state.faults.pick(request.method, endpoint.path, ip, now_ms, claim=_OneFault()):
            entry["fault"] = rule.label
            if rule.action == "latency":
                await asyncio.sleep(rule.latency_ms / 1000.0)
            elif rule.action == "clock_jump":
                state.clock.jump(rule.jump_ms)
            elif rule.after_engine:
                after = rule
            else:
                return _before_fault(request, rule, state, ip, entry)

    stage = after.stage if after is not None else ""
    status, body, headers = await _process(request, endpoint, state, ip, entry, stage)
    entry["status"] = status
    if after is not None:
        return await _after_fault(request, after, state, status, body, headers)
    return web.Response(body=body, status=status, headers=headers, content_type=JSON)


class _OneFault:
    """Which due rules one request fires: every modifier (latency, clock_jump) up to its
    fault, and one fault, the first in plan order — a before-engine fault ends the request, an
    after-engine one replaces its reply. The others neither fire nor spend their `times`."""

    __slots__ = ("ended", "taken")

    def __init__(self) -> None:
        self.taken = False
        self.ended = False

    def __call__(self, rule: FaultRule) -> bool:
        if self.ended:
            return False
        if rule.action in MODIFIERS:
            return True
        if self.taken:
            return False
        self.taken = True
        self.ended = not rule.after_engine
        return True


async def _process(
    request: web.Request,
    endpoint: Endpoint,
    state: SimState,
    ip: str,
    entry: dict[str, Any],
    stage: str = "",
) -> tuple[int, bytes, dict[str, str]]:
    query = request.raw_path.partition("?")[2]
    parse_error: SimError | None = None
    try:
        raw_body = await request.read() if request.body_exists else b""
        body = raw_body.decode()
        params = Params.parse(query, body)
    except SimError as e:
        parse_error, params, body = e, Params({}), ""
    except UnicodeDecodeError:
        parse_error, params, body = SimError.of(-1100, 0), Params({}), ""
    weight = endpoint.weight(params)
    now_ms = state.clock.now_ms()
    verdict = state.limits.charge(ip, 0 if endpoint.zero_on_success else weight, now_ms)
    headers = verdict.headers
    if verdict.error is not None:
        headers.update(verdict.error.headers)
        return verdict.error.status, verdict.error.body(), headers
    call = Call(state, params, ip, stage=stage)
    micros = False
    try:
        if parse_error is not None:
            raise parse_error
        micros = wants_micros(request.headers.get("X-MBX-TIME-UNIT"))  # (-1194 for a bad one)
        if endpoint.signed:
            principal, timing = authenticate(
                state.keys,
                request.headers.get("X-MBX-APIKEY"),
                params,
                query,
                body,
                state.clock.now_us(),
            )
            call.account, call.timing = principal.account, timing
            entry["account"] = principal.account
        if state.latency_ms:
            await asyncio.sleep(state.latency_ms / 1000.0)
        reply = await endpoint.handler(call)
        result = reply.body
        if micros:
            raw = json.loads(result.data) if isinstance(result, RawJson) else result
            payload = dumps(in_micros(raw, endpoint.path))
        else:
            payload = result.data if isinstance(result, RawJson) else dumps(result)
        status = reply.status
    except SimError as e:
        status = e.status
        # (an error's `data` holds answers too: cancelReplace's -2021/-2022 halves)
        payload = dumps(in_micros(e.payload(), endpoint.path)) if micros else e.body()
        headers.update(e.headers)
        if endpoint.zero_on_success and weight:
            headers.update(state.limits.add_weight(ip, weight, state.clock.now_ms()))
    if call.extra_headers:
        headers.update(call.extra_headers)
    return status, payload, headers


def _before_fault(
    request: web.Request, rule: FaultRule, state: SimState, ip: str, entry: dict[str, Any]
) -> web.StreamResponse:
    """A fault that replaces the request: nothing reaches the engine."""
    action = rule.action
    now_ms = state.clock.now_ms()
    if action == "reset":
        transport.reset(request)
        return web.Response()
    if action == "close":
        transport.close(request)
        return web.Response()
    if action in ("html", "waf"):
        status = 403 if action == "waf" else (rule.status or 502)
        entry["status"] = status
        return transport.html(status)
    if action == "http_418":
        until = state.limits.ban(ip, now_ms, rule.ban_s)
        err = SimError.of(-1003, 2, until, status=418)
        err.headers["Retry-After"] = str(max(1, int(rule.ban_s)))
    elif action == "http_429":
        spec = next(
            (s for s in state.config.limits.rate_limits if s.kind == "REQUEST_WEIGHT"), None
        )
        limit, label = (spec.limit, f"{spec.interval_num} {spec.interval}") if spec else (0, "")
        err = SimError.of(-1003, 1, limit, label, status=429)
        err.headers["Retry-After"] = "1"
    else:  # "error"
        err = SimError.of(rule.code or -1000, 0, status=rule.status or None)
    entry["status"] = err.status
    return err.response(state.limits.weight_headers(ip, now_ms))


async def _after_fault(
    request: web.Request,
    rule: FaultRule,
    state: SimState,
    status: int,
    body: bytes,
    headers: dict[str, str],
) -> web.StreamResponse:
    """A fault after the engine ran: the request had its effect, the client cannot know it."""
    action = rule.action
    if action == "reset_after":
        transport.reset(request)
        return web.Response()
    if action == "close_after":
        transport.close(request)
        return web.Response()
    if action == "partial_after":
        return await transport.partial(request, status, body, headers)
    if action == "stall_after":
        await asyncio.sleep(rule.stall_s if rule.stall_s is not None else state.config.stall_s)
        transport.close(request)
        return web.Response()
    err = SimError.of(rule.code or -1006, 0, status=rule.status or None)  # error, executed
    return err.response(headers)
