"""Errors pickle, print usefully, and never hold a secret."""

from __future__ import annotations

import pickle

import pytest

import binguard.errors as errors_module
from binguard.errors import (
    BinanceError,
    ExecutionUnknownError,
    HttpReply,
    Recovery,
    RequestInfo,
    classify,
)

SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"

ALL_CLASSES = [
    obj
    for obj in vars(errors_module).values()
    if isinstance(obj, type) and issubclass(obj, BinanceError)
]


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_every_class_pickles_with_its_data(cls: type[BinanceError]) -> None:
    err = cls(
        "Way too much request weight used; IP banned until 1659146400000.",
        code=-1003,
        http_status=418,
        retry_after=3.5,
        used_weight={"1M": 6100},
        request=RequestInfo.of("GET", "/api/v3/depth", {"symbol": "BTCUSDT"}),
        values=("1659146400000",),
        param_names=("banned_until",),
    )
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is cls
    assert back.as_dict() == err.as_dict()
    assert repr(back) == repr(err)


def test_repr_and_str_are_useful() -> None:
    err = classify(
        HttpReply(
            400,
            {},
            b'{"code":-1102,"msg":"Mandatory parameter \'quantity\' was not sent, was empty/null, or malformed."}',
        ),
        request=RequestInfo.of("POST", "/api/v3/order", {"symbol": "BTCUSDT"}),
    )
    assert err is not None
    assert repr(err).startswith(
        "InvalidRequestError(code=-1102, name='MANDATORY_PARAM_EMPTY_OR_MALFORMED'"
    )
    assert "params={'param': 'quantity'}" in repr(err)
    assert str(err) == (
        "[-1102 MANDATORY_PARAM_EMPTY_OR_MALFORMED] Mandatory parameter 'quantity' was not sent, "
        "was empty/null, or malformed. (HTTP 400, POST /api/v3/order)"
    )
    assert err.param == "quantity"


def test_no_secret_survives_in_request_info() -> None:
    request = RequestInfo.of(
        "POST",
        "/api/v3/order",
        {"symbol": "BTCUSDT", "signature": SIGNATURE, "apiKey": "KEY", "secretKey": SECRET},
    )
    err = ExecutionUnknownError("Timeout waiting for response", code=-1007, request=request)
    text = repr(err) + str(err) + repr(err.as_dict()) + repr(request) + repr(pickle.dumps(err))
    assert SIGNATURE not in text and SECRET not in text and "KEY" not in request.params[2][1]
    assert request.param("signature") == "<redacted>"
    assert err.recovery is Recovery.RECONCILE
