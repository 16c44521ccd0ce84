"""Pointing other bots' client libraries at the simulator, so that every call they make lands here.

Every URL a client knows is rewritten to the simulator's host with the same path (`/api/v3`,
`/sapi/v1`, `/fapi/v1`, ...): the simulator answers Spot and the few start-up calls of sapi.py,
and 404 -1020 (with one line on stderr) for the rest, so nothing a client does can leave the
machine and the log shows the real Binance path it called. WebSocket URLs go to the simulator's
streams (`/ws`, `/stream`) and WebSocket API (`/ws-api/v3`); non-Spot socket families go to
`/_absent/...`. The clients are taken as they are (duck-typed): binguard does not depend on them.

    client = binance.AsyncClient(key, secret); point_python_binance(client, sim.url)
    bm = BinanceSocketManager(client);         point_python_binance(bm, sim.url)
    ex = ccxt.pro.binance({...});              point_ccxt(ex, sim.url)   # REST and WS
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

_PYTHON_BINANCE_REST = (
    "API_URL",
    "API_TESTNET_URL",
    "API_DEMO_URL",
    "MARGIN_API_URL",
    "PAPI_URL",
    "FUTURES_URL",
    "FUTURES_DATA_URL",
    "FUTURES_COIN_URL",
    "FUTURES_COIN_DATA_URL",
    "OPTIONS_URL",
    "WEBSITE_URL",
)
_PYTHON_BINANCE_STREAMS = ("STREAM_URL", "STREAM_TESTNET_URL", "STREAM_DEMO_URL")
_PYTHON_BINANCE_OTHER_STREAMS = ("FSTREAM_URL", "FSTREAM_TESTNET_URL", "FSTREAM_DEMO_URL",
                                 "DSTREAM_URL", "DSTREAM_TESTNET_URL", "DSTREAM_DEMO_URL")  # fmt: skip
_CCXT_SPOT_WS = ("spot", "margin")


def _ws(url: str) -> str:
    return "ws" + url.removeprefix("http")


def _same_path(original: str, url: str) -> str:
    """`original` with its scheme and host replaced by the simulator's (the path kept)."""
    return url + urlsplit(original).path


def point_python_binance(client: Any, url: str) -> Any:
    """Point a python-binance (Async)Client, or a BinanceSocketManager, at the simulator at `url`
    (REST, streams and the WebSocket API); returns what it was given."""
    for attr in _PYTHON_BINANCE_REST:
        if hasattr(client, attr):  # the families differ between python-binance versions
            value = str(getattr(client, attr))
            setattr(
                client, attr, f"{url}/api" if attr.startswith("API_") else _same_path(value, url)
            )
    for attr in _PYTHON_BINANCE_STREAMS:
        if hasattr(client, attr):
            setattr(client, attr, _ws(url) + "/")
    for attr in _PYTHON_BINANCE_OTHER_STREAMS:
        if hasattr(client, attr):
            setattr(client, attr, _ws(url) + "/_absent/")
    ws_api = getattr(client, "ws_api", None)
    if ws_api is not None and hasattr(ws_api, "_url"):
        ws_api._url = _ws(url) + "/ws-api/v3"
    for name in ("ws_future", "ws_futures"):
        other = getattr(client, name, None)
        if other is not None and hasattr(other, "_url"):
            other._url = _ws(url) + "/_absent/ws-fapi/v1"
    return client


def _ccxt_ws(urls: dict[str, Any], url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in urls.items():
        if name == "ws-api":
            out[name] = {
                k: _ws(url) + ("/ws-api/v3" if k == "spot" else f"/_absent/ws-api/{k}")
                for k in value
            }
        elif name in _CCXT_SPOT_WS:
            out[name] = _ws(url) + "/ws"
        elif isinstance(value, str):
            out[name] = _ws(url) + f"/_absent/{name}"
        else:
            out[name] = value
    return out


def point_ccxt(exchange: Any, url: str) -> Any:
    """Point a ccxt (or ccxt.pro) binance exchange at the simulator at `url`; returns it.

    REST families keep their paths on the simulator's host; `urls['api']['ws']` (ccxt.pro) stays
    a dict of the shape ccxt expects, its Spot entries at the simulator's `/ws` and
    `/ws-api/v3`."""
    api = exchange.urls["api"]
    pointed: dict[str, Any] = {}
    for name, value in api.items():
        if name == "ws" and isinstance(value, dict):
            pointed[name] = _ccxt_ws(value, url)
        elif isinstance(value, str):
            pointed[name] = _same_path(value, url)
        else:
            pointed[name] = value
    exchange.urls["api"] = pointed
    return exchange
