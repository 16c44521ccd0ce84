"""Account reads the parts share (order manager, user data catch-up, the connector's own face):
each one request through the request loop, its answer typed and told to the ledger."""

from __future__ import annotations

from .calls import Requests, call_endpoint
from .ledger import OrderLedger
from .models import Order, Trade


async def query_order(
    loop: Requests,
    symbol: str,
    *,
    order_id: int | None = None,
    client_order_id: str | None = None,
) -> Order:
    """`GET /api/v3/order` by order id or client order id (rest-api.md §Query order)."""
    params: dict[str, object] = {"symbol": symbol}
    if order_id is not None:
        params["orderId"] = order_id
    if client_order_id is not None:
        params["origClientOrderId"] = client_order_id
    response = await call_endpoint(loop, "query_order", params)
    return Order.from_api(response.data)


async def open_orders(
    loop: Requests, ledger: OrderLedger, symbol: str | None = None
) -> list[Order]:
    """`GET /api/v3/openOrders`; every order listed is tracked."""
    params = {"symbol": symbol} if symbol else None
    data = (await call_endpoint(loop, "open_orders", params)).data
    orders = [Order.from_api(o) for o in data]
    for order in orders:
        ledger.track(order)
    return orders


async def my_trades(
    loop: Requests, ledger: OrderLedger, symbol: str, **params: object
) -> list[Trade]:
    """`GET /api/v3/myTrades`; every trade is added to the tracker (once)."""
    data = (await call_endpoint(loop, "my_trades", {"symbol": symbol, **params})).data
    trades = [Trade.from_api(t) for t in data]
    for trade in trades:
        ledger.add_trade(trade)
    return trades
