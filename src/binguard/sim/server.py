"""The simulator's HTTP protocol: Binance JSON errors even for requests aiohttp refuses itself.

aiohttp answers a request it cannot parse before any route or middleware sees it, with a
plain-text 400. `SimRequestHandler` replaces that answer with a Binance error body
(`{"code": c, "msg": m}`, catalog texts, errors.md) and one INFO log line instead of a traceback:

  request line / URL over 8,190 bytes   414  -1101 "Too many parameters sent for this endpoint."
  a header line over 8,190 bytes,       431  -1101 (same)
  or more than 128 headers
  a method aiohttp does not know        400  -1020 "This operation is not supported."
  anything else malformed: bad chunk    400  -1100 "Illegal characters found in a parameter."
  sizes, bad Content-Length, bad
  version, bad header names, TLS bytes

Why these codes: Binance's API answers what a request carries beyond an endpoint's limits with
-1101 TOO_MANY_PARAMETERS (on Binance a request line only grows through its query string, and
the simulator already answers an oversized body, 413, with it); the status says which limit
(414 URI Too Long, 431 Request Header Fields Too Large, RFC 9110 / RFC 6585). A method nothing
routes is -1020 UNSUPPORTED_OPERATION, as the router answers a known method with no route.
Bytes the parser cannot read are -1100 ILLEGAL_CHARS, the request-side code for characters a
field may not hold. All are 4XX: rest-api.md §HTTP Return Codes, "malformed requests; the issue
is on the sender's side", so no client reads them as an unknown execution status.

After a refusal the connection ends with a lingering close, as web servers do: the reply, a FIN,
then whatever the client still sends is read and dropped (for at most `LINGER_S`) before the
socket closes. Closing at once with the rest of a 1 MB header still unread would send a TCP RST,
and the client would see "connection reset" instead of the error.

The same handler puts `ws_framing.MaskCheck` in front of every upgraded WebSocket's frame reader.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, LineTooLong
from aiohttp.web_protocol import RequestHandler, RequestPayloadError, _ErrInfo

from .bugs import BugLog, describe, log
from .errors import SimError
from .ws_framing import FrameReader, MaskCheck

LINGER_S = 2.0
MAX_LINE = 8190  # aiohttp's limits, stated here because the docs above promise them
MAX_HEADERS = 128


def refusal(exc: BaseException | None, status: int) -> SimError:
    """The Binance error for a request aiohttp refused with `status` because of `exc`."""
    if isinstance(exc, LineTooLong):
        line = exc.args[0] if exc.args else b""
        target = isinstance(line, bytes | bytearray) and line[:1] in (b"/", b"h", b"*")
        return SimError.of(-1101, status=414 if target else 431)
    if exc is not None and "Too many headers" in str(exc):
        return SimError.of(-1101, status=431)
    if isinstance(exc, BadHttpMethod):
        return SimError.of(-1020, status=400)
    if status >= 500:
        return SimError.of(-1000, status=status)
    return SimError.of(-1100, status=400)


class SimRequestHandler(RequestHandler):
    """aiohttp's per-connection protocol with Binance-format refusals and one-line logs."""

    bugs: BugLog | None = None

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # a reply has started: nothing else can be sent
            raise ConnectionError("Response is sent already, cannot send an error reply")
        err = refusal(exc, status)
        if status >= 500 and exc is not None and self.bugs is not None:
            self.bugs.record(f"{request.method} {request.path}", exc)
        else:
            log.info(
                "refused a request from %s: %s -> %d %d",
                request.remote,
                describe(exc) if exc else status,
                err.status,
                err.code,
            )
        response = err.response()
        response.force_close()
        self._close = True  # what the client still sends is dropped, never parsed again
        if self.transport is not None and not isinstance(self.transport, _Lingering):
            self.transport = cast(asyncio.Transport, _Lingering(self.transport))
        return response

    def data_received(self, data: bytes) -> None:
        """A body that turns out malformed after its head: fail the read instead of a hang.

        aiohttp queues the parse error as a next request, behind the one whose body is being
        read, which then waits for bytes that never come. The error goes to that body's reader
        (the app's guard answers -1100) and the connection closes after the reply.
        """
        super().data_received(data)
        current = self._current_request
        if current is None or not self._messages or current.content.is_eof():
            return
        if any(isinstance(m, _ErrInfo) for m, _ in self._messages):
            self._messages.clear()
            self.close()  # after the reply being prepared
            current.content.set_exception(RequestPayloadError("malformed request body"))

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """aiohttp's own connection-level errors: one line, no traceback."""
        exc = kw.get("exc_info")
        text = args[0] % args[1:] if args else "error"
        level = logging.INFO if isinstance(exc, RequestPayloadError) else logging.WARNING
        log.log(
            level,
            "aiohttp: %s%s",
            text,
            f": {describe(exc)}" if isinstance(exc, BaseException) else "",
        )

    def set_parser(self, parser: Any, data_received_cb: Any = None) -> None:
        """An upgraded WebSocket: RFC 6455's masking rule is checked before aiohttp's reader."""
        peer = self.transport.get_extra_info("peername") if self.transport else None
        guarded: FrameReader = MaskCheck(parser, str(peer[0]) if peer else "?")
        super().set_parser(guarded, data_received_cb)  # type: ignore[arg-type]


class _Lingering:
    """A transport whose close() is a lingering close: FIN after the reply, reads dropped until
    the client closes too or LINGER_S passes. Everything else goes to the real transport."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._lingering = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def close(self) -> None:
        """The first call lingers; a second one (the server shutting down) closes at once."""
        transport = self._transport
        if self._lingering or not transport.can_write_eof():
            transport.close()
            return
        if transport.is_closing():
            return
        self._lingering = True
        if not transport.is_reading():  # paused by aiohttp's full message queue
            transport.resume_reading()
        transport.write_eof()  # sent once the reply is flushed
        asyncio.get_running_loop().call_later(LINGER_S, transport.close)


class SimServer(web.Server):
    """aiohttp's low-level server, making `SimRequestHandler`s."""

    bugs: BugLog | None = None

    def __call__(self) -> RequestHandler:
        handler = SimRequestHandler(self, loop=self._loop, **self._kwargs)
        handler.bugs = self.bugs
        return handler


class SimRunner(web.AppRunner):
    """An AppRunner whose connections use `SimRequestHandler`."""

    def __init__(self, app: web.Application, bugs: BugLog, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._bugs = bugs

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # aiohttp builds its Server inside Application._make_handler with no factory hook; the
        # subclass only overrides __call__, so switching the class keeps every other behaviour.
        server.__class__ = SimServer
        assert isinstance(server, SimServer)
        server.bugs = self._bugs
        return server
