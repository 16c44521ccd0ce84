"""Keys mode through the gateway to the simulator (issue 17, part 1: credentials and clock).

Bots hold only local keys; the gateway holds the simulator's real key (the keys file), checks
each bot's signature and permissions, re-stamps the timestamp from its synced clock and re-signs.
Real clients (ccxt, python-binance) whose clocks are 30 s behind trade with no -1021; refused
requests never reach the simulator; no secret appears in the DEBUG log.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.sim.helpers import Api, WsApi, limit_buy, spot_ccxt

from binguard.gateway import Gateway
from binguard.gateway.answers import GATEWAY_HEADER
from binguard.gateway.keys import write_private
from binguard.sim import Simulator
from binguard.sim.config import demo_ed25519_private
from binguard.sim.peers import point_python_binance

from .conftest import gw_config

ccxt = pytest.importorskip("ccxt.async_support")
binance = pytest.importorskip("binance")

BOT_SECRET = "bot-local-secret-" + "3" * 40
READER_SECRET = "reader-local-secret-" + "5" * 40
SKEW_MS = -30_000  # the bots' clocks are 30 s behind


@pytest.fixture
def keys_file(tmp_path: Path, sim: Simulator) -> Path:
    real = sim.config.demo.keys[0]
    data = {
        "real": {"main": {"api_key": real.api_key, "secret": real.secret}},
        "local": [
            {"api_key": "bg-bot", "secret": BOT_SECRET, "real": "main"},
            {
                "api_key": "bg-reader",
                "secret": READER_SECRET,
                "real": "main",
                "permissions": ["read"],
            },
        ],
    }
    path = tmp_path / "keys.yaml"
    write_private(path, yaml.safe_dump(data))
    return path


@pytest.fixture
async def keyed(sim: Simulator, keys_file: Path) -> AsyncIterator[Gateway]:
    async with Gateway(gw_config(sim.url, keys=str(keys_file))) as gw:
        yield gw


def refusals(sim: Simulator) -> list[Any]:
    """What the simulator refused (a -1021 would be one of them: 400)."""
    return [(r["path"], r["status"]) for r in sim.state.requests if r["status"] >= 400]


async def test_ccxt_30_s_behind_trades_through_keys_mode_without_1021(
    sim: Simulator, keyed: Gateway
) -> None:
    ex = spot_ccxt(keyed.url, "bg-bot", BOT_SECRET, margins=True)
    try:
        await ex.load_markets()
        ex.options["timeDifference"] = -SKEW_MS  # ccxt stamps milliseconds() - timeDifference
        balance = await ex.fetch_balance()
        order = await ex.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
        fetched = await ex.fetch_order(order["id"], "BTC/USDT")
    finally:
        await ex.close()
    assert balance["USDT"]["total"] > 0
    assert fetched["status"] == "open"
    assert refusals(sim) == []
    truth = sim.state.engine.all_orders("demo", "BTCUSDT")
    assert [str(o.order_id) for o in truth] == [order["id"]]


async def test_python_binance_30_s_behind_reads_and_orders(sim: Simulator, keyed: Gateway) -> None:
    client = point_python_binance(binance.AsyncClient("bg-bot", BOT_SECRET), keyed.url)
    client.timestamp_offset = SKEW_MS
    try:
        account = await client.get_account()
        placed = await client.create_order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.001",
            price="20000",
        )
        got = await client.get_order(symbol="BTCUSDT", orderId=placed["orderId"])
    finally:
        await client.close_connection()
    assert account["canTrade"] is True
    assert got["status"] == "NEW"
    assert refusals(sim) == []


async def request_count(sim: Simulator) -> int:
    return len(sim.state.requests)


@pytest.mark.parametrize(
    ("key", "secret", "path", "code", "status"),
    [
        ("bg-bot", "a wrong secret", "/api/v3/order", -1022, 400),
        ("bg-reader", READER_SECRET, "/api/v3/order", -2015, 401),  # read-only key
        ("bg-nobody", BOT_SECRET, "/api/v3/order", -2015, 401),
        ("bg-bot", BOT_SECRET, "/sapi/v1/capital/withdraw/apply", -2015, 401),
    ],
)
async def test_refused_requests_never_reach_upstream(
    sim: Simulator,
    keyed: Gateway,
    session: aiohttp.ClientSession,
    key: str,
    secret: str,
    path: str,
    code: int,
    status: int,
) -> None:
    seen = await request_count(sim)
    api = Api(session, keyed.url, key, secret)
    market_buy = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    reply = await api.call("POST", path, market_buy, signed=True)
    assert (reply.status, reply.code) == (status, code)
    assert reply.headers[GATEWAY_HEADER] == "keys"
    assert await request_count(sim) == seen


async def test_a_replayed_order_is_refused(
    sim: Simulator, keyed: Gateway, session: aiohttp.ClientSession
) -> None:
    api = Api(session, keyed.url, "bg-bot", BOT_SECRET)
    order = {**limit_buy("0.001", "20000"), "timestamp": api.timestamp()}
    first = await api.call("POST", "/api/v3/order", order, signed=True)
    assert first.status == 200
    seen = await request_count(sim)
    replay = await api.call("POST", "/api/v3/order", order, signed=True)  # the same bytes
    assert (replay.status, replay.code) == (400, -1022)
    assert await request_count(sim) == seen
    assert len(sim.state.engine.all_orders("demo", "BTCUSDT")) == 1


async def test_no_secret_or_signature_in_the_debug_log(
    sim: Simulator, keyed: Gateway, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    real = sim.config.demo.keys[0]
    for key, secret in (("bg-bot", BOT_SECRET), ("bg-bot", "wrong"), ("bg-reader", READER_SECRET)):
        api = Api(session, keyed.url, key, secret)
        await api.call("GET", "/api/v3/account", signed=True)
        market_buy = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
        await api.call("POST", "/api/v3/order", market_buy, signed=True)
    text = caplog.text
    assert "signature=" not in text
    for secret in (BOT_SECRET, READER_SECRET, real.secret, real.api_key):
        assert secret not in text


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "binguard", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_world_readable_keys_file_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("real: {}\nlocal: []\n")
    os.chmod(path, 0o644)
    done = run_cli("--keys", str(path), "--listen", "127.0.0.1:0")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "chmod 600" in done.stderr


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    done = run_cli("keygen", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    pem = next(tmp_path.glob("bg-*.pem"))
    assert pem.stat().st_mode & 0o077 == 0
    lines = [line for line in done.stdout.splitlines() if not line.startswith("#")]
    entry = yaml.safe_load("\n".join(lines))
    assert entry[0]["api_key"] == pem.stem and "PUBLIC KEY" in entry[0]["public_key"]
    assert "PRIVATE" not in done.stdout


# -- the WebSocket API ---------------------------------------------------------------------------
@pytest.fixture
def ed_keys_file(tmp_path: Path, sim: Simulator) -> tuple[Path, Ed25519PrivateKey]:
    """Real keys: the simulator's HMAC key and its Ed25519 key (a logon needs Ed25519); local
    keys: an Ed25519 trader and a read-only HMAC reader, both on the Ed25519 real key."""
    hmac_key, ed_key = sim.config.demo.keys[0], sim.config.demo.keys[1]
    write_private(
        tmp_path / "real-ed.pem",
        demo_ed25519_private(sim.config.seed)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode(),
    )
    bot = Ed25519PrivateKey.generate()
    public = bot.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    data = {
        "real": {
            "main": {"api_key": hmac_key.api_key, "secret": hmac_key.secret},
            "ed": {"api_key": ed_key.api_key, "private_key_file": "real-ed.pem"},
        },
        "local": [
            {"api_key": "bg-ed", "public_key": public.decode(), "real": "ed"},
            {
                "api_key": "bg-reader",
                "secret": READER_SECRET,
                "real": "ed",
                "permissions": ["read"],
            },
        ],
    }
    path = tmp_path / "keys.yaml"
    write_private(path, yaml.safe_dump(data))
    return path, bot


def ws_requests(sim: Simulator) -> int:
    return sum(1 for r in sim.state.requests if r.get("ws"))


async def test_ws_api_orders_and_logon_with_local_keys(
    sim: Simulator,
    ed_keys_file: tuple[Path, Ed25519PrivateKey],
    session: aiohttp.ClientSession,
) -> None:
    path, bot_key = ed_keys_file
    async with (
        Gateway(gw_config(sim.url, keys=str(path))) as gw,
        session.ws_connect(gw.url.replace("http", "ws") + "/ws-api/v3") as ws,
    ):
        api = WsApi(ws, "bg-ed", private_key=bot_key)
        behind = int(time.time() * 1000) + SKEW_MS
        # a signed order, its timestamp 30 s behind: re-stamped and re-signed
        placed = await api.call(
            "order.place", {**limit_buy("0.001", "20000"), "timestamp": behind}, signed=True
        )
        assert placed["status"] == 200, placed
        # a logon with the local Ed25519 key, then unsigned requests in the session
        logon = await api.call("session.logon", {"timestamp": behind}, signed=True)
        assert logon["status"] == 200, logon
        second = await api.call("order.place", {**limit_buy("0.001", "20001"), "timestamp": behind})
        assert second["status"] == 200, second
        # a bad signature: Binance's error frame, nothing sent
        seen = ws_requests(sim)
        forged = api.signed(limit_buy("0.001", "20002"))
        forged["signature"] = api.signed({"other": "thing"})["signature"]
        refused = await api.response(await api.send("order.place", forged))
        assert (refused["status"], refused["error"]["code"]) == (400, -1022)
        assert ws_requests(sim) == seen
    assert len(sim.state.engine.all_orders("demo", "BTCUSDT")) == 2


async def test_ws_api_read_only_session_cannot_trade(
    sim: Simulator,
    ed_keys_file: tuple[Path, Ed25519PrivateKey],
    session: aiohttp.ClientSession,
) -> None:
    path, _ = ed_keys_file
    async with (
        Gateway(gw_config(sim.url, keys=str(path))) as gw,
        session.ws_connect(gw.url.replace("http", "ws") + "/ws-api/v3") as ws,
    ):
        api = WsApi(ws, "bg-reader", READER_SECRET)
        status = await api.call("account.status", {}, signed=True)
        assert status["status"] == 200, status
        order = await api.call("order.place", limit_buy("0.001", "20000"), signed=True)
        assert (order["status"], order["error"]["code"]) == (401, -2015)
        # logged on with the read-only key (the real key is Ed25519), the session's unsigned
        # requests are held to the same permissions
        logon = await api.call("session.logon", {}, signed=True)
        assert logon["status"] == 200, logon
        stamped = {**limit_buy("0.001", "20000"), "timestamp": int(time.time() * 1000)}
        unsigned = await api.call("order.place", stamped)
        assert (unsigned["status"], unsigned["error"]["code"]) == (401, -2015)
    assert sim.state.engine.all_orders("demo", "BTCUSDT") == []
