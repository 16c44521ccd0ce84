"""-2026 ORDER_ARCHIVED is its own error, never the "not found" that reconciliation reads as
"never placed" (issue 12 item 2). errors.md: "-2026 ORDER_ARCHIVED: Order was canceled or expired
with no executed qty over 90 days ago and has been archived." (shared/reference/binance-docs)."""

from __future__ import annotations

import pickle

import pytest

from binguard.errors import (
    BinanceError,
    Family,
    OrderArchivedError,
    OrderNotFoundError,
    Recovery,
    RequestInfo,
    classify,
    error_class,
)

ARCHIVED_MSG = (
    "Order was canceled or expired with no executed qty over 90 days ago and has been archived."
)
QUERY = RequestInfo.of("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "x1"})


@pytest.mark.parametrize(
    "subject",
    [
        b'{"code":-2026,"msg":"' + ARCHIVED_MSG.encode() + b'"}',
        {"code": -2026, "msg": ARCHIVED_MSG},
        {"id": "q1", "status": 400, "error": {"code": -2026, "msg": ARCHIVED_MSG}},
        f"2026-01-01 WARNING binguard: [-2026 ORDER_ARCHIVED] {ARCHIVED_MSG} (HTTP 400)",
        f"APIError(code=-2026): {ARCHIVED_MSG}",
    ],
    ids=["rest-body", "mapping", "ws-frame", "binguard-log", "python-binance-log"],
)
def test_archived_is_its_own_type_in_every_shape(subject: object) -> None:
    err = classify(subject, request=QUERY)
    assert type(err) is OrderArchivedError
    assert not isinstance(err, OrderNotFoundError)  # reconciliation's "never placed" branch
    assert err.code == -2026 and err.name == "ORDER_ARCHIVED"
    assert not err.may_have_executed  # the query changed nothing; nothing is re-sent
    assert err.recovery is Recovery.FIX_REQUEST  # never retried
    assert err.family is Family.ORDER_NOT_FOUND  # the catalog's family (nothing to retry)


def test_not_found_stays_not_found() -> None:
    err = classify(b'{"code":-2013,"msg":"Order does not exist."}')
    assert type(err) is OrderNotFoundError
    assert not isinstance(err, OrderArchivedError)
    assert error_class(-2013) is OrderNotFoundError
    assert error_class(-2026) is OrderArchivedError


def test_archived_survives_pickling_and_printing() -> None:
    err = classify({"code": -2026, "msg": ARCHIVED_MSG}, request=QUERY)
    assert isinstance(err, BinanceError)
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is OrderArchivedError and again.as_dict() == err.as_dict()
    assert str(err).startswith("[-2026 ORDER_ARCHIVED] Order was canceled")
    assert repr(err).startswith("OrderArchivedError(code=-2026, name='ORDER_ARCHIVED'")
