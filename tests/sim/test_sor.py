"""Smart Order Routing over loopback (rest-api.md §SOR, web-socket-api.md §SOR, faqs/sor_faq.md):
the FAQ's four examples on its three books (BTCUSDT, BTCUSDC, BTCUSDP), exchangeInfo `sors`,
allocations in myAllocations, what the taker phase leaves (rest, expire, FOK), the errors, the
test endpoint's weights, the WebSocket API (with executionReport's allocation fields) and
execution-aware faults; replies validated against binance-spot-openapi.yaml where it has them.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from referencing import Registry

from binguard.sim import FlowConfig, SimConfig, Simulator, SymbolSpec
from binguard.sim.config import AccountSpec, KeySpec, demo_account, demo_ed25519_private
from binguard.sim.peers import point_ccxt, point_python_binance

from .helpers import Api, WsApi, msg
from .test_openapi import check, registry  # noqa: F401  (the session fixture)

DROPPED = (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)
SOR_SYMBOLS = ("BTCUSDT", "BTCUSDC", "BTCUSDP")
MAKER = AccountSpec(
    "maker",
    100000002,
    (KeySpec("makerkey", "HMAC", "makersecret"),),
    {"BTC": "50", "USDT": "1000000", "USDC": "1000000", "USDP": "1000000"},
)
CONFIG = SimConfig(
    flow=FlowConfig(enabled=False),
    symbols=(
        *(SymbolSpec(s, "BTC", s[3:], initial_price="30000.00", sor=True) for s in SOR_SYMBOLS),
        SymbolSpec("ETHUSDT", "ETH", "USDT", initial_price="2000.00"),
    ),
    accounts=(
        dataclasses.replace(demo_account(0), balances={"USDT": "400000", "BTC": "20"}),
        MAKER,
    ),
)
# the FAQ's ask books (examples 1-3) and bid books (example 4): (symbol, quantity, price)
ASKS = (
    ("BTCUSDT", "3", "30800"),
    ("BTCUSDT", "3", "30500"),
    ("BTCUSDC", "1", "30000"),
    ("BTCUSDC", "1", "28000"),
    ("BTCUSDP", "1", "35000"),
    ("BTCUSDP", "1", "29000"),
)
BIDS = (
    ("BTCUSDT", "5", "29500"),
    ("BTCUSDC", "5", "35000"),
    ("BTCUSDC", "5", "30000"),
    ("BTCUSDP", "5", "28000"),
)


@pytest.fixture
async def sor() -> AsyncIterator[Simulator]:
    async with Simulator(CONFIG) as s:
        yield s
        assert s.bugs == []


@pytest.fixture
def me(sor: Simulator, session: aiohttp.ClientSession) -> Api:
    key = sor.config.demo.keys[0]
    return Api(session, sor.url, key.api_key, key.secret)


@pytest.fixture
def maker(sor: Simulator, session: aiohttp.ClientSession) -> Api:
    return Api(session, sor.url, "makerkey", "makersecret")


async def _book(maker: Api, side: str, rows: tuple[tuple[str, str, str], ...]) -> None:
    for symbol, qty, price in rows:
        params = {"symbol": symbol, "side": side, "type": "LIMIT", "timeInForce": "GTC"}
        placed = await maker.order(**params, quantity=qty, price=price)
        assert placed.body["status"] == "NEW", placed.body


def _sor(side: str, kind: str, qty: str, **kw: Any) -> dict[str, Any]:
    out = {"symbol": "BTCUSDT", "side": side, "type": kind, "quantity": qty}
    if kind == "LIMIT":
        out["timeInForce"] = "GTC"
    out.update(kw)
    return out


def _fills(body: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return [(f["price"], f["qty"], f["tradeId"], f["allocId"]) for f in body["fills"]]


async def test_exchange_info_lists_the_sor(me: Api, sim: Simulator, api: Api) -> None:
    info = (await me.get("/api/v3/exchangeInfo")).body
    assert info["sors"] == [{"baseAsset": "BTC", "symbols": list(SOR_SYMBOLS)}]
    # "Optional field. Present only when SOR is available." (the default symbols have none)
    assert "sors" not in (await api.get("/api/v3/exchangeInfo")).body


async def test_faq_example_2_limit_buy(me: Api, maker: Api, registry: Registry) -> None:  # noqa: F811
    await _book(maker, "SELL", ASKS)
    placed = await me.post(
        "/api/v3/sor/order", _sor("BUY", "LIMIT", "5", price="31000"), signed=True
    )
    assert placed.status == 200, placed.body
    check(registry, placed, "/api/v3/sor/order", "POST")
    body = placed.body
    assert (body["status"], body["executedQty"], body["cummulativeQuoteQty"]) == (
        "FILLED",
        "5.00000000",
        "148000.00000000",
    )
    assert (body["workingFloor"], body["usedSor"], body["price"]) == ("SOR", True, "31000.00000000")
    assert _fills(body) == [
        ("28000.00000000", "1.00000000", -1, 0),
        ("29000.00000000", "1.00000000", -1, 1),
        ("30000.00000000", "1.00000000", -1, 2),
        ("30500.00000000", "2.00000000", -1, 3),
    ]
    assert {f["matchType"] for f in body["fills"]} == {"ONE_PARTY_TRADE_REPORT"}
    assert [f["commission"] for f in body["fills"]][3] == "0.00200000"  # 10 bps of 2 BTC
    # counted, then uncounted by its first fill (rest-api.md §Unfilled Order Count)
    assert placed.headers["X-MBX-ORDER-COUNT-10S"] == "0"
    # paid in USDT (not USDC!), received the BTC less the taker commission
    balances = (await me.admin("balances?account=demo"))["demo"]
    assert balances["USDT"]["free"] == "252000.00000000"
    assert balances["BTC"]["free"] == "24.99500000"
    # allocations, not trades; the makers traded on their own books
    allocs = await me.get("/api/v3/myAllocations", {"symbol": "BTCUSDT"}, signed=True)
    check(registry, allocs, "/api/v3/myAllocations", "GET")
    assert [(a["allocationId"], a["orderId"], a["qty"], a["isBuyer"]) for a in allocs.body] == [
        (i, body["orderId"], q, True) for i, q in enumerate(("1.00000000",) * 3 + ("2.00000000",))
    ]
    mine = await me.get("/api/v3/myTrades", {"symbol": "BTCUSDT"}, signed=True)
    assert mine.body == []
    sold = await me.admin("fills?account=maker")
    assert sorted((t["symbol"], t["price"], t["qty"]) for t in sold) == [
        ("BTCUSDC", "28000.00000000", "1.00000000"),
        ("BTCUSDC", "30000.00000000", "1.00000000"),
        ("BTCUSDP", "29000.00000000", "1.00000000"),
        ("BTCUSDT", "30500.00000000", "2.00000000"),
    ]
    query = await me.get(
        "/api/v3/order", {"symbol": "BTCUSDT", "orderId": body["orderId"]}, signed=True
    )
    assert (query.body["usedSor"], query.body["workingFloor"]) == (True, "SOR")
    check(registry, query, "/api/v3/order", "GET")
    (truth,) = await me.admin("orders?account=demo")
    assert (truth["orderId"], truth["usedSor"], truth["status"]) == (
        body["orderId"],
        True,
        "FILLED",
    )
    assert len(await me.admin("allocations?account=demo")) == 4


async def test_faq_example_3_market_buy_expires(me: Api, maker: Api) -> None:
    await _book(maker, "SELL", ASKS)
    placed = await me.post("/api/v3/sor/order", _sor("BUY", "MARKET", "11"), signed=True)
    body = placed.body
    assert (body["status"], body["executedQty"], body["cummulativeQuoteQty"]) == (
        "EXPIRED",
        "10.00000000",
        "305900.00000000",
    )
    assert body["expiryReason"] == "INSUFFICIENT_LIQUIDITY"
    assert [(f["price"], f["qty"], f["allocId"]) for f in body["fills"]] == [
        ("28000.00000000", "1.00000000", 0),
        ("29000.00000000", "1.00000000", 1),
        ("30000.00000000", "1.00000000", 2),
        ("30500.00000000", "3.00000000", 3),
        ("30800.00000000", "3.00000000", 4),
        ("35000.00000000", "1.00000000", 5),
    ]
    depth = await me.get("/api/v3/depth", {"symbol": "BTCUSDC"})
    assert depth.body["asks"] == []


async def test_faq_example_4_limit_sell(me: Api, maker: Api) -> None:
    await _book(maker, "BUY", BIDS)
    placed = await me.post(
        "/api/v3/sor/order", _sor("SELL", "LIMIT", "10", price="29000"), signed=True
    )
    body = placed.body
    assert (body["status"], body["cummulativeQuoteQty"]) == ("FILLED", "325000.00000000")
    assert [(f["price"], f["qty"], f["commissionAsset"]) for f in body["fills"]] == [
        ("35000.00000000", "5.00000000", "USDT"),
        ("30000.00000000", "5.00000000", "USDT"),
    ]
    balances = (await me.admin("balances?account=demo"))["demo"]
    assert balances["USDT"]["free"] == "724675.00000000"  # 400,000 + 325,000 - 10 bps


async def test_gtc_rest_rests_on_its_own_book_then_trades(me: Api, maker: Api) -> None:
    await _book(maker, "SELL", (("BTCUSDC", "1", "28000"),))
    placed = await me.post(
        "/api/v3/sor/order",
        _sor("BUY", "LIMIT", "3", price="29000", newOrderRespType="RESULT"),
        signed=True,
    )
    body = placed.body
    assert (body["status"], body["executedQty"], body["workingFloor"]) == (
        "PARTIALLY_FILLED",
        "1.00000000",
        "EXCHANGE",
    )
    assert "fills" not in body
    depth = await me.get("/api/v3/depth", {"symbol": "BTCUSDT"})
    assert depth.body["bids"] == [["29000.00000000", "2.00000000"]]
    hit = await maker.order(
        symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="IOC", quantity="2", price="29000"
    )
    assert hit.body["status"] == "FILLED"
    trades = (await me.get("/api/v3/myTrades", {"symbol": "BTCUSDT"}, signed=True)).body
    assert [(t["orderId"], t["qty"], t["isMaker"]) for t in trades] == [
        (body["orderId"], "2.00000000", True)
    ]
    query = await me.get(
        "/api/v3/order", {"symbol": "BTCUSDT", "orderId": body["orderId"]}, signed=True
    )
    assert (query.body["status"], query.body["workingFloor"]) == ("FILLED", "EXCHANGE")


@pytest.mark.parametrize(
    ("tif", "status", "executed", "reason"),
    [
        ("IOC", "EXPIRED", "2.00000000", "UNFILLED_IOC_QUANTITY_EXPIRED"),
        ("FOK", "EXPIRED", "0.00000000", "UNFILLED_FOK_ORDER_EXPIRED"),
    ],
)
async def test_ioc_and_fok(
    me: Api, maker: Api, tif: str, status: str, executed: str, reason: str
) -> None:
    await _book(maker, "SELL", (("BTCUSDC", "1", "28000"), ("BTCUSDP", "1", "28500")))
    params = _sor("BUY", "LIMIT", "3", price="29000", timeInForce=tif)
    body = (await me.post("/api/v3/sor/order", params, signed=True)).body
    assert (body["status"], body["executedQty"], body["expiryReason"]) == (status, executed, reason)
    # FOK fills when the SOR's books together hold the quantity
    fok = _sor("BUY", "LIMIT", "2", price="29000", timeInForce="FOK")
    filled = (await me.post("/api/v3/sor/order", fok, signed=True)).body
    assert filled["status"] == ("FILLED" if tif == "FOK" else "EXPIRED")


@pytest.mark.parametrize(
    ("params", "status", "code", "text"),
    [
        ({"symbol": "ETHUSDT"}, 400, -1013, "This symbol has no SOR."),
        ({"type": "STOP_LOSS", "stopPrice": "29000"}, 400, -1104, msg(-1104, 1, 6, 7)),
        ({"type": "LIMIT_MAKER"}, 400, -1116, msg(-1116)),
        ({"quoteOrderQty": "100"}, 400, -1104, msg(-1104, 1, 6, 7)),
        ({"quantity": "0.000001"}, 400, -1013, "Filter failure: LOT_SIZE"),
        (
            {"type": "LIMIT", "timeInForce": "GTC", "price": "29000", "quantity": "100"},
            400,
            -2010,
            "Account has insufficient balance for requested action.",
        ),
        ({"timeInForce": "GTC"}, 400, -1106, msg(-1106, 1, "timeInForce")),
    ],
)
async def test_refusals(me: Api, params: dict[str, str], status: int, code: int, text: str) -> None:
    order = {**_sor("BUY", "MARKET", "1"), **params}
    if order["type"] == "LIMIT_MAKER":
        order["price"] = "29000"
    reply = await me.post("/api/v3/sor/order", order, signed=True)
    assert (reply.status, reply.code, reply.msg) == (status, code, text)
    assert await me.admin("orders?account=demo") == []


async def test_missing_quantity(me: Api) -> None:
    reply = await me.post(
        "/api/v3/sor/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET"}, signed=True
    )
    assert (reply.code, reply.msg) == (-1102, msg(-1102, 1, "quantity"))


async def test_test_endpoint(me: Api, registry: Registry) -> None:  # noqa: F811
    order = _sor("BUY", "LIMIT", "1", price="29000")
    plain = await me.post("/api/v3/sor/order/test", order, signed=True)
    assert (plain.status, plain.body, plain.headers["X-MBX-USED-WEIGHT-1M"]) == (200, {}, "1")
    check(registry, plain, "/api/v3/sor/order/test", "POST")
    rates = await me.post(
        "/api/v3/sor/order/test", {**order, "computeCommissionRates": "true"}, signed=True
    )
    assert rates.headers["X-MBX-USED-WEIGHT-1M"] == "21"
    assert set(rates.body) == {"standardCommissionForOrder", "taxCommissionForOrder", "discount"}
    assert rates.body["standardCommissionForOrder"]["taker"] == "0.00100000"
    no_sor = await me.post("/api/v3/sor/order/test", {**order, "symbol": "ETHUSDT"}, signed=True)
    assert (no_sor.code, no_sor.msg) == (-1013, "This symbol has no SOR.")
    assert await me.admin("orders?account=demo") == []


async def test_websocket_api(sor: Simulator, session: aiohttp.ClientSession, maker: Api) -> None:
    await _book(maker, "SELL", (("BTCUSDC", "1", "28000"),))
    ed_key = sor.config.demo.keys[1].api_key
    ws = await session.ws_connect(sor.ws_url + "/ws-api/v3")
    client = WsApi(ws, ed_key, private_key=demo_ed25519_private(0))
    async with ws:
        assert (await client.call("session.logon", {"apiKey": ed_key}, signed=True))[
            "status"
        ] == 200
        assert (await client.call("userDataStream.subscribe"))["status"] == 200
        now = int(time.time() * 1000)
        tested = await client.call(
            "sor.order.test",
            {**_sor("BUY", "MARKET", "1"), "computeCommissionRates": True, "timestamp": now},
        )
        assert tested["status"] == 200 and "discount" in tested["result"], tested
        assert tested["rateLimits"][-1]["count"] == 2 + 2 + 2 + 20  # connect, logon, subscribe
        placed = await client.call(
            "sor.order.place", {**_sor("BUY", "MARKET", "1"), "timestamp": now}
        )
        assert placed["status"] == 200, placed
        (order,) = placed["result"]
        assert (order["status"], order["workingFloor"], order["usedSor"]) == ("FILLED", "SOR", True)
        assert order["fills"][0]["allocId"] == 0
        assert placed["rateLimits"][0]["rateLimitType"] == "ORDERS"
        reports = []
        while len(reports) < 2:
            event = (await client.event())["event"]
            if event["e"] == "executionReport":
                reports.append(event)
        new, alloc = reports
        assert (new["x"], new["k"], new["uS"]) == ("NEW", "SOR", True)
        assert (alloc["x"], alloc["t"], alloc["b"], alloc["a"]) == (
            "TRADE",
            -1,
            "ONE_PARTY_TRADE_REPORT",
            0,
        )
        assert (alloc["l"], alloc["L"], alloc["X"]) == ("1.00000000", "28000.00000000", "FILLED")


async def _plan(api: Api, *rules: dict[str, Any]) -> None:
    await api.admin("faults", "POST", json.dumps({"rules": list(rules)}))


async def test_placed_then_reset(me: Api, maker: Api) -> None:
    await _book(maker, "SELL", (("BTCUSDC", "1", "28000"),))
    await _plan(me, {"action": "reset_after", "path": "/api/v3/sor/order", "times": 1})
    with pytest.raises(DROPPED):
        await me.post(
            "/api/v3/sor/order", _sor("BUY", "MARKET", "1", newClientOrderId="lost"), signed=True
        )
    (truth,) = await me.admin("orders?account=demo")
    assert (truth["clientOrderId"], truth["status"], truth["usedSor"]) == ("lost", "FILLED", True)
    found = await me.get(
        "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "lost"}, signed=True
    )
    assert found.body["orderId"] == truth["orderId"]


@pytest.mark.parametrize(("executed", "code"), [(True, -1007), (False, -1006)])
async def test_5xx_executed_or_not(me: Api, executed: bool, code: int) -> None:
    rule = {"action": "error", "status": 503 if code == -1006 else 408, "code": code}
    await _plan(me, {**rule, "path": "/api/v3/sor/order", "executed": executed, "times": 1})
    reply = await me.post(
        "/api/v3/sor/order", _sor("BUY", "LIMIT", "1", price="29000"), signed=True
    )
    assert reply.code == code
    assert len(await me.admin("orders?account=demo")) == (1 if executed else 0)


async def test_websocket_placed_then_error(
    sor: Simulator, session: aiohttp.ClientSession, me: Api
) -> None:
    await _plan(
        me,
        {
            "action": "ws_error",
            "method": "sor.order.place",
            "path": "/ws-api/v3",
            "executed": True,
            "status": 500,
            "code": -1006,
        },
    )
    key = sor.config.demo.keys[0]
    ws = await session.ws_connect(sor.ws_url + "/ws-api/v3")
    client = WsApi(ws, key.api_key, key.secret)
    async with ws:
        reply = await client.call(
            "sor.order.place", _sor("BUY", "LIMIT", "1", price="29000"), signed=True
        )
        assert (reply["status"], reply["error"]["code"]) == (500, -1006)
    (truth,) = await me.admin("orders?account=demo")
    assert (truth["status"], truth["workingFloor"]) == ("NEW", "EXCHANGE")


async def test_real_clients(sor: Simulator, maker: Api) -> None:
    """ccxt's `create_order(..., params={"sor": True})` and python-binance's `v3_post_sor_order`
    (test-only dependencies), unchanged but for their URLs (peers.py)."""
    ccxt = pytest.importorskip("ccxt.async_support")
    binance = pytest.importorskip("binance")
    await _book(maker, "SELL", (("BTCUSDC", "1", "28000"), ("BTCUSDP", "1", "28500")))
    key = sor.config.demo.keys[0]
    ex = ccxt.binance({"apiKey": key.api_key, "secret": key.secret, "enableRateLimit": False})
    point_ccxt(ex, sor.url)
    try:
        await ex.load_markets()
        order = await ex.create_order("BTC/USDT", "limit", "buy", 1, 29000, params={"sor": True})
    finally:
        await ex.close()
    assert (order["status"], order["filled"], order["average"]) == ("closed", 1.0, 28000.0)
    assert order["info"]["usedSor"] is True
    client = point_python_binance(binance.AsyncClient(key.api_key, key.secret), sor.url)
    try:
        placed = await client.v3_post_sor_order(
            symbol="BTCUSDT", side="BUY", type="MARKET", quantity="1"
        )
    finally:
        await client.close_connection()
    assert [f["allocId"] for f in placed["fills"]] == [1]
    truth = sor.state.engine.allocations["demo"]
    assert [(a.order_id, a.price) for a in truth] == [
        (int(order["id"]), 28000 * 10**8),
        (placed["orderId"], 28500 * 10**8),
    ]


async def test_my_allocations_queries(me: Api, maker: Api, sor: Simulator) -> None:
    await _book(maker, "SELL", ASKS)
    first = (await me.post("/api/v3/sor/order", _sor("BUY", "MARKET", "2"), signed=True)).body
    second = (await me.post("/api/v3/sor/order", _sor("BUY", "MARKET", "2"), signed=True)).body

    async def ids(**params: Any) -> list[int]:
        reply = await me.get("/api/v3/myAllocations", {"symbol": "BTCUSDT", **params}, signed=True)
        assert reply.status == 200, reply.body
        return [a["allocationId"] for a in reply.body]

    assert await ids() == [0, 1, 2, 3]  # 28000, 29000 for the first; 30000, 30500 the second
    assert await ids(orderId=second["orderId"]) == [2, 3]
    assert await ids(orderId=first["orderId"], fromAllocationId=1) == [1]
    assert await ids(fromAllocationId=1, limit=1) == [1]
    now = sor.state.clock.now_ms()
    assert await ids(startTime=now - 60_000, endTime=now + 1000) == [0, 1, 2, 3]
    assert await ids(endTime=now + 1000, limit=2) == [2, 3]  # the newest until endTime
    assert await ids(startTime=now + 60_000) == []
    assert await ids(symbol="BTCUSDC") == []
    long = await me.get(
        "/api/v3/myAllocations",
        {"symbol": "BTCUSDT", "startTime": 0, "endTime": 86_400_001},
        signed=True,
    )
    assert (long.code, long.msg) == (-1127, msg(-1127, 1, 24))
    mixed = await me.get(
        "/api/v3/myAllocations", {"symbol": "BTCUSDT", "startTime": 0, "orderId": 1}, signed=True
    )
    assert mixed.code == -1128


async def test_stp_leaves_a_book_with_an_own_order(me: Api, maker: Api) -> None:
    """With an STP mode, the routed take stops before the account's own resting order (the
    simulator's simplification, engine/sor.py): the book is left out, the order takes elsewhere."""
    own = await me.order(
        symbol="BTCUSDC", side="SELL", type="LIMIT", timeInForce="GTC", quantity="1", price="28000"
    )
    assert own.body["status"] == "NEW"
    await _book(maker, "SELL", (("BTCUSDP", "1", "29000"),))
    params = _sor("BUY", "LIMIT", "1", price="30000", selfTradePreventionMode="EXPIRE_TAKER")
    body = (await me.post("/api/v3/sor/order", params, signed=True)).body
    assert (body["status"], [f["price"] for f in body["fills"]]) == ("FILLED", ["29000.00000000"])
    assert (await me.get("/api/v3/depth", {"symbol": "BTCUSDC"})).body["asks"] == [
        ["28000.00000000", "1.00000000"]
    ]


def test_config_knob() -> None:
    spec = {"symbol": "BTCUSDC", "base": "BTC", "quote": "USDC", "initial_price": "30000"}
    config = SimConfig.from_mapping({"symbols": [{**spec, "sor": True}]})
    assert config.symbols[0].sor is True
    with pytest.raises(ValueError, match="sor must be true or false"):
        SimConfig.from_mapping({"symbols": [{**spec, "sor": "yes"}]})


async def test_own_book_left_by_routing_is_met_before_resting(me: Api, maker: Api) -> None:
    """The routing leaves the order's own book at the account's own ask (STP EXPIRE_MAKER); the
    order then meets that book as any order does: the own ask expires in match (a prevented
    match), the maker's ask behind it trades, and what rests does not cross the book."""
    own = await me.order(
        symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC", quantity="1", price="28000"
    )
    await _book(maker, "SELL", (("BTCUSDT", "1", "28000"), ("BTCUSDC", "1", "29000")))
    params = _sor("BUY", "LIMIT", "3", price="30000", selfTradePreventionMode="EXPIRE_MAKER")
    body = (await me.post("/api/v3/sor/order", params, signed=True)).body
    assert (body["status"], body["executedQty"], body["workingFloor"]) == (
        "PARTIALLY_FILLED",
        "2.00000000",
        "EXCHANGE",
    )
    fills = [(f["price"], f["tradeId"] == -1) for f in body["fills"]]
    assert fills == [("29000.00000000", True), ("28000.00000000", False)]  # allocation, trade
    depth = (await me.get("/api/v3/depth", {"symbol": "BTCUSDT"})).body
    assert (depth["bids"], depth["asks"]) == ([["30000.00000000", "1.00000000"]], [])
    query = {"symbol": "BTCUSDT", "orderId": own.body["orderId"]}
    assert (await me.get("/api/v3/order", query, signed=True)).body["status"] == "EXPIRED_IN_MATCH"
    prevented = await me.get("/api/v3/myPreventedMatches", query, signed=True)
    assert [m["takerOrderId"] for m in prevented.body] == [body["orderId"]]


def test_random_walk_keeps_books_and_funds() -> None:
    """A seeded random walk through the engine (in-process: the engine's bookkeeping, one layer,
    no sockets): resting orders of both accounts on two SOR books, SOR orders of every kind with
    random STP modes, cancels. Commission 0, so after every step the base asset and the two
    interchangeable quote assets together are conserved across the accounts, each account's
    locked funds are what its open orders hold, each level adds up, and no book is crossed."""
    from binguard.sim.clock import ServerClock
    from binguard.sim.config import STP_MODES
    from binguard.sim.engine import Engine
    from binguard.sim.errors import SimError

    from .test_book_invariants import _check

    free = {"demo": {"BTC": "50", "USDT": "2000000"}, "maker": {"BTC": "50", "USDC": "2000000"}}
    accounts = tuple(
        dataclasses.replace(a, balances=free[a.name], maker_bps=0, taker_bps=0)
        for a in CONFIG.accounts
    )
    engine = Engine(CONFIG.with_(accounts=accounts), ServerClock())
    rng = random.Random(11)

    def totals() -> tuple[int, int]:
        base = quote = 0
        for name in free:
            acct = engine.accounts[name]
            base += acct.free["BTC"] + acct.locked["BTC"]
            quote += sum(acct.free[q] + acct.locked[q] for q in ("USDT", "USDC"))
        return base, quote

    start = totals()
    for _ in range(1500):
        side = rng.choice(("BUY", "SELL"))
        price = (29990 + rng.randrange(20)) * 10**8
        qty = rng.randrange(1, 40) * 10**5
        roll = rng.random()
        try:
            if roll < 0.5:
                account, symbol = rng.choice((("demo", "BTCUSDT"), ("maker", "BTCUSDC")))
                stp = rng.choice(STP_MODES)
                engine.place(account, symbol, side, "LIMIT", "GTC", qty, None, price, None, stp)
            elif roll < 0.9:
                kind, tif = rng.choice((("LIMIT", "GTC"), ("LIMIT", "IOC"), ("LIMIT", "FOK"),
                                        ("MARKET", "GTC")))  # fmt: skip
                rules = engine.symbol_rules("BTCUSDT")
                engine.place_sor(
                    "demo", "BTCUSDT", side, kind, tif, qty, price if kind == "LIMIT" else None,
                    None, rng.choice(STP_MODES), rules,
                )  # fmt: skip
            else:
                opened = engine.open_orders("demo", "BTCUSDT")
                if opened:
                    engine.cancel("demo", "BTCUSDT", rng.choice(opened).order_id, None)
        except SimError:
            pass  # a refusal (funds, ...) changes nothing
        assert totals() == start
        for name, quote in (("demo", "USDT"), ("maker", "USDC")):
            acct, mine = engine.accounts[name], engine.open_orders(name)
            assert acct.locked["BTC"] == sum(o.locked for o in mine if o.side == "SELL")
            assert acct.locked[quote] == sum(o.locked for o in mine if o.side == "BUY")
        for symbol in ("BTCUSDT", "BTCUSDC"):
            book = engine.books[symbol]
            _check(book.bids)
            _check(book.asks)
            bid, ask = book.bids.best(), book.asks.best()
            assert bid is None or ask is None or bid < ask, symbol
    assert engine.allocations["demo"]  # the walk did route
