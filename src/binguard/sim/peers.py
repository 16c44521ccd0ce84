"""Pointing other bots' client libraries at the simulator, so that every call they make lands here.

The simulator answers Binance's Spot API under `/api/v3`; every other API family a client knows
(margin, futures, options, the website) is pointed at `/_absent`, where the simulator answers 404,
so nothing a client does can leave the machine. The clients are taken as they are (duck-typed):
binguard does not depend on them.

    client = binance.AsyncClient(key, secret); point_python_binance(client, sim.url)
    ex = ccxt.async_support.binance({...});    point_ccxt(ex, sim.url)
"""

from __future__ import annotations

from typing import Any

_PYTHON_BINANCE_SPOT = ("API_URL", "API_TESTNET_URL", "API_DEMO_URL")
_PYTHON_BINANCE_OTHERS = (
    "MARGIN_API_URL",
    "PAPI_URL",
    "FUTURES_URL",
    "FUTURES_DATA_URL",
    "FUTURES_COIN_URL",
    "FUTURES_COIN_DATA_URL",
    "OPTIONS_URL",
    "WEBSITE_URL",
)
_CCXT_SPOT = ("public", "private")


def point_python_binance(client: Any, url: str) -> Any:
    """Point a python-binance (Async)Client at the simulator at `url`; returns the client."""
    for attr in _PYTHON_BINANCE_SPOT:
        setattr(client, attr, f"{url}/api")
    for attr in _PYTHON_BINANCE_OTHERS:
        if hasattr(client, attr):  # the families differ between python-binance versions
            setattr(client, attr, f"{url}/_absent")
    return client


def point_ccxt(exchange: Any, url: str) -> Any:
    """Point a ccxt binance exchange at the simulator at `url`; returns the exchange."""
    exchange.urls["api"] = {
        name: f"{url}/api/v3" if name in _CCXT_SPOT else f"{url}/_absent/{name}"
        for name in exchange.urls["api"]
    }
    return exchange
