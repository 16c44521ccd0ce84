"""The few calls outside `/api/v3` that popular clients make at start-up, served so they start.

ccxt's binance `load_markets()` (default options) asks `/sapi/v1/capital/config/getall`,
`/sapi/v1/margin/allPairs` and `/sapi/v1/margin/isolated/allPairs` when it has keys, and the
futures `/fapi/v1/exchangeInfo` and `/dapi/v1/exchangeInfo`; `fetch_trading_fees()` asks
`/sapi/v1/asset/tradeFee`, `fetch_status()` `/sapi/v1/system/status`; freqtrade on Spot asks
`/sapi/v1/spot/delist-schedule`. They answer well-formed data for the simulated assets: the
accounts' balances and commission rates, no margin pairs, no futures symbols, nothing delisted,
status normal. This is not a wallet or margin simulator: every other path still answers 404
-1020, and each unknown path is printed once on stderr ("not served by binguard sim: GET /…") so
a user sees at once what their bot called. Binance counts SAPI and futures weights in limits of
their own, which the simulator does not model (weight 0 here).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .call import Call, Endpoint, Reply, fixed
from .numbers import fmt
from .rest_market import symbol_param

_SIGNING = ("timestamp", "recvWindow", "signature")


def _account(call: Call) -> Any:
    return call.state.engine.accounts[call.account]


def _assets(call: Call) -> list[str]:
    names: dict[str, None] = {}
    for rules in call.state.engine.rules.values():
        names[rules.spec.base] = names[rules.spec.quote] = None
    return list(names)


def _network(coin: str) -> dict[str, Any]:
    return {
        "network": coin,
        "coin": coin,
        "name": coin,
        "isDefault": True,
        "depositEnable": True,
        "withdrawEnable": True,
        "withdrawFee": "0",
        "withdrawMin": "0",
        "withdrawMax": "9999999999",
        "withdrawIntegerMultiple": "0.00000001",
        "minConfirm": 1,
        "unLockConfirm": 1,
        "addressRegex": "",
        "memoRegex": "",
        "depositDesc": "",
        "withdrawDesc": "",
        "specialTips": "",
        "sameAddress": False,
        "busy": False,
        "estimatedArrivalTime": 1,
        "contractAddress": "",
        "contractAddressUrl": "",
    }


async def capital_config(call: Call) -> Reply:
    call.params.finish()
    acct = _account(call)
    out = []
    for coin in _assets(call):
        out.append(
            {
                "coin": coin,
                "name": coin,
                "depositAllEnable": True,
                "withdrawAllEnable": True,
                "free": fmt(acct.free.get(coin, 0)),
                "locked": fmt(acct.locked.get(coin, 0)),
                "freeze": "0",
                "withdrawing": "0",
                "ipoing": "0",
                "ipoable": "0",
                "storage": "0",
                "isLegalMoney": False,
                "trading": True,
                "networkList": [_network(coin)],
            }
        )
    return Reply(out)


async def trade_fee(call: Call) -> Reply:
    symbol = symbol_param(call, required=False)
    call.params.finish()
    acct = _account(call)
    maker, taker = f"{acct.maker_bps / 10000:.4f}", f"{acct.taker_bps / 10000:.4f}"
    names = [symbol] if symbol else list(call.state.engine.rules)
    return Reply([{"symbol": n, "makerCommission": maker, "takerCommission": taker} for n in names])


async def no_pairs(call: Call) -> Reply:
    symbol_param(call, required=False)
    call.params.mark(*_SIGNING)
    call.params.finish()
    return Reply([])


async def delist_schedule(call: Call) -> Reply:
    call.params.mark(*_SIGNING)
    call.params.finish()
    return Reply([])


async def system_status(call: Call) -> Reply:
    call.params.finish()
    return Reply({"status": 0, "msg": "normal"})


async def no_futures(call: Call) -> Reply:
    call.params.finish()
    return Reply(
        {
            "timezone": "UTC",
            "serverTime": call.state.clock.now_ms(),
            "rateLimits": [],
            "exchangeFilters": [],
            "assets": [],
            "symbols": [],
        }
    )


ENDPOINTS = (
    Endpoint("GET", "/sapi/v1/capital/config/getall", capital_config, fixed(0), signed=True),
    Endpoint("GET", "/sapi/v1/asset/tradeFee", trade_fee, fixed(0), signed=True),
    Endpoint("GET", "/sapi/v1/margin/allPairs", no_pairs, fixed(0)),
    Endpoint("GET", "/sapi/v1/margin/isolated/allPairs", no_pairs, fixed(0), signed=True),
    Endpoint("GET", "/sapi/v1/spot/delist-schedule", delist_schedule, fixed(0)),
    Endpoint("GET", "/sapi/v1/system/status", system_status, fixed(0)),
    Endpoint("GET", "/fapi/v1/exchangeInfo", no_futures, fixed(0)),
    Endpoint("GET", "/dapi/v1/exchangeInfo", no_futures, fixed(0)),
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SEEN_KEY = web.AppKey("binguard_sim_unknown_paths", set[str])


@web.middleware
async def note_unknown(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Print each path nobody serves once on stderr, then let the 404 through (-1020)."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        seen = request.app.get(_SEEN_KEY)
        key = f"{request.method} {request.path}"
        if seen is not None and key not in seen:
            seen.add(key)
            print(f"not served by binguard sim: {key}", file=sys.stderr, flush=True)
        raise


def add_unknown_log(app: web.Application) -> None:
    app[_SEEN_KEY] = set()
