"""One endpoint table: per endpoint its REST method and path, its WebSocket API method, its
security type, whether it changes orders, and what it costs the rate budget.

Adding an endpoint is one row of `ENDPOINTS`; the cost lookups (`rest_cost`, `ws_api_cost`), the
retry policy's facts (`Endpoint.is_order`, `Endpoint.is_read`: `policy/retry.py` `Attempt.of`)
and the connector's order paths all read it. Costs are tables, not if-chains.

Sources (binance-spot-api-docs, see shared/reference/binance-api-semantics.md §3 and §6):
- rest-api.md endpoint sections give the REQUEST_WEIGHT and the security type (NONE, TRADE,
  USER_DATA); web-socket-api.md gives the same weights for the matching WebSocket API methods,
  and SIGNED / USER_STREAM for the session and user data requests.
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

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
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
    `by_symbols`: (highest symbol count, weight) pairs in ascending order, for endpoints weighed
    by how many symbols `symbol` (1) or `symbols` (a JSON array, or a list on the WebSocket API)
    name; with neither, all symbols: `weight`. `per_symbol`: `per_symbol` weight for each symbol
    named (1 with neither), at most `symbols_cap`.
    """

    weight: int
    orders: int = 0
    free_if_ok: bool = False
    when_param: tuple[tuple[str, int], ...] = ()
    by_limit: tuple[tuple[int, int], ...] = ()
    default_limit: int = 100
    by_symbols: tuple[tuple[int, int], ...] = ()
    per_symbol: int = 0
    symbols_cap: int = 0

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
        if self.by_symbols:
            count = _symbol_count(given)
            weight = self.weight if count is None else _tier(self.by_symbols, count)
        elif self.per_symbol:
            weight = min(self.per_symbol * (_symbol_count(given) or 1), self.symbols_cap)
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


def _symbol_count(given: Mapping[str, object]) -> int | None:
    """How many symbols a request names: `symbol` 1, `symbols` its length (an unreadable one
    counts 1: the server refuses it), neither None (all symbols)."""
    if given.get("symbol") is not None:
        return 1
    names = given.get("symbols")
    if names is None:
        return None
    if isinstance(names, str | bytes):
        try:
            names = json.loads(names)
        except (ValueError, RecursionError):
            return 1
    return len(names) if isinstance(names, list | tuple) and names else 1


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
# Market data beyond §6, from rest-api.md §Market Data endpoints; where versions differ the
# higher figure is kept.
TRADES: Final = Rule(25)  # "Recent trades list", "Old trade lookup": 25
AGG_TRADES: Final = Rule(4)  # "Compressed/Aggregate trades list": 4
KLINES: Final = Rule(2)  # "Kline/Candlestick data", "UIKlines", "Current average price": 2
# "24hr ticker price change statistics": `symbol` 2; `symbols` 1-20 → 2, 21-100 → 40,
# 101 or more → 80; neither (all symbols) 80. web-socket-api.md ticker.24hr: the same table.
TICKER_24HR: Final = Rule(80, by_symbols=((20, 2), (100, 40), (101, 80)))
# "Rolling window price change statistics", "Trading Day Ticker": 4 for each requested symbol,
# capped at 200 once more than 50 symbols are named.
TICKER_WINDOW: Final = Rule(4, per_symbol=4, symbols_cap=200)
TICKER_PRICE: Final = Rule(4, when_param=(("symbol", 2),))  # /ticker/price, /ticker/bookTicker
# "Query Execution Rules": `symbol` 2, `symbols` 2 each capped at 40, `symbolStatus` or none 40.
EXECUTION_RULES: Final = Rule(40, by_symbols=tuple((n, 2 * n) for n in range(1, 21)))
# "Query Prevented Matches": 2 by preventedMatchId (or an invalid symbol), 20 by orderId.
PREVENTED_MATCHES: Final = Rule(2, when_param=(("orderId", 20),))

# WebSocket API only: sessions and user data (listenKeys are gone since 2026-02-20).
# web-socket-api.md §Authentication requests: session.logon, session.status, session.logout
# "Weight: 2" each. §User Data Stream requests: userDataStream.subscribe and
# userDataStream.unsubscribe "Weight: 2"; userDataStream.subscribe.signature and
# session.subscriptions weight 2 as well (binance-api-semantics.md §9, from the same page).
SESSION: Final = Rule(2)
USER_DATA_STREAM: Final = Rule(2)

UNKNOWN: Final = Rule(80)  # as costly as the dearest common request without a symbol
WS_API_CONNECT: Final = Cost(2)  # web-socket-api.md §IP limits: "Connecting ... costs 2 weight"


class Security(StrEnum):
    """Binance's security types (rest-api.md §Endpoint security type, web-socket-api.md)."""

    NONE = "NONE"  # public: no key, no signature
    TRADE = "TRADE"  # signed, changes orders
    USER_DATA = "USER_DATA"  # signed, reads the account
    USER_STREAM = "USER_STREAM"  # the user data stream (an API key, or a logged-on session)
    SIGNED = "SIGNED"  # session.logon: signed, opens an authenticated session


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One row of the endpoint table.

    `rest`: (HTTP method, path), or None for WebSocket-API-only requests; `ws`: the WebSocket API
    method, or None. `is_order`: it places or cancels orders, so a lost answer is reconciled and
    never blindly re-sent. `is_read`: re-sending it changes nothing (retried on transport errors).
    """

    name: str
    rest: tuple[str, str] | None
    ws: str | None
    security: Security
    rule: Rule
    is_order: bool = False
    is_read: bool = True

    @property
    def signed(self) -> bool:
        """A signature (or a logged-on session) is needed."""
        return self.security in (Security.TRADE, Security.USER_DATA, Security.SIGNED)


def _row(
    name: str,
    rest: tuple[str, str] | None,
    ws: str | None,
    security: Security,
    rule: Rule,
    *,
    order: bool = False,
    read: bool | None = None,
) -> Endpoint:
    is_read = (rest is not None and rest[0] == "GET") if read is None else read
    return Endpoint(name, rest, ws, security, rule, is_order=order, is_read=is_read)


_V3 = "/api/v3"
_N, _T, _U = Security.NONE, Security.TRADE, Security.USER_DATA
ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    # -- market data (rest-api.md §General endpoints, §Market Data endpoints) ------------------
    _row("ping", ("GET", f"{_V3}/ping"), "ping", _N, PING),
    _row("time", ("GET", f"{_V3}/time"), "time", _N, PING),
    _row("exchange_info", ("GET", f"{_V3}/exchangeInfo"), "exchangeInfo", _N, EXCHANGE_INFO),
    _row("depth", ("GET", f"{_V3}/depth"), "depth", _N, DEPTH),
    _row("trades", ("GET", f"{_V3}/trades"), "trades.recent", _N, TRADES),
    _row("historical_trades", ("GET", f"{_V3}/historicalTrades"), "trades.historical", _N, TRADES),
    _row("agg_trades", ("GET", f"{_V3}/aggTrades"), "trades.aggregate", _N, AGG_TRADES),
    _row("klines", ("GET", f"{_V3}/klines"), "klines", _N, KLINES),
    _row("ui_klines", ("GET", f"{_V3}/uiKlines"), "uiKlines", _N, KLINES),
    _row("avg_price", ("GET", f"{_V3}/avgPrice"), "avgPrice", _N, KLINES),
    _row("ticker_24hr", ("GET", f"{_V3}/ticker/24hr"), "ticker.24hr", _N, TICKER_24HR),
    _row("ticker", ("GET", f"{_V3}/ticker"), "ticker", _N, TICKER_WINDOW),
    _row(
        "ticker_trading_day",
        ("GET", f"{_V3}/ticker/tradingDay"),
        "ticker.tradingDay",
        _N,
        TICKER_WINDOW,
    ),
    _row("ticker_price", ("GET", f"{_V3}/ticker/price"), "ticker.price", _N, TICKER_PRICE),
    _row("book_ticker", ("GET", f"{_V3}/ticker/bookTicker"), "ticker.book", _N, TICKER_PRICE),
    # rest-api.md §Reference price, §Reference price calculation: weight 2 each.
    _row("reference_price", ("GET", f"{_V3}/referencePrice"), "referencePrice", _N, Rule(2)),
    _row(
        "reference_price_calculation",
        ("GET", f"{_V3}/referencePrice/calculation"),
        "referencePrice.calculation",
        _N,
        Rule(2),
    ),
    _row(
        "execution_rules",
        ("GET", f"{_V3}/executionRules"),
        "executionRules",
        _N,
        EXECUTION_RULES,
    ),
    # -- trading (rest-api.md §Trading endpoints) ----------------------------------------------
    _row("place", ("POST", f"{_V3}/order"), "order.place", _T, PLACE, order=True),
    _row("place_test", ("POST", f"{_V3}/order/test"), "order.test", _T, PLACE_TEST),
    _row("cancel", ("DELETE", f"{_V3}/order"), "order.cancel", _T, CANCEL, order=True),
    _row(
        "cancel_all",
        ("DELETE", f"{_V3}/openOrders"),
        "openOrders.cancelAll",
        _T,
        CANCEL,
        order=True,
    ),
    _row(
        "cancel_replace",
        ("POST", f"{_V3}/order/cancelReplace"),
        "order.cancelReplace",
        _T,
        CANCEL_REPLACE,
        order=True,
    ),
    _row("oco", ("POST", f"{_V3}/orderList/oco"), "orderList.place.oco", _T, OCO, order=True),
    _row("oto", ("POST", f"{_V3}/orderList/oto"), "orderList.place.oto", _T, OCO, order=True),
    _row(
        "otoco",
        ("POST", f"{_V3}/orderList/otoco"),
        "orderList.place.otoco",
        _T,
        OTOCO,
        order=True,
    ),
    _row("cancel_list", ("DELETE", f"{_V3}/orderList"), "orderList.cancel", _T, CANCEL, order=True),
    # rest-api.md §Order lists: OPO and OPOCO place 2 and 3 orders (OTO and OTOCO's cost rules).
    _row("opo", ("POST", f"{_V3}/orderList/opo"), "orderList.place.opo", _T, OCO, order=True),
    _row(
        "opoco",
        ("POST", f"{_V3}/orderList/opoco"),
        "orderList.place.opoco",
        _T,
        OTOCO,
        order=True,
    ),
    # rest-api.md §New OCO - Deprecated: weight 1, 2 orders; web-socket-api.md orderList.place.
    _row("oco_legacy", ("POST", f"{_V3}/order/oco"), "orderList.place", _T, OCO, order=True),
    # rest-api.md §New order using SOR: weight 1, 1 order (0 weight if successful, CL
    # 2026-03-27); §Test new order using SOR: 1, or 20 with computeCommissionRates.
    _row("sor_place", ("POST", f"{_V3}/sor/order"), "sor.order.place", _T, PLACE, order=True),
    _row("sor_place_test", ("POST", f"{_V3}/sor/order/test"), "sor.order.test", _T, PLACE_TEST),
    # rest-api.md §Order Amend Keep Priority: weight 4, adds 0 orders.
    _row(
        "amend",
        ("PUT", f"{_V3}/order/amend/keepPriority"),
        "order.amend.keepPriority",
        _T,
        Rule(4),
        order=True,
    ),
    # -- account (rest-api.md §Account endpoints) ----------------------------------------------
    _row("query_order", ("GET", f"{_V3}/order"), "order.status", _U, QUERY_ORDER),
    _row("open_orders", ("GET", f"{_V3}/openOrders"), "openOrders.status", _U, OPEN_ORDERS),
    _row("all_orders", ("GET", f"{_V3}/allOrders"), "allOrders", _U, ALL_ORDERS),
    _row("account", ("GET", f"{_V3}/account"), "account.status", _U, ACCOUNT),
    # rest-api.md §Query Order list (4), §Query all Order lists (20), §Query Open Order lists
    # (6), §Query Order Amendments (4).
    _row("query_list", ("GET", f"{_V3}/orderList"), "orderList.status", _U, QUERY_ORDER),
    _row("all_lists", ("GET", f"{_V3}/allOrderList"), "allOrderLists", _U, ALL_ORDERS),
    _row("open_lists", ("GET", f"{_V3}/openOrderList"), "openOrderLists.status", _U, Rule(6)),
    _row("amendments", ("GET", f"{_V3}/order/amendments"), "order.amendments", _U, QUERY_ORDER),
    _row("my_trades", ("GET", f"{_V3}/myTrades"), "myTrades", _U, MY_TRADES),
    # rest-api.md §Query Prevented Matches, §Query Allocations (20), §Query Commission Rates (20).
    _row(
        "prevented_matches",
        ("GET", f"{_V3}/myPreventedMatches"),
        "myPreventedMatches",
        _U,
        PREVENTED_MATCHES,
    ),
    _row("allocations", ("GET", f"{_V3}/myAllocations"), "myAllocations", _U, Rule(20)),
    _row("commission", ("GET", f"{_V3}/account/commission"), "account.commission", _U, Rule(20)),
    _row(
        "order_rate_limit",
        ("GET", f"{_V3}/rateLimit/order"),
        "account.rateLimits.orders",
        _U,
        ORDER_RATE_LIMIT,
    ),
    # -- WebSocket API only (web-socket-api.md §Authentication, §User Data Stream requests) ----
    _row("logon", None, "session.logon", Security.SIGNED, SESSION, read=False),
    _row("session_status", None, "session.status", _N, SESSION, read=True),
    _row("logout", None, "session.logout", _N, SESSION, read=False),
    _row("subscriptions", None, "session.subscriptions", _N, SESSION, read=True),
    _row(
        "user_data_subscribe",
        None,
        "userDataStream.subscribe",
        Security.USER_STREAM,
        USER_DATA_STREAM,
        read=False,
    ),
    _row(
        "user_data_subscribe_signature",
        None,
        "userDataStream.subscribe.signature",
        Security.USER_DATA,
        USER_DATA_STREAM,
        read=False,
    ),
    _row(
        "user_data_unsubscribe",
        None,
        "userDataStream.unsubscribe",
        Security.USER_STREAM,
        USER_DATA_STREAM,
        read=False,
    ),
)

BY_NAME: Final[Mapping[str, Endpoint]] = MappingProxyType({e.name: e for e in ENDPOINTS})
BY_REST: Final[Mapping[tuple[str, str], Endpoint]] = MappingProxyType(
    {e.rest: e for e in ENDPOINTS if e.rest is not None}
)
BY_WS: Final[Mapping[str, Endpoint]] = MappingProxyType(
    {e.ws: e for e in ENDPOINTS if e.ws is not None}
)
# The cost rules by REST (method, path) and by WebSocket API method, read from the table.
REST: Final[Mapping[tuple[str, str], Rule]] = MappingProxyType(
    {key: e.rule for key, e in BY_REST.items()}
)
WS_API: Final[Mapping[str, Rule]] = MappingProxyType({key: e.rule for key, e in BY_WS.items()})


def rest_endpoint(method: str, path: str) -> Endpoint | None:
    """The row for a REST request, or None for a path the table does not know."""
    return BY_REST.get((method.upper(), path.rstrip("/")))


def ws_endpoint(method: str) -> Endpoint | None:
    """The row for a WebSocket API method, or None."""
    return BY_WS.get(method)


def rest_cost(method: str, path: str, params: Params = None) -> Cost:
    """The cost of a REST request, e.g. `rest_cost("GET", "/api/v3/depth", {"limit": 500})`."""
    rule = REST.get((method.upper(), path.rstrip("/")), UNKNOWN)
    return rule.cost(params)


def ws_api_cost(method: str, params: Params = None) -> Cost:
    """The cost of a WebSocket API request, e.g. `ws_api_cost("order.place", {...})`."""
    return WS_API.get(method, UNKNOWN).cost(params)
