"""A bot process for the kill -9 test: places orders through the connector until it is killed.

Usage: python -m tests.connector._child URL API_KEY SECRET JOURNAL
Prints "ready" once connected, then one line per placed order.
"""

from __future__ import annotations

import asyncio
import sys

from binguard.connector.client import SpotConnector
from binguard.connector.options import ConnectorOptions


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
            price += 1


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
