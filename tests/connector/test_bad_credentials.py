"""Bad credentials end every loop at once (issue 12, item 3), against the simulator.

A wrong secret (-1022 "Signature for this request is not valid.") or an unknown key (-2015
"Invalid API-key, IP, or permissions for action."), errors.md, can never be cured by asking
again. Reconciling, recovering and subscribing each raise the typed AuthError to the caller
after ONE request — counted in the simulator's request log (`/_sim/requests`) — and the journal
entry stays pending for a later `recover()` with good credentials. Before the fix, reconciling
polled GET /api/v3/order until the reconcile deadline and raised ExecutionUnknownError, and
`start_user_data()` reconnected until its `within` ran out.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binguard.connector.client import SpotConnector
from binguard.connector.journal import OrderJournal, Stage
from binguard.connector.ledger import OrderLedger
from binguard.connector.tracker import OrderTracker
from binguard.errors import AuthError
from binguard.sim import Simulator

from .conftest import (
    FAST,
    OPTIONS,
    MakeConnector,
    admin,
    credentials,
    load_faults,
    until,
)

PLACE = {"path": "/api/v3/order", "method": "POST"}
PARAMS: dict[str, Any] = {
    "quantity": "0.001",
    "price": "20000.00",
    "time_in_force": "GTC",
}


async def requests(sim: Simulator, method: str, path: str | None = None) -> int:
    """How many requests with this method (and path) reached the simulator."""
    log = await admin(sim, "requests")
    return sum(1 for e in log if e["method"] == method and (path is None or e["path"] == path))


def wrong_secret(sim: Simulator) -> dict[str, Any]:
    return {**credentials(sim), "secret": "0" * 64}


def unknown_key(sim: Simulator) -> dict[str, Any]:
    return {**credentials(sim), "api_key": "x" * 64}


def unknown_ed25519(sim: Simulator) -> dict[str, Any]:
    """A valid Ed25519 private key the exchange does not know, with the demo key's id."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {**credentials(sim, 1), "private_key": pem}


async def test_reconciling_with_a_wrong_secret_asks_once(sim: Simulator, tmp_path: Path) -> None:
    # The placement is reset before the engine (faults fire before authentication), so its
    # outcome is unknown to the client and it is reconciled: with a wrong secret.
    load_faults(sim, {**PLACE, "action": "reset", "times": 1})
    options = FAST.with_(reconcile_deadline=3.0, journal_path=tmp_path / "j.db")
    async with SpotConnector(base_url=sim.url, options=options, **wrong_secret(sim)) as bn:
        with pytest.raises(AuthError) as caught:
            await bn.place_order("BTCUSDT", "BUY", "LIMIT", client_order_id="bg-ws1", **PARAMS)
        assert caught.value.code == -1022
        assert await requests(sim, "GET", "/api/v3/order") == 1
        assert await requests(sim, "POST", "/api/v3/order") == 1
        assert [e.client_order_id for e in bn.journal.pending()] == ["bg-ws1"]
        entry = bn.journal.get("bg-ws1")
        assert entry is not None and entry.stage is Stage.UNKNOWN


def _pending_journal(path: Path, *coids: str) -> None:
    """A journal left by a crashed process: orders sent, outcome unknown."""
    ledger = OrderLedger(OrderJournal(path), OrderTracker())
    for coid in coids:
        ledger.intent(coid, "BTCUSDT", {"side": "BUY", "type": "LIMIT"})
        ledger.sent(coid)
    ledger.close()


async def test_recover_with_an_unknown_key_asks_once(sim: Simulator, tmp_path: Path) -> None:
    journal = tmp_path / "j.db"
    _pending_journal(journal, "bg-r1", "bg-r2")
    options = FAST.with_(reconcile_deadline=3.0, journal_path=journal)
    async with SpotConnector(base_url=sim.url, options=options, **unknown_key(sim)) as bn:
        with pytest.raises(AuthError) as caught:
            await bn.recover()
        assert caught.value.code == -2015
        assert await requests(sim, "GET", "/api/v3/order") == 1
        assert [e.client_order_id for e in bn.journal.pending()] == ["bg-r1", "bg-r2"]
    # With the right credentials, a later recover() settles them (never placed).
    async with SpotConnector(base_url=sim.url, options=options, **credentials(sim)) as bn:
        assert await bn.recover() == [None, None]
        assert bn.journal.pending() == []


@pytest.mark.parametrize(
    ("make", "logon", "method", "code"),
    [
        (wrong_secret, False, "userDataStream.subscribe.signature", -1022),
        (unknown_key, False, "userDataStream.subscribe.signature", -2015),
        (unknown_ed25519, True, "session.logon", -1022),
    ],
    ids=["wrong-secret", "unknown-key", "ed25519-logon"],
)
async def test_start_user_data_with_bad_credentials_fails_at_once(
    wsim: Simulator, make: Any, logon: bool, method: str, code: int
) -> None:
    options = OPTIONS.with_(
        stream_url=wsim.ws_url, ws_api_url=f"{wsim.ws_url}/ws-api/v3", user_data_logon=logon
    )
    async with SpotConnector(base_url=wsim.url, options=options, **make(wsim)) as bn:
        with pytest.raises(AuthError) as caught:
            await bn.start_user_data(within=5.0)
        assert caught.value.code == code
        assert bn.user_data is None  # closed: nothing left reconnecting in the background
    assert await requests(wsim, method) == 1
    assert await requests(wsim, "CONNECT") == 1


_KEY = {"status": 401, "code": -2015}  # errors.md -2015 REJECTED_MBX_KEY
REJECTED_KEY = {"action": "error", **_KEY}


async def test_the_user_data_fallback_stops_at_a_rejected_key(
    wsim: Simulator, wconnect: MakeConnector
) -> None:
    """The key is rejected while the stream is down (here a fault answers -2015 to every order
    lookup): the REST fallback asks once, stops, and says why (`failure`)."""
    bn = await wconnect(fallback_poll=0.1, fallback_max_orders=5)
    ud = await bn.start_user_data(["BTCUSDT"])
    await until(lambda: ud.healthy, what="user data healthy")
    for price in ("20000.00", "20001.00"):
        await bn.place_order(
            "BTCUSDT", "BUY", "LIMIT", quantity="0.001", price=price, time_in_force="GTC"
        )
    load_faults(
        wsim,
        {"action": "ws_reset", "path": "/ws-api/v3"},
        {"path": "/api/v3/order", "method": "GET", **REJECTED_KEY},
    )
    before = await requests(wsim, "GET", "/api/v3/order")
    ud.sup.drop("test: network lost")
    await until(lambda: ud.failure is not None, what="fallback stopped")
    poller = ud._poller
    assert poller is not None
    await until(poller.done, what="poller ended")
    assert isinstance(ud.failure, AuthError) and ud.failure.code == -2015
    assert await requests(wsim, "GET", "/api/v3/order") - before == 1
    assert len(bn.tracker.open_orders()) == 2  # still open, as far as anyone knows


async def test_a_catch_up_refused_is_not_retried(wsim: Simulator, wconnect: MakeConnector) -> None:
    bn = await wconnect()
    ud = await bn.start_user_data(["BTCUSDT"])
    await until(lambda: ud.healthy, what="user data healthy")
    catching = ud._catching
    if catching is not None:
        await catching  # the start's own catch-up, with good answers
    load_faults(wsim, {"path": "/api/v3/myTrades", "method": "GET", **REJECTED_KEY})
    before = await requests(wsim, "GET", "/api/v3/myTrades")
    ud._start_catch_up("test")
    catching = ud._catching
    assert catching is not None
    await asyncio.wait_for(catching, 10.0)  # before the fix: retried with backoff, forever
    assert await requests(wsim, "GET", "/api/v3/myTrades") - before == 1
    assert isinstance(ud.failure, AuthError) and ud.failure.code == -2015


async def test_a_refused_resubscription_stops_instead_of_reconnecting(
    wsim: Simulator, wconnect: MakeConnector
) -> None:
    """The subscription ends (eventStreamTerminated) and renewing it is refused (-2015: the key
    was revoked meanwhile): one subscription request, then the stream stops for good — no
    replaced socket sending the same refused request again."""
    bn = await wconnect()
    ud = await bn.start_user_data(["BTCUSDT"])
    await until(lambda: ud.healthy, what="user data healthy")
    method = "userDataStream.subscribe.signature"
    load_faults(wsim, {"path": "/ws-api/v3", "method": method, "action": "ws_error", **_KEY})
    before = (await requests(wsim, method), await requests(wsim, "CONNECT"))
    reply = await ud.sup.request({"method": "userDataStream.unsubscribe", "params": {}})
    assert reply["status"] == 200
    await until(lambda: ud.failure is not None, what="resubscription refused")
    assert isinstance(ud.failure, AuthError) and ud.failure.code == -2015
    await until(lambda: not ud.sup.connected, what="socket closed")
    after = (await requests(wsim, method), await requests(wsim, "CONNECT"))
    assert (after[0] - before[0], after[1] - before[1]) == (1, 0)


async def test_ws_orders_with_a_refused_logon_fail_at_open(wsim: Simulator) -> None:
    """`orders_via="ws"` with an Ed25519 key the exchange refuses: `session.logon` is refused
    once and open() raises the AuthError (it used to log on again forever in the background,
    and every order waited out its deadline)."""
    options = OPTIONS.with_(
        stream_url=wsim.ws_url, ws_api_url=f"{wsim.ws_url}/ws-api/v3", orders_via="ws"
    )
    bn = SpotConnector(base_url=wsim.url, options=options, **unknown_ed25519(wsim))
    try:
        with pytest.raises(AuthError) as caught:
            await bn.open()
        assert caught.value.code == -1022
    finally:
        await bn.close()
    assert await requests(wsim, "session.logon") == 1
