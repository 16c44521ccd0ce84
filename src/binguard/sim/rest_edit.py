"""Order edits (rest-api.md): POST /api/v3/order/cancelReplace, PUT
/api/v3/order/amend/keepPriority and GET /api/v3/order/amendments.

cancelReplace evaluates the new order's parameters and filters first (a failure there is the
plain error, nothing canceled), then the unfilled order count (`orderRateLimitExceededMode`:
DO_NOTHING answers -1015 alone; CANCEL_ONLY cancels and reports the -1015 as the new order's
failure), counts one order even when the new order is not attempted, cancels, then places.
Outcomes as the status table documents them: both succeed 200; the cancel fails with
STOP_ON_FAILURE 400 -2022 (new order NOT_ATTEMPTED); one half fails 409 -2021; both fail 400
-2022; CANCEL_ONLY over the count 429 (STOP_ON_FAILURE) or 409 (ALLOW_FAILURE) -2021. The
`data` object carries cancelResult, newOrderResult, cancelResponse, newOrderResponse.
"""

from __future__ import annotations

from typing import Any

from . import order_params, rest_trade
from .call import Call, Endpoint, Reply, fixed
from .engine import reports
from .engine.orders import Amendment, Order
from .errors import SimError, either_mandatory, invalid_value, mandatory, message
from .numbers import fmt
from .order_params import NewOrder

MODES = ("STOP_ON_FAILURE", "ALLOW_FAILURE")
RATE_MODES = ("DO_NOTHING", "CANCEL_ONLY")


def _failure(e: SimError) -> dict[str, Any]:
    return {"code": e.code, "msg": e.msg}


def _outcome(
    cancel: dict[str, Any], new: dict[str, Any] | None, cancel_ok: bool, new_result: str
) -> dict[str, Any]:
    return {
        "cancelResult": "SUCCESS" if cancel_ok else "FAILURE",
        "newOrderResult": new_result,
        "cancelResponse": cancel,
        "newOrderResponse": new,
    }


async def cancel_replace(call: Call) -> Reply:
    p = call.params
    symbol = rest_trade.symbol_of(call)
    mode = p.enum("cancelReplaceMode", MODES, required=True)
    req = order_params.read(p, symbol)
    cancel_new_id = order_params.client_id(p, "cancelNewClientOrderId", -1118)
    cancel_orig_id = order_params.client_id(p, "cancelOrigClientOrderId", -1119)
    cancel_order_id = p.integer("cancelOrderId")
    restriction = p.enum(
        "cancelRestrictions", ("ONLY_NEW", "ONLY_PARTIALLY_FILLED"), SimError.of(-1145)
    )
    rate_mode = p.enum("orderRateLimitExceededMode", RATE_MODES) or "DO_NOTHING"
    resp_type = p.enum("newOrderRespType", order_params.RESP_TYPES)
    p.finish()
    if cancel_order_id is None and cancel_orig_id is None:
        raise either_mandatory("cancelOrderId", "cancelOrigClientOrderId")
    spec = call.state.engine.symbol_rules(symbol).spec
    order_params.check(req, spec.allowed_stp_modes, spec.default_stp_mode)
    rest_trade.resolve_peg(call, req)
    rules = rest_trade.validate(call, req)
    state = call.state
    over: SimError | None = None
    try:
        state.limits.check_order(call.account, state.clock.now_ms())
    except SimError as e:
        if rate_mode == "DO_NOTHING":
            raise
        over = e
    if over is None:
        rest_trade.count_order(call)

    def cancel() -> tuple[bool, dict[str, Any]]:
        try:
            order = state.engine.cancel(
                call.account, symbol, cancel_order_id, cancel_orig_id, restriction
            )
        except SimError as e:
            return False, _failure(e)
        cid = cancel_new_id or state.engine.new_client_order_id()
        return True, reports.cancel_response(order, cid, order.update_time)

    cancel_ok, cancel_body = cancel()
    if over is not None:
        status = 429 if mode == "STOP_ON_FAILURE" else 409
        if not cancel_ok:
            raise _error(-2022, 400, _outcome(cancel_body, None, False, "NOT_ATTEMPTED"))
        raise _error(-2021, status, _outcome(cancel_body, _failure(over), True, "FAILURE"))
    if not cancel_ok and mode == "STOP_ON_FAILURE":
        raise _error(-2022, 400, _outcome(cancel_body, None, False, "NOT_ATTEMPTED"))
    if call.stage == "cancel":  # a fault stops the request here (its reply replaces this one)
        return Reply(_outcome(cancel_body, None, cancel_ok, "NOT_ATTEMPTED"))
    new_ok, new_body = _place(call, req, rules, resp_type)
    outcome = _outcome(cancel_body, new_body, cancel_ok, "SUCCESS" if new_ok else "FAILURE")
    if cancel_ok and new_ok:
        return Reply(outcome)
    if not cancel_ok and not new_ok:
        raise _error(-2022, 400, outcome)
    raise _error(-2021, 409, outcome)


def _place(
    call: Call, req: NewOrder, rules: Any, resp_type: str | None
) -> tuple[bool, dict[str, Any]]:
    """The new order of a cancel-replace (already counted)."""
    assert req.time_in_force is not None
    assert req.stp is not None
    try:
        order = call.state.engine.place(
            call.account, req.symbol, req.side, req.type, req.time_in_force, req.qty,
            req.quote_qty, req.price, req.client_id, req.stp,
            rules=rules, stop_price=req.stop_price, trailing=req.trailing or 0,
            iceberg=req.iceberg, strategy_id=req.strategy_id, strategy_type=req.strategy_type,
            peg=req.engine_peg(),
        )  # fmt: skip
    except SimError as e:
        return False, _failure(e)
    if resp_type is None:
        resp_type = "FULL" if req.type in ("MARKET", "LIMIT") else "ACK"
    return True, reports.order_response(order, resp_type)


def _error(code: int, status: int, data: dict[str, Any]) -> SimError:
    return SimError(code, message(code), status, data=data)


def amended_order(o: Order, orig_client_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "symbol": o.symbol,
        "orderId": o.order_id,
        "orderListId": o.order_list_id,
        "origClientOrderId": orig_client_id,
        "clientOrderId": o.client_order_id,
        "price": fmt(o.price),
        "qty": fmt(o.orig_qty),
        "executedQty": fmt(o.executed_qty),
        "preventedQty": fmt(o.prevented_qty),
        "quoteOrderQty": fmt(o.orig_quote_qty),
        "cumulativeQuoteQty": fmt(o.cum_quote),
        "status": o.status,
        "timeInForce": o.time_in_force,
        "type": o.type,
        "side": o.side,
    }
    if o.working:
        out["workingTime"] = o.working_time
    out["selfTradePreventionMode"] = o.self_trade_prevention
    return out


async def amend(call: Call) -> Reply:
    p = call.params
    symbol = rest_trade.symbol_of(call)
    order_id = p.integer("orderId")
    orig_id = order_params.client_id(p, "origClientOrderId", -1119)
    new_id = order_params.client_id(p, "newClientOrderId", -1118)
    new_qty = p.amount("newQty", required=True)
    p.finish()
    if order_id is None and orig_id is None:
        raise either_mandatory("orderId", "origClientOrderId")
    assert new_qty is not None
    if new_qty <= 0:
        raise invalid_value("newQty")
    engine = call.state.engine
    done = engine.amend(call.account, symbol, order_id, orig_id, new_id, new_qty)
    order = engine.history[(call.account, symbol)][done.order_id]
    body: dict[str, Any] = {
        "transactTime": done.time,
        "executionId": done.execution_id,
        "amendedOrder": amended_order(order, done.orig_client_id),
    }
    lst = engine.list_of(order)
    if lst is not None:
        status = reports.list_status(lst)
        del status["listStatusType"], status["transactionTime"]
        body["listStatus"] = status
    return Reply(body)


def amendment_row(a: Amendment) -> dict[str, Any]:
    return {
        "symbol": a.symbol,
        "orderId": a.order_id,
        "executionId": a.execution_id,
        "origClientOrderId": a.orig_client_id,
        "newClientOrderId": a.new_client_id,
        "origQty": fmt(a.orig_qty),
        "newQty": fmt(a.new_qty),
        "time": a.time,
    }


async def amendments(call: Call) -> Reply:
    p = call.params
    symbol = rest_trade.symbol_of(call)
    order_id = p.integer("orderId", required=True)
    from_id = p.integer("fromExecutionId")
    limit = p.integer("limit") or 500
    p.finish()
    if limit <= 0:
        raise invalid_value("limit")
    if order_id is None:
        raise mandatory("orderId")
    engine = call.state.engine
    engine.find(call.account, symbol, order_id, None)  # -2013 / -2026 for an unknown order
    rows = [
        a
        for a in engine.amendments.get((call.account, symbol, order_id), ())
        if from_id is None or a.execution_id >= from_id
    ]
    return Reply([amendment_row(a) for a in rows[: min(limit, 1000)]])


ENDPOINTS = (
    Endpoint(
        "POST",
        "/api/v3/order/cancelReplace",
        cancel_replace,
        fixed(1),
        signed=True,
        zero_on_success=True,
    ),
    Endpoint("PUT", "/api/v3/order/amend/keepPriority", amend, fixed(4), signed=True),
    Endpoint("GET", "/api/v3/order/amendments", amendments, fixed(4), signed=True),
)
