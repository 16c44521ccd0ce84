"""Typed placement of every order type (rest-api.md §New order) against the simulator: snake_case
keywords, Binance's camelCase names through `**extra`, and the local checks (checks.py) against
the symbol's filters from exchangeInfo (filters.md).

A local refusal sends nothing (the simulator's request log does not grow) and journals nothing.
Each refusal is then sent as is, past the local checks, to the simulator: it refuses it for the
same filter. The two implementations are independent on purpose (the simulator never imports the
client), so this agreement is a real check of both readings of filters.md.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import pytest

from binguard.connector.checks import FilterError, ParamError
from binguard.connector.client import SpotConnector
from binguard.connector.placement import ACCEPTED, ORDER_PARAMS, camel
from binguard.errors import BinanceError, OrderRejectedError
from binguard.policy.endpoints import BY_NAME
from binguard.sim import Simulator

from .conftest import MakeConnector, admin, request_count

# Every order type with its typed keywords; the simulator's market is near 30000.
TYPES: dict[str, dict[str, Any]] = {
    "LIMIT": {"side": "BUY", "type": "LIMIT", "price": "29000", "time_in_force": "GTC"},
    "LIMIT iceberg": {
        "side": "BUY",
        "type": "LIMIT",
        "price": "29000",
        "time_in_force": "GTC",
        "quantity": "0.01",
        "iceberg_qty": "0.002",
    },
    "LIMIT_MAKER": {"side": "SELL", "type": "LIMIT_MAKER", "price": "31000"},
    "MARKET by quantity": {"side": "BUY", "type": "MARKET"},
    "MARKET by quote": {"side": "BUY", "type": "MARKET", "quantity": None, "quote_order_qty": "50"},
    "STOP_LOSS": {"side": "SELL", "type": "STOP_LOSS", "stop_price": "20000"},
    "STOP_LOSS_LIMIT": {
        "side": "SELL",
        "type": "STOP_LOSS_LIMIT",
        "price": "19900",
        "stop_price": "20000",
        "time_in_force": "GTC",
    },
    "STOP_LOSS_LIMIT trailing": {
        "side": "SELL",
        "type": "STOP_LOSS_LIMIT",
        "price": "19900",
        "trailing_delta": 500,
        "time_in_force": "GTC",
    },
    "TAKE_PROFIT": {"side": "SELL", "type": "TAKE_PROFIT", "stop_price": "40000"},
    "TAKE_PROFIT_LIMIT": {
        "side": "SELL",
        "type": "TAKE_PROFIT_LIMIT",
        "price": "40100",
        "stop_price": "40000",
        "time_in_force": "GTC",
    },
    "LIMIT pegged": {
        "side": "BUY",
        "type": "LIMIT",
        "time_in_force": "GTC",
        "peg_price_type": "PRIMARY_PEG",
        "peg_offset_type": "PRICE_LEVEL",
        "peg_offset_value": 2,
    },
    "LIMIT strategy and STP": {
        "side": "BUY",
        "type": "LIMIT",
        "price": "29000",
        "time_in_force": "GTC",
        "strategy_id": 7,
        "strategy_type": 1000001,
        "self_trade_prevention_mode": "EXPIRE_TAKER",
    },
}


def _same(a: object, b: object) -> bool:
    try:
        return Decimal(str(a)) == Decimal(str(b))
    except InvalidOperation:
        return str(a) == str(b)


async def _truth(sim: Simulator, coid: str) -> dict[str, Any]:
    (truth,) = [o for o in await admin(sim, "orders") if o["clientOrderId"] == coid]
    return dict(truth)


async def _place(bn: SpotConnector, kw: dict[str, Any]) -> Any:
    args = {"quantity": "0.001", **kw}
    side, order_type = args.pop("side"), args.pop("type")
    return await bn.place_order("BTCUSDT", side, order_type, **args)


@pytest.mark.parametrize("case", list(TYPES))
async def test_every_order_type_typed(sim: Simulator, connect: MakeConnector, case: str) -> None:
    bn = await connect()
    order = await _place(bn, TYPES[case])
    truth = await _truth(sim, order.client_order_id)
    assert (truth["orderId"], truth["type"]) == (order.order_id, TYPES[case]["type"])
    for snake, value in TYPES[case].items():
        if snake in ("side", "type") or value is None:
            continue
        sent = truth.get(camel(snake))
        if sent is not None and camel(snake) not in ("price", "quoteOrderQty"):
            assert _same(sent, value), (snake, sent)


@pytest.mark.parametrize("case", ["STOP_LOSS_LIMIT", "LIMIT pegged", "LIMIT strategy and STP"])
async def test_camel_case_is_the_same_request(
    sim: Simulator, connect: MakeConnector, case: str
) -> None:
    """Binance's names through **extra: the exchange gets the same order."""
    bn = await connect()
    snake = await _place(bn, TYPES[case])
    camel_kw = {(k if k in ("side", "type") else camel(k)): v for k, v in TYPES[case].items()}
    other = await _place(bn, camel_kw)
    a, b = await _truth(sim, snake.client_order_id), await _truth(sim, other.client_order_id)
    differ = {k for k in a if a[k] != b.get(k)}
    assert differ <= {"orderId", "clientOrderId", "time", "updateTime", "workingTime"}, differ


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"stop_price": "20000", "stopPrice": "20000"}, "twice"),
        ({"price": "19900", "timeInForce": "GTC", "time_in_force": "GTC"}, "twice"),
        ({"stopprice": "20000"}, "unexpected keyword argument 'stopprice'"),
        ({"stop_Price": "20000"}, "unexpected keyword argument"),
        ({"recvWindow": 60000}, "recv_window_ms"),
        ({"cancelReplaceMode": "STOP_ON_FAILURE"}, "POST /api/v3/order"),
        (
            {"client_order_id": "a1", "newClientOrderId": "a1"},
            "as client_order_id= and as newClientOrderId=",
        ),
    ],
)
async def test_bad_keywords_are_type_errors_nothing_sent(
    sim: Simulator, connect: MakeConnector, kw: dict[str, Any], needle: str
) -> None:
    bn = await connect()
    before = await request_count(sim)
    base = {"quantity": "0.001", "price": "19900", "time_in_force": "GTC", "stop_price": None}
    args = {k: v for k, v in base.items() if k not in kw and camel(k) not in kw}
    with pytest.raises(TypeError, match=needle):
        await bn.place_order("BTCUSDT", "SELL", "STOP_LOSS_LIMIT", **args, **kw)
    assert await request_count(sim) == before
    assert bn.journal.all() == []


# (case, keywords, the error's type, the parameter it names, the filter)
REFUSALS: list[tuple[str, dict[str, Any], type[BinanceError], str, str | None]] = [
    ("price off tick", {"price": "29000.005"}, FilterError, "price", "PRICE_FILTER"),
    ("price below min", {"price": "0.001"}, FilterError, "price", "PRICE_FILTER"),
    ("qty off step", {"quantity": "0.0010001"}, FilterError, "quantity", "LOT_SIZE"),
    ("qty above max", {"quantity": "10000"}, FilterError, "quantity", "LOT_SIZE"),
    ("notional too small", {"quantity": "0.0001"}, FilterError, "quantity", "NOTIONAL"),
    (
        "stop price off tick",
        {"type": "STOP_LOSS_LIMIT", "side": "SELL", "price": "19900", "stop_price": "20000.001"},
        FilterError,
        "stopPrice",
        "PRICE_FILTER",
    ),
    (
        "trailing delta too large",
        {"type": "STOP_LOSS_LIMIT", "side": "SELL", "price": "19900", "trailing_delta": 5000},
        FilterError,
        "trailingDelta",
        "TRAILING_DELTA",
    ),
    (
        "too many iceberg parts",
        {"quantity": "0.2", "iceberg_qty": "0.001"},
        FilterError,
        "icebergQty",
        "ICEBERG_PARTS",
    ),
    ("LIMIT without price", {"price": None}, ParamError, "price", None),
    ("LIMIT without timeInForce", {"time_in_force": None}, ParamError, "timeInForce", None),
    (
        "STOP_LOSS without stop",
        {"type": "STOP_LOSS", "side": "SELL", "price": None, "time_in_force": None},
        ParamError,
        "stopPrice",
        None,
    ),
    ("bad side", {"side": "HOLD"}, ParamError, "side", None),
    ("bad type", {"type": "LIMITED"}, ParamError, "type", None),
    ("negative quantity", {"quantity": "-1"}, ParamError, "quantity", None),
    ("quantity not a number", {"quantity": "lots"}, ParamError, "quantity", None),
    (
        "peg on MARKET",
        {"type": "MARKET", "price": None, "time_in_force": None, "peg_price_type": "MARKET_PEG"},
        ParamError,
        "pegPriceType",
        None,
    ),
    (
        "iceberg not GTC",
        {"quantity": "0.01", "iceberg_qty": "0.002", "time_in_force": "IOC"},
        ParamError,
        "timeInForce",
        None,
    ),
]


@pytest.mark.parametrize(
    ("kw", "error", "param", "filter_"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS]
)
async def test_local_checks_name_the_parameter_and_send_nothing(
    sim: Simulator,
    connect: MakeConnector,
    kw: dict[str, Any],
    error: type[BinanceError],
    param: str,
    filter_: str | None,
) -> None:
    bn = await connect()
    args = {"side": "BUY", "type": "LIMIT", "price": "29000", "time_in_force": "GTC", **kw}
    before = await request_count(sim)
    with pytest.raises(error) as caught:
        await _place(bn, {k: v for k, v in args.items() if v is not None})
    assert caught.value.param == param
    assert not caught.value.may_have_executed
    if filter_ is not None:
        assert caught.value.filter == filter_ and isinstance(caught.value, OrderRejectedError)
    assert await request_count(sim) == before, "a refused order must send nothing"
    assert bn.journal.all() == []
    # The simulator, told the same order past the local checks, refuses it for the same reason.
    raw = {camel(k): str(v) for k, v in {"quantity": "0.001", **args}.items() if v is not None}
    with pytest.raises(BinanceError) as remote:
        await bn.call("POST", "/api/v3/order", {"symbol": "BTCUSDT", **raw}, signed=True)
    if filter_ is not None:
        assert remote.value.filter == filter_, remote.value.msg
    assert not any(o.get("symbol") == "BTCUSDT" for o in await admin(sim, "orders"))


def test_accepted_names_are_endpoint_rows_and_snake_names_map() -> None:
    """Every parameter list belongs to a row of the endpoint table; every snake_case keyword
    maps to its camelCase name by the one rule (`camel`)."""
    assert set(ACCEPTED) <= set(BY_NAME)
    assert all(camel(snake) == name for snake, name in ORDER_PARAMS.items())
    assert set(ORDER_PARAMS.values()) <= ACCEPTED["place"]


def test_generated_client_order_ids_are_unique_and_not_shared_with_a_forked_child() -> None:
    """Ids are drawn 64 at a time (orders.py); a forked child forgets the parent's drawn ids,
    so the two never send the same client order id. (A unit test of the id source alone.)"""
    import os

    from binguard.connector.options import ConnectorOptions
    from binguard.connector.orders import OrderManager

    manager = OrderManager(None, None, ConnectorOptions())  # type: ignore[arg-type]
    first = manager.new_client_order_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.write(write, " ".join(manager.new_client_order_id() for _ in range(70)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        child = f.read().split()
    os.waitpid(pid, 0)
    parent = [manager.new_client_order_id() for _ in range(70)]
    ids = [first, *parent, *child]
    assert len(set(ids)) == len(ids) == 141
    assert all(i.startswith("bg-") and len(i) == 27 for i in ids)
