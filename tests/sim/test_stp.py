"""Self-trade prevention, every mode of enums.md §STP Modes (the STP FAQ), over loopback REST:
the orders' statuses, `preventedMatchId` / `preventedQuantity`, GET /api/v3/myPreventedMatches,
the executionReport of an expired order, and a mode the symbol does not allow (-1013).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from binguard.sim import Simulator
from binguard.sim.config import SymbolSpec

from .conftest import EMPTY
from .helpers import Api, WsApi, new_order, order_status

Q = "0.01000000"


async def _self_cross(me: Api, mode: str, taker_qty: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A resting SELL of 0.01 at 30000, then a BUY at 30000 of the same account with `mode`."""
    maker = await me.order(**new_order("SELL", "LIMIT", "0.01", price="30000"))
    assert maker.status == 200, maker.body
    taker = await me.order(
        **new_order("BUY", "LIMIT", taker_qty, price="30000"),
        selfTradePreventionMode=mode,
        newOrderRespType="RESULT",
    )
    assert taker.status == 200, taker.body
    return await order_status(me, maker.body["orderId"]), taker.body


async def test_expire_taker(me: Api) -> None:
    maker, taker = await _self_cross(me, "EXPIRE_TAKER", "0.01")
    assert (taker["status"], taker["preventedMatchId"], taker["preventedQuantity"]) == (
        "EXPIRED_IN_MATCH",
        1,
        Q,
    )
    assert taker["executedQty"] == "0.00000000"
    assert maker["status"] == "NEW" and "preventedMatchId" not in maker
    matches = await me.get(
        "/api/v3/myPreventedMatches", {"symbol": "BTCUSDT", "preventedMatchId": 1}, signed=True
    )
    (row,) = matches.body
    assert row == {
        "symbol": "BTCUSDT",
        "preventedMatchId": 1,
        "takerOrderId": taker["orderId"],
        "makerSymbol": "BTCUSDT",
        "makerOrderId": maker["orderId"],
        "tradeGroupId": -1,
        "selfTradePreventionMode": "EXPIRE_TAKER",
        "price": "30000.00000000",
        "takerPreventedQuantity": Q,
        "transactTime": row["transactTime"],
    }


async def test_expire_maker(me: Api) -> None:
    maker, taker = await _self_cross(me, "EXPIRE_MAKER", "0.01")
    assert (maker["status"], maker["preventedQuantity"]) == ("EXPIRED_IN_MATCH", Q)
    assert taker["status"] == "NEW"  # nothing else to match: it rests
    by_order = await me.get(
        "/api/v3/myPreventedMatches",
        {"symbol": "BTCUSDT", "orderId": maker["orderId"]},
        signed=True,
    )
    assert [r["makerPreventedQuantity"] for r in by_order.body] == [Q]


async def test_expire_both(me: Api) -> None:
    maker, taker = await _self_cross(me, "EXPIRE_BOTH", "0.01")
    assert maker["status"] == taker["status"] == "EXPIRED_IN_MATCH"
    assert maker["preventedMatchId"] == taker["preventedMatchId"] == 1


@pytest.mark.parametrize("mode", ["DECREMENT", "TRANSFER"])
async def test_decrement_and_transfer_within_one_account(me: Api, mode: str) -> None:
    maker, taker = await _self_cross(me, mode, "0.004")
    assert (taker["status"], taker["preventedQuantity"]) == ("EXPIRED_IN_MATCH", "0.00400000")
    assert (maker["status"], maker["preventedQuantity"]) == ("NEW", "0.00400000")
    depth = await me.get("/api/v3/depth", {"symbol": "BTCUSDT"})
    assert depth.body["asks"] == [["30000.00000000", "0.00600000"]]
    account = await me.get("/api/v3/account", signed=True)
    (btc,) = [b for b in account.body["balances"] if b["asset"] == "BTC"]
    assert btc["locked"] == "0.00600000"  # the prevented part of the resting SELL is free


async def test_none_trades_with_itself_and_other_accounts_never_prevent(me: Api, them: Api) -> None:
    maker, taker = await _self_cross(me, "NONE", "0.01")
    assert maker["status"] == taker["status"] == "FILLED"
    other = await them.order(**new_order("SELL", "LIMIT", "0.01", price="30000"))
    assert other.status == 200
    mine = await me.order(
        **new_order("BUY", "LIMIT", "0.01", price="30000"), selfTradePreventionMode="EXPIRE_BOTH"
    )
    assert mine.body["status"] == "FILLED"


async def test_prevented_match_query_combinations(me: Api) -> None:
    bad = await me.get("/api/v3/myPreventedMatches", {"symbol": "BTCUSDT"}, signed=True)
    assert bad.code == -1128


async def test_execution_report_of_an_expired_in_matchnew_order(
    empty: Simulator, session: aiohttp.ClientSession
) -> None:
    key = empty.config.demo.keys[0]
    ws = await session.ws_connect(empty.ws_url + "/ws-api/v3")
    client = WsApi(ws, key.api_key, key.secret)
    async with ws:
        await client.call("userDataStream.subscribe.signature", {}, signed=True)
        await client.call(
            "order.place", new_order("SELL", "LIMIT", "0.01", price="30000"), signed=True
        )
        placed = await client.call(
            "order.place",
            {
                **new_order("BUY", "LIMIT", "0.01", price="30000"),
                "selfTradePreventionMode": "EXPIRE_TAKER",
            },
            signed=True,
        )
        assert placed["result"]["status"] == "EXPIRED_IN_MATCH", placed
        reports = []
        while len(reports) < 3:
            event = (await client.event())["event"]
            if event["e"] == "executionReport":
                reports.append(event)
        last = reports[-1]
        assert (last["x"], last["X"], last["v"], last["A"], last["B"], last["u"]) == (
            "TRADE_PREVENTION",
            "EXPIRED_IN_MATCH",
            1,
            Q,
            Q,
            -1,
        )
        # an IOC that finds nothing expires with its reason in `eR` (CHANGELOG 2026-03-09)
        ioc = {**new_order("BUY", "LIMIT", "0.01", price="29000"), "timeInForce": "IOC"}
        await client.call("order.place", ioc, signed=True)
        while True:
            event = (await client.event())["event"]
            if event["e"] == "executionReport" and event["x"] == "EXPIRED":
                break
        assert event["eR"] == "UNFILLED_IOC_QUANTITY_EXPIRED"


async def test_a_mode_the_symbol_does_not_allow(session: aiohttp.ClientSession) -> None:
    spec = SymbolSpec(
        "BTCUSDT", "BTC", "USDT", initial_price="30000.00",
        allowed_stp_modes=("NONE", "EXPIRE_TAKER"), default_stp_mode="EXPIRE_TAKER",
    )  # fmt: skip
    async with Simulator(EMPTY.with_(symbols=(spec,))) as sim:
        key = sim.config.demo.keys[0]
        api = Api(session, sim.url, key.api_key, key.secret)
        refused = await api.order(
            **new_order("BUY", "LIMIT", "0.01", price="29000"),
            selfTradePreventionMode="EXPIRE_BOTH",
        )
        # the STP FAQ's text, not -1130
        assert (refused.status, refused.code, refused.msg) == (
            400,
            -1013,
            "This symbol does not allow the specified self-trade prevention mode.",
        )
        default = await api.order(**new_order("BUY", "LIMIT", "0.01", price="29000"))
        assert default.body["selfTradePreventionMode"] == "EXPIRE_TAKER"
        info = await api.get("/api/v3/exchangeInfo", {"symbol": "BTCUSDT"})
        sym = info.body["symbols"][0]
        assert sym["allowedSelfTradePreventionModes"] == ["NONE", "EXPIRE_TAKER"]
        assert sym["defaultSelfTradePreventionMode"] == "EXPIRE_TAKER"
        assert sim.bugs == []


async def test_account_queries(me: Api) -> None:
    rates = await me.get("/api/v3/account/commission", {"symbol": "BTCUSDT"}, signed=True)
    assert rates.body["standardCommission"]["maker"] == "0.00100000"
    assert rates.body["discount"]["discountAsset"] == "BNB"
    filters = await me.get("/api/v3/myFilters", {"symbol": "BTCUSDT"}, signed=True)
    types = [f["filterType"] for f in filters.body["symbolFilters"]]
    assert "MAX_NUM_ORDERS" in types and "MAX_NUM_ORDER_LISTS" in types
    allocations = await me.get("/api/v3/myAllocations", {"symbol": "BTCUSDT"}, signed=True)
    assert allocations.body == []
