"""An order-placing bot for the kill -9 part: places orders until it is killed.

Usage: python -m soak._child URL API_KEY SECRET JOURNAL
Prints "ready" once connected, then one line per placed order.
"""

from __future__ import annotations

import asyncio
import sys

from binguard.connector import ConnectorOptions, SpotConnector


async def main(url: str, key: str, secret: str, journal: str) -> None:
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
            print(order.client_order_id, flush=True)
            price = 25000 + (price - 24999) % 2000


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
