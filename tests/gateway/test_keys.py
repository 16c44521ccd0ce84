"""Keys mode's credentials and re-signing (gateway/keys.py, gateway/resign.py), as a unit.

Signatures are made with binguard's own signers (transport/signing.py), which the REST tests
hold against Binance's published examples (rest-api.md §SIGNED Endpoint Examples); here they
play the bot and the exchange.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import yaml

from binguard.gateway.keys import (
    KeyRing,
    KeysFileError,
    LocalAuthError,
    ReplayGuard,
    Verifier,
    keygen,
    write_private,
)
from binguard.gateway.resign import Resigned, Resigner
from binguard.policy.endpoints import Security
from binguard.transport.signing import HmacSigner, load_signer

REAL_SECRET = "real-secret-" + "9" * 40
LOCAL_SECRET = "local-secret-" + "7" * 40
NOW = 1_767_000_000_000


def ring_data(**local: Any) -> dict[str, Any]:
    entry = {"api_key": "bg-bot", "secret": LOCAL_SECRET, "real": "main", **local}
    return {"real": {"main": {"api_key": "REALKEY123", "secret": REAL_SECRET}}, "local": [entry]}


def signed(query: str, secret: str = LOCAL_SECRET) -> str:
    return f"{query}&signature={HmacSigner(secret).sign(query.encode())}"


def resigner(**local: Any) -> Resigner:
    return Resigner(KeyRing.from_mapping(ring_data(**local)))


def place(r: Resigner, *, api_key: str | None = "bg-bot", body: str = "", **kw: Any) -> Resigned:
    """The bot's POST /api/v3/order (TRADE) through `r`; `kw`: query, security, now_ms."""
    kw.setdefault("security", Security.TRADE)
    kw.setdefault("now_ms", NOW)
    return r.resign(method="POST", path="/api/v3/order", api_key=api_key, body=body, **kw)


ORDER = (
    "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=0.1&recvWindow=5000&newClientOrderId=bot-1"
)


def test_a_bot_30_s_off_is_restamped_with_the_gateway_clock_and_signed_with_the_real_key() -> None:
    query = signed(f"{ORDER}&timestamp={NOW - 30_000}")
    out = place(resigner(), query=query)
    assert out.api_key == "REALKEY123"
    payload, _, sig = out.query.rpartition("&signature=")
    assert payload == f"{ORDER}&timestamp={NOW}"  # order and encoding kept, timestamp new
    assert sig == HmacSigner(REAL_SECRET).sign(payload.encode())


def test_an_order_without_a_client_id_gets_one_before_it_is_signed() -> None:
    """The order guard's handle (gateway/order_guard.py): added where the bot sent none, inside
    what the real key signs; a bot's own id is kept as sent."""
    bare = ORDER.removesuffix("&newClientOrderId=bot-1")
    out = place(resigner(), query=signed(f"{bare}&timestamp={NOW}"))
    payload, _, sig = out.query.rpartition("&signature=")
    head, _, added = payload.rpartition("&newClientOrderId=")
    assert head == f"{bare}&timestamp={NOW}"
    assert added.startswith("bgw") and len(added) == 35 and added.isalnum()
    assert sig == HmacSigner(REAL_SECRET).sign(payload.encode())
    again = place(resigner(), query=signed(f"{bare}&timestamp={NOW}"))
    assert again.query.split("newClientOrderId=")[1] != out.query.split("newClientOrderId=")[1]


@pytest.mark.parametrize(
    ("sent", "upstream"),
    [("recvWindow=10000", "recvWindow=1000"), ("recvWindow=500", "recvWindow=500"), ("", "")],
)
def test_an_order_s_recv_window_is_capped_for_the_absence_proof(sent: str, upstream: str) -> None:
    """resign.py `_order_fields`: at most `order_window_ms` (a missing one is Binance's 5000,
    above the cap: the cap is added)."""
    r = Resigner(KeyRing.from_mapping(ring_data()), order_window_ms=1000)
    order = ORDER.replace("&recvWindow=5000", "")
    query = "&".join(p for p in (order, sent, f"timestamp={NOW}") if p)
    out = place(r, query=signed(query))
    payload = out.query.rpartition("&signature=")[0]
    windows = [p for p in payload.split("&") if p.startswith("recvWindow=")]
    assert windows == [upstream or "recvWindow=1000"]


def test_a_signature_in_the_body_stays_in_the_body() -> None:
    body = signed(f"{ORDER}&timestamp={NOW}")
    out = place(resigner(), query="", body=body)
    assert out.query == ""
    payload, _, sig = out.body.rpartition("&signature=")
    assert sig == HmacSigner(REAL_SECRET).sign(payload.encode())


def test_query_and_body_are_signed_together() -> None:
    query, body = "symbol=BTCUSDT&side=BUY", f"type=MARKET&quantity=1&timestamp={NOW}"
    sig = HmacSigner(LOCAL_SECRET).sign((query + body).encode())
    out = place(resigner(), query=query, body=f"{body}&signature={sig}")
    payload = out.query + out.body.rpartition("&signature=")[0]
    assert out.body.endswith("&signature=" + HmacSigner(REAL_SECRET).sign(payload.encode()))


@pytest.mark.parametrize(
    ("query", "code", "reason"),
    [
        (f"{ORDER}&timestamp={NOW}&signature=" + "0" * 64, -1022, "bad_signature"),
        (f"{ORDER}&timestamp={NOW}", -1022, "no_signature"),
        (signed(f"{ORDER}&timestamp={NOW}", secret="another"), -1022, "bad_signature"),
        (signed(f"{ORDER}&timestamp={NOW - 3_600_000}"), -1021, "stale"),
        (signed(ORDER), -1102, "no_timestamp"),
    ],
)
def test_a_bad_request_is_refused_with_binances_answer(query: str, code: int, reason: str) -> None:
    with pytest.raises(LocalAuthError) as caught:
        place(resigner(), query=query)
    assert (caught.value.code, caught.value.reason) == (code, reason)


def test_a_replayed_signature_is_refused_for_what_acts_not_for_reads() -> None:
    r = resigner()
    query = signed(f"{ORDER}&timestamp={NOW}")
    place(r, query=query)
    with pytest.raises(LocalAuthError) as caught:
        place(r, query=query, now_ms=NOW + 5)
    assert (caught.value.code, caught.value.reason) == (-1022, "replayed")
    account = signed(f"timestamp={NOW}")
    for _ in range(2):  # the same read twice (or two reads in one millisecond): both answered
        r.resign(
            method="GET",
            path="/api/v3/account",
            api_key="bg-bot",
            query=account,
            body="",
            security=Security.USER_DATA,
            now_ms=NOW,
        )


def test_unknown_keys_and_permissions_are_refused_with_2015() -> None:
    query = signed(f"{ORDER}&timestamp={NOW}")
    read_only = resigner(permissions=["read"])
    with pytest.raises(LocalAuthError) as caught:
        place(read_only, query=query)
    assert (caught.value.code, caught.value.status) == (-2015, 401)
    other_symbol = resigner(symbols=["ETHUSDT"])
    with pytest.raises(LocalAuthError, match="symbol_not_allowed"):
        place(other_symbol, query=query)
    with pytest.raises(LocalAuthError, match="unknown_api_key"):
        place(resigner(), api_key="bg-other", query=query)
    with pytest.raises(LocalAuthError) as caught:
        place(resigner(), api_key=None, query=query)
    assert caught.value.code == -2014


def test_the_replay_guard_never_accepts_a_signature_it_had_to_forget() -> None:
    guard = ReplayGuard(window_ms=60_000, capacity=3)
    for i in range(5):
        guard.check(f"sig{i}", NOW + i, NOW + i)
    # sig0 and sig1 were forgotten to stay within capacity: the floor rose past their timestamps
    for i in (0, 1):
        with pytest.raises(LocalAuthError, match="stale"):
            guard.check(f"sig{i}", NOW + i, NOW + 10)
    with pytest.raises(LocalAuthError, match="replayed"):
        guard.check("sig4", NOW + 4, NOW + 10)
    guard.check("sig5", NOW + 5, NOW + 10)  # a new one within the window passes
    guard.check("sig5", NOW + 5, NOW + 10, acts=False)  # a read again: only the window holds


def test_ed25519_local_keys_from_keygen_verify() -> None:
    made = keygen("ed25519")
    bot = load_signer(private_key=made["private_key"])
    data = ring_data()
    data["local"] = [{"api_key": made["api_key"], "public_key": made["public_key"], "real": "main"}]
    payload = f"{ORDER}&timestamp={NOW}"
    out = Resigner(KeyRing.from_mapping(data)).resign(
        method="POST",
        path="/api/v3/order",
        api_key=made["api_key"],
        query=f"{payload}&signature={bot.sign(payload.encode())}",
        body="",
        security=Security.TRADE,
        now_ms=NOW,
    )
    assert out.api_key == "REALKEY123"
    verifier = Verifier(public_key=made["public_key"])
    assert not verifier.verify(payload.encode(), bot.sign(b"something else"))


def test_the_keys_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    write_private(path, yaml.safe_dump(ring_data()))
    assert len(KeyRing.load(path)) == 1
    os.chmod(path, 0o644)
    with pytest.raises(KeysFileError, match="chmod 600"):
        KeyRing.load(path)


@pytest.mark.parametrize(
    "change",
    [
        {"real": "nope"},
        {"permissions": ["read", "withdraw"]},
        {"secret": None},
        {"public_key": "not a key"},
        {"symbols": "BTCUSDT"},
    ],
)
def test_a_malformed_keys_file_is_a_clear_error_without_secrets(change: dict[str, Any]) -> None:
    with pytest.raises(KeysFileError) as caught:
        KeyRing.from_mapping(ring_data(**change))
    assert LOCAL_SECRET not in str(caught.value) and REAL_SECRET not in str(caught.value)


def test_no_secret_in_any_repr_and_nothing_pickles() -> None:
    ring = KeyRing.from_mapping(ring_data())
    key = ring.local("bg-bot")
    for thing in (ring, key, key.real, key.verifier):
        text = repr(thing)
        assert LOCAL_SECRET not in text and REAL_SECRET not in text and "REALKEY123" not in text
    with pytest.raises(TypeError):
        pickle.dumps(key.verifier)


def test_a_list_gets_its_ids_and_a_resend_of_its_id_names_the_same_legs() -> None:
    """resign.py `_order_fields` for an OCO (rest-api.md §New Order list - OCO): the list's id
    where the bot sent none, each leg's derived from the list's (order_ids.py `leg_id`)."""
    oco = (
        "symbol=BTCUSDT&side=SELL&quantity=1&aboveType=LIMIT_MAKER&abovePrice=2"
        "&belowType=STOP_LOSS&belowStopPrice=1"
    )

    def sent(query: str) -> dict[str, str]:
        out = resigner().resign(
            method="POST", path="/api/v3/orderList/oco", api_key="bg-bot", body="",
            query=signed(f"{query}&timestamp={NOW}"), security=Security.TRADE, now_ms=NOW,
        )  # fmt: skip
        return dict(p.split("=", 1) for p in out.query.split("&"))

    bare = sent(oco)
    assert bare["listClientOrderId"].startswith("bgw")
    assert {bare["aboveClientOrderId"], bare["belowClientOrderId"]}.isdisjoint(
        {bare["listClientOrderId"]}
    )
    first, again = sent(oco + "&listClientOrderId=L1"), sent(oco + "&listClientOrderId=L1")
    assert first["listClientOrderId"] == "L1"
    assert first["aboveClientOrderId"] == again["aboveClientOrderId"] != bare["aboveClientOrderId"]
    mine = sent(oco + "&listClientOrderId=L1&belowClientOrderId=mine")
    assert (
        mine["belowClientOrderId"] == "mine"
        and mine["aboveClientOrderId"] == first["aboveClientOrderId"]
    )
