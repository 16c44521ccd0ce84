"""The plain order's short check (checks.py `_plain_and_valid`) against the full check.

The usual order (a plain LIMIT or LIMIT_MAKER) is checked by one function with the symbol's
bounds unpacked once; every other order, and any order it does not pass, goes through the full
check rule by rule (`check_all`). The two are written apart, so hypothesis holds them equal over
random filters (PRICE_FILTER, LOT_SIZE, NOTIONAL, MIN_NOTIONAL with any bound disabled) and random
orders (numbers off the tick, out of range, zero, negative, NaN, not numbers, huge):

- the short check never passes an order the full check refuses (a wrong True would send an order
  that breaks a filter, and skip the error naming the parameter);
- for a plain order it passes every order the full check passes (a wrong False costs only time,
  but would mean the two read the rules differently).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binguard.connector.checks import (
    FilterError,
    ParamError,
    SymbolRules,
    _plain_and_valid,
    check_all,
    check_order,
)

BOUNDS = st.sampled_from(["0", "0.01", "0.1", "1", "5", "10", "100", "1000", "0.00000100"])
NUMBERS = st.one_of(
    st.sampled_from(["0", "-1", "NaN", "Infinity", "abc", "", "1E+30", "0.001", "1e-3", "00.10"]),
    # past what decimal arithmetic holds: a product overflows, a remainder is impossible
    st.sampled_from(["1E+999999", "1E-999999", "9" * 40, "0." + "0" * 40 + "1"]),
    st.sampled_from(["1", "2", "10", "50", "100", "500", "2000", "9000", "20000"]),
    st.decimals(min_value=Decimal("0.00001"), max_value=Decimal(10_000), places=5).map(str),
    st.integers(min_value=1, max_value=5000).map(str),
)


# filters.md's range filters: (filter, its min / max / step keys, the max bounds drawn)
RANGES = (
    ("PRICE_FILTER", ("minPrice", "maxPrice", "tickSize"), ["0", "1000", "100000"]),
    ("LOT_SIZE", ("minQty", "maxQty", "stepSize"), ["0", "100", "9000"]),
)


@st.composite
def rules(draw: Any) -> SymbolRules:
    filters: list[dict[str, Any]] = []
    for name, (low, high, step), highs in RANGES:
        if draw(st.booleans()):
            filters.append(
                {
                    "filterType": name,
                    low: draw(BOUNDS),
                    high: draw(st.sampled_from(highs)),
                    step: draw(BOUNDS),
                }
            )
    if draw(st.booleans()):
        filters.append(
            {
                "filterType": "NOTIONAL",
                "minNotional": draw(BOUNDS),
                "maxNotional": draw(st.sampled_from(["0", "1000", "9000000"])),
                "applyMinToMarket": True,
            }
        )
    if draw(st.booleans()):
        filters.append({"filterType": "MIN_NOTIONAL", "minNotional": draw(BOUNDS)})
    types = draw(
        st.sampled_from([[], ["LIMIT"], ["LIMIT_MAKER", "MARKET"], ["LIMIT", "LIMIT_MAKER"]])
    )
    return SymbolRules.from_api({"symbol": "BTCUSDT", "orderTypes": types, "filters": filters})


@st.composite
def plain_orders(draw: Any) -> dict[str, str]:
    params = {
        "symbol": "BTCUSDT",
        "side": draw(st.sampled_from(["BUY", "SELL", "BUY", "SELL", "HOLD"])),
        "type": draw(st.sampled_from(["LIMIT", "LIMIT_MAKER"])),
        "price": draw(NUMBERS),
        "quantity": draw(NUMBERS),
    }
    if draw(st.booleans()):
        params["timeInForce"] = draw(st.sampled_from(["GTC", "IOC", "FOK"]))
    if draw(st.booleans()):
        params["newOrderRespType"] = "FULL"
    return params


def full_check_passes(params: dict[str, str], rules: SymbolRules) -> bool:
    """Whether the full check passes; any error but the two typed ones fails the test."""
    try:
        check_all(params, rules)
    except (ParamError, FilterError):
        return False
    return True


@settings(max_examples=1000, deadline=None)
@given(params=plain_orders(), symbol=rules())
def test_the_short_check_passes_exactly_what_the_full_check_passes(
    params: dict[str, str], symbol: SymbolRules
) -> None:
    assert _plain_and_valid(params, symbol) == full_check_passes(params, symbol)


@settings(max_examples=200, deadline=None)
@given(params=plain_orders(), symbol=rules(), extra=st.sampled_from(["stopPrice", "icebergQty"]))
def test_an_order_that_is_not_plain_takes_the_full_check(
    params: dict[str, str], symbol: SymbolRules, extra: str
) -> None:
    params[extra] = params["quantity"]
    assert _plain_and_valid(params, symbol) is False


@pytest.mark.parametrize("price", ["1E+30", "123456789012345678901234567890.01"])
def test_a_price_too_long_to_divide_by_the_tick_is_a_filter_error(price: str) -> None:
    """It raised decimal.InvalidOperation from inside the check (the remainder by the tick size
    exceeds the decimal precision); now the FilterError naming the parameter."""
    symbol = SymbolRules.from_api(
        {
            "symbol": "BTCUSDT",
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": "0", "maxPrice": "0", "tickSize": "0.01"}
            ],
        }
    )
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
    with pytest.raises(FilterError) as err:
        check_order({**order, "price": price, "quantity": "1"}, symbol)
    assert err.value.param == "price" and err.value.filter == "PRICE_FILTER"
