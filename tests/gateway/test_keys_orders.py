"""Keys mode's order guard through the gateway to the simulator (issue 17, item 2).

Every execution-unknown fault (the simulator's execution-aware injection, sim/faults.py) ends
with the bot holding the real order, as Binance would have answered it (rest-api.md §New order,
ACK/RESULT/FULL), and the simulator's ground truth (`/_sim/orders`) equal to the gateway's
journal; a re-send with the same client id creates no duplicate. Bots: a raw signed client
(tests/sim/helpers.py `Api`), ccxt and python-binance, unchanged but for URL and local key.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from tests.sim.helpers import Api, limit_buy, spot_ccxt
from tests.sim.sor_setup import ASKS, book, sor_order
from tests.sim.sor_setup import CONFIG as SOR_CONFIG

from binguard.cli import main
from binguard.connector.journal import Stage
from binguard.gateway import Gateway, GatewayConfig
from binguard.gateway.answers import GATEWAY_HEADER
from binguard.gateway.keys import write_private
from binguard.gateway.order_guard import OrderGuard
from binguard.sim import FaultPlan, Simulator
from binguard.sim.peers import point_python_binance

from .conftest import gw_config, load_faults

BOT_SECRET = "bot-local-secret-" + "3" * 40
POST_ORDER = {"path": "/api/v3/order", "method": "POST", "times": 1}
WINDOW = "1000"  # the bots' recvWindow: the absence proof takes 1 s + the margin


@pytest.fixture
def keys_file(tmp_path: Path, sim: Simulator) -> Path:
    real = sim.config.demo.keys[0]
    data = {
        "real": {"main": {"api_key": real.api_key, "secret": real.secret}},
        "local": [{"api_key": "bg-bot", "secret": BOT_SECRET, "real": "main"}],
    }
    path = tmp_path / "keys.yaml"
    write_private(path, yaml.safe_dump(data))
    return path


def keyed_config(sim: Simulator, keys_file: Path, **changes: Any) -> Any:
    settings: dict[str, Any] = {
        "keys": str(keys_file),
        "upstream_timeout_s": 1.0,  # a stall_after of 2 s is a lost answer
        "reconcile_margin_s": 0.2,
        "order_wait_s": 4.0,
        "order_window_ms": int(WINDOW),  # python-binance sends 10000: capped
    }
    return gw_config(sim.url, **{**settings, **changes})


@pytest.fixture
async def keyed(sim: Simulator, keys_file: Path) -> AsyncIterator[Gateway]:
    async with Gateway(keyed_config(sim, keys_file)) as gw:
        yield gw


@pytest.fixture
def bot(keyed: Gateway, session: aiohttp.ClientSession) -> Api:
    return Api(session, keyed.url, "bg-bot", BOT_SECRET)


async def truth(sim: Simulator) -> list[dict[str, Any]]:
    """The simulator's ground truth: every order it holds."""
    async with aiohttp.ClientSession() as s, s.get(f"{sim.url}/_sim/orders") as r:
        orders: list[dict[str, Any]] = await r.json()
    return orders


async def assert_journal_is_truth(sim: Simulator, guard: OrderGuard | None) -> None:
    """Every order the simulator holds is journalled with its orderId, once; every journalled
    order that exists is on the simulator; nothing is left pending."""
    assert guard is not None
    guard.flush()  # the answers' batch (order_guard.py, step 2)
    journal = guard.journal
    orders = await truth(sim)
    ids = [o["clientOrderId"] for o in orders]
    assert len(ids) == len(set(ids)), "a client order id placed twice"
    by_id = {o["clientOrderId"]: o for o in orders}
    entries = {e.client_order_id: e for e in journal.all()}
    assert journal.pending() == []
    for coid, order in by_id.items():
        assert coid in entries, f"{coid} is on the exchange but not in the journal"
        assert entries[coid].order_id == order["orderId"]
    for coid, entry in entries.items():
        if entry.order_id is not None:
            assert coid in by_id, f"{coid} journalled as placed, not on the exchange"
        else:
            assert coid not in by_id


def order(coid: str | None = None, **kw: str) -> dict[str, str]:
    params = {**limit_buy("0.001", "20000"), "recvWindow": WINDOW, **kw}
    if coid is not None:
        params["newClientOrderId"] = coid
    return params


FAULTS = [
    pytest.param({"action": "reset_after"}, True, id="reset after execution"),
    pytest.param({"action": "partial_after"}, True, id="partial body after execution"),
    pytest.param({"action": "stall_after", "stall_s": 2}, True, id="stall after execution"),
    pytest.param(
        {"action": "error", "status": 500, "code": -1006, "executed": True},
        True,
        id="-1006 executed",
    ),
    pytest.param({"action": "error", "status": 500, "code": -1006}, False, id="-1006 not executed"),
    pytest.param(
        {"action": "error", "status": 503, "code": -1007, "executed": True},
        True,
        id="-1007 executed",
    ),
    pytest.param({"action": "error", "status": 503, "code": -1007}, False, id="-1007 not executed"),
    pytest.param({"action": "html", "status": 502}, False, id="HTML 502 not executed"),
    pytest.param({"action": "reset"}, False, id="reset before execution"),
]


@pytest.mark.parametrize(("fault", "executed"), FAULTS)
async def test_an_unknown_outcome_ends_with_the_real_order(
    sim: Simulator, keyed: Gateway, bot: Api, fault: dict[str, Any], executed: bool
) -> None:
    load_faults(sim, {**POST_ORDER, **fault})
    mine = "executed" if executed else None  # the bot's own id once, the gateway's once
    reply = await bot.order(**order(mine, newOrderRespType="RESULT"))
    assert sim.state.faults.log, "the fault must have fired"
    assert reply.status == 200, reply.body
    # found: the gateway's answer from the lookup; proven absent: Binance's answer to the
    # journalled order sent again
    assert reply.headers.get(GATEWAY_HEADER) == ("reconciled" if executed else None)
    [real] = await truth(sim)
    assert reply.body["orderId"] == real["orderId"]
    assert reply.body["clientOrderId"] == real["clientOrderId"]
    assert reply.body["status"] == "NEW" and reply.body["origQty"] == "0.00100000"
    if mine is not None:
        assert real["clientOrderId"] == mine
    else:
        assert real["clientOrderId"].startswith("bgw")
    assert keyed.orders is not None
    counts = keyed.orders.counts
    assert counts["reconciled_absent"] == (0 if executed else 1)
    assert counts["reconciled_found"] == (1 if executed else 0)
    await assert_journal_is_truth(sim, keyed.orders)


@pytest.mark.parametrize("kind", ["ACK", "RESULT", "FULL"])
async def test_a_reconciled_answer_has_the_shape_binance_gives(
    sim: Simulator, keyed: Gateway, bot: Api, kind: str
) -> None:
    """The same order, answered by Binance and by reconciliation: the same fields (FULL's
    fills read from myTrades; a resting order has none)."""
    direct = await bot.order(**order(newOrderRespType=kind))
    load_faults(sim, {**POST_ORDER, "action": "reset_after"})
    rebuilt = await bot.order(**order(newOrderRespType=kind))
    assert direct.status == rebuilt.status == 200
    assert GATEWAY_HEADER not in direct.headers
    assert list(rebuilt.body) == list(direct.body)
    assert rebuilt.body["orderId"] != direct.body["orderId"]
    if kind == "FULL":
        assert rebuilt.body["fills"] == direct.body["fills"] == []


async def test_full_fills_of_a_reconciled_market_order_come_from_its_trades(
    sim: Simulator, keyed: Gateway, bot: Api
) -> None:
    resting = await bot.order(**{**order(), "side": "SELL", "price": "30000", "quantity": "0.01"})
    assert resting.status == 200, resting.body
    load_faults(sim, {**POST_ORDER, "action": "reset_after"})
    taker = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002"}
    reply = await bot.order(**taker, recvWindow=WINDOW)  # MARKET: FULL by default
    assert reply.status == 200, reply.body
    assert reply.headers[GATEWAY_HEADER] == "reconciled"
    assert reply.body["status"] == "FILLED"
    assert sum(float(f["qty"]) for f in reply.body["fills"]) == pytest.approx(0.002)
    assert all(isinstance(f["tradeId"], int) for f in reply.body["fills"])


async def test_a_resend_with_the_same_client_id_gets_the_existing_order(
    sim: Simulator, keyed: Gateway, bot: Api
) -> None:
    load_faults(sim, {**POST_ORDER, "action": "reset_after"})
    first = await bot.order(**order("resend-1"))
    again = await bot.order(**order("resend-1", recvWindow="2000", newOrderRespType="ACK"))
    assert again.status == 200, again.body
    assert again.body["orderId"] == first.body["orderId"]
    assert set(again.body) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}
    assert len(await truth(sim)) == 1
    posts = [
        r for r in sim.state.requests if r["path"] == "/api/v3/order" and r["method"] == "POST"
    ]
    assert len(posts) == 1  # answered from the journal and a lookup, never sent again
    assert keyed.orders is not None
    await assert_journal_is_truth(sim, keyed.orders)


async def test_a_resend_with_other_parameters_is_refused_and_not_sent(
    sim: Simulator, keyed: Gateway, bot: Api
) -> None:
    first = await bot.order(**order("resend-2"))
    assert first.status == 200
    sent = len(sim.state.requests)
    other = await bot.order(**order("resend-2", price="20001"))
    assert other.status == 400 and other.code == -1130
    assert other.msg is not None and other.msg.startswith(
        "Data sent for parameter 'newClientOrderId' is not valid."
    )
    assert other.headers[GATEWAY_HEADER] == "journal"
    assert len(sim.state.requests) == sent
    assert len(await truth(sim)) == 1


async def test_a_resend_of_a_refused_order_is_sent_again(
    sim: Simulator, keyed: Gateway, bot: Api
) -> None:
    """Binance refused it (nothing placed): the same id may place it now."""
    load_faults(sim, {**POST_ORDER, "action": "error", "status": 400, "code": -1013})
    refused = await bot.order(**order("resend-3"))
    assert refused.status == 400 and refused.code == -1013
    placed = await bot.order(**order("resend-3"))
    assert placed.status == 200 and placed.body["clientOrderId"] == "resend-3"
    assert keyed.orders is not None
    await assert_journal_is_truth(sim, keyed.orders)


async def test_concurrent_resends_wait_for_the_first_and_get_its_order(
    sim: Simulator, keyed: Gateway, bot: Api
) -> None:
    load_faults(sim, {**POST_ORDER, "action": "stall_after", "stall_s": 2})
    replies = await asyncio.gather(  # each its own recvWindow: three signatures, no replay
        *(bot.order(**order("resend-4", recvWindow=str(1000 + i))) for i in range(3))
    )
    assert {r.status for r in replies} == {200}
    assert len({r.body["orderId"] for r in replies}) == 1
    assert len(await truth(sim)) == 1


async def test_still_unknown_at_the_end_answers_1007_and_settles_later(
    sim: Simulator, keys_file: Path, session: aiohttp.ClientSession
) -> None:
    async with Gateway(keyed_config(sim, keys_file, order_wait_s=1.0)) as gw:
        bot = Api(session, gw.url, "bg-bot", BOT_SECRET)
        load_faults(
            sim,
            {**POST_ORDER, "action": "reset_after"},
            {"path": "/api/v3/order", "method": "GET", "action": "error", "status": 503,
             "code": -1001},
        )  # fmt: skip
        reply = await bot.order(**order("late-1"))
        assert (reply.status, reply.code) == (503, -1007)
        assert reply.headers[GATEWAY_HEADER] == "unknown"
        assert gw.orders is not None
        journal = gw.orders.journal
        assert journal.stage("late-1") == (Stage.UNKNOWN, None)
        sim.state.faults.load(FaultPlan.from_mapping({"rules": []}))
        for _ in range(400):  # the background settle, by query only: bounded poll
            if journal.stage("late-1") == (Stage.ACKED, "NEW"):
                break
            await asyncio.sleep(0.01)
        assert journal.stage("late-1") == (Stage.ACKED, "NEW")
        again = await bot.order(**order("late-1"))
        assert again.status == 200 and again.body["clientOrderId"] == "late-1"
        await assert_journal_is_truth(sim, gw.orders)


async def test_ccxt_gets_the_real_order_through_a_reset_after_execution(
    sim: Simulator, keyed: Gateway
) -> None:
    ex = spot_ccxt(keyed.url, "bg-bot", BOT_SECRET)
    ex.options["recvWindow"] = int(WINDOW)
    try:
        await ex.load_markets()
        load_faults(sim, {**POST_ORDER, "action": "reset_after"})
        placed = await ex.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
    finally:
        await ex.close()
    [real] = await truth(sim)
    assert placed["id"] == str(real["orderId"])
    assert placed["clientOrderId"] == real["clientOrderId"]
    assert sim.state.faults.log


async def test_python_binance_gets_the_real_order_through_1006_not_executed(
    sim: Simulator, keyed: Gateway
) -> None:
    binance = pytest.importorskip("binance")
    client = point_python_binance(binance.AsyncClient("bg-bot", BOT_SECRET), keyed.url)
    try:
        load_faults(sim, {**POST_ORDER, "action": "error", "status": 500, "code": -1006})
        placed = await client.create_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
            quantity="0.001", price="20000", newClientOrderId="pb-1", recvWindow=int(WINDOW),
        )  # fmt: skip
    finally:
        await client.close_connection()
    [real] = await truth(sim)
    assert (placed["orderId"], placed["clientOrderId"]) == (real["orderId"], "pb-1")
    assert placed["fills"] == []  # LIMIT: FULL by default (rest-api.md §New order)
    assert sim.state.faults.log


def test_an_unusable_journal_is_one_line_and_status_2(
    tmp_path: Path, keys_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--journal` (config.py `journal`; default: beside the keys file): a file SQLite cannot
    use is refused before serving, in one line (cli.py)."""
    bad = tmp_path / "not-a-journal.sqlite"
    bad.write_bytes(b"this is not a database, " * 100)
    assert main(["gateway", "--keys", str(keys_file), "--journal", str(bad)]) == 2
    assert main(["gateway", "--keys", str(keys_file), "--order-window", "0"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("binguard gateway: ") for line in err)
    assert "journal" in err[0] and "order_window_ms" in err[1]
    assert GatewayConfig(keys=str(keys_file)).journal_path == str(tmp_path / "keys-journal.sqlite")


async def test_an_sor_order_lost_after_execution_is_answered_with_its_allocations(
    tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    """POST /api/v3/sor/order (rest-api.md §New order using SOR): journalled and looked up like
    any order; a FULL answer's fills are its allocations (myAllocations, faqs/sor_faq.md)."""
    async with Simulator(SOR_CONFIG) as sor:
        real = sor.config.demo.keys[0]
        data = {
            "real": {"main": {"api_key": real.api_key, "secret": real.secret}},
            "local": [{"api_key": "bg-bot", "secret": BOT_SECRET, "real": "main"}],
        }
        keys = tmp_path / "keys.yaml"
        write_private(keys, yaml.safe_dump(data))
        await book(Api(session, sor.url, "makerkey", "makersecret"), "SELL", ASKS)
        async with Gateway(keyed_config(sor, keys)) as gw:
            bot = Api(session, gw.url, "bg-bot", BOT_SECRET)
            load_faults(sor, {"path": "/api/v3/sor/order", "method": "POST", "times": 1,
                              "action": "reset_after"})  # fmt: skip
            params = sor_order("BUY", "MARKET", "2", recvWindow=WINDOW)  # MARKET: FULL
            reply = await bot.post("/api/v3/sor/order", params, signed=True)
            assert reply.status == 200, reply.body
            assert reply.headers[GATEWAY_HEADER] == "reconciled"
            assert (reply.body["status"], reply.body["usedSor"]) == ("FILLED", True)
            fills = [(f["price"], f["qty"], f["matchType"]) for f in reply.body["fills"]]
            assert fills == [
                ("28000.00000000", "1.00000000", "ONE_PARTY_TRADE_REPORT"),
                ("29000.00000000", "1.00000000", "ONE_PARTY_TRADE_REPORT"),
            ]
            mine = [o for o in await truth(sor) if o["clientOrderId"].startswith("bgw")]
            assert [o["orderId"] for o in mine] == [reply.body["orderId"]]


@pytest.mark.parametrize(
    ("fault", "header"),
    [({"action": "reset_after"}, "reconciled"), ({"action": "reset"}, None)],
    ids=["found", "proven absent, sent again"],
)
async def test_a_reconciled_answer_is_in_the_time_unit_the_bot_asked_for(
    sim: Simulator, keyed: Gateway, bot: Api, fault: dict[str, Any], header: str | None
) -> None:
    """`X-MBX-TIME-UNIT: MICROSECOND` (rest-api.md): the lookup and the re-send ask for
    microseconds too, so the answer's times are the ones Binance would have given the bot (they
    were in milliseconds: a bot reading microseconds was 1,000 times off)."""
    micro = {"X-MBX-TIME-UNIT": "MICROSECOND"}
    load_faults(sim, {**POST_ORDER, **fault})
    reply = await bot.call(
        "POST", "/api/v3/order", order(newOrderRespType="RESULT"), signed=True, headers=micro
    )
    assert reply.status == 200, reply.body
    assert reply.headers.get(GATEWAY_HEADER) == header
    assert keyed.orders is not None
    assert keyed.orders.counts["reconciled_absent"] == (1 if header is None else 0)
    query = {"symbol": "BTCUSDT", "orderId": reply.body["orderId"], "recvWindow": WINDOW}
    now = await bot.get("/api/v3/order", query, signed=True, headers=micro)
    assert GATEWAY_HEADER not in now.headers  # Binance's own answer, in microseconds
    assert reply.body["transactTime"] == now.body["time"] > 10**15
    assert reply.body["workingTime"] == now.body["workingTime"]
