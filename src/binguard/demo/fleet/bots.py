"""One freqtrade-like bot on unmodified ccxt: it polls market data and trades one order at a time.

Each loop (LOOP_S; freqtrade's process_throttle_secs is 5 s, compressed here) the bot does what
freqtrade's process() asks of ccxt for each pair of its whitelist (freqtrade/freqtradebot.py,
exchange.py): candles (`fetch_ohlcv`, GET /api/v3/klines), a ticker (`fetch_ticker`,
GET /api/v3/ticker/24hr) and the order book for its price (`fetch_order_book` with limit 5,
GET /api/v3/depth: freqtrade's `order_book_top` 1 rounded up to Binance's smallest l2 limit).
It trades the first pair: like manage_open_orders(), `fetch_order` on its open order; every
ORDER_EVERY loops without one it places a limit buy well below the market (POST /api/v3/order)
and, like execute_entry(), refreshes its wallet (`fetch_balance`, GET /api/v3/account); an
order open CANCEL_AFTER loops is cancelled (the unfilled timeout; DELETE /api/v3/order) and the
wallet refreshed again.

What ccxt is told is the base URL only (binguard.sim.peers.point_ccxt) and freqtrade's default
`enableRateLimit`. One thing is added to freqtrade's handling, the check Binance asks for when
an order's outcome is unknown (rest-api.md §General API Information: 5XX "the execution status
is UNKNOWN"): an order whose answer was an error other than Binance refusing it is looked up by
its client order id (`fetch_order` with origClientOrderId) until the lookup answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from binguard.sim.peers import point_ccxt

PAIRS = ("BTC/USDT", "ETH/USDT", "ETH/BTC")  # the whitelist: market data for each pair
SYMBOL = PAIRS[0]  # the pair it trades
LOOP_S = 1.0
ORDER_EVERY = 4  # loops without an open order before the next one is placed
CANCEL_AFTER = 4  # loops an order may stay open (freqtrade's unfilledtimeout)
# Per 8-loop order cycle a bot asks 8 x 27 weight of market data and 1 + 20 + 4 x 4 + 1 + 20 of
# signed calls: signed calls are ~1/8 of its requests and ~1/5 of its weight.
AMOUNT = 0.001


def ccxt_module() -> Any:
    """ccxt.async_support, or ImportError (the `demo` extra installs it)."""
    return importlib.import_module("ccxt.async_support")


@dataclass
class BotState:
    """What one bot did and what it believes about its orders."""

    name: str
    calls: Counter[str] = field(default_factory=Counter)  # by ccxt method
    failures: Counter[str] = field(default_factory=Counter)  # by ccxt exception class
    placed: dict[str, str] = field(default_factory=dict)  # client order id -> order id
    unsure: list[str] = field(default_factory=list)  # client order ids of unknown outcome
    absent: set[str] = field(default_factory=set)  # refused or looked up and not found
    open_id: str | None = None
    open_loops: int = 0
    sent: int = 0  # client order ids used


class Bot:
    """One ccxt binance instance pointed at `url`, run by `run()` for `seconds`."""

    def __init__(self, name: str, url: str, key: str, secret: str) -> None:
        self.ccxt = ccxt_module()
        self.state = BotState(name)
        self.ex = self.ccxt.binance(
            {
                "apiKey": key,
                "secret": secret,
                "enableRateLimit": True,  # freqtrade's default
                "options": {
                    "fetchMarkets": {"types": ["spot"]},  # Spot only: the simulator is Spot
                    "fetchCurrencies": False,
                    "fetchMargins": False,
                },
            }
        )
        self.ex.has["fetchCurrencies"] = False
        point_ccxt(self.ex, url)  # the base URL is all that changes

    async def close(self) -> None:
        await self.ex.close()

    async def _call(self, method: str, *args: Any, **kw: Any) -> Any:
        """One ccxt call, counted; a failure is counted by class and re-raised."""
        self.state.calls[method] += 1
        try:
            return await getattr(self.ex, method)(*args, **kw)
        except self.ccxt.BaseError as e:
            self.state.failures[type(e).__name__] += 1
            raise

    async def run(self, seconds: float) -> None:
        """The loop until `seconds` have passed; every error is handled as freqtrade does
        (logged, the loop goes on)."""
        end = time.monotonic() + seconds
        loop = 0
        while time.monotonic() < end:
            started = time.monotonic()
            await self.step(loop)
            loop += 1
            await asyncio.sleep(max(0.0, LOOP_S - (time.monotonic() - started)))

    async def step(self, loop: int) -> None:
        ccxt = self.ccxt
        price = None
        for pair in PAIRS:
            for method, args in (
                ("fetch_ohlcv", (pair, "1m", None, 100)),
                ("fetch_ticker", (pair,)),
                ("fetch_order_book", (pair, 5)),
            ):
                try:
                    got = await self._call(method, *args)
                except ccxt.BaseError:
                    continue
                if method == "fetch_ticker" and pair == SYMBOL:
                    price = got.get("last")
        await self.resolve()
        await self._manage(loop, price)

    async def _manage(self, loop: int, price: float | None) -> None:
        s = self.state
        if s.open_id is not None:
            s.open_loops += 1
            try:
                order = await self._call("fetch_order", s.open_id, SYMBOL)
                if order.get("status") != "open":
                    s.open_id = None
            except self.ccxt.BaseError:
                pass
            if s.open_id is not None and s.open_loops >= CANCEL_AFTER:
                await self._cancel(s.open_id)
        elif price and loop % ORDER_EVERY == ORDER_EVERY - 1:
            await self._place(price)

    async def _place(self, price: float) -> None:
        ccxt, s = self.ccxt, self.state
        s.sent += 1
        coid = f"{s.name}-{s.sent}"
        limit = float(self.ex.price_to_precision(SYMBOL, price * 0.9))
        try:
            order = await self._call(
                "create_order",
                SYMBOL,
                "limit",
                "buy",
                AMOUNT,
                limit,
                {"newClientOrderId": coid},
            )
        except (ccxt.InsufficientFunds, ccxt.InvalidOrder, ccxt.DDoSProtection):
            s.absent.add(coid)  # Binance refused it: nothing was placed
            return
        except ccxt.BaseError:
            s.unsure.append(coid)  # executed or not: look it up (resolve)
            return
        s.placed[coid] = str(order["id"])
        s.open_id, s.open_loops = str(order["id"]), 0
        await self._wallet()

    async def _cancel(self, order_id: str) -> None:
        try:
            await self._call("cancel_order", order_id, SYMBOL)
            self.state.open_id = None
        except self.ccxt.OrderNotFound:
            self.state.open_id = None  # filled or cancelled already
        except self.ccxt.BaseError:
            return  # the next fetch_order tells
        await self._wallet()

    async def _wallet(self) -> None:
        with contextlib.suppress(self.ccxt.BaseError):
            await self._call("fetch_balance")

    async def resolve(self) -> None:
        """Look up each order of unknown outcome by its client order id."""
        s = self.state
        for coid in list(s.unsure):
            try:
                order = await self._call("fetch_order", None, SYMBOL, {"origClientOrderId": coid})
            except self.ccxt.OrderNotFound:
                s.unsure.remove(coid)
                s.absent.add(coid)
                continue
            except self.ccxt.BaseError:
                continue  # ask again later
            s.unsure.remove(coid)
            s.placed[coid] = str(order["id"])
            if order.get("status") == "open" and s.open_id is None:
                s.open_id, s.open_loops = str(order["id"]), 0

    async def settle(self, seconds: float) -> None:
        """After trading: resolve what is unsure and cancel the open order, within `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and (self.state.unsure or self.state.open_id):
            await self.resolve()
            if self.state.open_id is not None:
                await self._cancel(self.state.open_id)
            if self.state.unsure or self.state.open_id:
                await asyncio.sleep(0.5)
