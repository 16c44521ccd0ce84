"""Every implemented REST endpoint's reply validates against Binance's official OpenAPI spec
(../shared/reference/binance-spot-openapi.yaml, loaded once per session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from binguard.sim import Simulator

from .helpers import Api, Reply

SPEC = Path(__file__).resolve().parents[3] / "shared" / "reference" / "binance-spot-openapi.yaml"
ROOT = "urn:binance-spot-openapi"


@pytest.fixture(scope="session")
def registry() -> Registry:
    if not SPEC.exists():
        pytest.skip(f"OpenAPI spec not found at {SPEC}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC.open(encoding="utf-8") as f:
        spec = yaml.load(f, Loader=loader)
    return Registry().with_resource(ROOT, Resource(spec, specification=DRAFT4))


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def check(registry: Registry, reply: Reply, path: str, method: str) -> None:
    """Validate against the operation's response schema for the reply's status."""
    ref = f"{ROOT}#/" + _pointer(
        "paths",
        path,
        method.lower(),
        "responses",
        str(reply.status),
        "content",
        "application/json",
        "schema",
    )
    jsonschema.Draft4Validator({"$ref": ref}, registry=registry).validate(reply.body)


def check_component(registry: Registry, body: Any, name: str) -> None:
    ref = f"{ROOT}#/components/schemas/{name}"
    jsonschema.Draft4Validator({"$ref": ref}, registry=registry).validate(body)


def _price_filters_only(reply: Reply) -> Reply:
    """The spec's `filters` item schema describes PRICE_FILTER only and requires its fields of
    every filter (real Binance replies fail it too), so other filter types are checked against
    filters.md here and left out of the spec check."""
    required = {
        "LOT_SIZE": {"minQty", "maxQty", "stepSize"},
        "MARKET_LOT_SIZE": {"minQty", "maxQty", "stepSize"},
        "NOTIONAL": {
            "minNotional",
            "applyMinToMarket",
            "maxNotional",
            "applyMaxToMarket",
            "avgPriceMins",
        },
        "MAX_NUM_ORDERS": {"maxNumOrders"},
        "PERCENT_PRICE_BY_SIDE": {
            "bidMultiplierUp",
            "bidMultiplierDown",
            "askMultiplierUp",
            "askMultiplierDown",
            "avgPriceMins",
        },
        "ICEBERG_PARTS": {"limit"},
        "MAX_NUM_ORDER_LISTS": {"maxNumOrderLists"},
        "MAX_NUM_ALGO_ORDERS": {"maxNumAlgoOrders"},
        "MAX_NUM_ICEBERG_ORDERS": {"maxNumIcebergOrders"},
        "TRAILING_DELTA": {
            "minTrailingAboveDelta",
            "maxTrailingAboveDelta",
            "minTrailingBelowDelta",
            "maxTrailingBelowDelta",
        },
        "MAX_NUM_ORDER_AMENDS": {"maxNumOrderAmends"},
        "MAX_POSITION": {"maxPosition"},
    }
    body = dict(reply.body)
    symbols = []
    for sym in body["symbols"]:
        for f in sym["filters"]:
            if f["filterType"] != "PRICE_FILTER":
                assert set(f) == {"filterType"} | required[f["filterType"]], f
        prices = [f for f in sym["filters"] if f["filterType"] == "PRICE_FILTER"]
        symbols.append({**sym, "filters": prices})
    body["symbols"] = symbols
    return Reply(reply.status, reply.headers, body)


async def test_public_endpoints_match_spec(sim: Simulator, api: Api, registry: Registry) -> None:
    for _ in range(20):
        sim.state.crowd.step()
    cases = [
        ("/api/v3/ping", {}),
        ("/api/v3/time", {}),
        ("/api/v3/exchangeInfo", {}),
        ("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 10}),
        ("/api/v3/trades", {"symbol": "BTCUSDT"}),
        ("/api/v3/ticker/price", {"symbol": "BTCUSDT"}),
        ("/api/v3/ticker/price", {}),
        ("/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"}),
        ("/api/v3/ticker/bookTicker", {}),
        ("/api/v3/avgPrice", {"symbol": "BTCUSDT"}),
        ("/api/v3/depth", {"symbol": "NOPE"}),  # a 400: the error schema
    ]
    for path, params in cases:
        reply = await api.get(path, params)
        if path == "/api/v3/exchangeInfo":
            reply = _price_filters_only(reply)
        check(registry, reply, path, "GET")
    trades = await api.get("/api/v3/trades", {"symbol": "BTCUSDT"})
    assert trades.body, "the crowd traded, so the trade schema was exercised"


async def test_trading_endpoints_match_spec(sim: Simulator, api: Api, registry: Registry) -> None:
    limit = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.001",
        "price": "20000",
    }
    # POST /order's oneOf(ACK, RESULT, FULL) cannot discriminate (each is a superset of the
    # previous one), so each response type is checked against its own component schema
    for resp_type, schema in [
        ("ACK", "orderResponseAck"),
        ("RESULT", "orderResponseResult"),
        ("FULL", "orderResponseFull"),
    ]:
        reply = await api.order(**limit, newOrderRespType=resp_type)
        assert reply.status == 200
        check_component(registry, reply.body, schema)
    market = await api.order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    check_component(registry, market.body, "orderResponseFull")
    assert market.body["fills"]
    oid = market.body["orderId"]
    signed_gets = [
        ("/api/v3/order", {"symbol": "BTCUSDT", "orderId": oid}),
        ("/api/v3/openOrders", {"symbol": "BTCUSDT"}),
        ("/api/v3/openOrders", {}),
        ("/api/v3/allOrders", {"symbol": "BTCUSDT"}),
        ("/api/v3/account", {}),
        ("/api/v3/myTrades", {"symbol": "BTCUSDT"}),
        ("/api/v3/rateLimit/order", {}),
        ("/api/v3/order", {"symbol": "BTCUSDT", "orderId": 99999}),  # 400
        ("/api/v3/account", {"recvWindow": "70000"}),  # 400
    ]
    for path, params in signed_gets:
        reply = await api.get(path, params, signed=True)
        check(registry, reply, path, "GET")
    test = await api.post("/api/v3/order/test", limit, signed=True)
    check(registry, test, "/api/v3/order/test", "POST")
    opened = await api.get("/api/v3/openOrders", {"symbol": "BTCUSDT"}, signed=True)
    one = await api.delete(
        "/api/v3/order", {"symbol": "BTCUSDT", "orderId": opened.body[0]["orderId"]}, signed=True
    )
    check(registry, one, "/api/v3/order", "DELETE")
    rest = await api.delete("/api/v3/openOrders", {"symbol": "BTCUSDT"}, signed=True)
    assert rest.status == 200 and rest.body
    check(registry, rest, "/api/v3/openOrders", "DELETE")
    unauthorized = await api.get("/api/v3/account", signed=True, api_key="unknownkey")
    assert unauthorized.status == 401
    check(registry, unauthorized, "/api/v3/account", "GET")
