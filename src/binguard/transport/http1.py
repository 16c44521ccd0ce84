"""A lean keep-alive HTTP/1.1 client on asyncio.Protocol: the REST hot path without a framework.

aiohttp's ClientSession costs ~190 µs of CPU per request (URL objects, cookie jar, tracing,
multidict headers, timer contexts); talking HTTP/1.1 to one host needs far less. This client does
one thing: send small requests to one origin over a pool of keep-alive connections and hand back
(status, raw head, body). Binance-specific reading of the head (rate headers) is the caller's.

Wire rules it follows (RFC 9112): the body ends by `Transfer-Encoding: chunked` (which wins over
Content-Length), else `Content-Length`, else the close of the connection; 1xx answers are skipped;
204, 304 and answers to HEAD have no body; `Connection: close` (or HTTP/1.0 without keep-alive)
retires the connection after the answer. `gzip` and `deflate` bodies are decoded when the client
asked for them (`accept_gzip=True`, the default; `False` asks for `identity`).

Failures are raised as exceptions that `binguard.errors.classify` types by name, like other
clients' (see errors/_foreign.py), so the transport translates them at its single boundary:

    ConnectionRefusedError, other OSError while connecting -> ConnectError     (nothing was sent)
    no connection within connect_timeout                     -> ConnectTimeout   (nothing was sent)
    ConnectionResetError / BrokenPipeError before an answer  -> raised as is     (may have executed)
    FIN before a whole answer, cut or malformed answer       -> RemoteProtocolError (may have executed)
    no whole answer within the request's timeout             -> ReadTimeout (a TimeoutError)

Errors raised after the head arrived carry its `status` and raw `head`. A GET or HEAD that fails
before any byte of the answer on a *reused* connection is sent once more on a new one (the server
may have closed the idle connection while the request was on its way; RFC 9112 §9.3.1 allows it,
and aiohttp does the same).
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

__all__ = [
    "ConnectError",
    "ConnectTimeout",
    "Http1Client",
    "HttpError",
    "ReadTimeout",
    "RemoteProtocolError",
    "Response",
]

MAX_HEAD = 64 * 1024  # bytes of status line + headers before the answer is called malformed
MAX_BODY = 256 * 1024 * 1024  # a bound against a runaway server; exchangeInfo is a few MB
_RETRY_METHODS = frozenset({"GET", "HEAD"})
_EARLY = 0.001  # a timer this close to its deadline counts as expired (loop clock resolution)
_NO_BODY_STATUS = frozenset({204, 304})


class HttpError(Exception):
    """Base of this client's own failures. `status`/`head`: the answer's, when its head arrived."""

    status: int | None = None
    head: bytes | None = None


class ConnectError(HttpError):
    """The connection could not be opened (refused, unreachable, DNS, TLS): nothing was sent."""


class ConnectTimeout(HttpError):  # noqa: N818 - as httpx names it
    """No connection within the connect timeout: nothing was sent."""


class RemoteProtocolError(HttpError):
    """The server closed the connection before a whole answer, cut it short, or broke HTTP."""


class ReadTimeout(HttpError, TimeoutError):  # noqa: N818 - as httpx names it
    """The request was sent (or queued) but no whole answer came within its timeout."""


class Response:
    """One answer: status, raw head (status line and headers, undecoded) and the decoded body."""

    __slots__ = ("_headers", "body", "head", "status")

    def __init__(self, status: int, head: bytes, body: bytes) -> None:
        self.status = status
        self.head = head
        self.body = body
        self._headers: dict[str, str] | None = None

    @property
    def headers(self) -> Mapping[str, str]:
        """Headers by lower-case name (repeated ones joined by ", "); parsed on first use."""
        if self._headers is None:
            self._headers = parse_head(self.head)
        return self._headers

    def __repr__(self) -> str:
        return f"Response({self.status}, {len(self.body)} bytes)"


def parse_head(head: bytes) -> dict[str, str]:
    """Headers of a raw head by lower-case name; latin-1 as HTTP/1.1 allows."""
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _header(lower: bytes, head: bytes, name: bytes) -> bytes | None:
    """The value of header `name` (given as b"\\r\\nname:"), found in the lower-cased head."""
    at = lower.find(name)
    if at < 0:
        return None
    start = at + len(name)
    end = lower.find(b"\r\n", start)
    return head[start : end if end >= 0 else len(head)].strip()


# parser states
_IDLE, _HEAD, _LENGTH, _CHUNKED, _UNTIL_CLOSE = range(5)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; reads one answer at a time into the pending future."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = True
        self.used = 0  # answers read: > 0 means the next request goes over a reused connection
        self.idle_since = 0.0
        self._waiter: asyncio.Future[Response] | None = None
        self._state = _IDLE
        self._head_only = False  # the pending request is a HEAD
        self._buf = bytearray()
        self._status = 0
        self._head = b""
        self._need = 0  # body bytes still expected (_LENGTH)
        self._parts: list[bytes] = []
        self._size = 0
        self._decoder: zlib._Decompress | None = None
        self._got_bytes = False  # any byte of the current answer arrived
        self.lost: asyncio.Future[None] = loop.create_future()  # done when the socket is closed
        # The timeout: one timer per connection, re-armed only when it fires early (requests on a
        # connection have later and later deadlines), rather than a timer per request.
        self.deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0  # when the timer fires (loop time)

    # -- asyncio.Protocol ---------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            # Bytes nobody asked for: the connection is out of step with its requests.
            self.reusable = False
            self.abort()
            return
        self._got_bytes = True
        try:
            if self._state == _HEAD:
                if self._buf:
                    self._buf += data
                    data = bytes(self._buf)
                    self._buf.clear()
                self._on_head_bytes(data)
            elif self._state == _LENGTH:
                self._on_length_bytes(data)
            elif self._state == _CHUNKED:
                self._buf += data
                self._on_chunked()
            elif self._state == _UNTIL_CLOSE:
                self._add_body(data)
        except HttpError as exc:
            self._fail(exc)
            self.abort()

    def eof_received(self) -> bool | None:
        self._on_end(None)
        return None  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if not self.lost.done():
            self.lost.set_result(None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._on_end(exc)

    # -- requests -----------------------------------------------------------------------------
    def start(self, data: bytes, head_only: bool, deadline: float) -> asyncio.Future[Response]:
        """Send one request; the future gets its answer, or the failure (ReadTimeout after
        `deadline`, loop time)."""
        waiter: asyncio.Future[Response] = self._loop.create_future()
        self._waiter = waiter
        self._state = _HEAD
        self._head_only = head_only
        self._got_bytes = False
        self.deadline = deadline
        timer = self._timer
        if timer is None or self._timer_at > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_at(deadline, self._on_timer)
            self._timer_at = deadline  # its when(), kept: no method call per request
        transport = self.transport
        assert transport is not None
        transport.write(data)
        return waiter

    def _on_timer(self) -> None:
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return  # idle: the next request arms a timer again
        if self._loop.time() + _EARLY < self.deadline:
            self._timer = self._loop.call_at(self.deadline, self._on_timer)
            self._timer_at = self.deadline
            return
        err = ReadTimeout("no whole answer within the request's timeout")
        if self._state != _HEAD:
            err.status = self._status
            err.head = self._head
        waiter.set_exception(err)
        self.abort()  # the answer may still come: this connection is out of step

    def abort(self) -> None:
        self.reusable = False
        if self.transport is not None and not self.closed:
            self.transport.abort()

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None and not self.closed:
            self.transport.close()

    @property
    def got_bytes(self) -> bool:
        return self._got_bytes

    # -- parsing ------------------------------------------------------------------------------
    def _on_head_bytes(self, data: bytes) -> None:
        while True:
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > MAX_HEAD:
                    raise RemoteProtocolError(f"answer head longer than {MAX_HEAD} bytes")
                self._buf += data
                return
            head = data[:end]
            rest = data[end + 4 :]
            if not head.startswith(b"HTTP/1."):
                raise RemoteProtocolError(f"not an HTTP/1.x answer: {head[:40]!r}")
            try:
                status = int(head[9:12])
            except ValueError:
                raise RemoteProtocolError(f"unreadable status line: {head[:40]!r}") from None
            if 100 <= status < 200:
                if status == 101:
                    raise RemoteProtocolError("unexpected protocol switch (101)")
                data = rest  # an interim answer (100 Continue, 103 Early Hints): skip it
                continue
            self._begin_body(status, head, rest)
            return

    def _begin_body(self, status: int, head: bytes, rest: bytes) -> None:
        self._status = status
        self._head = head
        lower = head.lower()
        if head[5:8] == b"1.0":
            keep = _header(lower, head, b"\r\nconnection:")
            self.reusable = keep is not None and b"keep-alive" in keep.lower()
        elif b"\r\nconnection:" in lower:
            value = _header(lower, head, b"\r\nconnection:")
            if value is not None and b"close" in value.lower():
                self.reusable = False
        self._decoder = None
        if b"\r\ncontent-encoding:" in lower:
            coding = (_header(lower, head, b"\r\ncontent-encoding:") or b"").lower()
            if coding in (b"gzip", b"x-gzip"):
                self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
            elif coding == b"deflate":
                self._decoder = zlib.decompressobj()
            elif coding not in (b"", b"identity"):
                raise RemoteProtocolError(f"unsupported content encoding {coding!r}")
        self._parts = []
        self._size = 0
        if self._head_only or status in _NO_BODY_STATUS:
            self._need = 0
            self._state = _LENGTH
            self._on_length_bytes(rest)
            return
        if b"\r\ntransfer-encoding:" in lower:
            coding = (_header(lower, head, b"\r\ntransfer-encoding:") or b"").lower()
            if coding.rsplit(b",", 1)[-1].strip() == b"chunked":
                self._state = _CHUNKED
                self._buf = bytearray(rest)
                self._on_chunked()
                return
            self._begin_until_close(rest)  # RFC 9112 §6.3: not chunked last: read until close
            return
        length = _header(lower, head, b"\r\ncontent-length:")
        if length is None:
            self._begin_until_close(rest)
            return
        if not length.isdigit():
            raise RemoteProtocolError(f"unreadable Content-Length {length[:20]!r}")
        if lower.count(b"\r\ncontent-length:") > 1:
            raise RemoteProtocolError("more than one Content-Length")
        self._need = int(length)
        if self._need > MAX_BODY:
            raise RemoteProtocolError(f"answer body of {self._need} bytes is too large")
        self._state = _LENGTH
        self._on_length_bytes(rest)

    def _begin_until_close(self, rest: bytes) -> None:
        self.reusable = False
        self._state = _UNTIL_CLOSE
        if rest:
            self._add_body(rest)

    def _on_length_bytes(self, data: bytes) -> None:
        need = self._need
        if len(data) >= need:
            if len(data) > need:
                self.reusable = False  # bytes beyond the answer: out of step, do not reuse
            if not self._parts:  # the common case: the whole body in one read
                body = data[:need] if len(data) > need else data
                self._finish(body if self._decoder is None else self._decode(body, final=True))
                return
            self._parts.append(data[:need])
            self._need = 0
            self._finish(self._decode(b"".join(self._parts), final=True))
            return
        if data:
            self._parts.append(data)
            self._need = need - len(data)

    def _on_chunked(self) -> None:
        buf = self._buf
        pos = 0
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise RemoteProtocolError(f"unreadable chunk size {size_text[:20]!r}") from None
            if size == 0:
                # Last chunk, then optional trailers ending with an empty line.
                end = buf.find(b"\r\n\r\n", eol)
                if end < 0:
                    if len(buf) - eol > MAX_HEAD:
                        raise RemoteProtocolError("chunked trailers too long")
                    break
                stop = end + 4
                if stop < len(buf):
                    self.reusable = False
                buf.clear()
                self._finish(self._decode(b"".join(self._parts), final=True))
                return
            start = eol + 2
            if len(buf) < start + size + 2:
                break
            if buf[start + size : start + size + 2] != b"\r\n":
                raise RemoteProtocolError("chunk not followed by CRLF")
            self._add_body(bytes(buf[start : start + size]))
            pos = start + size + 2
        if pos:
            del buf[:pos]
        if len(buf) > MAX_HEAD + MAX_BODY:
            raise RemoteProtocolError("chunk too large")

    def _add_body(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > MAX_BODY:
            raise RemoteProtocolError(f"answer body over {MAX_BODY} bytes")
        self._parts.append(data)

    def _decode(self, body: bytes, *, final: bool) -> bytes:
        decoder = self._decoder
        if decoder is None:
            return body
        try:
            out = decoder.decompress(body) + (decoder.flush() if final else b"")
        except zlib.error as exc:
            raise RemoteProtocolError(f"undecodable compressed body: {exc}") from None
        if final and not decoder.eof:
            raise RemoteProtocolError("compressed body ends early")
        return out

    def _finish(self, body: bytes) -> None:
        waiter = self._waiter
        self._state = _IDLE
        self._waiter = None
        self.used += 1
        if waiter is not None and not waiter.done():
            waiter.set_result(Response(self._status, self._head, body))

    def _fail(self, exc: BaseException) -> None:
        waiter = self._waiter
        self._state = _IDLE
        self._waiter = None
        self.reusable = False
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def _on_end(self, exc: Exception | None) -> None:
        """The server closed (FIN: `exc` None) or the connection broke (`exc`)."""
        self.reusable = False
        if self._waiter is None or self._waiter.done():
            return
        state = self._state
        if state == _UNTIL_CLOSE and exc is None:
            try:
                body = self._decode(b"".join(self._parts), final=True)
            except HttpError as bad:
                self._fail(bad)
                return
            self._finish(body)
            return
        if state == _HEAD and not self._buf:
            if exc is not None:
                self._fail(exc)  # a reset before any answer: the OSError itself
                return
            self._fail(RemoteProtocolError("server closed the connection before answering"))
            return
        if state == _HEAD:
            err = RemoteProtocolError(f"connection ended inside the answer head ({exc or 'FIN'})")
        else:
            err = RemoteProtocolError(
                f"connection ended after {self._size_read()} body bytes of HTTP {self._status}"
                f" ({exc or 'FIN'})"
            )
            err.status = self._status
            err.head = self._head
        err.__cause__ = exc
        self._fail(err)

    def _size_read(self) -> int:
        if self._state == _CHUNKED:
            return self._size
        return sum(len(p) for p in self._parts) or self._size


class Http1Client:
    """Keep-alive HTTP/1.1 to one origin (`http://host[:port]` or `https://...`).

    `headers` are sent with every request. `limit` bounds the connections (requests beyond it
    wait for one). Idle connections older than `keepalive` seconds are closed rather than reused:
    servers drop idle connections, and a request racing that drop would fail for nothing.
    """

    def __init__(
        self,
        origin: str,
        *,
        headers: Mapping[str, str] | None = None,
        connect_timeout: float = 5.0,
        local_addr: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        accept_gzip: bool = True,
        limit: int = 64,
        keepalive: float = 15.0,
    ) -> None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) origin: {origin!r}")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"an origin has no path or query: {origin!r}")
        tls = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if tls else 80)
        self._ssl: ssl.SSLContext | None = None
        if tls:
            self._ssl = ssl_context or ssl.create_default_context()
        default_port = self._port == (443 if tls else 80)
        host = f"[{self._host}]" if ":" in self._host else self._host
        host_header = host if default_port else f"{host}:{self._port}"
        lines = [f"Host: {host_header}"]
        for name, value in (headers or {}).items():
            _check_header(name, value)
            lines.append(f"{name}: {value}")
        lines.append(f"Accept-Encoding: {'gzip, deflate' if accept_gzip else 'identity'}")
        self._head = "\r\n" + "\r\n".join(lines) + "\r\n"
        self._connect_timeout = connect_timeout
        self._local_addr = (local_addr, 0) if local_addr else None
        self._limit = limit
        self._keepalive = keepalive
        self._idle: list[_Connection] = []
        self._busy = 0  # connections lent to requests
        self._queue: deque[asyncio.Future[None]] = deque()
        self._closed = False

    def __repr__(self) -> str:
        return f"Http1Client({self._host!r}, port={self._port})"

    async def __aenter__(self) -> Http1Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every idle connection; requests in flight keep theirs until they end."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.abort()  # idle: nothing to flush; abort does not wait for a TLS close_notify
        for waiter in self._queue:
            if not waiter.done():
                waiter.set_exception(ConnectError("the client was closed"))
        # Wait (bounded) for the transports to close their sockets: none may outlive the client.
        lost = [conn.lost for conn in idle if not conn.lost.done()]
        if lost:
            await asyncio.wait(lost, timeout=1.0)

    async def request(
        self,
        method: str,
        target: str,
        *,
        body: bytes | None = None,
        content_type: str = "application/x-www-form-urlencoded",
        timeout: float = 10.0,  # noqa: ASYNC109 - one timer per request, cheaper than a context
        before_write: Callable[[], None] | None = None,
    ) -> Response:
        """Send `method target` (target: path and query, already percent-encoded) and return the
        whole answer, whatever its status; raise HttpError / OSError subclasses otherwise.

        `before_write()` runs right before the request is written when waiting for a connection
        came first (an idle one is written to at once); what it raises is raised, unsent."""
        if "\r" in target or "\n" in target or " " in target:
            raise ValueError("the request target must be percent-encoded")
        if self._closed:
            raise ConnectError("the client is closed")
        loop = asyncio.get_running_loop()
        now = loop.time()
        deadline = now + timeout
        if body is None:
            data = f"{method} {target} HTTP/1.1{self._head}\r\n".encode()
        else:
            data = (
                f"{method} {target} HTTP/1.1{self._head}Content-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode() + body
        retry = method in _RETRY_METHODS
        while True:
            conn = self._idle_connection(now)
            waited = conn is None
            if conn is None:
                conn = await self._take(loop, deadline)
            reused = conn.used > 0
            try:
                if waited and before_write is not None:
                    before_write()
                return await conn.start(data, method == "HEAD", deadline)
            except asyncio.CancelledError:
                conn.abort()  # the answer may still come: this connection is out of step
                raise
            except (OSError, RemoteProtocolError) as exc:
                if isinstance(exc, ReadTimeout) or not (retry and reused) or conn.got_bytes:
                    raise
                retry = False  # once: the next attempt runs on a new connection
            finally:
                self._give_back(conn, now)

    def _idle_connection(self, now: float) -> _Connection | None:
        """The most recently used live idle connection, if any (no await: the hot path)."""
        idle = self._idle
        while idle:
            conn = idle.pop()
            if conn.reusable and now - conn.idle_since < self._keepalive:
                self._busy += 1
                return conn
            conn.close()
        return None

    async def _take(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Connection:
        """A new connection, after waiting for a free slot at the limit (or an idle one)."""
        while self._busy >= self._limit:
            slot = loop.create_future()
            self._queue.append(slot)
            timer = loop.call_at(deadline, _expire_slot, slot)
            try:
                await slot
            finally:
                timer.cancel()
                if slot in self._queue:
                    self._queue.remove(slot)
            conn = self._idle_connection(loop.time())
            if conn is not None:
                return conn
        self._busy += 1
        try:
            return await self._connect(loop, deadline)
        except BaseException:
            self._busy -= 1
            self._wake()
            raise

    async def _connect(self, loop: asyncio.AbstractEventLoop, deadline: float) -> _Connection:
        wait = min(self._connect_timeout, deadline - loop.time())
        try:
            async with asyncio.timeout(max(0.0, wait)):
                _, conn = await loop.create_connection(
                    lambda: _Connection(loop),
                    self._host,
                    self._port,
                    ssl=self._ssl,
                    server_hostname=self._host if self._ssl is not None else None,
                    local_addr=self._local_addr,
                )
        except TimeoutError:
            raise ConnectTimeout(
                f"no connection to {self._host}:{self._port} within {wait:.3f} s"
            ) from None
        except OSError as exc:  # refused, unreachable, DNS, TLS handshake (ssl.SSLError)
            raise ConnectError(f"{type(exc).__name__}: {exc}") from exc
        if self._closed:
            conn.close()
            raise ConnectError("the client was closed")
        return conn

    def _give_back(self, conn: _Connection, since: float) -> None:
        """Back to the pool, idle since `since` (the request's start: an early estimate errs on
        the side of closing sooner), or closed when it cannot carry another request."""
        self._busy -= 1
        if conn.reusable and not conn.closed and not self._closed and conn.got_bytes:
            conn.idle_since = since
            self._idle.append(conn)
        else:
            conn.abort()
        if self._queue:
            self._wake()

    def _wake(self) -> None:
        while self._queue:
            slot = self._queue.popleft()
            if not slot.done():
                slot.set_result(None)
                return


def _expire_slot(slot: asyncio.Future[None]) -> None:
    if not slot.done():
        slot.set_exception(ReadTimeout("no connection free within the request's timeout"))


def _check_header(name: str, value: str) -> None:
    for text in (name, value):
        if "\r" in text or "\n" in text:
            raise ValueError(f"header {name!r} contains a line break")
