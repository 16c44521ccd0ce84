"""A bot process for the kill -9 test: places orders through the connector until it is killed.

Usage: python -m tests.connector._child URL API_KEY SECRET JOURNAL [mixed]
Prints "ready" once connected, then one line per placed order (per round with `mixed`: an
order, an OCO order list canceled at once, and a cancel-replace of the order).
"""

from __future__ import annotations

import asyncio
import sys

from binguard.connector import Leg
from binguard.connector.client import SpotConnector
from binguard.connector.options import ConnectorOptions


async def main(url: str, key: str, secret: str, journal: str, mode: str = "orders") -> None:
    options = ConnectorOptions(
        timeout=2.0, recv_window_ms=500, reconcile_margin_ms=200, journal_path=journal
    )
    async with SpotConnector(api_key=key, secret=secret, base_url=url, options=options) as bn:
        print("ready", flush=True)
        price = 25000
        while True:
            order = await bn.place_order(
                "BTCUSDT", "BUY", "LIMIT", quantity="0.001", price=str(price), time_in_force="GTC"
            )
            if mode == "mixed":
                await _list_and_edit(bn, order.order_id, price)
            print(order.client_order_id, flush=True)
            price += 1


async def _list_and_edit(bn: SpotConnector, order_id: int, price: int) -> None:
    # The list is canceled at once: its stop leg counts against MAX_NUM_ALGO_ORDERS (filters.md).
    lst = await bn.place_order_list(
        "OCO",
        "BTCUSDT",
        above=Leg("SELL", "LIMIT_MAKER", quantity="0.001", price=str(40000 + price % 1000)),
        below=Leg("SELL", "STOP_LOSS", quantity="0.001", stop_price=str(20000 - price % 1000)),
    )
    await bn.cancel_order_list("BTCUSDT", order_list_id=lst.order_list_id)
    await bn.cancel_replace(
        "BTCUSDT", "BUY", "LIMIT", cancel_order_id=order_id, quantity="0.001",
        price=str(price - 100), time_in_force="GTC",
    )  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
