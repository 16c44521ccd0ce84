"""SIGNED security: Binance's documented HMAC examples, RSA and Ed25519, key errors (-2014/-2015),
bad signatures (-1022). Source: rest-api.md §SIGNED Endpoint Examples for POST /api/v3/order."""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from binguard.sim import AccountSpec, FlowConfig, KeySpec, SimConfig, Simulator, SymbolSpec

from .helpers import Api, msg

DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_TS = 1499827319559
DOC_PAYLOAD = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1"
    "&recvWindow=5000&timestamp=1499827319559"
)
DOC_SIG = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
DOC_QUERY3 = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
DOC_BODY3 = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
DOC_SIG3 = "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"


def _pem(key: Ed25519PrivateKey | rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
async def doc_sim(
    rsa_key: rsa.RSAPrivateKey, ed_key: Ed25519PrivateKey
) -> AsyncIterator[Simulator]:
    config = SimConfig(
        symbols=(
            SymbolSpec(
                "LTCBTC",
                "LTC",
                "BTC",
                initial_price="0.10000000",
                tick_size="0.00000100",
                min_price="0.00000100",
                step_size="0.01000000",
                min_qty="0.01000000",
                min_notional="0.00010000",
            ),
        ),
        accounts=(
            AccountSpec(
                "doc",
                1,
                (
                    KeySpec(DOC_KEY, "HMAC", DOC_SECRET),
                    KeySpec("rsakey1", "RSA", public_key_pem=_pem(rsa_key)),
                    KeySpec("edkey1", "ED25519", public_key_pem=_pem(ed_key)),
                ),
                {"BTC": "10"},
            ),
        ),
        flow=FlowConfig(enabled=False),
    )
    async with Simulator(config) as s:
        # put the server clock at the doc's timestamp, so its signed examples are fresh
        s.state.clock.set(offset_ms=0)
        s.state.clock.set(offset_ms=DOC_TS + 100 - s.state.clock.now_ms())
        yield s
        assert s.bugs == []


async def test_documented_hmac_examples_are_accepted(
    doc_sim: Simulator, session: aiohttp.ClientSession
) -> None:
    api = Api(session, doc_sim.url, DOC_KEY)
    hdr = {"X-MBX-APIKEY": DOC_KEY}
    as_body = await api.raw(
        "POST", "/api/v3/order", body=f"{DOC_PAYLOAD}&signature={DOC_SIG}", headers=hdr
    )
    as_query = await api.raw(
        "POST", "/api/v3/order", query=f"{DOC_PAYLOAD}&signature={DOC_SIG}", headers=hdr
    )
    mixed = await api.raw(
        "POST",
        "/api/v3/order",
        query=DOC_QUERY3,
        body=f"{DOC_BODY3}&signature={DOC_SIG3}",
        headers=hdr,
    )
    for reply in (as_body, as_query, mixed):
        assert reply.status == 200, reply.body
        assert reply.body["status"] == "NEW"
        assert reply.body["price"] == "0.10000000"
    orders = await api.admin("orders?account=doc")
    assert len(orders) == 3


async def test_hmac_signature_is_not_case_sensitive(
    doc_sim: Simulator, session: aiohttp.ClientSession
) -> None:
    api = Api(session, doc_sim.url)
    reply = await api.raw(
        "POST",
        "/api/v3/order",
        body=f"{DOC_PAYLOAD}&signature={DOC_SIG.upper()}",
        headers={"X-MBX-APIKEY": DOC_KEY},
    )
    assert reply.status == 200


async def test_tampered_payload_is_1022(doc_sim: Simulator, session: aiohttp.ClientSession) -> None:
    api = Api(session, doc_sim.url)
    tampered = DOC_PAYLOAD.replace("quantity=1", "quantity=2")
    reply = await api.raw(
        "POST",
        "/api/v3/order",
        body=f"{tampered}&signature={DOC_SIG}",
        headers={"X-MBX-APIKEY": DOC_KEY},
    )
    assert (reply.status, reply.code, reply.msg) == (400, -1022, msg(-1022))
    assert await api.admin("orders") == []


@pytest.mark.parametrize("kind", ["RSA", "ED25519"])
async def test_asymmetric_keys_round_trip(
    doc_sim: Simulator,
    session: aiohttp.ClientSession,
    rsa_key: rsa.RSAPrivateKey,
    ed_key: Ed25519PrivateKey,
    kind: str,
) -> None:
    private = rsa_key if kind == "RSA" else ed_key
    api = Api(session, doc_sim.url, "rsakey1" if kind == "RSA" else "edkey1", private_key=private)
    api.clock_offset_ms = doc_sim.state.clock.now_ms() - api.timestamp()
    ok = await api.get("/api/v3/account", signed=True)
    assert ok.status == 200, ok.body
    assert ok.body["balances"][0]["asset"] == "BTC"
    # the signature is case-sensitive for these key types
    ts = doc_sim.state.clock.now_ms()
    payload = f"timestamp={ts}"
    sig = api.sign(payload)
    bad = await api.raw(
        "GET",
        "/api/v3/account",
        query=f"{payload}&signature={urllib.parse.quote(sig.swapcase(), safe='')}",
        headers={"X-MBX-APIKEY": api.api_key},
    )
    assert (bad.status, bad.code) == (400, -1022)
    garbage = await api.raw(
        "GET",
        "/api/v3/account",
        query=f"{payload}&signature=%%%not-base64",
        headers={"X-MBX-APIKEY": api.api_key},
    )
    assert garbage.code == -1022


@pytest.mark.parametrize(
    ("api_key", "code"),
    [(None, -2014), ("", -2014), ("bad key!", -2014), ("unknownkey123", -2015)],
)
async def test_missing_malformed_or_unknown_key(api: Api, api_key: str | None, code: int) -> None:
    headers = {} if api_key is None else {"X-MBX-APIKEY": api_key}
    payload = f"timestamp={api.timestamp()}"
    reply = await api.raw(
        "GET", "/api/v3/account", query=f"{payload}&signature={api.sign(payload)}", headers=headers
    )
    assert (reply.status, reply.code, reply.msg) == (401, code, msg(code))


async def test_missing_signature_and_timestamp(api: Api) -> None:
    no_sig = await api.raw(
        "GET",
        "/api/v3/account",
        query=f"timestamp={api.timestamp()}",
        headers={"X-MBX-APIKEY": api.api_key},
    )
    assert (no_sig.code, no_sig.msg) == (-1102, msg(-1102, 1, "signature"))
    no_ts = await api.raw(
        "GET", "/api/v3/account", query="signature=abc", headers={"X-MBX-APIKEY": api.api_key}
    )
    assert (no_ts.code, no_ts.msg) == (-1102, msg(-1102, 1, "timestamp"))


async def test_secret_never_in_reprs(sim: Simulator) -> None:
    key = sim.config.demo.keys[0]
    assert key.secret not in repr(sim.config)
    assert key.secret not in repr(sim.state.keys.identify(key.api_key))
