"""The WebSocket API (`/ws-api/v3`) through the gateway: frames forwarded both ways, one upstream
socket per bot socket (a session's logon belongs to it alone).

- Connecting costs 2 weight (web-socket-api.md §IP limits); during a ban the bot's upgrade is
  accepted and closed at once (1008) with "IP banned until <ms>": nothing is sent upstream.
- Every request frame is admitted by the budget at its method's weight (the same table as
  REST). When the budget refuses, the bot gets the error frame Binance would send:
  `{"id", "status": 429|418, "error": {"code": -1003, "msg", "data": {"serverTime",
  "retryAfter"}}}` (web-socket-api.md §Rate limits: retryAfter is an epoch-ms time), and the
  request is not sent.
- Every answer's `rateLimits` corrects the budget; an answer with status 429/418 pauses or bans
  every request behind the gateway, REST included.
- Frames are forwarded as text, unchanged; a frame that is not JSON or has no `method` is
  forwarded too (Binance answers it) at the cost of an unknown method.
- Keys mode (`resigner`): a signed request is verified with the bot's local key and re-signed
  with the real one (gateway/resign.py); a refused one is answered with Binance's error frame
  and not sent. A `session.logon` made this way holds the socket's later unsigned requests to
  its local key's permissions.
- Keys mode with the user data caches on (`user_data`): the user data methods are answered by
  the gateway and served from its one upstream subscription per real key (gateway/user_subs.py,
  which says what a bot gets after an upstream gap). Without them they are forwarded re-signed
  like any request (the bot's upstream twin subscribes itself).
- Keys mode's order guard (`orders`, ws_orders.py): `order.place`, `sor.order.place`,
  `orderList.place(.*)`, `order.cancelReplace` and `order.amend.keepPriority` are journalled
  before they leave, and their answer is read by the guard.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import orjson
from aiohttp import WSMsgType, web

from binguard._aio import reap
from binguard.errors import classify, parse_rate_limits

from ._costs import WS_API_CONNECT, BanInForceError, BudgetExhaustedError, Ticket, ws_api_cost
from .answers import catalog_text, url_time_unit
from .gate import Gate
from .keys import LocalAuthError, LocalKey
from .order_guard import OrderGuard
from .resign import Resigner
from .user_subs import METHODS as USER_DATA_METHODS
from .user_subs import SESSION_ANSWERS, BotSubscriptions
from .userdata import UserData
from .ws_orders import Watch, WsOrders

log = logging.getLogger("binguard.gateway")


async def serve_bot(
    gate: Gate,
    session: aiohttp.ClientSession,
    url: str,
    request: web.Request,
    query: str,
    resigner: Resigner | None = None,
    user_data: UserData | None = None,
    orders: OrderGuard | None = None,
) -> web.StreamResponse:
    """One bot WebSocket API socket and its upstream twin, until either side closes."""
    bot = web.WebSocketResponse(heartbeat=20.0, max_msg_size=1 << 20)
    await bot.prepare(request)
    try:
        ticket = await gate.budget.acquire(
            WS_API_CONNECT,
            deadline=time.monotonic() + gate.config.max_wait_s,
        )
    except (BanInForceError, BudgetExhaustedError) as e:
        await bot.close(code=1008, message=_refusal_text(gate, e).encode()[:120])
        return bot
    try:
        up = await session.ws_connect(url + ("?" + query if query else ""), max_msg_size=1 << 22)
    except (aiohttp.ClientError, OSError, TimeoutError) as e:
        await gate.budget.settle(ticket, ok=False)
        await bot.close(code=1011, message=f"upstream unavailable ({type(e).__name__})".encode())
        return bot
    await gate.budget.settle(ticket, ok=True)
    pending: dict[Any, Ticket] = {}
    subs = None
    if resigner is not None and user_data is not None:
        subs = BotSubscriptions(user_data, resigner, bot, gate.now_ms)
    guard = None
    if orders is not None:
        time_unit = url_time_unit(query)
        guard = WsOrders(orders, bot, gate.config.upstream_timeout_s, time_unit)
    pump_up = asyncio.create_task(_bot_to_upstream(gate, bot, up, pending, resigner, subs, guard))
    try:
        watch: Watch = {} if guard is None else guard.watch
        await _upstream_to_bot(gate, up, bot, pending, subs, watch)
    finally:
        await reap(pump_up)
        if subs is not None:
            await subs.close()
        for t in pending.values():
            await gate.budget.settle(t, ok=False)
        await up.close()
        if not bot.closed:
            await bot.close(code=up.close_code or 1000)
    return bot


async def _bot_to_upstream(
    gate: Gate,
    bot: web.WebSocketResponse,
    up: aiohttp.ClientWebSocketResponse,
    pending: dict[Any, Ticket],
    resigner: Resigner | None,
    subs: BotSubscriptions | None,
    guard: WsOrders | None = None,
) -> None:
    logged_on: LocalKey | None = None  # keys mode: the local key of this socket's logon
    async for msg in bot:
        if msg.type != WSMsgType.TEXT:
            continue
        text = msg.data
        method, rid, params, frame = _request_of(text)
        signed, used = params or {}, None
        if subs is not None and method in USER_DATA_METHODS:
            await subs.request(method, rid, params, logged_on)  # answered here, never sent
            continue
        if resigner is not None:
            try:
                signed, used = resigner.ws_request(method, params or {}, gate.now_ms(), logged_on)
            except LocalAuthError as e:
                await bot.send_str(_auth_error_frame(rid, e))
                continue
            if method == "session.logon":
                logged_on = used
            elif method == "session.logout":
                logged_on = None
            if params is not None and signed is not params:
                text = orjson.dumps({**frame, "params": signed}).decode()
        try:
            ticket = await gate.budget.acquire(
                ws_api_cost(method, params),
                deadline=time.monotonic() + gate.config.max_wait_s,
            )
            gate.budget.check()
        except (BanInForceError, BudgetExhaustedError) as e:
            await bot.send_str(_error_frame(gate, rid, e))
            continue
        if rid is not None:
            pending[rid] = ticket
            if subs is not None and method in SESSION_ANSWERS:
                subs.awaiting[rid] = method
        else:
            await gate.budget.settle(ticket, ok=True)
        if guard is not None and params is not None:
            taken = await guard.send(method, rid, signed, used, text, up)
            if taken is False:  # answered from the order journal: nothing sent
                await gate.budget.settle(pending.pop(rid), ok=True)
            if taken is not None:
                continue
        await up.send_str(text)
    await up.close()


async def _upstream_to_bot(
    gate: Gate,
    up: aiohttp.ClientWebSocketResponse,
    bot: web.WebSocketResponse,
    pending: dict[Any, Ticket],
    subs: BotSubscriptions | None,
    watch: Watch,
) -> None:
    try:
        await _answers_to_bot(gate, up, bot, pending, subs, watch)
    finally:
        for turn in watch.values():  # the order guard's: the socket is gone, no answer
            if not turn.done():
                turn.set_result(None)


async def _answers_to_bot(
    gate: Gate,
    up: aiohttp.ClientWebSocketResponse,
    bot: web.WebSocketResponse,
    pending: dict[Any, Ticket],
    subs: BotSubscriptions | None,
    watch: Watch,
) -> None:
    async for msg in up:
        if msg.type != WSMsgType.TEXT:
            continue
        frame = _frame_of(msg.data) if watch else None  # read first only for the order guard
        if frame is not None and _watched(watch, frame, msg.data):
            pass  # an order's answer: the order guard's (ws_orders.py), not the bot's
        elif subs is not None and subs.awaiting:  # a session answer: its userDataStream flag
            text, after = subs.upstream_answer(msg.data)
            await bot.send_str(text)
            if after is not None:
                after()
        else:
            await bot.send_str(msg.data)
        if frame is None:
            frame = _frame_of(msg.data)
            if frame is None:
                continue
        status = frame.get("status")
        ticket = pending.pop(frame.get("id"), None)
        rate = parse_rate_limits(frame.get("rateLimits"))
        if ticket is not None:
            ok = isinstance(status, int) and status < 400
            await gate.budget.settle(ticket, ok=ok, headers=rate)
        elif rate.used_weight:
            await gate.budget.observe(rate, sent_ms=gate.now_ms())
        if status in (418, 429):
            err = classify(frame)
            if err is not None:
                await gate.budget.on_error(err, sent_ms=gate.now_ms())


def _frame_of(text: str) -> dict[str, Any] | None:
    """An upstream frame as a JSON object, else None."""
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return frame if isinstance(frame, dict) else None


def _watched(watch: Watch, frame: dict[str, Any], text: str) -> bool:
    """Hand `text` to the order guard if it answers a request the guard sent."""
    rid = frame.get("id")
    turn = watch.get(rid) if isinstance(rid, str | int) else None
    if turn is None:
        return False
    if not turn.done():
        turn.set_result(text)
    return True


def _request_of(text: str) -> tuple[str, Any, dict[str, Any] | None, dict[str, Any]]:
    """(method, id, params, the whole frame) of a bot's request; empty for a frame that is not
    a JSON object (forwarded as it is)."""
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return "", None, None, {}
    if not isinstance(frame, dict):
        return "", None, None, {}
    params = frame.get("params")
    method = frame.get("method")
    return (
        method if isinstance(method, str) else "",
        frame.get("id"),
        params if isinstance(params, dict) else None,
        frame,
    )


def _refusal_text(gate: Gate, e: Exception) -> str:
    now = gate.now_ms()
    wait_ms = int((getattr(e, "retry_after", None) or 1) * 1000)
    if isinstance(e, BanInForceError):
        return catalog_text(-1003, 2, now + wait_ms)
    return catalog_text(-1003, 0)


def _error_frame(gate: Gate, rid: Any, e: Exception) -> str:
    """Binance's WebSocket API error answer for a request the budget refused."""
    now = gate.now_ms()
    wait_ms = int((getattr(e, "retry_after", None) or 1) * 1000)
    status = 418 if isinstance(e, BanInForceError) else 429
    return orjson.dumps(
        {
            "id": rid,
            "status": status,
            "error": {
                "code": -1003,
                "msg": _refusal_text(gate, e),
                "data": {"serverTime": now, "retryAfter": now + wait_ms},
            },
        }
    ).decode()


def _auth_error_frame(rid: Any, e: LocalAuthError) -> str:
    """Binance's WebSocket API error answer for a request keys mode refused (not sent)."""
    return orjson.dumps(
        {"id": rid, "status": e.status, "error": {"code": e.code, "msg": e.msg}}
    ).decode()
