"""The WebSocket API at `/ws-api/v3` (web-socket-api.md).

Requests `{"id", "method", "params"}` get `{"id", "status", "result" | "error", "rateLimits"}`.
Weight is per IP and shared with REST (the same limiter); connecting costs 2. Over the limit:
status 429 (-1003) or 418 (banned; the connection is then closed), with
`error.data = {"serverTime", "retryAfter"}` where retryAfter is the epoch ms when the window
resets or the ban ends; -1015 (unfilled order count) carries the same data. `rateLimits` is
omitted with `returnRateLimits: false` per request or `?returnRateLimits=false` per connection.
Trading methods run the REST handlers, so validation and engine errors are the same texts; so do
the market data methods (ws_market_api.py), with weights that depend on their parameters.
listenKey methods were removed on 2026-02-20 (CHANGELOG 2026-01-21); like the REST endpoints they
answer status 410 with -1020. An unknown method answers 400 -1020 "This operation is not
supported." (Binance does not document this reply). A request that is not a JSON object answers
-1135; a missing `id` or `method` -1102.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import (
    rest_account,
    rest_edit,
    rest_lists,
    rest_sor,
    rest_trade,
    ws_faults,
    ws_market_api,
    ws_userdata,
)
from .auth import Principal, Timing
from .call import Call, Handler, Weight
from .errors import SimError, mandatory
from .faults import FaultRule
from .state import SimState
from .time_unit import in_micros, wants_micros
from .ws_auth import authenticate, loads, to_params
from .ws_conn import POLICY, dumps, receive_loop
from .ws_hub import WsHub
from .ws_session import ApiConn, WsRequest

Method = Callable[[WsRequest], Awaitable[Any]]
CONNECT_WEIGHT = 2


@dataclass(frozen=True, slots=True)
class Spec:
    """A WebSocket API method: handler, weight, and whether success costs 0 (orders, cancels)."""

    handler: Method
    weight: int
    zero_on_success: bool = False
    orders: bool = False
    weigh: Weight | None = None  # a weight that depends on the parameters (market data)


def _signed(handler: Handler) -> Method:
    """A SIGNED method served by a REST handler (same parameters, same errors)."""

    async def run(req: WsRequest) -> Any:
        state = req.hub.state
        principal, timing = _auth(req)
        req.account = principal.account
        if state.latency_ms:
            await asyncio.sleep(state.latency_ms / 1000.0)
        call = Call(state, req.params, req.conn.ip, principal.account, timing, stage=req.stage)
        reply = await handler(call)
        return reply.body

    return run


def _public(handler: Handler) -> Method:
    """A public market data method served by its REST handler (ws_market_api.py)."""

    async def run(req: WsRequest) -> Any:
        return await ws_market_api.run_public(handler, req.hub.state, req.params, req.conn.ip)

    return run


def _auth(req: WsRequest) -> tuple[Principal, Timing]:
    return authenticate(req.hub.state, req.conn.session, req.raw, req.params)


async def _ping(req: WsRequest) -> Any:
    req.params.finish()
    return {}


async def _time(req: WsRequest) -> Any:
    req.params.finish()
    return {"serverTime": req.hub.state.clock.now_ms()}


async def _gone(req: WsRequest) -> Any:
    raise SimError.of(-1020, status=410)


async def _unknown(req: WsRequest) -> Any:
    raise SimError.of(-1020)


METHODS: dict[str, Spec] = {
    "ping": Spec(_ping, 1),
    "time": Spec(_time, 1),
    "order.place": Spec(_signed(rest_trade.new_order), 1, zero_on_success=True, orders=True),
    "order.cancel": Spec(_signed(rest_trade.cancel_order), 1, zero_on_success=True),
    "order.status": Spec(_signed(rest_trade.query_order), 4),
    "session.logon": Spec(ws_userdata.logon, 2),
    "session.status": Spec(ws_userdata.status, 2),
    "session.logout": Spec(ws_userdata.logout, 2),
    "session.subscriptions": Spec(ws_userdata.subscriptions, 2),
    "userDataStream.subscribe": Spec(ws_userdata.subscribe, 2),
    "userDataStream.subscribe.signature": Spec(ws_userdata.subscribe_signature, 2),
    "userDataStream.unsubscribe": Spec(ws_userdata.unsubscribe, 2),
    "userDataStream.start": Spec(_gone, 2),
    "userDataStream.ping": Spec(_gone, 2),
    "userDataStream.stop": Spec(_gone, 2),
}
_ORDERS = {  # methods that place orders: success costs 0, the answer carries ORDERS
    "order.test": (rest_trade.test_order, 1),
    "orderList.place": (rest_lists.oco_deprecated, 1),
    "orderList.place.oco": (rest_lists.oco, 1),
    "orderList.place.oto": (rest_lists.oto, 1),
    "orderList.place.otoco": (rest_lists.otoco, 1),
    "orderList.place.opo": (rest_lists.opo, 1),
    "orderList.place.opoco": (rest_lists.opoco, 1),
    "sor.order.place": (rest_sor.ws_sor_place, 1),
    "sor.order.test": (rest_sor.test_sor_order, 1),
}
METHODS.update(
    (name, Spec(_signed(h), w, zero_on_success=not name.endswith(".test"), orders=True))
    for name, (h, w) in _ORDERS.items()
)
# order.test / sor.order.test: 20 with computeCommissionRates (web-socket-api.md)
for _name in ("order.test", "sor.order.test"):
    METHODS[_name] = Spec(METHODS[_name].handler, 1, orders=True, weigh=rest_sor.test_weight)
METHODS["order.cancelReplace"] = Spec(
    _signed(rest_edit.cancel_replace), 1, zero_on_success=True, orders=True
)
METHODS["order.amend.keepPriority"] = Spec(_signed(rest_edit.amend), 4)
METHODS["orderList.cancel"] = Spec(_signed(rest_lists.cancel_list), 1, zero_on_success=True)
METHODS["openOrders.cancelAll"] = Spec(
    _signed(rest_trade.cancel_open_orders), 1, zero_on_success=True
)
_QUERIES: dict[str, tuple[Handler, int]] = {
    "orderList.status": (rest_lists.query_list, 4),
    "openOrderLists.status": (rest_lists.open_lists, 6),
    "allOrderLists": (rest_lists.all_lists, 20),
    "openOrders.status": (rest_trade.open_orders, 6),
    "allOrders": (rest_trade.all_orders, 20),
    "myTrades": (rest_trade.my_trades, 20),
    "account.status": (rest_trade.account, 20),
    "account.rateLimits.orders": (rest_trade.order_count, 40),
    "account.commission": (rest_account.commission, 20),
    "myPreventedMatches": (rest_account.prevented_matches, 2),
    "myAllocations": (rest_account.allocations, 20),
    "myFilters": (rest_account.my_filters, 40),
    "order.amendments": (rest_edit.amendments, 4),
}
METHODS.update((name, Spec(_signed(h), w)) for name, (h, w) in _QUERIES.items())
METHODS.update(
    (name, Spec(_public(handler), 0, weigh=weight))
    for name, (handler, weight) in ws_market_api.MARKET_METHODS.items()
)
UNKNOWN = Spec(_unknown, 1)


def rate_limits(state: SimState, ip: str, account: str | None) -> list[dict[str, Any]]:
    """The `rateLimits` of a response: ORDERS of the account (orders), then REQUEST_WEIGHT."""
    now = state.clock.now_ms()
    out = state.limits.order_usage(account, now) if account else []
    ip_state = state.limits.ips.get(ip)
    for w in ip_state.weight if ip_state else ():
        out.append(
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": w.spec.interval,
                "intervalNum": w.spec.interval_num,
                "limit": w.spec.limit,
                "count": w.current(now),
            }
        )
    return out


def _retry_after(state: SimState, ip: str, err: SimError, account: str | None) -> int:
    """Epoch ms when the request may be retried: ban end, or end of the exhausted window."""
    now = state.clock.now_ms()
    ip_state = state.limits.ips.get(ip)
    if err.status == 418 and ip_state is not None and ip_state.banned_until_ms:
        return ip_state.banned_until_ms
    windows = []
    if err.code == -1015 and account:
        windows = [w for w in state.limits.orders.get(account, ()) if w.count >= w.spec.limit]
    elif ip_state is not None:
        windows = [w for w in (*ip_state.weight, *ip_state.raw) if w.count > w.spec.limit]
    ends = [(now // w.length_ms + 1) * w.length_ms for w in windows]
    if ends:
        return max(ends)
    return now + 1000 * int(err.headers.get("Retry-After", "1"))


def _error_body(state: SimState, ip: str, err: SimError, account: str | None) -> dict[str, Any]:
    body: dict[str, Any] = err.payload()
    if err.status in (418, 429) and "data" not in body:
        retry = _retry_after(state, ip, err, account)
        body["data"] = {"serverTime": state.clock.now_ms(), "retryAfter": retry}
    return body


def _wants_limits(conn: ApiConn, raw: dict[str, Any]) -> bool:
    value = raw.get("returnRateLimits")
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    return conn.return_rate_limits


class Dispatcher:
    """Runs one connection's requests in arrival order."""

    def __init__(self, conn: ApiConn) -> None:
        self.conn = conn
        self.state = conn.hub.state

    def reply(
        self,
        request_id: Any,
        status: int,
        body: Any,
        limits: bool,
        account: str | None = None,
        method: str = "",
    ) -> None:
        """`method`: the method answered (the body's times in microseconds if the connection
        asked for them, sim/time_unit.py; an error's `data` too)."""
        out: dict[str, Any] = {"id": request_id, "status": status}
        if self.conn.micros:
            body = in_micros(body, method)
        out["result" if status == 200 else "error"] = body
        if limits:
            out["rateLimits"] = rate_limits(self.state, self.conn.ip, account)
        self.conn.send_text(dumps(out))

    def fail(self, request_id: Any, err: SimError, limits: bool = True) -> None:
        body = _error_body(self.state, self.conn.ip, err, None)
        self.reply(request_id, err.status, body, limits)

    async def handle(self, text: str) -> None:
        conn = self.conn
        try:
            data = loads(text)
        except (ValueError, RecursionError):  # deep nesting overflows the decoder's stack
            self.fail(None, SimError.of(-1135), limits=False)
            return
        if not isinstance(data, dict):
            self.fail(None, SimError.of(-1135), limits=False)
            return
        request_id = data.get("id")
        if "id" not in data or not (
            request_id is None or (isinstance(request_id, str | int) and request_id is not True)
        ):
            self.fail(None, mandatory("id"), limits=False)
            return
        method = data.get("method")
        if not isinstance(method, str) or not method:
            self.fail(request_id, mandatory("method"), limits=False)
            return
        raw = data.get("params", {})
        if not isinstance(raw, dict):
            self.fail(request_id, SimError.of(-1135, 1, "params"), limits=False)
            return
        method = method.removeprefix("v3/")
        await self.run(request_id, method, raw, _wants_limits(conn, raw))

    async def run(self, request_id: Any, method: str, raw: dict[str, Any], limits: bool) -> None:
        state, conn = self.state, self.conn
        entry = conn.hub.log(conn, method, 0, id=request_id)
        faults = ws_faults.for_request(state, conn, method)
        before = [r for r in faults if not r.executed]
        if before:
            entry["fault"] = before[0].label
            self._fault(request_id, before[0], method, limits, entry)
            return
        spec = METHODS.get(method, UNKNOWN)
        params = to_params(raw)
        weight = spec.weigh(params) if spec.weigh is not None else spec.weight
        verdict = state.limits.charge(
            conn.ip, 0 if spec.zero_on_success else weight, state.clock.now_ms()
        )
        if verdict.error is not None:
            err = verdict.error
            entry["status"] = err.status
            self.reply(request_id, err.status, _error_body(state, conn.ip, err, None), limits)
            if err.status == 418:  # "you will be disconnected" (web-socket-api.md §IP limits)
                conn.close(POLICY, "IP banned")
            return
        req = WsRequest(conn, method, raw, params)
        req.stage = next((r.stage for r in faults if r.executed and r.stage), "")
        try:
            body, status = await spec.handler(req), 200
        except SimError as e:
            if spec.zero_on_success and spec.weight:
                state.limits.add_weight(conn.ip, spec.weight, state.clock.now_ms())
            body, status = _error_body(state, conn.ip, e, req.account), e.status
        entry["status"], entry["account"] = status, req.account
        after = [r for r in faults if r.executed]
        if after:
            entry["fault"] = after[0].label
            self._fault(request_id, after[0], method, limits, entry, req.account)
        else:
            account = req.account if spec.orders else None
            self.reply(request_id, status, body, limits, account, method)
        for event in req.after:
            conn.send_json(event)

    def _fault(
        self,
        request_id: Any,
        rule: FaultRule,
        method: str,
        limits: bool,
        entry: dict[str, Any],
        account: str | None = None,
    ) -> None:
        """A request-level fault instead of the response (executed or not, per the rule)."""
        if rule.action != "ws_error":
            ws_faults.inject(self.state, self.conn, rule, method)
            return
        ws_faults.record_request(self.state, self.conn, rule, method)
        err = SimError.of(rule.code or -1000, 0, status=rule.status or None)
        entry["status"] = err.status
        self.reply(request_id, err.status, {"code": err.code, "msg": err.msg}, limits, account)


async def handle(request: web.Request, hub: WsHub) -> web.StreamResponse:
    """`/ws-api/v3`: connection limits and the 2-weight connection charge, then requests."""
    state = hub.state
    ip = request.remote or "?"
    path = "/ws-api/v3"
    wait = hub.attempt("api", ip)
    if wait is not None:
        hub.log(None, "CONNECT", 429, ip=ip, path=path, kind="api")
        return SimError.of(-1003, 0, status=429).response({"Retry-After": str(wait)})
    verdict = state.limits.charge(ip, CONNECT_WEIGHT, state.clock.now_ms())
    if verdict.error is not None:
        err = verdict.error
        hub.log(None, "CONNECT", err.status, ip=ip, path=path, kind="api")
        return err.response(verdict.headers)
    try:
        micros = wants_micros(request.query.get("timeUnit"))  # web-socket-api.md
    except SimError as err:
        return err.response()  # (the handshake refused, like a bad upgrade)
    ws = web.WebSocketResponse(autoping=False, timeout=hub.config.close_timeout_s)
    if not ws.can_prepare(request).ok:
        return SimError.of(-1020, status=400).response()
    await ws.prepare(request)
    return_limits = request.query.get("returnRateLimits", "true").lower() != "false"
    conn = ApiConn(
        hub,
        hub.next_id(),
        request,
        ws,
        path,
        hub.config,
        state.clock.now_ms(),
        return_rate_limits=return_limits,
        micros=micros,
    )
    hub.add(conn)
    hub.log(conn, "CONNECT", 101)
    conn.start()
    ws_faults.on_connect(state, conn)
    dispatcher = Dispatcher(conn)
    try:
        await receive_loop(conn, dispatcher.handle, state.bugs)
    finally:
        conn.end()
        conn.stop()
        hub.remove(conn)
        hub.log(conn, "CLOSE", conn.close_code or 0, reason=conn.close_reason)
        await conn.finish()
    return ws
