"""Keys mode's account and order caches, through the gateway to the simulator (issue 17 item 3).

The gateway holds the real key's user data subscription (WebSocket API) and answers a bot's
`GET /api/v3/account` and `GET /api/v3/order` from it (rest-api.md §Account information, §Query
order; user-data-stream.md), after the bot's signature and permissions are checked. Every
answer is compared with what the simulator itself says for the real key; a gap in the upstream
user data socket (reset by the simulator, resubscription refused by a fault) sends the queries
upstream until the caches are rebuilt, so an order changed meanwhile is never answered stale.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from tests.sim.helpers import Api, new_order, poll, spot_ccxt

from binguard.gateway import Gateway
from binguard.gateway.answers import GATEWAY_HEADER
from binguard.gateway.keys import write_private
from binguard.policy.backoff import Backoff
from binguard.sim import Simulator
from binguard.sim.config import demo_ed25519_private
from binguard.sim.peers import point_python_binance
from binguard.sim.ws_conn import WsConn
from binguard.sim.ws_routes import HUB_KEY
from binguard.transport.ws_link import WsOptions

from .conftest import gw_config, load_faults

ccxt = pytest.importorskip("ccxt.async_support")
binance = pytest.importorskip("binance")

BOT_SECRET = "bot-local-secret-" + "7" * 40
READER_SECRET = "reader-local-secret-" + "8" * 40


@pytest.fixture
def keys_file(tmp_path: Path, sim: Simulator) -> Path:
    real = sim.config.demo.keys[0]
    data = {
        "real": {"main": {"api_key": real.api_key, "secret": real.secret}},
        "local": [
            {"api_key": "bg-bot", "secret": BOT_SECRET, "real": "main"},
            {"api_key": "bg-writer", "secret": READER_SECRET, "real": "main",
             "permissions": ["trade"]},
        ],
    }  # fmt: skip
    path = tmp_path / "keys.yaml"
    write_private(path, yaml.safe_dump(data))
    return path


@pytest.fixture
async def gw(sim: Simulator, keys_file: Path) -> AsyncIterator[Gateway]:
    async with Gateway(gw_config(sim.url, keys=str(keys_file), cache_ttl_s=10)) as g:
        assert g.user_data is not None
        # reconnect quickly after the refused resubscriptions below
        g.user_data.options = WsOptions(backoff=Backoff(base=0.02, cap=0.1), healthy_after=0.5)
        yield g


@pytest.fixture
def bot(gw: Gateway, session: aiohttp.ClientSession) -> Api:
    return Api(session, gw.url, "bg-bot", BOT_SECRET)


@pytest.fixture
def truth(sim: Simulator, session: aiohttp.ClientSession) -> Api:
    """The real key, straight to the simulator: what Binance says."""
    real = sim.config.demo.keys[0]
    return Api(session, sim.url, real.api_key, real.secret)


def upstream(sim: Simulator, path: str) -> int:
    return sum(1 for r in sim.state.requests if not r.get("ws") and r["path"] == path)


async def ready(gw: Gateway, real: str = "main") -> dict[str, Any]:
    """The user data stream's summary once it is live with its account snapshot in."""
    assert gw.user_data is not None

    async def summary() -> dict[str, Any]:
        return gw.user_data.summary().get(real, {}) if gw.user_data else {}

    return dict(await poll(summary, lambda s: s.get("live") and s.get("account_ready"), 10))


def cached(reply: Any) -> bool:
    return reply.headers.get(GATEWAY_HEADER) == "cache"


async def same_account(bot: Api, truth: Api, **params: Any) -> dict[str, Any]:
    """The bot's account answer, once from the cache and equal to the simulator's."""

    async def both() -> tuple[Any, Any]:
        mine = await bot.get("/api/v3/account", params, signed=True)
        return mine, await truth.get("/api/v3/account", params, signed=True)

    mine, _ = await poll(both, lambda r: cached(r[0]) and r[0].body == r[1].body, 5)
    return dict(mine.body)


async def test_ccxt_fetch_balance_and_fetch_order_come_from_the_caches(
    sim: Simulator, gw: Gateway, truth: Api
) -> None:
    ex = spot_ccxt(gw.url, "bg-bot", BOT_SECRET, margins=True)
    try:
        await ex.load_markets()
        first = await ex.fetch_balance()  # upstream; starts the subscription
        await ready(gw)
        order = await ex.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
        real = (await truth.get("/api/v3/account", signed=True)).body
        query = {"symbol": "BTCUSDT", "orderId": order["id"]}
        known = (await truth.get("/api/v3/order", query, signed=True)).body
        # the bot's first, the gateway's snapshot, the truth's; the placement, the truth's
        accounts, orders = upstream(sim, "/api/v3/account"), upstream(sim, "/api/v3/order")

        async def balance() -> tuple[Any, Any]:
            return await ex.fetch_balance(), ex.last_response_headers.get(GATEWAY_HEADER)

        async def fetched() -> tuple[Any, Any]:
            return await ex.fetch_order(order["id"], "BTC/USDT"), ex.last_response_headers

        # the order's lock comes by outboundAccountPosition, the order by its report (or the
        # first query's upstream answer): each answer from the caches, once they have come
        balance_now, header = await poll(balance, lambda b: b[0]["info"] == real)
        order_now, headers = await poll(fetched, lambda o: o[0]["info"] == known)
        for _ in range(5):  # and from then on, every time
            assert (await balance())[1] == "cache"
            assert (await fetched())[1].get(GATEWAY_HEADER) == "cache"
    finally:
        await ex.close()
    assert header == "cache" and headers.get(GATEWAY_HEADER) == "cache"
    assert upstream(sim, "/api/v3/account") == accounts == 3
    assert balance_now["USDT"]["used"] == pytest.approx(20.0) and first["USDT"]["used"] == 0
    assert orders == 2 and upstream(sim, "/api/v3/order") <= orders + 1  # one query at most
    assert order_now["status"] == "open"


async def test_a_fill_arrives_by_report_and_the_query_shows_it(
    sim: Simulator, gw: Gateway, bot: Api, truth: Api
) -> None:
    await bot.get("/api/v3/account", signed=True)
    await ready(gw)
    placed = await bot.order(**new_order("BUY", "LIMIT", "0.002", price="30000.00"))
    assert placed.status == 200, placed.body
    query = {"symbol": "BTCUSDT", "orderId": placed.body["orderId"]}

    async def by_id() -> Any:
        return await bot.get("/api/v3/order", query, signed=True)

    await poll(by_id, lambda r: cached(r) and r.body["status"] == "NEW")
    # the account trades with itself: an IOC sell inside the spread fills half the buy
    hit = await truth.order(
        **new_order("SELL", "LIMIT", "0.001", price="30000.00", timeInForce="IOC")
    )
    assert hit.body["status"] == "FILLED", hit.body
    seen = await poll(by_id, lambda r: cached(r) and r.body["status"] == "PARTIALLY_FILLED")
    assert seen.body == (await truth.get("/api/v3/order", query, signed=True)).body
    by_client = {"symbol": "BTCUSDT", "origClientOrderId": placed.body["clientOrderId"]}
    again = await bot.get("/api/v3/order", by_client, signed=True)
    assert cached(again) and again.body == seen.body
    await same_account(bot, truth)
    zero = await same_account(bot, truth, omitZeroBalances="true")
    assert all(float(b["free"]) or float(b["locked"]) for b in zero["balances"])


async def test_after_the_upstream_socket_drops_queries_go_upstream_until_rebuilt(
    sim: Simulator, gw: Gateway, bot: Api, truth: Api
) -> None:
    await bot.get("/api/v3/account", signed=True)
    await ready(gw)
    placed = await bot.order(**new_order("BUY", "LIMIT", "0.001", price="20000"))
    query = {"symbol": "BTCUSDT", "orderId": placed.body["orderId"]}

    async def by_id() -> Any:
        return await bot.get("/api/v3/order", query, signed=True)

    await poll(by_id, lambda r: cached(r) and r.body["status"] == "NEW")
    # every resubscription is refused while the order changes: the gap stays open
    load_faults(sim, {"action": "ws_error", "method": "userDataStream.subscribe.signature"})
    _drop_user_data(sim)
    assert gw.user_data is not None
    await poll(_summary(gw), lambda s: not s["live"])
    cancel = await truth.delete("/api/v3/order", query, signed=True)
    assert cancel.body["status"] == "CANCELED"
    during = await by_id()
    assert not cached(during) and during.body["status"] == "CANCELED"
    account = await bot.get("/api/v3/account", signed=True)
    assert not cached(account)
    assert account.body == (await truth.get("/api/v3/account", signed=True)).body
    # a resubscription was refused meanwhile: the gap was held open all along
    await poll(_refusals(sim), lambda n: n > 0)
    assert not (await _summary(gw)())["live"]
    load_faults(sim)  # no more faults: the next resubscription passes
    await ready(gw)
    after = await by_id()  # a new epoch: unknown order, asked upstream, then held
    assert after.body["status"] == "CANCELED"
    await poll(by_id, lambda r: cached(r) and r.body["status"] == "CANCELED")
    await same_account(bot, truth)


async def test_a_refused_bot_is_never_answered_from_the_caches(
    sim: Simulator, gw: Gateway, bot: Api, session: aiohttp.ClientSession
) -> None:
    await bot.get("/api/v3/account", signed=True)
    await ready(gw)
    await poll(lambda: bot.get("/api/v3/account", signed=True), cached)
    wrong = Api(session, gw.url, "bg-bot", "not the secret")
    refused = await wrong.get("/api/v3/account", signed=True)
    assert (refused.status, refused.body["code"]) == (400, -1022)
    writer = Api(session, gw.url, "bg-writer", READER_SECRET)  # no "read" permission
    refused = await writer.get("/api/v3/account", signed=True)
    assert (refused.status, refused.body["code"]) == (401, -2015)


async def test_an_ed25519_real_key_logs_on_and_subscribes(
    sim: Simulator, tmp_path: Path, session: aiohttp.ClientSession, truth: Api
) -> None:
    """web-socket-api.md: with an Ed25519 key the socket logs on (`session.logon`), then
    `userDataStream.subscribe` needs no signature."""
    pem = demo_ed25519_private(sim.config.seed).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(tmp_path / "real-ed.pem", pem.decode())
    data = {
        "real": {"ed": {"api_key": sim.config.demo.keys[1].api_key,
                        "private_key_file": "real-ed.pem"}},
        "local": [{"api_key": "bg-bot", "secret": BOT_SECRET, "real": "ed"}],
    }  # fmt: skip
    write_private(tmp_path / "keys.yaml", yaml.safe_dump(data))
    config = gw_config(sim.url, keys=str(tmp_path / "keys.yaml"), cache_ttl_s=10)
    async with Gateway(config) as gw:
        bot = Api(session, gw.url, "bg-bot", BOT_SECRET)
        await bot.get("/api/v3/account", signed=True)
        summary = await ready(gw, "ed")
        await same_account(bot, truth)
        async with session.get(gw.url + "/status") as r:
            status = await r.json()
        async with session.get(gw.url + "/metrics") as r:
            metrics = await r.text()
    assert summary["failed"] is None
    assert status["user_data"]["ed"]["live"] is True  # /status shows the stream
    assert 'binguard_gateway_upstream_sockets{kind="user_data"} 1.0' in metrics
    methods = [r["method"] for r in sim.state.requests if r.get("ws") == "api"]
    assert "session.logon" in methods and "userDataStream.subscribe" in methods, methods


async def test_python_binance_account_and_order_from_the_caches(
    sim: Simulator, gw: Gateway, truth: Api
) -> None:
    client = point_python_binance(binance.AsyncClient("bg-bot", BOT_SECRET), gw.url)
    try:
        await client.get_account()
        await ready(gw)
        placed = await client.create_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
            quantity="0.001", price="20000",
        )  # fmt: skip
        query = {"symbol": "BTCUSDT", "orderId": placed["orderId"]}
        real = (await truth.get("/api/v3/account", signed=True)).body
        known = (await truth.get("/api/v3/order", query, signed=True)).body
        # once the placement's events are in (or the first query's answer is learnt) ...
        await poll(client.get_account, lambda a: a == real)
        await poll(lambda: client.get_order(**query), lambda o: o == known)
        hits = _hits(gw)
        account = await client.get_account()  # ... both come from the caches
        got = await client.get_order(**query)
    finally:
        await client.close_connection()
    assert _hits(gw) == {"account": hits["account"] + 1, "order": hits["order"] + 1}
    assert (account, got) == (real, known)


async def test_event_stream_terminated_drops_the_caches_until_resubscribed(
    sim: Simulator, gw: Gateway, bot: Api, truth: Api
) -> None:
    """user-data-stream.md §Event Stream Terminated: the subscription is over; the gateway
    drops its caches and its socket, and a new socket subscribes again. (The event is handed
    to the gateway's stream as the socket would: the simulator sends it only to the session
    that logged out or unsubscribed, which is the gateway's own.)"""
    await bot.get("/api/v3/account", signed=True)
    before = await ready(gw)
    assert gw.user_data is not None
    stream = gw.user_data.streams[sim.config.demo.keys[0].api_key]
    link = stream.sup.link
    assert link is not None
    terminated = '{"subscriptionId": 0, "event": {"e": "eventStreamTerminated", "E": 1}}'
    stream.sup.on_text(link, terminated)  # where the socket's reader hands each text frame
    assert not stream.live and not stream.account.ready
    miss = await bot.get("/api/v3/account", signed=True)
    assert not cached(miss)
    after = await ready(gw)
    assert after["epoch"] > before["epoch"] and after["gaps"] > before["gaps"]
    await same_account(bot, truth)


async def test_during_a_ban_the_caches_answer_and_nothing_goes_upstream(
    sim: Simulator, gw: Gateway, bot: Api, truth: Api
) -> None:
    """Issue 14's ban breaker: zero requests upstream until the ban ends; answers from the
    gateway's own caches go on, the account and order caches included."""
    await bot.get("/api/v3/account", signed=True)
    await ready(gw)
    placed = await bot.order(**new_order("BUY", "LIMIT", "0.001", price="20000"))
    query = {"symbol": "BTCUSDT", "orderId": placed.body["orderId"]}
    known = await poll(lambda: bot.get("/api/v3/order", query, signed=True), lambda r: cached(r))
    real = await same_account(bot, truth)  # (the IP is banned next: truth can no longer ask)
    load_faults(sim, {"action": "http_418", "path": "/api/v3/depth", "times": 1, "ban_s": 5})
    assert (await bot.get("/api/v3/depth", {"symbol": "BTCUSDT"})).status == 418
    seen = len(sim.state.requests)
    account = await bot.get("/api/v3/account", signed=True)
    order = await bot.get("/api/v3/order", query, signed=True)
    unknown = await bot.get("/api/v3/order", {"symbol": "BTCUSDT", "orderId": 10**9}, signed=True)
    assert cached(account) and cached(order) and order.body == known.body
    assert unknown.status == 418 and unknown.headers[GATEWAY_HEADER] == "banned"
    # nothing REST or WebSocket API (the market streams the depth request started are not ours)
    assert [r for r in list(sim.state.requests)[seen:] if r.get("ws") != "stream"] == []
    assert account.body == real


def _hits(gw: Gateway) -> dict[str, float]:
    """cache_hits_total by cache, as /metrics shows it."""
    registry = gw.metrics.registry
    return {
        name: registry.get_sample_value("binguard_gateway_cache_hits_total", {"cache": name}) or 0
        for name in ("account", "order")
    }


def _drop_user_data(sim: Simulator) -> None:
    """Reset the simulator's WebSocket API connections (a network failure)."""
    assert sim.app is not None
    for conn in list(sim.app[HUB_KEY].conns.values()):
        if isinstance(conn, WsConn) and conn.kind == "api":
            conn.reset("test: upstream lost")


def _summary(gw: Gateway) -> Any:
    async def get() -> dict[str, Any]:
        assert gw.user_data is not None
        return dict(gw.user_data.summary()["main"])

    return get


def _refusals(sim: Simulator) -> Any:
    async def count() -> int:
        return sum(1 for f in sim.state.faults.log if f["action"] == "ws_error")

    return count
