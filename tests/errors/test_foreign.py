"""Foreign exceptions become typed errors. The network failures are real ones, produced over
loopback sockets (a refused port, a server that resets, a server that stalls)."""

from __future__ import annotations

import asyncio
import socket
import struct
import subprocess
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest

from binguard.errors import (
    ClockSkewError,
    ConnectFailedError,
    ConnectionDroppedError,
    IpBannedError,
    OrderRejectedError,
    Recovery,
    RequestInfo,
    RequestTimeoutError,
    classify,
    redact_text,
)

ORDER = RequestInfo.of("POST", "/api/v3/order", {"symbol": "BTCUSDT"})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _serve(handler: object) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)  # type: ignore[arg-type]
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def resetting_server() -> AsyncIterator[int]:
    """Reads the request, then resets the connection (SO_LINGER 0): a real ECONNRESET."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async for port in _serve(handler):
        yield port


@pytest.fixture
async def stalling_server() -> AsyncIterator[int]:
    """Reads the request and never answers."""
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await release.wait()
        writer.close()

    async for port in _serve(handler):
        yield port
        release.set()


async def test_refused_connection_never_reached_the_server() -> None:
    port = _free_port()
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError) as info:
            await session.post(f"http://127.0.0.1:{port}/api/v3/order")
    err = classify(info.value, request=ORDER)
    assert isinstance(err, ConnectFailedError)
    assert not err.may_have_executed
    assert err.recovery is Recovery.RETRY  # nothing was sent: safe even for an order


async def test_reset_after_sending_may_have_executed(resetting_server: int) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError) as info:
            await session.post(f"http://127.0.0.1:{resetting_server}/api/v3/order", data=b"x=1")
    err = classify(info.value, request=ORDER)
    assert isinstance(err, ConnectionDroppedError)
    assert err.may_have_executed
    assert err.recovery is Recovery.RECONCILE
    assert err.request == ORDER


async def test_timeout_is_typed(stalling_server: int) -> None:
    timeout = aiohttp.ClientTimeout(total=0.2)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        with pytest.raises(asyncio.TimeoutError) as info:
            await session.get(f"http://127.0.0.1:{stalling_server}/api/v3/depth")
    err = classify(info.value, request=RequestInfo.of("GET", "/api/v3/depth"))
    assert isinstance(err, RequestTimeoutError)
    assert err.recovery is Recovery.RETRY


def test_oserror_resets() -> None:
    assert isinstance(
        classify(ConnectionResetError(104, "Connection reset by peer")), ConnectionDroppedError
    )
    assert isinstance(classify(ConnectionRefusedError(111, "refused")), ConnectFailedError)


def test_cancellation_is_not_an_error() -> None:
    assert classify(asyncio.CancelledError()) is None
    assert classify(KeyboardInterrupt()) is None


def test_python_binance_exception() -> None:
    exceptions = pytest.importorskip("binance.exceptions")

    class Resp:
        status_code = 400
        text = '{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}'
        headers = {"x-mbx-used-weight-1m": "12"}

    exc = exceptions.BinanceAPIException(Resp(), 400, Resp.text)
    err = classify(exc)
    assert isinstance(err, ClockSkewError)
    assert err.code == -1021 and err.http_status == 400
    assert err.used_weight == {"1M": 12}


def test_ccxt_exceptions_embed_binance_body() -> None:
    ccxt = pytest.importorskip("ccxt")
    exc = ccxt.InsufficientFunds(
        'binance {"code":-2010,"msg":"Account has insufficient balance for requested action."}'
    )
    err = classify(exc)
    assert isinstance(err, OrderRejectedError)
    assert err.msg == "Account has insufficient balance for requested action."
    ban = classify(
        ccxt.DDoSProtection(
            'binance 418 I\'m a teapot {"code":-1003,"msg":"Way too much request weight used; IP '
            'banned until 1659146400000. Please use WebSocket Streams for live updates to avoid bans."}'
        )
    )
    assert isinstance(ban, IpBannedError) and ban.http_status == 418
    assert isinstance(classify(ccxt.RequestTimeout("binance GET timed out")), RequestTimeoutError)


def test_unrelated_exception_is_none() -> None:
    assert classify(ValueError("bad literal")) is None
    assert classify(KeyError("code")) is None


# -- secrets in other libraries' messages never reach an error ---------------------------------
SIGNED_URL = "/api/v3/order?symbol=BTCUSDT&timestamp=1&signature=5f2b9c0ffee1234567890abcdef"


@pytest.mark.parametrize(
    "subject",
    [
        ConnectionResetError(f"Max retries exceeded with url: {SIGNED_URL} (reset)"),
        TimeoutError(f"timed out: POST https://api.binance.com{SIGNED_URL}"),
        f"POST https://api.binance.com{SIGNED_URL} failed: Connection reset by peer",
        f"HTTP 500 POST {SIGNED_URL}",
        f'code=-1022 msg="Signature for this request is not valid." url={SIGNED_URL}',
    ],
    ids=["reset", "timeout", "log-reset", "log-500", "log-code"],
)
def test_a_signature_in_the_input_never_reaches_the_error(subject: object) -> None:
    err = classify(subject)
    assert err is not None
    shown = f"{err}\n{err!r}\n{err.as_dict()!r}\n{err.msg}"
    assert "5f2b9c0ffee" not in shown
    assert "signature=<redacted>" in shown or err.code == -1022


def test_redact_text_keeps_what_is_not_secret() -> None:
    text = 'GET /x?a=1&signature=abc&apiKey=KEY "secret": "s3" password: hunter2 limit=5'
    assert redact_text(text) == (
        'GET /x?a=1&signature=<redacted>&apiKey=<redacted> "secret": "<redacted>" '
        "password: <redacted> limit=5"
    )
    assert redact_text("Connection reset by peer") == "Connection reset by peer"


class _BrokenStr(ConnectionResetError):
    def __str__(self) -> str:
        raise RuntimeError("broken __str__")


def test_a_broken_str_still_classifies_by_type() -> None:
    err = classify(_BrokenStr())
    assert isinstance(err, ConnectionDroppedError)


def test_aiohttp_is_imported_only_by_whoever_raises_its_errors() -> None:
    """`import binguard.doctor` (and classify() of other exceptions) leaves aiohttp unimported
    (~0.15 s of start-up); an aiohttp error classifies by type once aiohttp is imported. A fresh
    interpreter, since this test process imported aiohttp long ago."""
    script = (
        "import sys, binguard.doctor\n"
        "from binguard.errors import classify, ConnectionDroppedError\n"
        "assert classify(ConnectionResetError(104, 'reset')) is not None\n"
        "assert 'aiohttp' not in sys.modules, 'aiohttp imported'\n"
        "import aiohttp\n"
        "err = classify(aiohttp.ServerDisconnectedError())\n"
        "assert isinstance(err, ConnectionDroppedError), err\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
