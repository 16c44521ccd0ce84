"""Ground truth and control under /_sim/ (not part of Binance's surface; never rate limited).

GET  /_sim/orders?account=&symbol=&since=   every order the engine holds, with its account
                                     (`since`: only orderIds above it, for incremental polls)
GET  /_sim/order_lists?account=      every order list, with its account and order reports
GET  /_sim/amendments?account=       every amendment (order/amend/keepPriority), with its account
GET  /_sim/fills?account=            every fill of the real accounts
GET  /_sim/allocations?account=      every SOR allocation kept (myAllocations), with its account
GET  /_sim/balances?account=         free and locked per asset
GET  /_sim/limits                    per-IP weight and bans, per-account order counts
GET  /_sim/requests                  the request log (what the server received)
GET  /_sim/faults                    the loaded plan and the log of fired faults
POST /_sim/faults                    load a plan (YAML or JSON body); DELETE clears it
GET|POST /_sim/clock                 read, or set {"offset_ms", "drift_ms_per_s", "jump_ms"}
POST /_sim/latency                   {"ms": n}: processing latency of every request
POST /_sim/crowd/step?n=1            advance the other traders by n steps
POST /_sim/reset                     books, balances, limits and logs back to the start
GET  /_sim/ws                        WebSocket connections, streams, sessions (ws_routes.py)

WebSocket requests, control messages, connects and closes are in the request log too, marked
with `ws` ("stream" or "api") and the connection id `conn`.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import yaml
from aiohttp import web

from . import rest_edit
from .engine import reports
from .engine.core import INTERNAL_ACCOUNT
from .faults import FaultPlan
from .numbers import fmt
from .state import SimState

STATE_KEY = web.AppKey("binguard_sim_state", SimState)


def _state(request: web.Request) -> SimState:
    return request.app[STATE_KEY]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def _bad(message: str) -> web.Response:
    return _json({"error": message}, status=400)


async def order_lists(request: web.Request) -> web.Response:
    account = request.query.get("account")
    out = [
        {"account": lst.account, **reports.list_response(lst, "RESULT")}
        for lst in _state(request).engine.order_lists.values()
        if not account or lst.account == account
    ]
    return _json(out)


async def amendments(request: web.Request) -> web.Response:
    account = request.query.get("account")
    out = [
        {"account": acct, **rest_edit.amendment_row(a)}
        for (acct, _sym, _id), rows in _state(request).engine.amendments.items()
        if not account or acct == account
        for a in rows
    ]
    return _json(sorted(out, key=lambda r: r["executionId"]))


async def orders(request: web.Request) -> web.Response:
    engine = _state(request).engine
    account = request.query.get("account")
    symbol = request.query.get("symbol")
    since_text = request.query.get("since", "0")
    if not since_text.isdigit():
        return _bad("since must be an orderId (digits)")
    since = int(since_text)
    out: list[dict[str, Any]] = []
    for (acct, sym), history in engine.history.items():
        if acct == INTERNAL_ACCOUNT or (account and acct != account) or (symbol and sym != symbol):
            continue
        out.extend(
            {"account": acct, **reports.order_details(o)}
            for o in history.values()
            if o.order_id > since
        )
    return _json(out)


async def fills(request: web.Request) -> web.Response:
    engine = _state(request).engine
    account = request.query.get("account")
    out: list[dict[str, Any]] = []
    for acct, rows in engine.account_trades.items():
        if account and acct != account:
            continue
        out.extend({"account": acct, **reports.my_trade(t, is_buyer)} for t, is_buyer in rows)
    return _json(out)


async def allocations(request: web.Request) -> web.Response:
    account = request.query.get("account")
    out = [
        {"account": acct, **reports.allocation(a)}
        for acct, rows in _state(request).engine.allocations.items()
        if not account or acct == account
        for a in rows
    ]
    return _json(out)


async def balances(request: web.Request) -> web.Response:
    engine = _state(request).engine
    account = request.query.get("account")
    out = {
        name: {
            asset: {"free": fmt(acct.free[asset]), "locked": fmt(acct.locked[asset])}
            for asset in sorted(set(acct.free) | set(acct.locked))
        }
        for name, acct in engine.accounts.items()
        if name != INTERNAL_ACCOUNT and (not account or name == account)
    }
    return _json(out)


async def limits(request: web.Request) -> web.Response:
    state = _state(request)
    return _json(state.limits.snapshot(state.clock.now_ms()))


async def requests_log(request: web.Request) -> web.Response:
    return _json(list(_state(request).requests))


async def faults(request: web.Request) -> web.Response:
    injector = _state(request).faults
    return _json(
        {
            "seed": injector.plan.seed,
            "rules": [dataclasses.asdict(r) for r in injector.plan.rules],
            "log": list(injector.log),
        }
    )


async def load_faults(request: web.Request) -> web.Response:
    try:
        plan = FaultPlan.from_text(await request.text())
    except (ValueError, TypeError, yaml.YAMLError) as e:
        return _bad(f"invalid fault plan: {e}")
    _state(request).faults.load(plan)
    return _json({"rules": len(plan.rules)})


async def clear_faults(request: web.Request) -> web.Response:
    _state(request).faults.load(FaultPlan())
    return _json({"rules": 0})


def _clock_view(state: SimState) -> dict[str, Any]:
    return {
        "serverTime": state.clock.now_ms(),
        "offset_ms": state.clock.offset_ms,
        "drift_ms_per_s": state.clock.drift_ms_per_s,
    }


async def get_clock(request: web.Request) -> web.Response:
    return _json(_clock_view(_state(request)))


async def _body(request: web.Request) -> dict[str, Any]:
    text = await request.text()
    data = json.loads(text) if text.strip() else {}
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


async def set_clock(request: web.Request) -> web.Response:
    state = _state(request)
    try:
        data = await _body(request)
        offset = data.get("offset_ms")
        drift = data.get("drift_ms_per_s")
        jump = data.get("jump_ms")
        state.clock.set(
            None if offset is None else float(offset), None if drift is None else float(drift)
        )
        if jump is not None:
            state.clock.jump(float(jump))
    except (ValueError, TypeError) as e:
        return _bad(str(e))
    return _json(_clock_view(state))


async def set_latency(request: web.Request) -> web.Response:
    state = _state(request)
    try:
        state.latency_ms = float((await _body(request)).get("ms", 0))
    except (ValueError, TypeError) as e:
        return _bad(str(e))
    return _json({"ms": state.latency_ms})


async def crowd_step(request: web.Request) -> web.Response:
    state = _state(request)
    n = request.query.get("n", "1")
    if not (n.isascii() and n.isdigit() and len(n) <= 9):
        return _bad("n must be a non-negative integer")
    for _ in range(int(n)):
        state.crowd.step()
    return _json({"steps": state.crowd.steps})


async def reset(request: web.Request) -> web.Response:
    _state(request).reset()
    return _json({"reset": True})


def add_admin_routes(app: web.Application) -> None:
    app.router.add_get("/_sim/orders", orders)
    app.router.add_get("/_sim/order_lists", order_lists)
    app.router.add_get("/_sim/amendments", amendments)
    app.router.add_get("/_sim/fills", fills)
    app.router.add_get("/_sim/allocations", allocations)
    app.router.add_get("/_sim/balances", balances)
    app.router.add_get("/_sim/limits", limits)
    app.router.add_get("/_sim/requests", requests_log)
    app.router.add_get("/_sim/faults", faults)
    app.router.add_post("/_sim/faults", load_faults)
    app.router.add_delete("/_sim/faults", clear_faults)
    app.router.add_get("/_sim/clock", get_clock)
    app.router.add_post("/_sim/clock", set_clock)
    app.router.add_post("/_sim/latency", set_latency)
    app.router.add_post("/_sim/crowd/step", crowd_step)
    app.router.add_post("/_sim/reset", reset)
