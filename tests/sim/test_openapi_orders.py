"""The order-list, edit and account-query replies validate against Binance's OpenAPI spec
(../shared/reference/binance-spot-openapi.yaml) where it has them: orderList/oco, oto, otoco,
DELETE / GET orderList, allOrderList, openOrderList, order/cancelReplace (200 and 400),
account/commission, myPreventedMatches, myAllocations. (order/oco, amend/keepPriority,
order/amendments and myFilters are not in the spec.)"""

from __future__ import annotations

from typing import Any

from referencing import Registry

from .helpers import Api, Reply, new_order, oco_sell
from .test_openapi import check, check_component, registry  # noqa: F401  (the session fixture)


def _algo_reports_only(registry: Registry, reply: Reply, schema: str | None) -> Reply:  # noqa: F811
    """The spec requires `stopPrice` in every order report, while rest-api.md shows it only for
    STOP_LOSS / TAKE_PROFIT orders (§Conditional fields; the LIMIT_MAKER report of the OCO
    example has none): reports without it are checked against `schema` (the single-order
    component) and left out of the spec check."""
    body = dict(reply.body)
    kept: list[dict[str, Any]] = []
    for report in body["orderReports"]:
        if "stopPrice" in report:
            kept.append(report)
        elif schema is not None:
            check_component(registry, report, schema)
    body["orderReports"] = kept
    return Reply(reply.status, reply.headers, body)


async def test_order_list_replies_match_spec(me: Api, registry: Registry) -> None:  # noqa: F811
    for resp_type in ("RESULT", "FULL"):
        oco = await me.post(
            "/api/v3/orderList/oco", oco_sell(newOrderRespType=resp_type), signed=True
        )
        assert oco.status == 200, oco.body
        schema = "orderResponseFull" if resp_type == "FULL" else "orderResponseResult"
        check(registry, _algo_reports_only(registry, oco, schema), "/api/v3/orderList/oco", "POST")
    # the spec's orderReports item is the RESULT shape; ACK reports are the ACK component
    ack = await me.post("/api/v3/orderList/oco", oco_sell(newOrderRespType="ACK"), signed=True)
    for report in ack.body["orderReports"]:
        check_component(registry, report, "orderResponseAck")
    oto = {
        "symbol": "BTCUSDT",
        "workingType": "LIMIT",
        "workingSide": "BUY",
        "workingPrice": "29500",
        "workingQuantity": "0.01",
        "workingTimeInForce": "GTC",
        "pendingType": "LIMIT_MAKER",
        "pendingSide": "SELL",
        "pendingPrice": "31000",
        "pendingQuantity": "0.01",
    }
    placed = await me.post("/api/v3/orderList/oto", oto, signed=True)
    result = "orderResponseResult"
    check(registry, _algo_reports_only(registry, placed, result), "/api/v3/orderList/oto", "POST")
    otoco = {
        **{k: v for k, v in oto.items() if not k.startswith("pending")},
        "pendingSide": "SELL",
        "pendingQuantity": "0.01",
        "pendingAboveType": "LIMIT_MAKER",
        "pendingAbovePrice": "31000",
        "pendingBelowType": "STOP_LOSS",
        "pendingBelowStopPrice": "29000",
    }
    check(
        registry,
        await me.post("/api/v3/orderList/otoco", otoco, signed=True),
        "/api/v3/orderList/otoco",
        "POST",
    )
    list_id = placed.body["orderListId"]
    check(
        registry,
        await me.get("/api/v3/orderList", {"orderListId": list_id}, signed=True),
        "/api/v3/orderList",
        "GET",
    )
    # the spec's allOrderList / openOrderList items require margin's `isIsolated`, which
    # rest-api.md's examples do not have: each item is checked as a GET orderList reply
    for path in ("/api/v3/allOrderList", "/api/v3/openOrderList"):
        every = await me.get(path, signed=True)
        assert every.status == 200 and every.body
        for item in every.body:
            check(registry, Reply(200, every.headers, item), "/api/v3/orderList", "GET")
    canceled = await me.delete(
        "/api/v3/orderList", {"symbol": "BTCUSDT", "orderListId": list_id}, signed=True
    )
    check(registry, _algo_reports_only(registry, canceled, None), "/api/v3/orderList", "DELETE")
    bad = await me.post("/api/v3/orderList/oco", oco_sell(abovePrice="29000"), signed=True)
    assert bad.status == 400
    check(registry, bad, "/api/v3/orderList/oco", "POST")


async def test_edit_and_account_replies_match_spec(me: Api, registry: Registry) -> None:  # noqa: F811
    old = (await me.order(**new_order("BUY", "LIMIT", "0.01", price="29000"))).body
    params = {
        **new_order("BUY", "LIMIT", "0.01", price="29100"),
        "cancelReplaceMode": "STOP_ON_FAILURE",
        "cancelOrderId": old["orderId"],
    }
    ok = await me.post("/api/v3/order/cancelReplace", params, signed=True)
    assert ok.status == 200, ok.body
    check(registry, ok, "/api/v3/order/cancelReplace", "POST")
    failed = await me.post("/api/v3/order/cancelReplace", params, signed=True)
    assert (failed.status, failed.code) == (400, -2022)
    check(registry, failed, "/api/v3/order/cancelReplace", "POST")
    await me.order(**new_order("SELL", "LIMIT", "0.01", price="30000"))
    await me.order(
        **new_order("BUY", "LIMIT", "0.01", price="30000"), selfTradePreventionMode="EXPIRE_BOTH"
    )
    for path, query in [
        ("/api/v3/account/commission", {"symbol": "BTCUSDT"}),
        ("/api/v3/myPreventedMatches", {"symbol": "BTCUSDT", "preventedMatchId": 1}),
        ("/api/v3/myAllocations", {"symbol": "BTCUSDT"}),
    ]:
        reply = await me.get(path, query, signed=True)
        assert reply.status == 200, reply.body
        check(registry, reply, path, "GET")
