"""SOR endpoints (rest-api.md §SOR; faqs/sor_faq.md): POST /api/v3/sor/order and
POST /api/v3/sor/order/test, and the WebSocket API's `sor.order.place` / `sor.order.test`.

Parameters as for a new order, without quoteOrderQty, stopPrice, trailingDelta and the peg
parameters (sent anyway: -1104, they are not read); only LIMIT and MARKET (another type: -1116),
`quantity` mandatory. Then a symbol outside every SOR answers -1013 "This symbol has no SOR.",
then the filters (-1013), the unfilled order count (-1015, one order), the engine (-2010).
Weight 1 (0 on success since 2026-04-02, CHANGELOG 2026-03-27); the test endpoint 1, or 20
with `computeCommissionRates`. The WebSocket API answers `sor.order.place` with a list of one
order (web-socket-api.md's example).
"""

from __future__ import annotations

from typing import Any

from . import order_params, rest_trade
from .call import Call, Endpoint, Reply, fixed
from .engine import reports
from .errors import SimError, mandatory
from .params import Params

SOR_TYPES = ("LIMIT", "MARKET")
NOT_SOR = ("stopPrice", "trailingDelta", "pegPriceType", "pegOffsetType", "pegOffsetValue")


async def new_sor_order(call: Call) -> Reply:
    return await _sor_order(call, test=False)


async def test_sor_order(call: Call) -> Reply:
    return await _sor_order(call, test=True)


async def ws_sor_place(call: Call) -> Reply:
    """`sor.order.place`: the REST answer as a list of one order."""
    reply = await _sor_order(call, test=False)
    return Reply([reply.body])


async def _sor_order(call: Call, test: bool) -> Reply:
    p = call.params
    symbol = rest_trade.symbol_of(call)
    req = order_params.read(p, symbol, quote=False)
    resp_type = p.enum("newOrderRespType", order_params.RESP_TYPES) or "FULL"
    commission_rates = p.boolean("computeCommissionRates") if test else None
    p.unread(*NOT_SOR)
    p.finish()
    if req.type not in SOR_TYPES:
        raise SimError.of(-1116)
    if req.qty is None:
        raise mandatory("quantity")
    engine = call.state.engine
    engine.sor_venues(symbol)
    spec = engine.symbol_rules(symbol).spec
    order_params.check(req, spec.allowed_stp_modes, spec.default_stp_mode)
    rules = rest_trade.validate(call, req)
    if test:
        return Reply(_test_rates(call) if commission_rates else {})
    rest_trade.count_order(call)
    assert req.time_in_force is not None
    assert req.stp is not None
    order = engine.place_sor(
        call.account, symbol, req.side, req.type, req.time_in_force, req.qty, req.price,
        req.client_id, req.stp, rules, iceberg=req.iceberg,
        strategy=(req.strategy_id, req.strategy_type),
    )  # fmt: skip
    state = call.state
    call.extra_headers.update(state.limits.order_headers(call.account, state.clock.now_ms()))
    return Reply(reports.order_response(order, resp_type))


def _test_rates(call: Call) -> dict[str, Any]:
    """rest-api.md's sor/order/test answer: standard and tax rates and the discount."""
    rates = rest_trade.order_commission_rates(call)
    del rates["specialCommissionForOrder"]
    return rates


def test_weight(params: Params) -> int:
    return 20 if params.values.get("computeCommissionRates") == "true" else 1


ENDPOINTS = (
    Endpoint(
        "POST", "/api/v3/sor/order", new_sor_order, fixed(1), signed=True, zero_on_success=True
    ),
    Endpoint("POST", "/api/v3/sor/order/test", test_sor_order, test_weight, signed=True),
)
