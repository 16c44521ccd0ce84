"""classify() is total on hostile shapes of real errors: it returns a typed error, never None,
never raises, and never needs its last-resort safety net to do so.

The shapes come from issue 12 item 5 (176 + 197 of 100,000 hostile inputs returned None): an
exception carrying a Binance code whose __str__ raises, a connection error whose errno is
unhashable; plus broken __repr__, properties that raise, a `code` of any type and cyclic
__cause__/__context__ chains. The exceptions are plain Python classes built here: what is under
test is classify() alone, so no client library is needed.
"""

from __future__ import annotations

import errno
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from binguard.errors import (
    AuthError,
    BinanceError,
    ClockSkewError,
    ConnectFailedError,
    ConnectionDroppedError,
    Family,
    RequestTimeoutError,
    TransportError,
    UnclassifiedError,
    catalog,
    classify,
)


@contextmanager
def safety_net_records() -> Iterator[list[logging.LogRecord]]:
    """The records classify()'s last-resort `except` logs (it must never be what saved it)."""
    logger = logging.getLogger("binguard.errors")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def _classified(x: object) -> BinanceError:
    with safety_net_records() as records:
        err = classify(x)
    assert isinstance(err, BinanceError), f"classify({type(x).__name__}) gave {err!r}"
    assert not records, records[0].getMessage()
    repr(err), str(err), err.as_dict(), err.recovery  # the result itself is well-formed
    return err


class HostileInt(int):
    """An int whose comparisons and hash raise (an errno or code some library computed)."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("hostile __eq__")

    def __hash__(self) -> int:
        raise RuntimeError("hostile __hash__")

    def __lt__(self, other: object) -> bool:
        raise RuntimeError("hostile __lt__")


# -- the two None cases of issue 12 item 5 (both returned None before the fix) ------------------
class _ApiError(Exception):
    """python-binance's shape (a `code` attribute), with a __str__ that raises."""

    code = -1022

    def __str__(self) -> str:
        raise RuntimeError("broken __str__")


def test_a_binance_code_with_a_broken_str_is_typed() -> None:
    err = _classified(_ApiError())
    assert isinstance(err, AuthError)
    assert err.code == -1022


def test_a_code_whose_comparisons_raise_is_read_as_the_int_it_is() -> None:
    api_error = type("APIError", (Exception,), {"code": HostileInt(-1022)})
    err = _classified(api_error("Signature for this request is not valid."))
    assert isinstance(err, AuthError)
    assert type(err.code) is int and err.code == -1022


@pytest.mark.parametrize("errno", [[104], {"e": 104}, bytearray(b"x")])
def test_a_connection_error_with_an_unhashable_errno_is_typed(errno: object) -> None:
    reset = ConnectionResetError("Connection reset by peer")
    reset.errno = errno  # type: ignore[assignment]  # what a hostile library may store there
    assert isinstance(_classified(reset), ConnectionDroppedError)
    other = OSError("socket failure")
    other.errno = errno  # type: ignore[assignment]
    assert type(_classified(other)) is TransportError
    client_os = aiohttp.ClientOSError("connection failure")
    client_os.errno = errno  # type: ignore[assignment]
    assert isinstance(_classified(client_os), TransportError)


def test_attributes_that_raise_are_read_as_missing() -> None:
    class Hostile(Exception):
        def __getattribute__(self, name: str) -> Any:
            if name in ("code", "message", "status_code", "errno", "response", "body"):
                raise SystemError("hostile")
            return object.__getattribute__(self, name)

    assert isinstance(_classified(Hostile("Connection reset by peer")), ConnectionDroppedError)


def test_the_safety_net_answers_with_a_typed_error() -> None:
    """An exception whose `__class__` raises defeats isinstance() itself; classify() still gives
    a typed error (and logs that it had to fall back, so the case gets reported)."""
    hostile = type("Hostile", (Exception,), {"__class__": property(_raiser(RuntimeError))})
    with safety_net_records() as records:
        err = classify(hostile("Connection reset by peer"))
    assert isinstance(err, UnclassifiedError)
    assert err.cause is not None and "Hostile" in err.cause
    assert err.may_have_executed  # unread is never "not executed": an order is not written off
    assert len(records) == 1
    repr(err), str(err), err.as_dict()


# -- hypothesis: hostile decorations on real errors ----------------------------------------------
_CODES = sorted(c for c in catalog() if c < 0)


_RAISES = st.sampled_from([RuntimeError, ValueError, TypeError, KeyError, RecursionError])
_ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=0),
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.frozensets(st.integers(), max_size=2),
    st.just(object()),
    st.just(float("nan")),
    st.builds(HostileInt, st.integers(min_value=0, max_value=200)),
)
_ERRNOS = [errno.ECONNREFUSED, errno.ECONNRESET, errno.ETIMEDOUT, errno.EPIPE, 0, -1, 2**70]
# (OSError class, the class the result must be an instance of): each maps by its type.
_OS_CORES = [
    (ConnectionResetError, ConnectionDroppedError),
    (BrokenPipeError, ConnectionDroppedError),
    (ConnectionRefusedError, ConnectFailedError),
    (TimeoutError, RequestTimeoutError),
    (OSError, TransportError),
]


def _raiser(exc_type: type[Exception]) -> Callable[..., Any]:
    def broken(self: object, *args: object) -> Any:
        raise exc_type("hostile")

    return broken


@st.composite
def hostile_errors(draw: st.DrawFn) -> tuple[BaseException, type[BinanceError], int | None]:
    """(exception, the class the result must be an instance of, the Binance code it carries)."""
    namespace: dict[str, Any] = {}
    if draw(st.booleans()):
        namespace["__str__"] = _raiser(draw(_RAISES))
    if draw(st.booleans()):
        namespace["__repr__"] = _raiser(draw(_RAISES))
    for attr in draw(st.sets(st.sampled_from(["message", "status_code", "response", "body"]))):
        namespace[attr] = property(_raiser(draw(_RAISES)))
    code: int | None = None
    if draw(st.booleans()):
        code = draw(st.sampled_from(_CODES))
        base: type[BaseException] = draw(st.sampled_from([Exception, RuntimeError, OSError]))
        namespace["code"] = code
        expected: type[BinanceError] = BinanceError
    else:
        base, expected = draw(st.sampled_from(_OS_CORES))
        if draw(st.booleans()):  # a `code` of any type that is not a Binance code
            namespace["code"] = draw(_ODD_VALUES)
    cls = type("Hostile" + base.__name__, (base,), namespace)
    exc = cls(draw(st.text(max_size=30)))
    if isinstance(exc, OSError) and draw(st.booleans()):
        exc.errno = draw(_ODD_VALUES | st.sampled_from(_ERRNOS))
        if isinstance(exc.errno, int) and not isinstance(exc.errno, bool):
            # a real errno may name another failure than the class does
            expected = TransportError if code is None else expected
    _tangle(exc, draw)
    return exc, expected, code


def _tangle(exc: BaseException, draw: st.DrawFn) -> None:
    """Cyclic __cause__ / __context__ chains, through a second exception or onto itself."""
    shape = draw(st.sampled_from(["none", "self", "pair", "mixed"]))
    other = ValueError("other")
    if shape == "self":
        exc.__cause__ = exc
        exc.__context__ = exc
    elif shape == "pair":
        exc.__cause__ = other
        other.__cause__ = exc
    elif shape == "mixed":
        exc.__context__ = other
        other.__cause__ = exc
        other.__context__ = other


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_errors())
def test_classify_is_total_on_hostile_errors(
    case: tuple[BaseException, type[BinanceError], int | None],
) -> None:
    exc, expected, code = case
    err = _classified(exc)
    assert isinstance(err, expected)
    if code is not None:
        assert err.code == code
        assert err.family is catalog()[code].family or err.family in (
            Family.RATE_LIMITED,
            Family.IP_BANNED,
        )


def test_clock_skew_through_a_cycle() -> None:
    """A cause cycle around a python-binance-shaped error changes nothing."""

    class BinanceAPIException(Exception):
        code = -1021
        message = "Timestamp for this request is outside of the recvWindow."

    exc = BinanceAPIException()
    exc.__cause__ = exc.__context__ = exc
    assert isinstance(_classified(exc), ClockSkewError)


@pytest.mark.parametrize(
    "body",
    [
        b'{"code":-1021,"msg":"signature=0123456789abcdef0123456789abcdef"}',
        b'{"code": -2010, "msg": "bad order /api/v3/order?signature=deadbeefdeadbeefdeadbeef"}',
        b'{"code":-1003,"msg":"x","data":1,"msg2":"apiSecret=hunter2hunter2"}',
    ],
)
def test_a_secret_inside_a_body_message_never_reaches_the_error(body: bytes) -> None:
    """Found by `make soak` (hostile classify): a body's `msg` is foreign text like a log line,
    so it is redacted on the way in, whatever the input shape."""
    for shape in (body, body.decode(), json.loads(body)):
        err = classify(shape)
        assert err is not None
        shown = f"{err} {err!r} {err.msg}"
        for secret in ("0123456789abcdef", "deadbeefdead"):
            assert secret not in shown, (shape, shown)
