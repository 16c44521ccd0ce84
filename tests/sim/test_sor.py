"""Smart Order Routing over loopback (rest-api.md §SOR, faqs/sor_faq.md): the FAQ's four
examples on its three books (sor_setup.py), exchangeInfo `sors`, allocations in myAllocations,
what the taker phase leaves (rest, expire, FOK), self-trade prevention, the errors and the test
endpoint's weights, replies validated against binance-spot-openapi.yaml where it has them; and a
seeded in-process random walk holding the engine's books and funds (test_sor_wire.py: the
WebSocket API, faults, real clients).
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest
from referencing import Registry

from binguard.sim import SimConfig, Simulator

from .helpers import Api, msg
from .sor_setup import ASKS, BIDS, CONFIG, SOR_SYMBOLS, book, maker, me, sor, sor_order
from .test_openapi import check, registry  # noqa: F401  (the session fixture)

__all__ = ["maker", "me", "sor"]  # fixtures, used by name


def _fills(body: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return [(f["price"], f["qty"], f["tradeId"], f["allocId"]) for f in body["fills"]]


async def test_exchange_info_lists_the_sor(me: Api, sim: Simulator, api: Api) -> None:
    info = (await me.get("/api/v3/exchangeInfo")).body
    assert info["sors"] == [{"baseAsset": "BTC", "symbols": list(SOR_SYMBOLS)}]
    # "Optional field. Present only when SOR is available." (the default symbols have none)
    assert "sors" not in (await api.get("/api/v3/exchangeInfo")).body


async def test_faq_example_2_limit_buy(me: Api, maker: Api, registry: Registry) -> None:  # noqa: F811
    await book(maker, "SELL", ASKS)
    placed = await me.post(
        "/api/v3/sor/order", sor_order("BUY", "LIMIT", "5", price="31000"), signed=True
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
    await book(maker, "SELL", ASKS)
    placed = await me.post("/api/v3/sor/order", sor_order("BUY", "MARKET", "11"), signed=True)
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
    await book(maker, "BUY", BIDS)
    placed = await me.post(
        "/api/v3/sor/order", sor_order("SELL", "LIMIT", "10", price="29000"), signed=True
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
    await book(maker, "SELL", (("BTCUSDC", "1", "28000"),))
    placed = await me.post(
        "/api/v3/sor/order",
        sor_order("BUY", "LIMIT", "3", price="29000", newOrderRespType="RESULT"),
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
    await book(maker, "SELL", (("BTCUSDC", "1", "28000"), ("BTCUSDP", "1", "28500")))
    params = sor_order("BUY", "LIMIT", "3", price="29000", timeInForce=tif)
    body = (await me.post("/api/v3/sor/order", params, signed=True)).body
    assert (body["status"], body["executedQty"], body["expiryReason"]) == (status, executed, reason)
    # FOK fills when the SOR's books together hold the quantity
    fok = sor_order("BUY", "LIMIT", "2", price="29000", timeInForce="FOK")
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
    order = {**sor_order("BUY", "MARKET", "1"), **params}
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
    order = sor_order("BUY", "LIMIT", "1", price="29000")
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


async def test_my_allocations_queries(me: Api, maker: Api, sor: Simulator) -> None:
    await book(maker, "SELL", ASKS)
    first = (await me.post("/api/v3/sor/order", sor_order("BUY", "MARKET", "2"), signed=True)).body
    second = (await me.post("/api/v3/sor/order", sor_order("BUY", "MARKET", "2"), signed=True)).body

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
    await book(maker, "SELL", (("BTCUSDP", "1", "29000"),))
    params = sor_order("BUY", "LIMIT", "1", price="30000", selfTradePreventionMode="EXPIRE_TAKER")
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
    await book(maker, "SELL", (("BTCUSDT", "1", "28000"), ("BTCUSDC", "1", "29000")))
    params = sor_order("BUY", "LIMIT", "3", price="30000", selfTradePreventionMode="EXPIRE_MAKER")
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
