"""The SOR tests' exchange (test_sor.py, test_sor_wire.py): the SOR FAQ's three books BTCUSDT,
BTCUSDC and BTCUSDP configured with `sor` (faqs/sor_faq.md), ETHUSDT without, no crowd; the
demo account (`me`) and a `maker` account that fills the books."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from binguard.sim import FlowConfig, SimConfig, Simulator, SymbolSpec
from binguard.sim.config import AccountSpec, KeySpec, demo_account

from .helpers import Api

SOR_SYMBOLS = ("BTCUSDT", "BTCUSDC", "BTCUSDP")
MAKER = AccountSpec(
    "maker",
    100000002,
    (KeySpec("makerkey", "HMAC", "makersecret"),),
    {"BTC": "50", "USDT": "1000000", "USDC": "1000000", "USDP": "1000000"},
)
CONFIG = SimConfig(
    flow=FlowConfig(enabled=False),
    symbols=(
        *(SymbolSpec(s, "BTC", s[3:], initial_price="30000.00", sor=True) for s in SOR_SYMBOLS),
        SymbolSpec("ETHUSDT", "ETH", "USDT", initial_price="2000.00"),
    ),
    accounts=(
        dataclasses.replace(demo_account(0), balances={"USDT": "400000", "BTC": "20"}),
        MAKER,
    ),
)
# the FAQ's ask books (examples 1-3) and bid books (example 4): (symbol, quantity, price)
ASKS = (
    ("BTCUSDT", "3", "30800"),
    ("BTCUSDT", "3", "30500"),
    ("BTCUSDC", "1", "30000"),
    ("BTCUSDC", "1", "28000"),
    ("BTCUSDP", "1", "35000"),
    ("BTCUSDP", "1", "29000"),
)
BIDS = (
    ("BTCUSDT", "5", "29500"),
    ("BTCUSDC", "5", "35000"),
    ("BTCUSDC", "5", "30000"),
    ("BTCUSDP", "5", "28000"),
)


@pytest.fixture
async def sor() -> AsyncIterator[Simulator]:
    async with Simulator(CONFIG) as s:
        yield s
        assert s.bugs == []


@pytest.fixture
def me(sor: Simulator, session: aiohttp.ClientSession) -> Api:
    key = sor.config.demo.keys[0]
    return Api(session, sor.url, key.api_key, key.secret)


@pytest.fixture
def maker(sor: Simulator, session: aiohttp.ClientSession) -> Api:
    return Api(session, sor.url, "makerkey", "makersecret")


async def book(maker: Api, side: str, rows: tuple[tuple[str, str, str], ...]) -> None:
    for symbol, qty, price in rows:
        params = {"symbol": symbol, "side": side, "type": "LIMIT", "timeInForce": "GTC"}
        placed = await maker.order(**params, quantity=qty, price=price)
        assert placed.body["status"] == "NEW", placed.body


def sor_order(side: str, kind: str, qty: str, **kw: Any) -> dict[str, Any]:
    out = {"symbol": "BTCUSDT", "side": side, "type": kind, "quantity": qty}
    if kind == "LIMIT":
        out["timeInForce"] = "GTC"
    out.update(kw)
    return out
