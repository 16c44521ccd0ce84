"""What each Spot request costs the rate budget, as Binance documents it — a table, not if-chains.

Sources (binance-spot-api-docs, see shared/reference/binance-api-semantics.md §3 and §6):
- rest-api.md endpoint sections give the REQUEST_WEIGHT; web-socket-api.md gives the same weights
  for the matching WebSocket API methods.
- CHANGELOG 2026-03-27: since 2026-04-02 *successful* order placement and cancel requests cost 0
  weight; failed ones pay the documented weight. The budget therefore reserves the failure weight
  and gives it back on success (`Cost.refund_if_ok`).
- rest-api.md §Unfilled Order Count: a placement adds 1 to every ORDERS counter (an order list
  adds one per order); cancels add nothing.
- Every request counts 1 RAW_REQUESTS.

An endpoint missing from the table costs `UNKNOWN` — deliberately high: over-reserving wastes a
little budget, under-reserving earns a 429 and then a ban.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, TypeAlias

Params: TypeAlias = Mapping[str, object] | Iterable[tuple[str, object]] | None


@dataclass(frozen=True, slots=True)
class Cost:
    """What one request takes from the budget."""

    weight: int  # REQUEST_WEIGHT reserved before sending (what a failure costs)
    orders: int = 0  # added to every ORDERS counter
    refund_if_ok: int = 0  # weight given back when the request succeeds
    raw: int = 1  # RAW_REQUESTS


@dataclass(frozen=True, slots=True)
class Rule:
    """How one endpoint's cost is computed from its parameters.

    `when_param`: the first parameter present (and not 'false') sets the weight.
    `by_limit`: (highest `limit`, weight) pairs in ascending order, for depth-like endpoints;
    a missing or unreadable `limit` counts as `default_limit`, a larger one as the last tier.
    """

    weight: int
    orders: int = 0
    free_if_ok: bool = False
    when_param: tuple[tuple[str, int], ...] = ()
    by_limit: tuple[tuple[int, int], ...] = ()
    default_limit: int = 100

    def cost(self, params: Params = None) -> Cost:
        given = _as_dict(params)
        weight = self.weight
        for name, w in self.when_param:
            value = given.get(name)
            if value is not None and str(value).lower() not in ("", "false"):
                weight = w
                break
        if self.by_limit:
            weight = _tier(self.by_limit, _int(given.get("limit"), self.default_limit))
        return Cost(weight, self.orders, weight if self.free_if_ok else 0)


def _as_dict(params: Params) -> dict[str, object]:
    if params is None:
        return {}
    return dict(params.items() if isinstance(params, Mapping) else params)


def _int(value: object, default: int) -> int:
    try:
        return int(str(value)) if value is not None else default
    except ValueError:
        return default


def _tier(tiers: tuple[tuple[int, int], ...], n: int) -> int:
    for highest, weight in tiers:
        if n <= highest:
            return weight
    return tiers[-1][1]


# -- the rules ---------------------------------------------------------------------------------
# rest-api.md §Market Data endpoints; "Order Book": limit 1-100 → 5, 101-500 → 25,
# 501-1000 → 50, 1001-5000 → 250; default 100.
DEPTH: Final = Rule(5, by_limit=((100, 5), (500, 25), (1000, 50), (5000, 250)))
PING: Final = Rule(1)  # GET /api/v3/ping, /api/v3/time
EXCHANGE_INFO: Final = Rule(20)
PLACE: Final = Rule(1, orders=1, free_if_ok=True)  # POST /api/v3/order; CL 2026-03-27
PLACE_TEST: Final = Rule(1, when_param=(("computeCommissionRates", 20),))
QUERY_ORDER: Final = Rule(4)
CANCEL: Final = Rule(1, free_if_ok=True)  # DELETE /api/v3/order, /api/v3/openOrders
CANCEL_REPLACE: Final = Rule(1, orders=1, free_if_ok=True)  # adds 1 even when NOT_ATTEMPTED
OPEN_ORDERS: Final = Rule(80, when_param=(("symbol", 6),))  # 6 with symbol, 80 without
ALL_ORDERS: Final = Rule(20)
ACCOUNT: Final = Rule(20)
MY_TRADES: Final = Rule(20, when_param=(("orderId", 5),))  # 5 with orderId (CL 2025-04-07)
ORDER_RATE_LIMIT: Final = Rule(40)  # GET /api/v3/rateLimit/order
# Order lists place 2 (OCO, OTO) or 3 (OTOCO) orders; same 0-if-successful rule (CL 2026-03-27).
OCO: Final = Rule(1, orders=2, free_if_ok=True)
OTOCO: Final = Rule(1, orders=3, free_if_ok=True)
# Market data beyond §6, from rest-api.md; where versions differ the higher figure is kept.
TRADES: Final = Rule(25)  # /trades, /historicalTrades
AGG_TRADES: Final = Rule(4)
KLINES: Final = Rule(2)  # /klines, /uiKlines, /avgPrice
TICKER_24HR: Final = Rule(80, when_param=(("symbol", 2),))  # 80 for all symbols
TICKER_PRICE: Final = Rule(4, when_param=(("symbol", 2),))  # /ticker/price, /ticker/bookTicker

# WebSocket API only: sessions and user data (listenKeys are gone since 2026-02-20).
# web-socket-api.md §Authentication requests: session.logon, session.status, session.logout
# "Weight: 2" each. §User Data Stream requests: userDataStream.subscribe and
# userDataStream.unsubscribe "Weight: 2"; userDataStream.subscribe.signature and
# session.subscriptions weight 2 as well (binance-api-semantics.md §9, from the same page).
SESSION: Final = Rule(2)
USER_DATA_STREAM: Final = Rule(2)

UNKNOWN: Final = Rule(80)  # as costly as the dearest common request without a symbol
WS_API_CONNECT: Final = Cost(2)  # web-socket-api.md §IP limits: "Connecting ... costs 2 weight"

REST: Final[Mapping[tuple[str, str], Rule]] = MappingProxyType(
    {
        ("GET", "/api/v3/ping"): PING,
        ("GET", "/api/v3/time"): PING,
        ("GET", "/api/v3/exchangeInfo"): EXCHANGE_INFO,
        ("GET", "/api/v3/depth"): DEPTH,
        ("GET", "/api/v3/trades"): TRADES,
        ("GET", "/api/v3/historicalTrades"): TRADES,
        ("GET", "/api/v3/aggTrades"): AGG_TRADES,
        ("GET", "/api/v3/klines"): KLINES,
        ("GET", "/api/v3/uiKlines"): KLINES,
        ("GET", "/api/v3/avgPrice"): KLINES,
        ("GET", "/api/v3/ticker/24hr"): TICKER_24HR,
        ("GET", "/api/v3/ticker/price"): TICKER_PRICE,
        ("GET", "/api/v3/ticker/bookTicker"): TICKER_PRICE,
        ("POST", "/api/v3/order"): PLACE,
        ("POST", "/api/v3/order/test"): PLACE_TEST,
        ("GET", "/api/v3/order"): QUERY_ORDER,
        ("DELETE", "/api/v3/order"): CANCEL,
        ("DELETE", "/api/v3/openOrders"): CANCEL,
        ("POST", "/api/v3/order/cancelReplace"): CANCEL_REPLACE,
        ("GET", "/api/v3/openOrders"): OPEN_ORDERS,
        ("GET", "/api/v3/allOrders"): ALL_ORDERS,
        ("POST", "/api/v3/orderList/oco"): OCO,
        ("POST", "/api/v3/orderList/oto"): OCO,
        ("POST", "/api/v3/orderList/otoco"): OTOCO,
        ("DELETE", "/api/v3/orderList"): CANCEL,
        ("GET", "/api/v3/account"): ACCOUNT,
        ("GET", "/api/v3/myTrades"): MY_TRADES,
        ("GET", "/api/v3/rateLimit/order"): ORDER_RATE_LIMIT,
    }
)

# web-socket-api.md: the same weights as the REST endpoints they mirror.
WS_API: Final[Mapping[str, Rule]] = MappingProxyType(
    {
        "ping": PING,
        "time": PING,
        "exchangeInfo": EXCHANGE_INFO,
        "depth": DEPTH,
        "trades.recent": TRADES,
        "trades.historical": TRADES,
        "trades.aggregate": AGG_TRADES,
        "klines": KLINES,
        "uiKlines": KLINES,
        "avgPrice": KLINES,
        "ticker.24hr": TICKER_24HR,
        "ticker.price": TICKER_PRICE,
        "ticker.book": TICKER_PRICE,
        "order.place": PLACE,
        "order.test": PLACE_TEST,
        "order.status": QUERY_ORDER,
        "order.cancel": CANCEL,
        "order.cancelReplace": CANCEL_REPLACE,
        "openOrders.status": OPEN_ORDERS,
        "openOrders.cancelAll": CANCEL,
        "allOrders": ALL_ORDERS,
        "orderList.place.oco": OCO,
        "orderList.place.oto": OCO,
        "orderList.place.otoco": OTOCO,
        "orderList.cancel": CANCEL,
        "account.status": ACCOUNT,
        "myTrades": MY_TRADES,
        "account.rateLimits.orders": ORDER_RATE_LIMIT,
        "session.logon": SESSION,
        "session.status": SESSION,
        "session.logout": SESSION,
        "session.subscriptions": SESSION,
        "userDataStream.subscribe": USER_DATA_STREAM,
        "userDataStream.subscribe.signature": USER_DATA_STREAM,
        "userDataStream.unsubscribe": USER_DATA_STREAM,
    }
)


def rest_cost(method: str, path: str, params: Params = None) -> Cost:
    """The cost of a REST request, e.g. `rest_cost("GET", "/api/v3/depth", {"limit": 500})`."""
    rule = REST.get((method.upper(), path.rstrip("/")), UNKNOWN)
    return rule.cost(params)


def ws_api_cost(method: str, params: Params = None) -> Cost:
    """The cost of a WebSocket API request, e.g. `ws_api_cost("order.place", {...})`."""
    return WS_API.get(method, UNKNOWN).cost(params)
