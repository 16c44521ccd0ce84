"""binguard's HTTP/1.1 client against real loopback servers that misbehave on purpose.

Each server is a few lines of asyncio speaking raw bytes, so every wire case is exact: bodies by
Content-Length, chunks, gzip, close-delimited; interim answers; resets, FINs and stalls at every
point of an exchange. Failures must come out typed by `classify()` exactly as the aiohttp path's
(ConnectFailedError only when nothing was sent), and the pool must never reuse a connection that
is out of step.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import json
import socket
import ssl
import struct
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from binguard.errors import (
    ConnectFailedError,
    ConnectionDroppedError,
    RequestInfo,
    RequestTimeoutError,
    classify,
    parse_rate_headers,
)
from binguard.transport.http1 import (
    ConnectError,
    ConnectTimeout,
    Http1Client,
    ReadTimeout,
    RemoteProtocolError,
    parse_head,
)
from binguard.transport.http_backends import loads, rate_from_head

ORDER = RequestInfo.of("POST", "/api/v3/order", {"symbol": "BTCUSDT"})
READ = RequestInfo.of("GET", "/api/v3/depth", {"symbol": "BTCUSDT"})
JSON_OK = b'{"ok":true}'

Handler = Callable[["Conn"], Awaitable[None]]


@dataclass
class Conn:
    """One accepted connection, with helpers to read requests and write raw answers."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    server: Server

    async def request(self) -> bytes:
        """One whole request (head, then a Content-Length body if any)."""
        head = await self.reader.readuntil(b"\r\n\r\n")
        self.server.requests.append(head)
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                head += await self.reader.readexactly(int(line.split(b":")[1]))
        return head

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def reset(self) -> None:
        """TCP RST (SO_LINGER 0 then abort), as the simulator's `reset` faults do."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


@dataclass
class Server:
    port: int
    connections: int = 0
    peers: list[str] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def answer(body: bytes = JSON_OK, status: str = "200 OK", headers: str = "") -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{headers}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@asynccontextmanager
async def serve(
    handler: Handler, *, ssl_ctx: ssl.SSLContext | None = None
) -> AsyncIterator[Server]:
    """A loopback server running `handler` for each connection; every socket closed on exit."""
    tasks: set[asyncio.Task[None]] = set()
    writers: list[asyncio.StreamWriter] = []
    server = Server(0)

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        server.peers.append(writer.get_extra_info("peername")[0])
        writers.append(writer)
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(Conn(reader, writer, server))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: part of several tests
        finally:
            tasks.discard(task)
            writer.close()

    listener = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=ssl_ctx)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in writers:
            writer.transport.abort()
        # every server socket really closed before the loop ends (no ResourceWarning)
        await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)
        await listener.wait_closed()


async def keep_answering(conn: Conn) -> None:
    while True:
        await conn.request()
        await conn.send(answer())


@asynccontextmanager
async def client(url: str, **options: object) -> AsyncIterator[Http1Client]:
    c = Http1Client(url, headers={"X-MBX-APIKEY": "key"}, **options)  # type: ignore[arg-type]
    try:
        yield c
    finally:
        await c.close()


# -- bodies -------------------------------------------------------------------------------------
async def test_content_length_body_and_keep_alive() -> None:
    async with serve(keep_answering) as srv, client(srv.url) as c:
        for _ in range(3):
            r = await c.request("GET", "/api/v3/time?x=1")
            assert (r.status, r.body) == (200, JSON_OK)
        assert srv.connections == 1, "one keep-alive connection for every request"
        first = srv.requests[0]
        assert first.startswith(b"GET /api/v3/time?x=1 HTTP/1.1\r\n")
        assert f"Host: 127.0.0.1:{srv.port}\r\n".encode() in first
        assert b"X-MBX-APIKEY: key\r\n" in first
        assert b"Accept-Encoding: gzip, deflate\r\n" in first
        assert r.headers["content-type"] == "application/json"


async def test_before_write_runs_after_a_wait_for_a_connection_and_can_stop_the_request() -> None:
    """The transport's last word before the bytes leave (a ban learnt while connecting): asked
    only when a wait came first; what it raises is raised and nothing is sent."""

    class Stop(Exception):
        pass

    calls: list[str] = []

    def allow() -> None:
        calls.append("asked")

    def refuse() -> None:
        raise Stop

    async with serve(keep_answering) as srv, client(srv.url) as c:
        with pytest.raises(Stop):
            await c.request("GET", "/api/v3/time", before_write=refuse)  # a new connection
        assert srv.requests == [], "refused before writing: nothing reached the server"
        await c.request("GET", "/api/v3/time", before_write=allow)  # a new connection again
        assert calls == ["asked"]
        await c.request("GET", "/api/v3/time", before_write=refuse)  # idle one: no wait, no ask
        assert len(srv.requests) == 2


async def test_post_body_is_sent_with_its_length() -> None:
    seen: list[bytes] = []

    async def handler(conn: Conn) -> None:
        seen.append(await conn.request())
        await conn.send(answer())

    async with serve(handler) as srv, client(srv.url) as c:
        r = await c.request("POST", "/api/v3/order", body=b"symbol=BTCUSDT")
        assert r.status == 200
    assert b"Content-Length: 14\r\n" in seen[0]
    assert b"Content-Type: application/x-www-form-urlencoded\r\n" in seen[0]
    assert seen[0].endswith(b"\r\n\r\nsymbol=BTCUSDT")


async def test_chunked_body_byte_by_byte_with_extensions_and_trailers() -> None:
    wire = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5;ext=1\r\n{"a":\r\n6\r\n[1,2]}\r\n0\r\nX-Trailer: yes\r\n\r\n'
    )

    async def handler(conn: Conn) -> None:
        while True:
            await conn.request()
            for i in range(len(wire)):  # the worst split: every byte in its own segment
                await conn.send(wire[i : i + 1])

    async with serve(handler) as srv, client(srv.url) as c:
        for _ in range(2):
            r = await c.request("GET", "/x")
            assert json.loads(r.body) == {"a": [1, 2]}
        assert srv.connections == 1


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_compressed_body_is_decoded(coding: str) -> None:
    body = json.dumps({"symbols": ["BTCUSDT"] * 500}).encode()
    packed = gzip.compress(body) if coding == "gzip" else zlib.compress(body)

    async def handler(conn: Conn) -> None:
        await conn.request()
        await conn.send(answer(packed, headers=f"Content-Encoding: {coding}\r\n"))

    async with serve(handler) as srv, client(srv.url) as c:
        r = await c.request("GET", "/api/v3/exchangeInfo")
    assert r.body == body


async def test_identity_is_asked_for_without_gzip() -> None:
    async with serve(keep_answering) as srv, client(srv.url, accept_gzip=False) as c:
        await c.request("GET", "/x")
    assert b"Accept-Encoding: identity\r\n" in srv.requests[0]


async def test_body_until_close_and_connection_close_retire_the_connection() -> None:
    async def until_close(conn: Conn) -> None:
        await conn.request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello ")
        await conn.send(b"world")
        conn.writer.close()

    async with serve(until_close) as srv, client(srv.url) as c:
        assert (await c.request("GET", "/a")).body == b"hello world"
        assert (await c.request("GET", "/b")).body == b"hello world"
        assert srv.connections == 2

    async def says_close(conn: Conn) -> None:
        while True:
            await conn.request()
            await conn.send(answer(headers="Connection: close\r\n"))

    async with serve(says_close) as srv, client(srv.url) as c:
        await c.request("GET", "/a")
        await c.request("GET", "/b")
        assert srv.connections == 2


async def test_interim_answers_no_body_statuses_and_head() -> None:
    async def handler(conn: Conn) -> None:
        await conn.request()
        await conn.send(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n")
        await conn.send(answer(b'{"after":"interim"}'))
        await conn.request()
        await conn.send(b"HTTP/1.1 204 No Content\r\n\r\n")
        await conn.request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")  # HEAD: no body
        await conn.request()
        await conn.send(answer())

    async with serve(handler) as srv, client(srv.url) as c:
        assert json.loads((await c.request("GET", "/a")).body) == {"after": "interim"}
        assert (await c.request("DELETE", "/b")).status == 204
        head = await c.request("HEAD", "/c")
        assert (head.status, head.body) == (200, b"")
        assert (await c.request("GET", "/d")).body == JSON_OK
        assert srv.connections == 1


async def test_source_address() -> None:
    async with serve(keep_answering) as srv, client(srv.url, local_addr="127.0.0.2") as c:
        await c.request("GET", "/x")
    assert srv.peers == ["127.0.0.2"]


async def test_pool_limit_queues_requests_on_one_connection() -> None:
    async with serve(keep_answering) as srv, client(srv.url, limit=1) as c:
        answers = await asyncio.gather(*(c.request("GET", f"/{i}") for i in range(5)))
    assert [a.status for a in answers] == [200] * 5
    assert srv.connections == 1


async def test_target_and_headers_cannot_inject_lines() -> None:
    async with serve(keep_answering) as srv, client(srv.url) as c:
        with pytest.raises(ValueError, match="percent-encoded"):
            await c.request("GET", "/x\r\nX-Evil: 1")
    with pytest.raises(ValueError, match="line break"):
        Http1Client("http://127.0.0.1:1", headers={"X-MBX-APIKEY": "k\r\nX-Evil: 1"})
    with pytest.raises(ValueError, match="origin"):
        Http1Client("http://127.0.0.1:1/api")


# -- failures, typed as the aiohttp path types them -----------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_refused_connection_never_reached_the_server() -> None:
    async with client(f"http://127.0.0.1:{free_port()}") as c:
        with pytest.raises(ConnectError) as info:
            await c.request("POST", "/api/v3/order")
    err = classify(info.value, request=ORDER)
    assert isinstance(err, ConnectFailedError)
    assert not err.may_have_executed  # nothing was sent: safe even for an order


async def test_connect_timeout_is_a_connect_failure() -> None:
    with socket.socket() as listener:  # listens, never accepts: no server-side socket to leak
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        async with client(url, connect_timeout=0.0) as c:
            with pytest.raises(ConnectTimeout) as info:
                await c.request("POST", "/api/v3/order")
    err = classify(info.value, request=ORDER)
    assert isinstance(err, ConnectFailedError) and not err.may_have_executed


async def test_reset_after_sending_may_have_executed() -> None:
    async def handler(conn: Conn) -> None:
        await conn.request()
        conn.reset()

    async with serve(handler) as srv, client(srv.url) as c:
        with pytest.raises(ConnectionResetError) as info:
            await c.request("POST", "/api/v3/order", body=b"x=1")
    err = classify(info.value, request=ORDER)
    assert isinstance(err, ConnectionDroppedError)
    assert err.may_have_executed and err.request == ORDER


async def test_fin_before_answer_is_a_drop() -> None:
    async def handler(conn: Conn) -> None:
        await conn.request()
        conn.writer.close()

    async with serve(handler) as srv, client(srv.url) as c:
        with pytest.raises(RemoteProtocolError) as info:
            await c.request("POST", "/api/v3/order")
    err = classify(info.value, request=ORDER)
    assert isinstance(err, ConnectionDroppedError) and err.may_have_executed


@pytest.mark.parametrize("ending", ["reset", "fin"])
async def test_partial_body_carries_the_status(ending: str) -> None:
    async def handler(conn: Conn) -> None:
        await conn.request()
        await conn.send(answer(b'{"orderId":12345,"status":"NEW"}')[:-10])
        if ending == "reset":
            conn.reset()
        else:
            conn.writer.close()

    async with serve(handler) as srv, client(srv.url) as c:
        with pytest.raises(RemoteProtocolError) as info:
            await c.request("POST", "/api/v3/order")
    assert info.value.status == 200 and info.value.head is not None
    assert isinstance(classify(info.value, request=ORDER), ConnectionDroppedError)


async def test_stall_past_timeout_then_the_pool_moves_on() -> None:
    release = asyncio.Event()

    async def handler(conn: Conn) -> None:
        if conn.server.connections > 1:
            await keep_answering(conn)
        await conn.request()
        await release.wait()  # the first connection never answers

    async with serve(handler) as srv, client(srv.url) as c:
        with pytest.raises(ReadTimeout) as info:
            await c.request("GET", "/api/v3/depth", timeout=0.2)
        err = classify(info.value, request=READ)
        assert isinstance(err, RequestTimeoutError)
        assert (await c.request("GET", "/api/v3/depth")).status == 200
        assert srv.connections == 2, "a timed-out connection is never reused"
        release.set()


async def test_timeout_after_the_head_keeps_the_status() -> None:
    async def handler(conn: Conn) -> None:
        await conn.request()
        await conn.send(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{")
        await asyncio.Event().wait()

    async with serve(handler) as srv, client(srv.url) as c:
        with pytest.raises(ReadTimeout) as info:
            await c.request("POST", "/api/v3/order", timeout=0.2)
    assert info.value.status == 200


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param(b"SSH-2.0-OpenSSH\r\n\r\n", id="not HTTP"),
        pytest.param(b"HTTP/1.1 2x0 OK\r\n\r\n", id="bad status"),
        pytest.param(b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", id="bad length"),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", id="two lengths"
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", id="bad chunk"
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
            id="bad gzip",
        ),
        pytest.param(
            b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\nabc", id="br"
        ),
    ],
)
async def test_malformed_answers_are_drops(wire: bytes) -> None:
    async def handler(conn: Conn) -> None:
        await conn.request()
        await conn.send(wire)
        await asyncio.Event().wait()

    async with serve(handler) as srv, client(srv.url) as c:
        with pytest.raises(RemoteProtocolError) as info:
            await c.request("GET", "/x", timeout=5)
    assert isinstance(classify(info.value, request=READ), ConnectionDroppedError)


async def test_extra_bytes_after_an_answer_retire_the_connection() -> None:
    async def handler(conn: Conn) -> None:
        while True:
            await conn.request()
            await conn.send(answer() + b"garbage")

    async with serve(handler) as srv, client(srv.url) as c:
        await c.request("GET", "/a")
        await c.request("GET", "/b")
        assert srv.connections == 2


# -- stale keep-alive connections --------------------------------------------------------------
async def test_idle_connection_closed_by_the_server_is_not_reused() -> None:
    async def handler(conn: Conn) -> None:
        await conn.request()
        await conn.send(answer())
        conn.writer.close()  # an idle timeout on the server's side

    async with serve(handler) as srv, client(srv.url) as c:
        await c.request("POST", "/a")
        await asyncio.wait_for(c._idle[0].lost, 5)  # the client has seen the FIN
        assert (await c.request("POST", "/b")).status == 200
        assert srv.connections == 2


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_request_racing_a_keep_alive_close(method: str) -> None:
    """The server closes a reused connection as the request arrives: a GET is sent once more on
    a new connection (RFC 9112 §9.3.1, as aiohttp does); a POST is never re-sent by the client."""

    async def handler(conn: Conn) -> None:
        if conn.server.connections == 1:
            await conn.request()
            await conn.send(answer())
            await conn.request()
            conn.writer.close()  # FIN instead of the second answer
            return
        await keep_answering(conn)

    async with serve(handler) as srv, client(srv.url) as c:
        await c.request(method, "/first")
        if method == "GET":
            assert (await c.request("GET", "/second")).status == 200
            assert srv.connections == 2
        else:
            with pytest.raises(RemoteProtocolError):
                await c.request("POST", "/second")
            assert srv.connections == 1


async def test_cancelled_request_retires_its_connection() -> None:
    arrived = asyncio.Event()

    async def handler(conn: Conn) -> None:
        await conn.request()
        if conn.server.connections == 1:
            arrived.set()
            await asyncio.Event().wait()
        await conn.send(answer())

    async with serve(handler) as srv, client(srv.url) as c:
        pending = asyncio.ensure_future(c.request("GET", "/slow"))
        await arrived.wait()
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        assert (await c.request("GET", "/next")).status == 200
        assert srv.connections == 2


async def test_closed_client_refuses_requests() -> None:
    async with serve(keep_answering) as srv:
        c = Http1Client(srv.url)
        await c.request("GET", "/x")
        await c.close()
        with pytest.raises(ConnectError):
            await c.request("GET", "/x")


# -- TLS ----------------------------------------------------------------------------------------
def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_https_verifies_the_server(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))
    async with serve(keep_answering, ssl_ctx=server_ctx) as srv:
        url = f"https://127.0.0.1:{srv.port}"
        async with client(url, ssl_context=trusting) as c:
            for _ in range(2):
                assert (await c.request("GET", "/api/v3/time")).body == JSON_OK
        assert srv.connections == 1
        async with client(url) as c:  # the system's CAs do not know this certificate
            with pytest.raises(ConnectError) as info:
                await c.request("GET", "/api/v3/time")
        assert isinstance(classify(info.value, request=READ), ConnectFailedError)


# -- the transport's readers agree with the reference ones -------------------------------------
header_names = st.sampled_from(
    [
        "X-MBX-USED-WEIGHT-1M",
        "x-mbx-used-weight-1s",
        "X-MBX-USED-WEIGHT",
        "X-MBX-ORDER-COUNT-10S",
        "x-mbx-order-count-1d",
        "Retry-After",
        "retry-after",
        "Content-Type",
        "X-MBX-UUID",
    ]
)
header_values = st.one_of(
    st.integers(min_value=0, max_value=10**7).map(str),
    st.sampled_from(["", " 12 ", "1.5", "-3", "nan", "inf", "abc", "2e3", "0x1", "²", "1²"]),
)


@settings(max_examples=300)
@given(st.lists(st.tuples(header_names, header_values), max_size=8))
def test_rate_from_head_equals_parse_rate_headers(headers: list[tuple[str, str]]) -> None:
    head = "HTTP/1.1 200 OK" + "".join(f"\r\n{k}: {v}" for k, v in headers)
    assert rate_from_head(head.encode()) == parse_rate_headers(headers)
    if headers:  # the parsed head (what classify() gets) reads the same
        assert parse_rate_headers(parse_head(head.encode())).used_weight.keys() <= {
            k[len("x-mbx-used-weight-") :].upper()
            for k, _ in headers
            if k.lower().startswith("x-mbx-used-weight-")
        }


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(json_values)
def test_body_decoding_equals_json_loads(value: object) -> None:
    body = json.dumps(value).encode()
    decoded = loads(body)
    assert decoded == json.loads(body)
    assert repr(decoded) == repr(json.loads(body))  # same types: an int stays an int


@pytest.mark.parametrize(
    "body",
    [
        b"NaN",
        b"[1e400]",
        b"\xef\xbb\xbf{}",
        b'"\\ud800"',
        b"18446744073709551616",
        b"-9223372036854775809",
    ],
)
def test_body_decoding_accepts_what_json_accepts(body: bytes) -> None:
    assert repr(loads(body)) == repr(json.loads(body))


@pytest.mark.parametrize("body", [b"{", b"<html>", b"\xff\xfe{"])
def test_body_decoding_rejects_what_json_rejects(body: bytes) -> None:
    with pytest.raises((json.JSONDecodeError, UnicodeDecodeError)) as expected:
        json.loads(body)
    with pytest.raises(type(expected.value)):
        loads(body)
