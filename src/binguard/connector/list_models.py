"""Order lists: typed legs, the request a list becomes, and the list Binance answers.

    await bn.place_order_list(
        "OTOCO", "BTCUSDT",
        working=Leg("BUY", "LIMIT", quantity="0.01", price="29000", time_in_force="GTC"),
        pending_above=Leg("SELL", "LIMIT_MAKER", quantity="0.01", price="31000"),
        pending_below=Leg("SELL", "STOP_LOSS", quantity="0.01", stop_price="28000"),
    )

rest-api.md §Order lists names each leg by a prefix (OCO: `above`/`below`; OTO, OPO: `working`/
`pending`; OTOCO, OPOCO: `working`/`pendingAbove`/`pendingBelow`), and shares some fields between
legs: an OCO's `side` and `quantity`, an OTOCO's `pendingSide` and `pendingQuantity`, an OPOCO's
`pendingSide`. A leg says its own side and quantity; legs that share a field must agree (else
ParamError). An OPO's pending orders take no quantity (the working order's fill decides it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, fields
from functools import cache
from types import MappingProxyType
from typing import Any

from .checks import ParamError, SymbolRules, check_order
from .models import Order, _req
from .placement import camel, request_params

__all__ = ["KINDS", "Leg", "OrderList", "list_request"]

_PENDING_PAIR = ("pendingAbove", "pendingBelow")
# kind → (endpoint-table row, the roles of its legs (keyword, Binance's prefix), shared fields
# (Binance's name → the roles that share it), whether the pending legs take a quantity)
KINDS: Mapping[str, tuple[str, tuple[tuple[str, str], ...], Mapping[str, tuple[str, ...]]]] = {
    "OCO": (
        "oco",
        (("above", "above"), ("below", "below")),
        {"side": ("above", "below"), "quantity": ("above", "below")},
    ),
    "OTO": ("oto", (("working", "working"), ("pending", "pending")), {}),
    "OTOCO": (
        "otoco",
        (("working", "working"), ("pending_above", "pendingAbove"), ("pending_below", "pendingBelow")),
        {"pendingSide": _PENDING_PAIR, "pendingQuantity": _PENDING_PAIR},
    ),
    "OPO": ("opo", (("working", "working"), ("pending", "pending")), {}),
    "OPOCO": (
        "opoco",
        (("working", "working"), ("pending_above", "pendingAbove"), ("pending_below", "pendingBelow")),
        {"pendingSide": _PENDING_PAIR},
    ),
}  # fmt: skip
_FINAL_LIST = frozenset({"ALL_DONE", "REJECT"})  # enums.md §Order List Order Status


@dataclass(frozen=True, slots=True)
class Leg:
    """One order of a list, by the snake_case names of a single order (placement.py):
    `Leg("SELL", "STOP_LOSS_LIMIT", quantity="0.01", price="28900", stop_price="29000",
    time_in_force="GTC")`. `client_order_id`: the leg's own id (generated when not given)."""

    side: str
    type: str
    _: KW_ONLY
    quantity: object = None
    price: object = None
    stop_price: object = None
    trailing_delta: int | None = None
    time_in_force: str | None = None
    iceberg_qty: object = None
    strategy_id: int | None = None
    strategy_type: int | None = None
    peg_price_type: str | None = None
    peg_offset_type: str | None = None
    peg_offset_value: int | None = None
    client_order_id: str | None = None

    def typed(self) -> dict[str, object]:
        """snake_case name → value (None: not given)."""
        return {name: getattr(self, name) for name in _leg_names()}


@cache  # the fields of Leg, read for every leg of every list
def _leg_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Leg))


@cache
def _leg_keywords(prefix: str) -> tuple[tuple[str, str], ...]:
    """(Leg field, the list's snake_case keyword for it) for a leg with Binance prefix `prefix`,
    the leg's own client order id left out (list_request sets it)."""
    head = _snake(prefix) + "_"
    return tuple((name, head + name) for name in _leg_names() if name != "client_order_id")


def list_request(
    kind: str,
    symbol: str,
    legs: Mapping[str, Leg | None],
    top: Mapping[str, object],
    extra: Mapping[str, object],
    new_id: Callable[[], str],
) -> tuple[str, dict[str, str], list[tuple[str, str]]]:
    """(endpoint row, the request's parameters, [(leg client order id, role)]) for a list of
    `kind`; every client id fixed here (given or `new_id()`), before anything is journalled.
    TypeError for a leg missing or not taken by `kind`, or for a name given twice."""
    spec = KINDS.get(kind)
    if spec is None:
        raise ParamError(f"order list kind {kind!r} is not one of {', '.join(KINDS)}", param="kind")
    endpoint, roles, shared = spec
    typed: dict[str, object] = {"list_client_order_id": top.get("list_client_order_id") or new_id()}
    typed |= {k: v for k, v in top.items() if k != "list_client_order_id"}
    ids: list[tuple[str, str]] = []
    wanted = {keyword for keyword, _ in roles}
    for keyword, leg in legs.items():
        if leg is not None and keyword not in wanted:
            raise TypeError(f"place_order_list({kind!r}) takes no {keyword}= leg")
    for keyword, prefix in roles:
        leg = legs.get(keyword)
        if leg is None:
            if kind in ("OTOCO", "OPOCO") and keyword == "pending_below":
                continue  # rest-api.md: pendingBelowType is optional
            raise TypeError(f"place_order_list({kind!r}) needs a {keyword}= leg")
        coid = leg.client_order_id or new_id()
        ids.append((coid, prefix))
        for name, keyword in _leg_keywords(prefix):
            value = getattr(leg, name)
            if value is not None:
                typed[keyword] = value
        typed[_snake(prefix) + "_client_order_id"] = coid
    _share(kind, typed, shared)
    params = request_params("place_order_list", endpoint, {"symbol": symbol}, typed, extra)
    return endpoint, params, ids


@cache
def _snake(prefix: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in prefix)


def _share(kind: str, typed: dict[str, object], shared: Mapping[str, tuple[str, ...]]) -> None:
    """Fold the fields legs share into one (they must agree); drop an OPO pending quantity."""
    for name, prefixes in shared.items():
        field = "side" if name.lower().endswith("side") else "quantity"
        values = {typed.pop(_snake(p) + "_" + field, None) for p in prefixes} - {None}
        if len(values) > 1:
            raise ParamError(
                f"the {kind} legs must agree on {name}: {sorted(map(str, values))}", param=name
            )
        if values:
            typed[_snake(name)] = values.pop()
    if kind in ("OPO", "OPOCO"):
        for p in ("pending", "pending_above", "pending_below"):
            if typed.pop(p + "_quantity", None) is not None:
                raise ParamError(
                    f"an {kind}'s pending orders take no quantity (the working order's fill)",
                    param=camel(p + "_quantity"),
                )


def check_list(kind: str, params: Mapping[str, str], rules: SymbolRules | None) -> None:
    """Each leg checked as one order (checks.py), errors naming the list's own parameter."""
    for prefix, names in _leg_names_of(kind):
        leg = {p: params[n] for p, n in names.items() if n in params}
        if not leg and prefix == "pendingBelow":
            continue
        check_order(leg, rules, names=names)


@cache  # a few kinds and roles; read for every list (the mappings are never changed)
def _leg_names_of(kind: str) -> tuple[tuple[str, Mapping[str, str]], ...]:
    """(prefix, {a single order's parameter: the list's name for it}) of each leg of `kind`."""
    _, roles, shared = KINDS[kind]
    out = []
    for _, prefix in roles:
        names = {p: prefix + p[0].upper() + p[1:] for p in _LEG_FIELDS}
        for name, sharers in shared.items():
            if prefix in sharers:
                names["side" if name.lower().endswith("side") else "quantity"] = name
        if kind in ("OPO", "OPOCO") and prefix != "working":
            names["quantity"] = "workingQuantity"  # the most the pending order can be
        out.append((prefix, MappingProxyType(names)))
    return tuple(out)


_LEG_FIELDS = (
    "side", "type", "quantity", "price", "stopPrice", "trailingDelta", "timeInForce",
    "icebergQty", "strategyId", "strategyType", "pegPriceType", "pegOffsetType", "pegOffsetValue",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class OrderList:
    """An order list as Binance answers it (placement, query, cancel, `listStatus` events).

    `orders`: (orderId, clientOrderId) of each leg; `reports`: the legs' orders when the answer
    carries them (placement and cancel; an ACK placement's have status None)."""

    symbol: str
    order_list_id: int
    list_client_order_id: str
    contingency_type: str
    list_status_type: str
    list_order_status: str
    transaction_time: int | None
    orders: tuple[tuple[int, str], ...]
    reports: tuple[Order, ...] = ()

    @property
    def is_final(self) -> bool:
        """ALL_DONE or REJECT (enums.md §Order List Order Status)."""
        return self.list_order_status in _FINAL_LIST

    @classmethod
    def from_api(cls, d: Mapping[str, Any], request: Mapping[str, str] | None = None) -> OrderList:
        legs = tuple(
            (int(_req(o, "orderId")), str(o.get("clientOrderId", ""))) for o in _req(d, "orders")
        )
        reports = tuple(
            # a report with a status (RESULT, FULL) needs nothing of the request
            Order.from_api(r)
            if isinstance(r, Mapping) and "status" in r
            else Order.from_placement(
                r, _leg_request(request or {}, str(r.get("clientOrderId", "")))
            )
            for r in d.get("orderReports") or ()
        )
        return cls(
            symbol=str(_req(d, "symbol")),
            order_list_id=int(_req(d, "orderListId")),
            list_client_order_id=str(_req(d, "listClientOrderId")),
            contingency_type=str(d.get("contingencyType", "")),
            list_status_type=str(d.get("listStatusType", "")),
            list_order_status=str(_req(d, "listOrderStatus")),
            transaction_time=d.get("transactionTime"),
            orders=legs,
            reports=reports,
        )

    @classmethod
    def from_event(cls, ev: Mapping[str, Any]) -> OrderList:
        """A `listStatus` event (user-data-stream.md)."""
        return cls(
            symbol=str(ev["s"]),
            order_list_id=int(ev["g"]),
            list_client_order_id=str(ev.get("C", "")),
            contingency_type=str(ev.get("c", "")),
            list_status_type=str(ev.get("l", "")),
            list_order_status=str(ev["L"]),
            transaction_time=ev.get("T"),
            orders=tuple((int(o["i"]), str(o.get("c", ""))) for o in ev.get("O") or ()),
        )


def _leg_request(request: Mapping[str, str], coid: str) -> dict[str, str]:
    """A leg's own parameters (single-order names) from a list request, for an ACK report."""
    for key, value in request.items():
        if key.endswith("ClientOrderId") and value == coid and key != "listClientOrderId":
            prefix = key[: -len("ClientOrderId")]
            out = {
                f: request[prefix + f[0].upper() + f[1:]]
                for f in _LEG_FIELDS
                if prefix + f[0].upper() + f[1:] in request
            }
            out.setdefault("side", request.get("side") or request.get("pendingSide", ""))
            out.setdefault(
                "quantity", request.get("quantity") or request.get("pendingQuantity", "0")
            )
            return out
    return {}
