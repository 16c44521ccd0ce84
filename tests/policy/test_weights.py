"""Request costs as Binance documents them (binance-api-semantics.md §3, §6: rest-api.md,
web-socket-api.md, CHANGELOG 2026-03-27 for 0-weight successful orders)."""

from __future__ import annotations

import pytest

from binguard.policy import Cost, rest_cost, ws_api_cost
from binguard.policy.weights import REST, UNKNOWN, WS_API

DOC_6 = "rest-api.md (semantics §6)"
CL_0W = "CHANGELOG 2026-03-27: successful order/cancel cost 0 weight from 2026-04-02"


@pytest.mark.parametrize(
    ("method", "path", "params", "expected", "source"),
    [
        ("GET", "/api/v3/ping", None, Cost(1), DOC_6),
        ("GET", "/api/v3/time", None, Cost(1), DOC_6),
        ("GET", "/api/v3/exchangeInfo", None, Cost(20), DOC_6),
        ("GET", "/api/v3/depth", None, Cost(5), "depth default limit 100 → 5"),
        ("GET", "/api/v3/depth", {"limit": 1}, Cost(5), "depth 1-100 → 5"),
        ("GET", "/api/v3/depth", {"limit": 100}, Cost(5), "depth 1-100 → 5"),
        ("GET", "/api/v3/depth", {"limit": 101}, Cost(25), "depth 101-500 → 25"),
        ("GET", "/api/v3/depth", {"limit": "500"}, Cost(25), "depth 101-500 → 25"),
        ("GET", "/api/v3/depth", {"limit": 501}, Cost(50), "depth 501-1000 → 50"),
        ("GET", "/api/v3/depth", {"limit": 1000}, Cost(50), "depth 501-1000 → 50"),
        ("GET", "/api/v3/depth", {"limit": 1001}, Cost(250), "depth 1001-5000 → 250"),
        ("GET", "/api/v3/depth", {"limit": 5000}, Cost(250), "depth 1001-5000 → 250"),
        ("GET", "/api/v3/depth", {"limit": 9999}, Cost(250), "larger limits get 5000 entries"),
        ("GET", "/api/v3/depth", {"limit": "x"}, Cost(5), "unreadable limit = default 100"),
        ("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}, Cost(6), "openOrders 6 w/ symbol"),
        ("GET", "/api/v3/openOrders", None, Cost(80), "openOrders 80 without symbol"),
        ("GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"}, Cost(20), "myTrades 20"),
        (
            "GET",
            "/api/v3/myTrades",
            [("symbol", "BTCUSDT"), ("orderId", 12)],
            Cost(5),
            "myTrades 5 with orderId (CL 2025-04-07)",
        ),
        ("GET", "/api/v3/account", None, Cost(20), DOC_6),
        ("GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"}, Cost(20), DOC_6),
        ("GET", "/api/v3/order", {"origClientOrderId": "a"}, Cost(4), DOC_6),
        ("GET", "/api/v3/rateLimit/order", None, Cost(40), "rateLimit/order 40"),
        ("POST", "/api/v3/order", None, Cost(1, orders=1, refund_if_ok=1), CL_0W),
        ("DELETE", "/api/v3/order", None, Cost(1, refund_if_ok=1), CL_0W),
        ("DELETE", "/api/v3/openOrders", None, Cost(1, refund_if_ok=1), CL_0W),
        (
            "POST",
            "/api/v3/order/cancelReplace",
            None,
            Cost(1, orders=1, refund_if_ok=1),
            "cancelReplace adds 1 to the order count even when NOT_ATTEMPTED",
        ),
        ("POST", "/api/v3/order/test", None, Cost(1), "order/test 1"),
        (
            "POST",
            "/api/v3/order/test",
            {"computeCommissionRates": "true"},
            Cost(20),
            "order/test 20 with computeCommissionRates",
        ),
        (
            "POST",
            "/api/v3/order/test",
            {"computeCommissionRates": "false"},
            Cost(1),
            "negative case: computeCommissionRates=false is the plain test",
        ),
        ("get", "/api/v3/time/", None, Cost(1), "method case and trailing slash do not matter"),
    ],
)
def test_rest_costs(method: str, path: str, params: object, expected: Cost, source: str) -> None:
    assert rest_cost(method, path, params) == expected, source  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/v3/somethingNew"), ("POST", "/api/v3/time"), ("GET", "/sapi/v1/capital")],
)
def test_unknown_endpoints_cost_the_conservative_default(method: str, path: str) -> None:
    cost = rest_cost(method, path)
    assert cost == UNKNOWN.cost() == Cost(80)
    assert cost.weight >= max(rule.cost().weight for rule in REST.values() if not rule.by_limit)


def test_every_placement_adds_to_orders_and_every_order_write_is_free_when_successful() -> None:
    for (method, path), rule in REST.items():
        cost = rule.cost()
        if rule.orders:
            assert method == "POST" and cost.refund_if_ok == cost.weight, path
        if method == "GET":
            assert cost.refund_if_ok == 0 and cost.orders == 0, path
        assert cost.raw == 1


@pytest.mark.parametrize(
    ("ws_method", "rest"),
    [
        ("ping", ("GET", "/api/v3/ping")),
        ("time", ("GET", "/api/v3/time")),
        ("exchangeInfo", ("GET", "/api/v3/exchangeInfo")),
        ("depth", ("GET", "/api/v3/depth")),
        ("order.place", ("POST", "/api/v3/order")),
        ("order.test", ("POST", "/api/v3/order/test")),
        ("order.status", ("GET", "/api/v3/order")),
        ("order.cancel", ("DELETE", "/api/v3/order")),
        ("order.cancelReplace", ("POST", "/api/v3/order/cancelReplace")),
        ("openOrders.status", ("GET", "/api/v3/openOrders")),
        ("openOrders.cancelAll", ("DELETE", "/api/v3/openOrders")),
        ("allOrders", ("GET", "/api/v3/allOrders")),
        ("account.status", ("GET", "/api/v3/account")),
        ("myTrades", ("GET", "/api/v3/myTrades")),
        ("account.rateLimits.orders", ("GET", "/api/v3/rateLimit/order")),
    ],
)
def test_ws_api_weights_equal_rest(ws_method: str, rest: tuple[str, str]) -> None:
    """web-socket-api.md: the WebSocket API methods weigh what their REST twins weigh."""
    assert WS_API[ws_method] is REST[rest]
    for params in (None, {"symbol": "BTCUSDT"}, {"limit": 1000}, {"orderId": 1}):
        assert ws_api_cost(ws_method, params) == rest_cost(*rest, params)


def test_ws_api_unknown_method_is_conservative() -> None:
    assert ws_api_cost("brand.new") == Cost(80)
