"""Our own HTTP clients' failures are typed by type at the transport boundary
(transport/http_backends.py HTTP1_ERRORS / AIOHTTP_ERRORS), never by class name elsewhere."""

from __future__ import annotations

import errno

import aiohttp
import pytest
from aiohttp.client_reqrep import ConnectionKey

from binguard.errors import (
    ConnectFailedError,
    ConnectionDroppedError,
    RequestInfo,
    RequestTimeoutError,
    TransportError,
)
from binguard.transport import http1
from binguard.transport.http_backends import (
    AIOHTTP_ERRORS,
    HTTP1_ERRORS,
    map_error,
    transport_error,
)

KEY = ConnectionKey("127.0.0.1", 1, False, True, None, None, None)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (http1.ConnectError("refused"), ConnectFailedError),
        (http1.ConnectTimeout("no connection in 5 s"), ConnectFailedError),
        (http1.ReadTimeout("no answer"), RequestTimeoutError),
        (http1.RemoteProtocolError("closed mid-answer"), ConnectionDroppedError),
    ],
)
def test_http1_failures_by_type(exc: BaseException, kind: type[TransportError]) -> None:
    assert map_error(HTTP1_ERRORS, exc) is kind


def test_every_http1_failure_class_is_mapped() -> None:
    """Like httpx's test of its exception map: a new HttpError subclass must get a row."""
    subclasses = [
        c for c in vars(http1).values() if isinstance(c, type) and issubclass(c, http1.HttpError)
    ]
    unmapped = [
        c.__name__
        for c in subclasses
        if c is not http1.HttpError and map_error(HTTP1_ERRORS, c()) is None
    ]
    assert not unmapped


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (
            aiohttp.ClientConnectorError(KEY, OSError(errno.ECONNREFUSED, "refused")),
            ConnectFailedError,
        ),
        (aiohttp.ConnectionTimeoutError("connect"), ConnectFailedError),
        (aiohttp.SocketTimeoutError("read"), RequestTimeoutError),
        (aiohttp.ServerDisconnectedError(), ConnectionDroppedError),
        (aiohttp.ClientPayloadError("cut"), ConnectionDroppedError),
        (aiohttp.ClientConnectionError("gone"), ConnectionDroppedError),
        (TimeoutError(), RequestTimeoutError),
        # An OSError's errno decides (classify reads it): the table leaves it alone.
        (aiohttp.ClientOSError(errno.ECONNRESET, "reset"), None),
        (OSError(errno.ECONNREFUSED, "refused"), None),
    ],
)
def test_aiohttp_failures_by_type(exc: BaseException, kind: type[TransportError] | None) -> None:
    assert map_error(AIOHTTP_ERRORS, exc) is kind


def test_the_error_is_worded_like_classify_and_redacted() -> None:
    request = RequestInfo.of("GET", "/api/v3/account", {})
    err = transport_error(
        ConnectionDroppedError, http1.RemoteProtocolError("cut at /x?signature=abcdef0123"), request
    )
    assert isinstance(err, ConnectionDroppedError) and err.request is request
    assert str(err.msg).startswith("RemoteProtocolError: ") and "abcdef0123" not in str(err)
    assert err.cause == "RemoteProtocolError"
