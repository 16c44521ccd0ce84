"""Real clients, unchanged but for their base URL, through the gateway to the simulator: ccxt
and python-binance (Python), curl and Node's fetch (not Python). Their calls succeed or fail
exactly as against the exchange, and nothing reaches the simulator during a ban."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import shutil
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from tests.sim.helpers import limit_buy, spot_ccxt

from binguard._aio import reap
from binguard.gateway import Gateway
from binguard.sim import Simulator
from binguard.sim.peers import point_ccxt, point_python_binance

from .conftest import load_faults

ccxt = pytest.importorskip("ccxt.async_support")
binance = pytest.importorskip("binance")


@pytest.fixture
async def exchange(sim: Simulator, gateway: Gateway) -> AsyncIterator[Any]:
    key = sim.config.demo.keys[0]
    ex = spot_ccxt(gateway.url, key.api_key, key.secret)
    try:
        yield ex
    finally:
        await ex.close()


@pytest.fixture
async def pb_client(sim: Simulator, gateway: Gateway) -> AsyncIterator[Any]:
    key = sim.config.demo.keys[0]
    client = point_python_binance(binance.AsyncClient(key.api_key, key.secret), gateway.url)
    try:
        yield client
    finally:
        await client.close_connection()


async def test_ccxt_through_the_gateway(sim: Simulator, exchange: Any) -> None:
    assert abs(await exchange.fetch_time() - sim.state.clock.now_ms()) < 5000
    await exchange.load_markets()
    book = await exchange.fetch_order_book("BTC/USDT", 5)
    assert book["bids"] and book["asks"]
    order = await exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
    assert (await exchange.fetch_order(order["id"], "BTC/USDT"))["status"] == "open"
    assert (await exchange.cancel_order(order["id"], "BTC/USDT"))["status"] == "canceled"
    with pytest.raises(ccxt.InsufficientFunds):
        await exchange.create_order("BTC/USDT", "limit", "buy", 10, 20000)


async def test_ccxt_sees_a_ban_as_from_binance_and_sends_nothing(
    sim: Simulator, exchange: Any
) -> None:
    await exchange.load_markets()
    load_faults(sim, {"action": "http_418", "path": "/api/v3/depth", "ban_s": 30})
    with pytest.raises(ccxt.BaseError) as real:
        await exchange.fetch_order_book("BTC/USDT")  # Binance's (the simulator's) own 418
    seen = len(sim.state.requests)
    with pytest.raises(ccxt.BaseError) as local:
        await exchange.fetch_order_book("BTC/USDT")  # the gateway's 418
    with pytest.raises(ccxt.BaseError) as order:
        await exchange.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
    assert type(local.value) is type(real.value) is type(order.value)
    assert "IP banned until" in str(local.value)
    assert len(sim.state.requests) == seen


async def test_python_binance_through_the_gateway(sim: Simulator, pb_client: Any) -> None:
    from binance.exceptions import BinanceAPIException

    assert abs((await pb_client.get_server_time())["serverTime"] - sim.state.clock.now_ms()) < 5000
    order = await pb_client.create_order(**limit_buy("0.001", "20000"))
    got = await pb_client.get_order(symbol="BTCUSDT", orderId=order["orderId"])
    assert got["status"] == "NEW"
    canceled = await pb_client.cancel_order(symbol="BTCUSDT", orderId=order["orderId"])
    assert canceled["status"] == "CANCELED"
    with pytest.raises(BinanceAPIException) as funds:
        await pb_client.create_order(**limit_buy("10", "20000"))
    assert funds.value.code == -2010
    load_faults(sim, {"action": "http_418", "path": "/api/v3/depth", "ban_s": 30})
    with pytest.raises(BinanceAPIException) as real:
        await pb_client.get_order_book(symbol="BTCUSDT")
    seen = len(sim.state.requests)
    with pytest.raises(BinanceAPIException) as local:
        await pb_client.get_open_orders(symbol="BTCUSDT")
    assert (local.value.code, local.value.status_code) == (real.value.code, 418) == (-1003, 418)
    assert len(sim.state.requests) == seen


async def _run(*argv: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


def _signed(sim: Simulator, params: str) -> str:
    secret = sim.config.demo.keys[0].secret
    query = f"{params}&timestamp={int(time.time() * 1000)}"
    return (
        query
        + "&signature="
        + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    )


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_curl_through_the_gateway(sim: Simulator, gateway: Gateway) -> None:
    key = sim.config.demo.keys[0].api_key
    server = json.loads(await _run("curl", "-sS", f"{gateway.url}/api/v3/time"))
    assert abs(server["serverTime"] - sim.state.clock.now_ms()) < 5000
    body = _signed(
        sim, "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=20000"
    )
    placed = json.loads(
        await _run(
            "curl",
            "-sS",
            "-X",
            "POST",
            "-H",
            f"X-MBX-APIKEY: {key}",
            "-d",
            body,
            f"{gateway.url}/api/v3/order",
        )
    )
    assert placed["status"] == "NEW"
    load_faults(sim, {"action": "html", "status": 502, "path": "/api/v3/order", "times": 1})
    head = await _run(
        "curl",
        "-sS",
        "-i",
        "-X",
        "POST",
        "-H",
        f"X-MBX-APIKEY: {key}",
        "-d",
        _signed(
            sim, "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=20000"
        ),
        f"{gateway.url}/api/v3/order",
    )
    assert head.startswith("HTTP/1.1 503") and "-1007" in head and "<html" not in head.lower()


NODE_SCRIPT = """
const crypto = require('crypto');
const [base, key, secret] = process.argv.slice(1);
(async () => {
  const depth = await (await fetch(`${base}/api/v3/depth?symbol=BTCUSDT&limit=5`)).json();
  const q = `timestamp=${Date.now()}`;
  const sig = crypto.createHmac('sha256', secret).update(q).digest('hex');
  const r = await fetch(`${base}/api/v3/account?${q}&signature=${sig}`, {headers: {'X-MBX-APIKEY': key}});
  const account = await r.json();
  console.log(JSON.stringify({depth: depth.bids.length, status: r.status, balances: account.balances.length}));
})().catch(e => { console.error(String(e)); process.exit(1); });
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node is not installed")
async def test_node_fetch_through_the_gateway(sim: Simulator, gateway: Gateway) -> None:
    key = sim.config.demo.keys[0]
    out = json.loads(await _run("node", "-e", NODE_SCRIPT, gateway.url, key.api_key, key.secret))
    assert out["depth"] == 5 and out["status"] == 200 and out["balances"] >= 3


async def test_python_binance_streams_through_the_gateway(
    sim: Simulator, gateway: Gateway, pb_client: Any
) -> None:
    """python-binance's socket manager, its stream URL pointed at the gateway: a depth socket
    and a combined socket, both fed by the gateway's one upstream socket."""
    from binance import BinanceSocketManager

    manager = BinanceSocketManager(pb_client)
    manager.STREAM_URL = "ws" + gateway.url[4:] + "/"  # the base URL is all that changes
    async with (
        manager.depth_socket("BTCUSDT") as depth,
        manager.multiplex_socket(["btcusdt@trade", "btcusdt@depth"]) as combined,
    ):
        for _ in range(200):  # bounded: until both bot sockets are subscribed upstream
            if len(gateway.streams.bots) == 2 and gateway.streams.live("btcusdt@depth"):
                break
            await asyncio.sleep(0.01)
        sim.state.crowd.step()
        event = await asyncio.wait_for(depth.recv(), 10)
        frames = [await asyncio.wait_for(combined.recv(), 10)]
        while frames[-1]["stream"] != "btcusdt@depth" and len(frames) < 50:
            frames.append(await asyncio.wait_for(combined.recv(), 10))
        # python-binance leaves a socket once its read loop wakes (a message, or its 10 s
        # TIMEOUT): the market keeps moving, as on Binance, so each exit takes a moment
        moving = asyncio.create_task(_market_moves(sim))
    await reap(moving)
    assert event["e"] == "depthUpdate" and event["s"] == "BTCUSDT"
    assert frames[-1]["data"] == event
    assert {f["stream"] for f in frames} <= {"btcusdt@depth", "btcusdt@trade"}
    connects = [
        r for r in sim.state.requests if r.get("ws") == "stream" and r["method"] == "CONNECT"
    ]
    assert len(connects) == 1


async def _market_moves(sim: Simulator) -> None:
    while True:
        sim.state.crowd.step()
        await asyncio.sleep(0.05)


async def test_ccxt_pro_streams_through_the_gateway(sim: Simulator, gateway: Gateway) -> None:
    """ccxt.pro's watch_order_book (REST snapshot + diff stream, SUBSCRIBE on /ws) and
    watch_trades, its URLs pointed at the gateway."""
    pro = pytest.importorskip("ccxt.pro")
    key = sim.config.demo.keys[0]
    ex = pro.binance(
        {
            "apiKey": key.api_key,
            "secret": key.secret,
            "enableRateLimit": False,
            "options": {
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
            },
        }
    )
    point_ccxt(ex, gateway.url)
    base = "ws" + gateway.url[4:]
    ex.urls["api"]["ws"] = {"spot": base + "/ws", "ws-api": {"spot": base + "/ws-api/v3"}}
    ex.has["fetchCurrencies"] = False
    try:
        await ex.load_markets()
        watching = asyncio.create_task(ex.watch_order_book("BTC/USDT"))
        for _ in range(500):  # bounded: until the gateway has subscribed the book's stream
            if any(gateway.streams.live(s) for s in ("btcusdt@depth", "btcusdt@depth@100ms")):
                break
            await asyncio.sleep(0.01)
        for _ in range(3):
            sim.state.crowd.step()
        book = await asyncio.wait_for(watching, 15)
        truth = await ex.fetch_order_book("BTC/USDT", 5)
    finally:
        await ex.close()
    assert book["bids"] and book["asks"]
    assert book["bids"][0][0] <= truth["asks"][0][0] and book["asks"][0][0] >= truth["bids"][0][0]
