"""Terminal orders stay queryable for a horizon and a count, then answer -2026 ORDER_ARCHIVED.

binguard/sim/engine/retention.py: an order that ended is evicted once it ended over
`horizon_s` ago AND its account keeps over `max_orders` terminal orders; open orders never are.
An evicted order answers exactly as Binance answers for an archived one (errors.md -2026, HTTP
400, the catalog's text) on GET /api/v3/order and WebSocket API `order.status`, by orderId and
by origClientOrderId; an order that never existed still answers -2013.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from binguard.connector.options import ConnectorOptions
from binguard.sim import SimConfig, Simulator
from binguard.sim.config import RetentionConfig
from binguard.sim.engine.core import INTERNAL_ACCOUNT

from .conftest import QUIET
from .helpers import Api, WsApi, msg

ARCHIVED = (400, -2026, msg(-2026))
UNKNOWN = (400, -2013, msg(-2013))
HORIZON_S = 10.0


def ioc(i: int) -> dict[str, str]:
    """A BUY far below the book: IOC, so it EXPIRES at once (a terminal order)."""
    return {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "IOC",
        "quantity": "0.001",
        "price": "20000",
        "newClientOrderId": f"r{i}",
    }


@pytest.fixture
async def rsim() -> AsyncIterator[Simulator]:
    config = QUIET.with_(retention=RetentionConfig(horizon_s=HORIZON_S, max_orders=2))
    async with Simulator(config) as s:
        yield s
        assert s.bugs == []


@pytest.fixture
def rapi(rsim: Simulator, session: aiohttp.ClientSession) -> Api:
    key = rsim.config.demo.keys[0]
    return Api(session, rsim.url, key.api_key, key.secret)


def jump(sim: Simulator, api: Api, seconds: float) -> None:
    """Move the server clock (and the client's timestamps with it) past the horizon."""
    sim.state.clock.jump(seconds * 1000)
    api.clock_offset_ms += int(seconds * 1000)


async def status(api: Api, **ref: object) -> tuple[int, int | None, str | None]:
    reply = await api.get("/api/v3/order", {"symbol": "BTCUSDT", **ref}, signed=True)
    return reply.status, reply.code, reply.msg


async def test_evicted_order_answers_2026_by_id_and_client_id(rsim: Simulator, rapi: Api) -> None:
    ids = []
    for i in range(4):
        reply = await rapi.order(**ioc(i))
        assert reply.body["status"] == "EXPIRED"
        ids.append(reply.body["orderId"])
    # within the horizon nothing goes, whatever the count
    assert rsim.state.engine.retention.retained == 4
    assert (await status(rapi, orderId=ids[0]))[0] == 200
    jump(rsim, rapi, HORIZON_S + 1)
    # past the horizon the account keeps its last 2 terminal orders
    for i in (0, 1):
        assert await status(rapi, orderId=ids[i]) == ARCHIVED
        assert await status(rapi, origClientOrderId=f"r{i}") == ARCHIVED
    for i in (2, 3):
        assert (await status(rapi, orderId=ids[i]))[0] == 200
        assert (await status(rapi, origClientOrderId=f"r{i}"))[0] == 200
    assert rsim.state.engine.retention.retained == 2
    assert rsim.state.engine.retention.evicted == 2
    # never placed: still "does not exist"
    assert await status(rapi, orderId=ids[-1] + 1000) == UNKNOWN
    assert await status(rapi, origClientOrderId="never-sent") == UNKNOWN


async def test_open_orders_are_never_evicted(rsim: Simulator, rapi: Api) -> None:
    resting = await rapi.order(**{**ioc(9), "timeInForce": "GTC"})
    assert resting.body["status"] == "NEW"
    for i in range(5):
        await rapi.order(**ioc(i))
    jump(rsim, rapi, HORIZON_S + 1)
    await rapi.order(**ioc(5))  # ends now: triggers eviction of the old terminal ones
    assert (await status(rapi, orderId=resting.body["orderId"]))[0] == 200
    open_now = await rapi.get("/api/v3/openOrders", {"symbol": "BTCUSDT"}, signed=True)
    assert [o["orderId"] for o in open_now.body] == [resting.body["orderId"]]
    # canceled, it is terminal like the others: kept for the horizon, then archived
    cancel = await rapi.delete(
        "/api/v3/order", {"symbol": "BTCUSDT", "orderId": resting.body["orderId"]}, signed=True
    )
    assert cancel.body["status"] == "CANCELED"
    for i in range(6, 9):
        await rapi.order(**ioc(i))
    jump(rsim, rapi, HORIZON_S + 1)
    assert await status(rapi, orderId=resting.body["orderId"]) == ARCHIVED


async def test_ws_api_order_status_answers_2026(rsim: Simulator, rapi: Api) -> None:
    ids = [(await rapi.order(**ioc(i))).body["orderId"] for i in range(3)]
    jump(rsim, rapi, HORIZON_S + 1)
    key = rsim.config.demo.keys[0]
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(rsim.ws_url + "/ws-api/v3")
        api = WsApi(ws, key.api_key, key.secret)
        now_ms = int(time.time() * 1000) + rapi.clock_offset_ms
        for ref in ({"orderId": ids[0]}, {"origClientOrderId": "r0"}):
            params = api.signed({"symbol": "BTCUSDT", "timestamp": now_ms, **ref})
            answer = await api.call("order.status", params)
            assert answer["status"] == 400, answer
            assert answer["error"] == {"code": -2026, "msg": msg(-2026)}
        kept = api.signed({"symbol": "BTCUSDT", "timestamp": now_ms, "orderId": ids[2]})
        assert (await api.call("order.status", kept))["status"] == 200
        await ws.close()


def test_retained_counts_stay_bounded_under_any_number_of_orders() -> None:
    """50,000 terminal orders (engine level, in process; 5,000 of them filled) on a 100-order,
    0 s rule: every index stays at the bound; the crowd's own orders are forgotten as they end."""
    config = QUIET.with_(retention=RetentionConfig(horizon_s=0, max_orders=100))
    sim = Simulator(config)
    engine = sim.state.engine
    clock_ms = [engine.clock.now_ms()]
    engine.clock.now_ms = lambda: clock_ms[0]  # type: ignore[method-assign]
    for i in range(50_000):
        clock_ms[0] += 1  # each order ends in its own millisecond
        if i % 10:
            engine.place("demo", "BTCUSDT", "BUY", "LIMIT", "IOC", 100_000, None, 2 * 10**12)
        else:  # a MARKET sell of 0.0002 BTC fills against the crowd: trades for myTrades
            engine.place("demo", "BTCUSDT", "SELL", "MARKET", "GTC", 20_000, None, None)
        if i % 1000 == 0:  # the crowd trades too: its orders end and must not pile up
            sim.state.crowd.step()
    retention = engine.retention
    assert retention.retained == 100
    assert retention.evicted == 49_900
    open_orders = sum(len(o) for o in engine.open.values())  # the crowd's resting book
    assert sum(len(h) for h in engine.history.values()) == 100 + open_orders
    assert len(engine.by_client_id) <= 100 + open_orders
    crowd_kept = len(engine.history.get((INTERNAL_ACCOUNT, "BTCUSDT"), {}))
    assert crowd_kept == len(engine.open.get((INTERNAL_ACCOUNT, "BTCUSDT"), {}))
    assert len(engine.account_trades["demo"]) == 100


def test_defaults_outlast_the_connectors_reconcile_window() -> None:
    """The defaults' reason (config.RetentionConfig): an order whose answer was lost is found
    for the whole reconcile deadline, with room to spare."""
    retention = SimConfig().retention
    options = ConnectorOptions()
    assert retention.horizon_s >= 5 * options.reconcile_deadline
    assert retention.max_orders >= 10_000


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"horizon_s": -1}, "horizon_s must be a finite number >= 0, not -1"),
        ({"horizon_s": "1h"}, "horizon_s must be float, not '1h'"),
        ({"max_orders": 1.5}, "max_orders must be int, not 1.5"),
        ({"max_orders": -3}, "max_orders must be a finite number >= 0, not -3"),
        ({"max_order": 3}, "unknown RetentionConfig keys"),
    ],
)
def test_bad_retention_config_is_refused(data: dict[str, object], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        SimConfig.from_mapping({"retention": data})


async def test_orders_since_an_order_id_is_an_incremental_view() -> None:
    """`/_sim/orders?since=N` lists only orders with ids above N (what a poller needs), and a
    bad `since` is a 400 with a one-line reason."""
    async with Simulator(QUIET) as sim, aiohttp.ClientSession() as session:
        key = sim.config.demo.keys[0]
        api = Api(session, sim.url, key.api_key, key.secret)
        ids = []
        for price in ("20000", "20001", "20002"):
            reply = await api.order(
                symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                quantity="0.001", price=price,
            )  # fmt: skip
            ids.append(reply.body["orderId"])
        newer = await api.admin(f"orders?since={ids[0]}")
        assert sorted(o["orderId"] for o in newer) == ids[1:]
        async with session.get(f"{sim.url}/_sim/orders?since=x") as bad:
            assert bad.status == 400
