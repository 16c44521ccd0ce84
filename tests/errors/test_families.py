"""Each code maps to the family the issue and Binance's docs give it (a spec table, not the catalog
read back): one case per code."""

from __future__ import annotations

import pytest

from binguard.errors import (
    AuthError,
    BinanceError,
    CancelRejectedError,
    ClockSkewError,
    ExecutionUnknownError,
    Family,
    InvalidRequestError,
    OrderArchivedError,
    OrderNotFoundError,
    OrderRejectedError,
    RateLimitedError,
    ServerBusyError,
    catalog,
    classify,
)

# Codes whose family is not "invalid request" (the default for Binance's 11xx/12xx "Request
# issues" and most FIX/session codes). Source: errors.md section texts and binance-api-semantics.md.
SPEC: dict[int, type[BinanceError]] = {
    -1000: ExecutionUnknownError,  # "unknown error ... while processing": may have executed
    -1001: ServerBusyError,  # "unable to process your request. Please try again."
    -1002: AuthError,
    -1003: RateLimitedError,  # 429 weight; its ban message refines to IpBannedError
    -1006: ExecutionUnknownError,  # "Execution status unknown."
    -1007: ExecutionUnknownError,  # "Send status unknown; execution status unknown."
    -1008: ServerBusyError,  # "overloaded ... try again in a few minutes"
    -1010: OrderRejectedError,
    -1013: OrderRejectedError,  # filter failures
    -1015: RateLimitedError,  # unfilled order count, HTTP 429
    -1016: ServerBusyError,
    -1021: ClockSkewError,
    -1022: AuthError,
    -1034: RateLimitedError,
    -1112: OrderRejectedError,
    -1181: RateLimitedError,
    -2010: OrderRejectedError,
    -2011: CancelRejectedError,
    -2013: OrderNotFoundError,
    -2014: AuthError,
    -2015: AuthError,
    -2021: OrderRejectedError,
    -2022: OrderRejectedError,
    -2026: OrderArchivedError,  # existed and is final: never "not found" (issue 12 item 2)
    -2038: OrderRejectedError,
}
MAY_HAVE_EXECUTED = {-1000, -1006, -1007, -2021}


def expected_class(code: int) -> type[BinanceError]:
    return SPEC.get(code, InvalidRequestError)


@pytest.mark.parametrize("code", sorted(catalog(), reverse=True))
def test_code_maps_to_its_family(code: int) -> None:
    entry = catalog()[code]
    msg = next((m for m in entry.messages if "%" not in m and "{" not in m), "")
    err = classify({"code": code, "msg": msg})
    assert err is not None
    assert type(err) is expected_class(code)
    assert err.code == code
    assert err.may_have_executed is (code in MAY_HAVE_EXECUTED)
    assert err.family is Family(entry.family)


@pytest.mark.parametrize(
    ("code", "family"),
    [
        (-1099, Family.EXECUTION_UNKNOWN),
        (-1150, Family.INVALID_REQUEST),
        (-1299, Family.INVALID_REQUEST),
        (-2099, Family.ORDER_REJECTED),
        (-3001, Family.UNCLASSIFIED),
    ],
)
def test_unknown_codes_fall_back_by_range(code: int, family: Family) -> None:
    from binguard.errors import UnknownCodeError

    err = classify({"code": code, "msg": "Something new."})
    assert isinstance(err, UnknownCodeError)
    assert err.family is family
    assert err.name is None
