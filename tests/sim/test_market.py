"""Public endpoints: happy paths and parameter validation with the exact catalog errors."""

from __future__ import annotations

import pytest

from binguard.sim import Simulator

from .helpers import Api, msg


async def test_ping_and_time(sim: Simulator, api: Api) -> None:
    ping = await api.get("/api/v3/ping")
    assert (ping.status, ping.body) == (200, {})
    t = await api.get("/api/v3/time")
    assert abs(t.body["serverTime"] - sim.state.clock.now_ms()) < 1000


async def test_exchange_info(sim: Simulator, api: Api) -> None:
    info = await api.get("/api/v3/exchangeInfo")
    assert info.status == 200
    assert info.body["rateLimits"] == [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 160000},
        {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 300000},
    ]
    btc = next(s for s in info.body["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
    assert set(filters) >= {"MARKET_LOT_SIZE", "MAX_NUM_ORDERS"}
    one = await api.get("/api/v3/exchangeInfo", {"symbol": "ETHBTC"})
    assert [s["symbol"] for s in one.body["symbols"]] == ["ETHBTC"]
    two = await api.get("/api/v3/exchangeInfo", {"symbols": '["ETHBTC","BTCUSDT"]'})
    assert [s["symbol"] for s in two.body["symbols"]] == ["ETHBTC", "BTCUSDT"]


async def test_depth_is_sorted_and_limited(sim: Simulator, api: Api) -> None:
    d = await api.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5})
    assert d.status == 200
    bids = [float(p) for p, _ in d.body["bids"]]
    asks = [float(p) for p, _ in d.body["asks"]]
    assert len(bids) == len(asks) == 5
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
    assert bids[0] < asks[0]
    assert d.body["lastUpdateId"] == sim.state.engine.books["BTCUSDT"].update_id


async def test_trades_tickers_avg_price(sim: Simulator, api: Api) -> None:
    for _ in range(30):
        sim.state.crowd.step()
    trades = await api.get("/api/v3/trades", {"symbol": "BTCUSDT", "limit": 3})
    assert trades.status == 200 and 0 < len(trades.body) <= 3
    ids = [t["id"] for t in trades.body]
    assert ids == sorted(ids)
    price = await api.get("/api/v3/ticker/price", {"symbol": "BTCUSDT"})
    assert price.body == {"symbol": "BTCUSDT", "price": trades.body[-1]["price"]}
    prices = await api.get("/api/v3/ticker/price")
    assert [p["symbol"] for p in prices.body] == ["BTCUSDT", "ETHUSDT", "ETHBTC"]
    book = await api.get("/api/v3/ticker/bookTicker", {"symbol": "BTCUSDT"})
    depth = await api.get("/api/v3/depth", {"symbol": "BTCUSDT", "limit": 1})
    assert book.body["bidPrice"] == depth.body["bids"][0][0]
    assert book.body["askPrice"] == depth.body["asks"][0][0]
    avg = await api.get("/api/v3/avgPrice", {"symbol": "BTCUSDT"})
    assert avg.body["mins"] == 5 and float(avg.body["price"]) > 0


@pytest.mark.parametrize(
    ("path", "query", "code", "message"),
    [
        ("/api/v3/depth", "", -1102, msg(-1102, 1, "symbol")),
        ("/api/v3/depth", "symbol=NOPE", -1121, msg(-1121)),
        (
            "/api/v3/depth",
            "symbol=BTCUSDT&limit=abc",
            -1100,
            msg(-1100, 1, "limit", "^[0-9]{1,20}$"),
        ),
        ("/api/v3/depth", "symbol=BTCUSDT&limit=0", -1130, msg(-1130, 1, "limit")),
        ("/api/v3/depth", "symbol=BTCUSDT&foo=1", -1104, msg(-1104, 1, 1, 2)),
        ("/api/v3/depth", "symbol=BTCUSDT&symbol=ETHBTC", -1101, msg(-1101, 2)),
        ("/api/v3/depth", "symbol=", -1102, msg(-1102, 1, "symbol")),
        ("/api/v3/trades", "symbol=BTCUSDT&limit=", -1105, msg(-1105, 1, "limit")),
        ("/api/v3/ticker/price", "symbol=BTCUSDT&symbols=%5B%22ETHBTC%22%5D", -1128, msg(-1128)),
        (
            "/api/v3/ticker/bookTicker",
            "symbols=BTCUSDT",
            -1100,
            msg(
                -1100, 1, "symbols", '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'
            ),
        ),
        ("/api/v3/exchangeInfo", "symbols=%5B%22NOPE%22%5D", -1121, msg(-1121)),
        ("/api/v3/exchangeInfo", "symbolStatus=WHAT", -1122, msg(-1122)),
        ("/api/v3/avgPrice", "symbol=btcusdt", -1121, msg(-1121)),
        ("/api/v3/ping", "x=1", -1104, msg(-1104, 1, 0, 1)),
    ],
)
async def test_validation_errors(api: Api, path: str, query: str, code: int, message: str) -> None:
    reply = await api.raw("GET", path, query=query)
    assert (reply.status, reply.code, reply.msg) == (400, code, message)


async def test_unknown_route_and_method_are_binance_errors(api: Api) -> None:
    missing = await api.raw("GET", "/api/v3/nothingHere")
    assert (missing.status, missing.code) == (404, -1020)
    wrong = await api.raw("PATCH", "/api/v3/order")
    assert (wrong.status, wrong.code) == (405, -1020)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_listen_key_endpoints_are_gone(api: Api, method: str) -> None:
    """Retired 2026-02-20 (CHANGELOG 2026-01-21); the simulator answers 410 + -1020."""
    reply = await api.raw(method, "/api/v3/userDataStream", headers={"X-MBX-APIKEY": api.api_key})
    assert (reply.status, reply.code, reply.msg) == (410, -1020, msg(-1020))


async def test_garbage_never_reaches_a_500(api: Api) -> None:
    weird = [
        ("GET", "/api/v3/depth", "symbol=%ZZ%&limit=%%%", ""),
        ("POST", "/api/v3/order", "", "\x00\x01&&&==="),
        ("GET", "/api/v3/exchangeInfo", "symbols=%5B1,2%5D", ""),
        ("GET", "/api/v3/exchangeInfo", "symbols=%5Bbroken", ""),
        ("GET", "/api/v3/depth", "symbol=BTCUSDT&limit=99999999999999999999999", ""),
        ("DELETE", "/api/v3/openOrders", "&&&", ""),
    ]
    for method, path, query, body in weird:
        reply = await api.raw(method, path, query=query, body=body)
        assert 400 <= reply.status < 500, (path, reply.status, reply.body)
        assert isinstance(reply.code, int) and isinstance(reply.msg, str)
    # non-UTF-8 body bytes
    async with api.session.post(
        api.base_url + "/api/v3/order",
        data=b"symbol=\xff\xfe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ) as r:
        assert r.status == 400
        assert (await r.json())["code"] == -1100
