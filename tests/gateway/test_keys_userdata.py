"""Keys mode: bots' user data subscriptions served from the gateway's own (issue 17 item 3).

A bot on the gateway's `/ws-api/v3` subscribes with its local key, as at Binance
(web-socket-api.md §User Data Stream requests; CHANGELOG.md 2025-08-12 `subscriptionId`):
the gateway answers itself, attaches the bot to the real key's one upstream subscription and
forwards that key's events framed `{"subscriptionId", "event"}` (user-data-stream.md). An
upstream gap ends the bot's subscription with `eventStreamTerminated` (gateway/user_subs.py): the
bot subscribes again and catches up over REST, so no fill is missed unknowingly. Everything
talks to the simulator over loopback; the bots are raw aiohttp WebSocket clients signing as the
docs say (tests/sim/helpers.py `WsApi`), and ccxt.pro (`watch_orders`) unchanged but for URLs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.sim.helpers import Api, WsApi, limit_buy, new_order, poll, spot_ccxt

from binguard.gateway import Gateway
from binguard.gateway.keys import write_private
from binguard.policy.backoff import Backoff
from binguard.sim import Simulator
from binguard.sim.config import demo_ed25519_private
from binguard.sim.peers import point_ccxt, point_python_binance
from binguard.sim.ws_conn import WsConn
from binguard.sim.ws_routes import HUB_KEY
from binguard.transport.ws_link import WsOptions

from .conftest import gw_config, load_faults

BOT_SECRET = "bot-local-secret-" + "1" * 40
PEER_SECRET = "peer-local-secret-" + "2" * 40
WRITER_SECRET = "writer-local-secret-" + "4" * 40
SUBSCRIBE_SIG = "userDataStream.subscribe.signature"


@pytest.fixture
def bot_ed() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def keys_file(tmp_path: Path, sim: Simulator, bot_ed: Ed25519PrivateKey) -> Path:
    """Two real keys of the simulator's demo account: HMAC ("main") and Ed25519 ("ed")."""
    pem = demo_ed25519_private(sim.config.seed).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(tmp_path / "real-ed.pem", pem.decode())
    public = bot_ed.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    main, ed = sim.config.demo.keys[0], sim.config.demo.keys[1]
    data = {
        "real": {"main": {"api_key": main.api_key, "secret": main.secret},
                 "ed": {"api_key": ed.api_key, "private_key_file": "real-ed.pem"}},
        "local": [
            {"api_key": "bg-bot", "secret": BOT_SECRET, "real": "main"},
            {"api_key": "bg-peer", "secret": PEER_SECRET, "real": "main"},
            {"api_key": "bg-writer", "secret": WRITER_SECRET, "real": "main",
             "permissions": ["trade", "user_stream"]},
            {"api_key": "bg-ed", "public_key": public.decode(), "real": "ed"},
        ],
    }  # fmt: skip
    path = tmp_path / "keys.yaml"
    write_private(path, yaml.safe_dump(data))
    return path


@pytest.fixture
async def gw(sim: Simulator, keys_file: Path) -> AsyncIterator[Gateway]:
    async with Gateway(gw_config(sim.url, keys=str(keys_file), cache_ttl_s=10)) as g:
        assert g.user_data is not None
        g.user_data.options = WsOptions(backoff=Backoff(base=0.02, cap=0.1), healthy_after=0.5)
        yield g


@pytest.fixture
def truth(sim: Simulator, session: aiohttp.ClientSession) -> Api:
    """The real key, straight to the simulator: what Binance says."""
    real = sim.config.demo.keys[0]
    return Api(session, sim.url, real.api_key, real.secret)


async def connect(gw: Gateway, session: aiohttp.ClientSession, key: str, secret: str) -> WsApi:
    ws = await session.ws_connect(gw.url.replace("http", "ws") + "/ws-api/v3")
    return WsApi(ws, key, secret)


def upstream_calls(sim: Simulator, method: str) -> int:
    """How many `method` requests the simulator's WebSocket API received."""
    return sum(1 for r in sim.state.requests if r.get("ws") == "api" and r["method"] == method)


def upstream_subscriptions(sim: Simulator) -> list[dict[str, Any]]:
    """Every user data subscription the simulator holds, on any connection."""
    assert sim.app is not None
    conns = [c for c in sim.app[HUB_KEY].conns.values() if isinstance(c, WsConn)]
    return [s for c in conns if c.kind == "api" for s in c.summary().get("subscriptions", [])]


async def next_event(bot: WsApi, kind: str, order_id: int | None = None) -> dict[str, Any]:
    """The bot's next event of `kind` (of order `order_id`), others skipped, as framed on the
    wire."""
    while True:
        frame = await bot.event()
        event = frame["event"]
        if event["e"] == kind and order_id in (None, event.get("i")):
            return frame


async def test_subscribe_with_a_local_signature_events_then_unsubscribe(
    sim: Simulator, gw: Gateway, session: aiohttp.ClientSession
) -> None:
    bot = await connect(gw, session, "bg-bot", BOT_SECRET)
    peer = await connect(gw, session, "bg-peer", PEER_SECRET)
    async with bot.ws, peer.ws:
        unsigned = {"apiKey": "bg-bot", "timestamp": bot.signed({})["timestamp"]}
        missing = await bot.response(await bot.send(SUBSCRIBE_SIG, unsigned))
        assert missing["error"] == {
            "code": -1102,
            "msg": "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.",
        }
        forged = bot.signed({})
        forged["signature"] = peer.signed({})["signature"]
        wrong = await bot.response(await bot.send(SUBSCRIBE_SIG, forged))
        assert (wrong["status"], wrong["error"]["code"]) == (400, -1022)
        assert upstream_calls(sim, SUBSCRIBE_SIG) == 0  # nothing forwarded, nothing started
        writer = WsApi(bot.ws, "bg-writer", WRITER_SECRET)  # no "read" permission
        refused = await writer.call(SUBSCRIBE_SIG, {}, signed=True)
        assert (refused["status"], refused["error"]["code"]) == (401, -2015)

        signed = bot.signed({})
        sub = await bot.response(await bot.send(SUBSCRIBE_SIG, signed))
        assert sub == {"id": sub["id"], "status": 200, "result": {"subscriptionId": 0}}
        replayed = await bot.response(await bot.send(SUBSCRIBE_SIG, signed))
        assert replayed["error"]["code"] == -1022  # the same frame again: a replay
        # one per account per socket (recvWindow: not the same signature in the same ms)
        again = await bot.call(SUBSCRIBE_SIG, {"recvWindow": 5000}, signed=True)
        assert again["error"]["code"] == -2035
        assert (await peer.call(SUBSCRIBE_SIG, {}, signed=True))["result"] == {"subscriptionId": 0}
        placed = await bot.call("order.place", limit_buy("0.001", "20000"), signed=True)
        assert placed["status"] == 200, placed
        for client in (bot, peer):  # both bots, each under its own subscription id
            report = await next_event(client, "executionReport")
            assert report["subscriptionId"] == 0
            assert (report["event"]["i"], report["event"]["x"]) == (
                placed["result"]["orderId"],
                "NEW",
            )
            position = await next_event(client, "outboundAccountPosition")
            assert position["subscriptionId"] == 0
        # the two bots share the one upstream subscription
        assert upstream_calls(sim, SUBSCRIBE_SIG) == 1
        assert len(upstream_subscriptions(sim)) == 1
        async with session.get(gw.url + "/status") as r:
            status = (await r.json())["user_data"]["main"]
        assert status["bots"] == 2 and status["live"] is True

        listed = await bot.call("session.subscriptions", {})
        assert listed["result"] == [{"subscriptionId": 0}]
        bye = await bot.call("userDataStream.unsubscribe", {"subscriptionId": 0})
        assert bye["result"] == {}
        ended = await bot.event()
        assert ended["subscriptionId"] == 0 and ended["event"]["e"] == "eventStreamTerminated"
        assert bot.events == []
        second = await bot.call("order.place", limit_buy("0.001", "20001"), signed=True)
        report = await next_event(peer, "executionReport")  # the event went out ...
        assert report["event"]["i"] == second["result"]["orderId"]
        listed = await bot.call("session.subscriptions", {})  # ... and not to the bot
        assert listed["result"] == [] and bot.events == []
        none = await bot.call("userDataStream.unsubscribe")
        assert none["error"]["code"] == -2036
    assert len(upstream_subscriptions(sim)) == 1  # the gateway keeps its own


async def test_logon_then_subscribe_and_logout_ends_it(
    sim: Simulator, gw: Gateway, session: aiohttp.ClientSession, bot_ed: Ed25519PrivateKey
) -> None:
    """web-socket-api.md: `userDataStream.subscribe` in a session logged on with a local
    Ed25519 key; `session.logout` ends that subscription only; `userDataStream` flags say so."""
    ws = await session.ws_connect(gw.url.replace("http", "ws") + "/ws-api/v3")
    bot = WsApi(ws, "bg-ed", private_key=bot_ed)
    async with ws:
        early = await bot.call("userDataStream.subscribe")
        assert (early["status"], early["error"]["code"]) == (401, -1002)
        logon = await bot.call("session.logon", {}, signed=True)
        assert logon["status"] == 200 and logon["result"]["userDataStream"] is False, logon
        sub = await bot.call("userDataStream.subscribe")
        other = WsApi(ws, "bg-bot", BOT_SECRET)  # real "main": another subscription here
        other.events = bot.events
        signed = await other.call(SUBSCRIBE_SIG, {}, signed=True)
        assert (sub["result"], signed["result"]) == ({"subscriptionId": 0}, {"subscriptionId": 1})
        status = await bot.call("session.status")
        assert status["result"]["userDataStream"] is True
        out = await bot.call("session.logout")
        assert out["status"] == 200 and out["result"]["userDataStream"] is True  # 1 is left
        ended = await bot.event()
        assert ended["subscriptionId"] == 0 and ended["event"]["e"] == "eventStreamTerminated"
        listed = await bot.call("session.subscriptions", {})
        assert listed["result"] == [{"subscriptionId": 1}]
        placed = await bot.call("order.place", limit_buy("0.001", "20000"), signed=True)
        report = await next_event(bot, "executionReport")
        assert report["subscriptionId"] == 1
        assert report["event"]["i"] == placed["result"]["orderId"]
        # logged on again: a third; an unsubscribe without an id ends every one (2025-08-12)
        assert (await bot.call("session.logon", {}, signed=True))["status"] == 200
        assert (await bot.call("userDataStream.subscribe"))["result"] == {"subscriptionId": 2}
        assert (await bot.call("userDataStream.unsubscribe"))["result"] == {}
        ended_ids = [(await next_event(bot, "eventStreamTerminated"))["subscriptionId"]]
        ended_ids.append((await next_event(bot, "eventStreamTerminated"))["subscriptionId"])
        assert sorted(ended_ids) == [1, 2]
        assert (await bot.call("session.subscriptions", {}))["result"] == []
        assert (await bot.call("session.status"))["result"]["userDataStream"] is False
    assert upstream_calls(sim, "userDataStream.subscribe") == 1  # the gateway's, on real "ed"


async def test_an_upstream_gap_closes_the_bot_socket_and_rest_shows_the_missed_fill(
    sim: Simulator, gw: Gateway, session: aiohttp.ClientSession, truth: Api
) -> None:
    """The upstream socket drops and stays down while the order fills: the bot is told which
    subscription ended (`eventStreamTerminated`) and loses its socket, as it would have had it
    held the subscription itself; on a new socket it subscribes again (answered once the
    upstream is back) and its REST catch-up shows the fill it could not have been sent."""
    bot = await connect(gw, session, "bg-bot", BOT_SECRET)
    sell = new_order("SELL", "LIMIT", "0.001", price="30000.00", timeInForce="IOC")
    async with bot.ws:
        assert (await bot.call(SUBSCRIBE_SIG, {}, signed=True))["result"]["subscriptionId"] == 0
        placed = await bot.call("order.place", limit_buy("0.003", "30000"), signed=True)
        order_id = placed["result"]["orderId"]
        assert (await truth.order(**sell)).body["status"] == "FILLED"  # fill 1: seen live
        seen = [(await next_event(bot, "executionReport", order_id))["event"] for _ in (1, 2)]
        assert [(e["x"], e["z"]) for e in seen] == [("NEW", "0.00000000"), ("TRADE", "0.00100000")]
        # the upstream is lost and stays down (resubscriptions refused) while fill 2 happens
        load_faults(sim, {"action": "ws_error", "method": SUBSCRIBE_SIG})
        _drop_upstream(sim)
        ended = await next_event(bot, "eventStreamTerminated")
        assert ended["subscriptionId"] == 0
        assert await closed(bot) == 1001
    assert (await truth.order(**sell)).body["status"] == "FILLED"  # fill 2: in the gap
    load_faults(sim)
    bot = await connect(gw, session, "bg-bot", BOT_SECRET)
    async with bot.ws:
        again = await bot.call(SUBSCRIBE_SIG, {}, signed=True)  # answered once live again
        assert again["result"] == {"subscriptionId": 0}, again
        # the catch-up over REST (never from a cache of before the gap) has fill 2
        query = {"symbol": "BTCUSDT", "orderId": order_id}
        caught = await Api(session, gw.url, "bg-bot", BOT_SECRET).get(
            "/api/v3/order", query, signed=True
        )
        assert caught.body["executedQty"] == "0.00200000", caught.body
        assert (await truth.order(**sell)).body["status"] == "FILLED"  # fill 3: seen live
        report = await next_event(bot, "executionReport", order_id)
        assert (report["event"]["x"], report["event"]["z"]) == ("TRADE", "0.00300000")


async def test_fills_racing_an_upstream_drop_are_sent_or_announced(
    sim: Simulator, gw: Gateway, session: aiohttp.ClientSession, truth: Api
) -> None:
    """Fills keep coming while the upstream socket drops and comes back: every fill the bot
    was not sent happened before the answer to its new subscription (so its REST catch-up,
    made after that answer, has it), after it was told (`eventStreamTerminated`, then its
    socket closed with no event in between)."""
    bot = await connect(gw, session, "bg-bot", BOT_SECRET)
    sockets = [bot.ws]
    try:
        assert (await bot.call(SUBSCRIBE_SIG, {}, signed=True))["result"]["subscriptionId"] == 0
        placed = await bot.call("order.place", limit_buy("0.050", "30000"), signed=True)
        order_id = placed["result"]["orderId"]
        resubscribed = asyncio.Event()
        late: set[int] = set()  # trades of sells sent after the bot's new subscription
        five = asyncio.Event()

        async def fill() -> None:
            """Fills as fast as they go (at most 40 before the bot subscribes again), until 5
            have followed the new subscription."""
            sell = new_order("SELL", "LIMIT", "0.001", price="30000.00", timeInForce="IOC")
            for k in range(45):
                if k == 40:
                    await resubscribed.wait()
                after = resubscribed.is_set()
                answer = (await truth.order(**sell)).body
                assert answer["status"] == "FILLED", answer
                if after:
                    late.update(f["tradeId"] for f in answer["fills"])
                if k == 4:
                    five.set()
                if len(late) == 5:
                    return

        filler = asyncio.create_task(fill())
        await five.wait()
        _drop_upstream(sim)
        reported: set[int] = set()
        told = 0
        while not (filler.done() and late <= reported):
            event = (await bot.event())["event"]
            if event["e"] == "eventStreamTerminated":
                told += 1
                assert await closed(bot) == 1001
                bot = await connect(gw, session, "bg-bot", BOT_SECRET)
                sockets.append(bot.ws)
                again = await bot.call(SUBSCRIBE_SIG, {}, signed=True)
                assert again["result"] == {"subscriptionId": 0}, again
                resubscribed.set()
            elif (event["e"], event.get("x"), event.get("i")) == (
                "executionReport",
                "TRADE",
                order_id,
            ):
                reported.add(event["t"])  # (the sells' own reports are not counted)
        await filler
    finally:
        for ws in sockets:
            await ws.close()
    trades = await truth.get("/api/v3/myTrades", {"symbol": "BTCUSDT"}, signed=True)
    mine = {t["id"] for t in trades.body if t["orderId"] == order_id}
    assert told == 1 and len(late) == 5 and reported <= mine
    # what was not sent came before the new subscription's answer: the catch-up has it
    assert not (mine - reported) & late
    rest = Api(session, gw.url, "bg-bot", BOT_SECRET)
    caught = await rest.get(
        "/api/v3/order", {"symbol": "BTCUSDT", "orderId": order_id}, signed=True
    )
    assert caught.body["executedQty"] == f"{len(mine) / 1000:.8f}", caught.body


async def test_ccxt_pro_watch_orders_through_the_gateway_and_a_gap(
    sim: Simulator, gw: Gateway
) -> None:
    """ccxt.pro (4.5: `watch_orders` subscribes with `userDataStream.subscribe.signature`)
    unchanged but for its URLs and the local key: events arrive; after an upstream gap its
    pending `watch_orders` fails (the socket is lost), and watching again subscribes again."""
    ccxtpro = pytest.importorskip("ccxt.pro")
    options = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
               "fetchMargins": False}  # fmt: skip
    ex = ccxtpro.binance(
        {"apiKey": "bg-bot", "secret": BOT_SECRET, "enableRateLimit": False, "options": options}
    )
    point_ccxt(ex, gw.url)
    ex.has["fetchCurrencies"] = False
    rest = spot_ccxt(gw.url, "bg-bot", BOT_SECRET)
    try:
        await ex.load_markets()
        watching = asyncio.ensure_future(ex.watch_orders("BTC/USDT"))  # subscribes first
        await poll(lambda: _bots(gw), lambda n: n == 1, 5)
        await rest.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
        first = await asyncio.wait_for(watching, 5)
        assert first[-1]["status"] == "open" and first[-1]["price"] == 20000
        pending = asyncio.ensure_future(ex.watch_orders("BTC/USDT"))
        _drop_upstream(sim)
        with pytest.raises(ccxtpro.NetworkError):
            await asyncio.wait_for(pending, 5)
        watching = asyncio.ensure_future(ex.watch_orders("BTC/USDT"))  # the bot's own loop
        await poll(lambda: _bots(gw), lambda n: n == 1, 5)
        await rest.create_order("BTC/USDT", "limit", "buy", 0.001, 20001)
        after = await asyncio.wait_for(watching, 5)
        assert after[-1]["price"] == 20001
    finally:
        await ex.close()
        await rest.close()
    assert upstream_calls(sim, SUBSCRIBE_SIG) == 2  # the gateway's, before and after the gap


async def closed(bot: WsApi) -> int | None:
    """The bot's socket is closed next, with no frame before the close; its close code."""
    msg = await bot.ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), (msg.type, msg.data)
    return bot.ws.close_code


async def _bots(gw: Gateway) -> int:
    assert gw.user_data is not None
    return int(gw.user_data.summary().get("main", {}).get("bots", 0))


def _drop_upstream(sim: Simulator) -> None:
    """Reset the gateway's user data socket at the simulator (a network failure); the bots'
    own sockets (their upstream twins hold no subscription) stay."""
    assert sim.app is not None
    for conn in list(sim.app[HUB_KEY].conns.values()):
        if isinstance(conn, WsConn) and conn.kind == "api" and conn.summary()["subscriptions"]:
            conn.reset("test: upstream lost")


async def test_python_binance_user_socket_through_the_gateway(
    sim: Simulator, gw: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """python-binance (1.0.37: `user_socket` subscribes over the client's WebSocket API with
    `userDataStream.subscribe.signature`, unsubscribes on exit) unchanged but for URLs."""
    binance = pytest.importorskip("binance")
    from binance.ws.websocket_api import WebsocketAPI

    # Its read loop notices its own close only after TIMEOUT (10 s) without a frame, against
    # the simulator too: shortened so the test ends sooner. The same TIMEOUT bounds the wait
    # for each WebSocket API answer, and the subscription's goes through the gateway to a
    # new upstream socket (connect, subscribe): 0.2 s here lost that race once on a loaded
    # machine (CI, 0a338c8). 3 s keeps a wide margin and costs the exit at most 3 s.
    monkeypatch.setattr(WebsocketAPI, "TIMEOUT", 3.0)
    client = point_python_binance(binance.AsyncClient("bg-bot", BOT_SECRET), gw.url)
    manager = point_python_binance(binance.BinanceSocketManager(client), gw.url)
    try:
        async with manager.user_socket() as stream:
            placed = await client.create_order(**limit_buy("0.001", "20000"))
            while (event := await asyncio.wait_for(stream.recv(), 5))["e"] != "executionReport":
                pass
            assert (event["i"], event["x"]) == (placed["orderId"], "NEW")
            assert await _bots(gw) == 1
        await poll(lambda: _bots(gw), lambda n: n == 0)  # its unsubscribe on exit
    finally:
        await client.close_connection()
