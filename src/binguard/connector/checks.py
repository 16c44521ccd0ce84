"""Checks made before an order leaves: the order type's parameters (rest-api.md §New order) and the
symbol's filters from exchangeInfo (filters.md), each failure a typed error naming the parameter.

Nothing is sent when a check fails, so nothing is journalled as sent and nothing can be lost. The
exchange checks the same rules again; these exist so a bot learns of a typo or an off-tick price
without a round trip or a failed-request weight. They repeat some of the simulator's rules on
purpose: the simulator never imports the client (DESIGN principle 4), so a misreading of the docs
shows up as a disagreement between the two instead of cancelling out. Do not merge them.

A filter that needs the market (PERCENT_PRICE*, MIN_NOTIONAL of a MARKET order by quantity, the
MAX_NUM_* counts, MAX_POSITION) is left to the exchange: it cannot be judged locally.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from binguard.errors import InvalidRequestError, OrderRejectedError

__all__ = ["FilterError", "ParamError", "SymbolRules", "check_order"]


class ParamError(InvalidRequestError):
    """Refused before sending (nothing left): a parameter is missing, not allowed with the others,
    or not a valid value. `param` names it."""

    def __init__(self, msg: str, *, param: str) -> None:
        super().__init__(msg, may_have_executed=False)
        self._param = param

    @property
    def param(self) -> str:
        return self._param


class FilterError(OrderRejectedError):
    """Refused before sending (nothing left): `param` fails the symbol's filter `filter`
    (filters.md), as Binance would answer -1013 "Filter failure: NAME"."""

    def __init__(self, msg: str, *, param: str, filter: str) -> None:
        super().__init__(msg, may_have_executed=False)
        self._param = param
        self._filter = filter

    @property
    def param(self) -> str:
        return self._param

    @property
    def filter(self) -> str:
        return self._filter


# rest-api.md §New order, "Additional mandatory parameters based on order type": each tuple is one
# requirement, met by any of its names. `price` may be left out of a pegged order (pegPriceType).
REQUIRED: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "LIMIT": (("timeInForce",), ("quantity",), ("price", "pegPriceType")),
    "MARKET": (("quantity", "quoteOrderQty"),),
    "STOP_LOSS": (("quantity",), ("stopPrice", "trailingDelta")),
    "STOP_LOSS_LIMIT": (
        ("timeInForce",),
        ("quantity",),
        ("price", "pegPriceType"),
        ("stopPrice", "trailingDelta"),
    ),
    "TAKE_PROFIT": (("quantity",), ("stopPrice", "trailingDelta")),
    "TAKE_PROFIT_LIMIT": (
        ("timeInForce",),
        ("quantity",),
        ("price", "pegPriceType"),
        ("stopPrice", "trailingDelta"),
    ),
    "LIMIT_MAKER": (("quantity",), ("price", "pegPriceType")),
}
SIDES = frozenset({"BUY", "SELL"})
_PEGGABLE = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
_ICEBERG = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"})
_DECIMALS = ("quantity", "quoteOrderQty", "price", "stopPrice", "icebergQty")
_INTEGERS = ("trailingDelta", "pegOffsetValue", "strategyId", "strategyType")
_NUMERIC = (*_DECIMALS, *_INTEGERS)
# filters.md §TRAILING_DELTA: which bounds apply ("above" for STOP_LOSS BUY, TAKE_PROFIT SELL...).
_ABOVE = frozenset(
    {("STOP_LOSS", "BUY"), ("STOP_LOSS_LIMIT", "BUY"), ("TAKE_PROFIT", "SELL")}
    | {("TAKE_PROFIT_LIMIT", "SELL")}
)


# filters.md NOTIONAL / MIN_NOTIONAL: (filter, min key, max key or "", applies to MARKET key)
_NOTIONAL_FILTERS = (
    ("NOTIONAL", "minNotional", "maxNotional", "applyMinToMarket"),
    ("MIN_NOTIONAL", "minNotional", "", "applyToMarket"),
)
_INFINITY = Decimal("Infinity")
_PRICE_KEYS = ("minPrice", "maxPrice", "tickSize")
_LOT_KEYS = ("minQty", "maxQty", "stepSize")
_RANGE_KEYS = {"PRICE_FILTER": _PRICE_KEYS, "LOT_SIZE": _LOT_KEYS, "MARKET_LOT_SIZE": _LOT_KEYS}


@dataclass(frozen=True, slots=True)
class SymbolRules:
    """One symbol's trading rules from exchangeInfo (`symbols[]`): order types and filters."""

    symbol: str
    order_types: frozenset[str]
    iceberg_allowed: bool
    filters: Mapping[str, Mapping[str, Any]]
    # (min, max, step) of PRICE_FILTER, LOT_SIZE and MARKET_LOT_SIZE, parsed once: every order
    # reads them (0 disables a bound, as in filters.md)
    ranges: Mapping[str, tuple[Decimal, Decimal, Decimal]] = field(
        init=False, repr=False, compare=False
    )
    # What `_plain_and_valid` reads, unpacked once (it runs on every order): PRICE_FILTER's and
    # LOT_SIZE's (min, max, step) or None, and each notional filter's (min, max) for an order
    # that is not MARKET (a 0 bound: no bound).
    plain: tuple[
        tuple[Decimal, Decimal, Decimal] | None,
        tuple[Decimal, Decimal, Decimal] | None,
        tuple[tuple[Decimal, Decimal], ...],
    ] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ranges = {}
        for name, keys in _RANGE_KEYS.items():
            spec = self.filters.get(name)
            if spec is not None:
                ranges[name] = (
                    _bound(spec.get(keys[0], "0")),
                    _bound(spec.get(keys[1], "0")),
                    _bound(spec.get(keys[2], "0")),
                )
        object.__setattr__(self, "ranges", ranges)
        notional = tuple(
            (_bound(spec.get(low, "0")), _bound(spec.get(high, "0")) if high else Decimal(0))
            for name, low, high, _ in _NOTIONAL_FILTERS
            if (spec := self.filters.get(name)) is not None
        )
        plain = (ranges.get("PRICE_FILTER"), ranges.get("LOT_SIZE"), notional)
        object.__setattr__(self, "plain", plain)

    @classmethod
    def from_api(cls, d: Mapping[str, Any]) -> SymbolRules:
        return cls(
            symbol=str(d.get("symbol", "")),
            order_types=frozenset(d.get("orderTypes") or ()),
            iceberg_allowed=bool(d.get("icebergAllowed", True)),
            filters={str(f.get("filterType")): f for f in d.get("filters") or ()},
        )


def check_order(
    params: Mapping[str, str],
    rules: SymbolRules | None,
    *,
    names: Mapping[str, str] | None = None,
) -> None:
    """Raise ParamError or FilterError for the first rule `params` (one order, Binance's names
    for a single order) break. `rules` None: the symbol's filters are not known; only the type's
    rules are checked. `names`: what the request calls each parameter when it differs (an order
    list's leg: "stopPrice" → "aboveStopPrice"), so the error names what the caller sent."""
    if rules is not None and _plain_and_valid(params, rules):
        return
    check_all(params, rules, names=names)


def check_all(
    params: Mapping[str, str],
    rules: SymbolRules | None,
    *,
    names: Mapping[str, str] | None = None,
) -> None:
    """`check_order` rule by rule, without the plain order's short path."""
    prefix = names or {}
    order_type, side = params.get("type", ""), params.get("side", "")
    if side not in SIDES:
        raise ParamError(f"{_name(prefix, 'side')} must be BUY or SELL, not {side!r}", param="side")
    needed = REQUIRED.get(order_type)
    if needed is None:
        name = _name(prefix, "type")
        raise ParamError(f"{name} {order_type!r} is not an order type", param=name)
    get = params.get
    for any_of in needed:
        for p in any_of:
            if get(p):
                break
        else:
            name = _name(prefix, any_of[0])
            raise ParamError(f"a {order_type} order needs {name}", param=name)
    numbers = _numbers(params, prefix)
    _check_combinations(order_type, params, prefix)
    if rules is not None:
        _check_filters(order_type, side, numbers, rules, prefix)


# What a plain LIMIT / LIMIT_MAKER order may hold for `_plain_and_valid` (a list's leg holds a
# subset): anything else (a stop, a peg, an iceberg, a strategy...) takes the full check.
_PLAIN_KEYS = frozenset(
    {"symbol", "side", "type", "timeInForce", "quantity", "price", "newClientOrderId"}
    | {"newOrderRespType", "selfTradePreventionMode"}
)


def _plain_and_valid(params: Mapping[str, str], rules: SymbolRules) -> bool:
    """True when `params` is a plain LIMIT or LIMIT_MAKER order that passes every rule
    check_order applies; False sends it through the full check, which finds what is wrong (or
    that nothing is). The usual order, checked in one function with the symbol's bounds unpacked
    once (`SymbolRules.plain`): the full check's rules for such an order (`_numbers`,
    `_in_range`, `_check_notional`), written out. Both must agree, so a hypothesis test holds
    them equal (tests/connector/test_plain_check.py): this one says True exactly when the full
    check passes."""
    order_type = params.get("type")
    if order_type == "LIMIT":
        if not params.get("timeInForce"):
            return False
    elif order_type != "LIMIT_MAKER":
        return False
    if params.get("side") not in SIDES or not _PLAIN_KEYS.issuperset(params):
        return False
    if rules.order_types and order_type not in rules.order_types:
        return False
    try:
        price, qty = Decimal(params["price"]), Decimal(params["quantity"])
        if not (price.is_finite() and qty.is_finite()) or price <= 0 or qty <= 0:
            return False
        price_range, lot_range, notional_bounds = rules.plain
        if price_range is not None:
            low, high, step = price_range
            if (low and price < low) or (high and price > high) or (step and price % step):
                return False
        if lot_range is not None:
            low, high, step = lot_range
            if (low and qty < low) or (high and qty > high) or (step and qty % step):
                return False
        if notional_bounds:
            try:
                notional = price * qty
            except ArithmeticError:  # as `_check_notional`: above any bound
                notional = _INFINITY
            for low, high in notional_bounds:
                if (low and notional < low) or (high and notional > high):
                    return False
    except (KeyError, ArithmeticError):  # (InvalidOperation is an ArithmeticError)
        return False
    return True


def _name(names: Mapping[str, str], param: str) -> str:
    return names.get(param, param)


def _numbers(params: Mapping[str, str], prefix: Mapping[str, str]) -> dict[str, Decimal]:
    """The numeric parameters, parsed; a value that is not a positive number is a ParamError."""
    out: dict[str, Decimal] = {}
    get = params.get
    for key in _NUMERIC:
        raw = get(key)
        if raw is None:
            continue
        try:
            value = Decimal(raw)
        except InvalidOperation:
            value = Decimal("NaN")
        integral = key not in _INTEGERS or value == value.to_integral_value()
        if not value.is_finite() or (value <= 0 and key != "pegOffsetValue") or not integral:
            name = _name(prefix, key)
            kind = "a positive integer" if key in _INTEGERS else "a positive number"
            raise ParamError(f"{name} must be {kind}, not {raw!r}", param=name)
        out[key] = value
    return out


def _check_combinations(
    order_type: str, params: Mapping[str, str], prefix: Mapping[str, str]
) -> None:
    """rest-api.md §Pegged Orders Info and "Other info" (iceberg orders)."""
    if params.get("pegPriceType") and order_type not in _PEGGABLE:
        name = _name(prefix, "pegPriceType")
        raise ParamError(f"{name} is not allowed for a {order_type} order", param=name)
    if bool(params.get("pegOffsetType")) != bool(params.get("pegOffsetValue")):
        name = _name(prefix, "pegOffsetValue" if params.get("pegOffsetType") else "pegOffsetType")
        raise ParamError(
            f"pegOffsetType and pegOffsetValue go together: {name} is missing", param=name
        )
    if params.get("icebergQty"):
        name = _name(prefix, "icebergQty")
        if order_type not in _ICEBERG:
            raise ParamError(f"{name} is not allowed for a {order_type} order", param=name)
        if params.get("timeInForce", "GTC") != "GTC":
            tif = _name(prefix, "timeInForce")
            raise ParamError(f"an iceberg order's {tif} must be GTC", param=tif)


def _check_filters(
    order_type: str,
    side: str,
    n: Mapping[str, Decimal],
    rules: SymbolRules,
    prefix: Mapping[str, str],
) -> None:
    if rules.order_types and order_type not in rules.order_types:
        name = _name(prefix, "type")
        raise ParamError(f"{rules.symbol} does not allow {order_type} orders", param=name)
    if "icebergQty" in n and not rules.iceberg_allowed:
        name = _name(prefix, "icebergQty")
        raise ParamError(f"{rules.symbol} does not allow iceberg orders", param=name)
    f = rules.filters
    price_range = rules.ranges.get("PRICE_FILTER")
    if price_range is not None:
        for key in ("price", "stopPrice"):
            if key in n:
                _in_range(n[key], price_range, _PRICE_KEYS, key, prefix)
    lot = "MARKET_LOT_SIZE" if order_type == "MARKET" else "LOT_SIZE"
    lot_range = rules.ranges.get(lot)
    if lot_range is not None:
        for key in ("quantity", "icebergQty"):
            if key in n and not (key == "icebergQty" and lot != "LOT_SIZE"):
                _in_range(n[key], lot_range, _LOT_KEYS, key, prefix, name=lot)
    _check_notional(order_type, n, f, prefix)
    if "icebergQty" in n and "quantity" in n and "ICEBERG_PARTS" in f:
        try:
            parts = -(-n["quantity"] // n["icebergQty"])  # CEIL(qty / icebergQty)
        except ArithmeticError:  # beyond the decimal precision: far too many parts
            parts = _INFINITY
        if parts > int(f["ICEBERG_PARTS"].get("limit", 0) or parts):
            name = _name(prefix, "icebergQty")
            raise FilterError(
                f"Filter failure: ICEBERG_PARTS ({name})", param=name, filter="ICEBERG_PARTS"
            )
    if "trailingDelta" in n and "TRAILING_DELTA" in f:
        _check_trailing(order_type, side, n["trailingDelta"], f["TRAILING_DELTA"], prefix)


def _in_range(
    value: Decimal,
    bounds: tuple[Decimal, Decimal, Decimal],
    keys: tuple[str, str, str],
    param: str,
    prefix: Mapping[str, str],
    *,
    name: str = "PRICE_FILTER",
) -> None:
    """filters.md PRICE_FILTER / LOT_SIZE: min <= value <= max and value % step == 0; a 0 bound
    disables that rule. `bounds`: the filter's (min, max, step) (`SymbolRules.ranges`)."""
    low, high, step = bounds
    if low and value < low:
        why = f"below {keys[0]} {low}"
    elif high and value > high:
        why = f"above {keys[1]} {high}"
    elif step and _off_step(value, step):
        why = f"not a multiple of {keys[2]} {step}"
    else:
        return  # the message is built only for a failure: this runs on every order
    full = _name(prefix, param)
    raise FilterError(f"Filter failure: {name} ({full} {value} is {why})", param=full, filter=name)


def _off_step(value: Decimal, step: Decimal) -> bool:
    """Whether `value` is not a multiple of `step`. A value of so many steps that the division
    exceeds the decimal precision (1E+30 by 0.01) counts as off the step: a FilterError naming
    the parameter, not a decimal exception from inside the check."""
    try:
        return value % step != 0
    except ArithmeticError:
        return True


@lru_cache(maxsize=1024, typed=True)  # a symbol's few bounds, read on every order
def _bound(raw: Any) -> Decimal:
    """A filter's bound from exchangeInfo (a string, or a number) as a Decimal."""
    return Decimal(str(raw))


def _check_notional(
    order_type: str,
    n: Mapping[str, Decimal],
    f: Mapping[str, Mapping[str, Any]],
    prefix: Mapping[str, str],
) -> None:
    """filters.md NOTIONAL / MIN_NOTIONAL, where the notional is known without the market:
    price x quantity, or a MARKET order's quoteOrderQty (when the filter applies to MARKET)."""
    market = order_type == "MARKET"
    if market and "quoteOrderQty" in n:
        notional, param = n["quoteOrderQty"], "quoteOrderQty"
    elif not market and "price" in n and "quantity" in n:
        param = "quantity"
        try:
            notional = n["price"] * n["quantity"]
        except ArithmeticError:  # past the largest decimal (1E+999999 x 10): above any bound
            notional = _INFINITY
    else:
        return
    for name, low_key, high_key, to_market in _NOTIONAL_FILTERS:
        spec = f.get(name)
        if spec is None or (market and not spec.get(to_market, False)):
            continue
        low = _bound(spec.get(low_key, "0"))
        high = _bound(spec.get(high_key, "0")) if high_key else Decimal(0)
        if (low and notional < low) or (high and not market and notional > high):
            full = _name(prefix, param)
            raise FilterError(
                f"Filter failure: {name} (notional {notional} outside [{low}, {high or '-'}])",
                param=full,
                filter=name,
            )


def _check_trailing(
    order_type: str, side: str, delta: Decimal, spec: Mapping[str, Any], prefix: Mapping[str, str]
) -> None:
    where = "Above" if (order_type, side) in _ABOVE else "Below"
    low = int(spec.get(f"minTrailing{where}Delta", 0) or 0)
    high = int(spec.get(f"maxTrailing{where}Delta", 0) or 0)
    if (low and delta < low) or (high and delta > high):
        name = _name(prefix, "trailingDelta")
        raise FilterError(
            f"Filter failure: TRAILING_DELTA ({name} {delta} outside [{low}, {high}])",
            param=name,
            filter="TRAILING_DELTA",
        )


class RulesBook:
    """The symbols' rules the connector has learnt from exchangeInfo answers (`learn`); a
    symbol's entry is read when first asked for (an exchangeInfo of every symbol is large)."""

    def __init__(self) -> None:
        self._raw: dict[str, Mapping[str, Any]] = {}
        self._rules: dict[str, SymbolRules] = {}

    def learn(self, exchange_info: Mapping[str, Any]) -> None:
        """Keep the `symbols` of an exchangeInfo answer (newer answers replace older ones)."""
        for entry in exchange_info.get("symbols") or ():
            if isinstance(entry, Mapping) and "symbol" in entry:
                self._raw[str(entry["symbol"])] = entry
                self._rules.pop(str(entry["symbol"]), None)

    def get(self, symbol: str) -> SymbolRules | None:
        """The symbol's rules, or None when no exchangeInfo answer named it."""
        rules = self._rules.get(symbol)
        if rules is None and symbol in self._raw:
            rules = self._rules[symbol] = SymbolRules.from_api(self._raw[symbol])
        return rules
