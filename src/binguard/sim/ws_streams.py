"""Market data streams: `/ws/<stream>` (raw), `/stream?streams=a/b` (combined), live control.

As web-socket-streams.md documents: raw connections get each event's payload, combined ones get
`{"stream": name, "data": payload}` (the `combined` property, settable per connection). Streams
served: `<symbol>@trade`, `@depth`, `@depth@100ms`, `@bookTicker` (here and in ws_hub.py) and the
candle, ticker, aggregate trade, partial depth, avgPrice, referencePrice and blockTrade streams of
ws_market.py; symbols are lowercase. A raw connection to `/ws/<name>` where the name is not a
stream (no `@`, as ccxt.pro's `/ws/0`) is a bare connection that subscribes later.
Control messages SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS /
SET_PROPERTY / GET_PROPERTY answer `{"result": ..., "id": ...}` or
`{"error": {"code": n, "msg": ...}, "id": ...}` with the documented codes (0 unknown property,
1 bad value type, 2 invalid request, 3 invalid JSON). A well-formed stream name for a symbol the
exchange does not list is accepted and stays silent, as on Binance; a malformed name is
"Invalid request: invalid stream".

Not documented by Binance, chosen here: more than 1024 streams in SUBSCRIBE answers code 2
"Invalid request: too many streams" (in the URL: HTTP 400); too many connection attempts get
HTTP 429 with -1003 on the handshake.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from . import ws_faults, ws_market
from .errors import SimError
from .pipeline import JSON
from .state import SimState
from .time_unit import event_in_micros, wants_micros
from .ws_conn import WsConn, dumps, receive_loop
from .ws_hub import WsHub

_ID = re.compile(r"[A-Za-z0-9_-]{1,36}\Z")
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_VARIANTS = ", ".join(f"`{m}`" for m in METHODS)
_NO_ID = object()


def valid_stream(name: str) -> bool:
    """Binance's stream name shape; only the served kinds are valid (others are not served)."""
    return ws_market.valid_stream(name)


class _InvalidControlError(Exception):
    """A control message answered with a streams error (small non-negative code)."""

    def __init__(self, code: int, msg: str, request_id: Any = _NO_ID) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.request_id = request_id


class StreamConn(WsConn):
    """A market data connection: its streams, the `combined` property, the 5 msg/s limit."""

    kind = "stream"

    def __init__(self, hub: WsHub, *args: Any, combined: bool, micros: bool = False) -> None:
        super().__init__(*args)
        self.hub = hub
        self.combined = combined
        self.micros = micros  # `timeUnit=MICROSECOND` (sim/time_unit.py): events' times in µs
        self.subscriptions: dict[str, None] = {}

    def deliver(self, stream: str, raw: str) -> None:
        state = self.hub.state
        if (
            "@depth" in stream
            and state.faults.active
            and ws_faults.fires(state, self, "ws_gap", stream) is not None
        ):
            return  # a diff event that never arrives: its update ids are a gap
        if self.micros:  # (the event is formatted once for every connection: converted here)
            raw = dumps(event_in_micros(json.loads(raw)))
        if self.combined:
            self.send_text(f'{{"stream":"{stream}","data":{raw}}}')
        else:
            self.send_text(raw)

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out["streams"] = list(self.subscriptions)
        out["combined"] = self.combined
        return out

    # ----- control messages -------------------------------------------------------------------
    def on_text(self, text: str) -> None:
        try:
            request_id, method, result = self._control(text)
        except _InvalidControlError as e:
            reply: dict[str, Any] = {"error": {"code": e.code, "msg": e.msg}}
            if e.request_id is not _NO_ID:
                reply["id"] = e.request_id
            self.send_text(dumps(reply))
            self.hub.log(self, "CONTROL", 400, error=e.code)
            return
        self.send_text(dumps({"result": result, "id": request_id}))
        self.hub.log(self, method, 200)

    def _control(self, text: str) -> tuple[Any, str, Any]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise _InvalidControlError(
                3, f"Invalid JSON: expected value at line {e.lineno} column {e.colno}"
            ) from None
        except RecursionError:  # nesting deeper than the decoder's stack
            raise _InvalidControlError(3, "Invalid JSON: recursion limit exceeded") from None
        except ValueError:  # an integer literal beyond Python's digit limit
            raise _InvalidControlError(3, "Invalid JSON: number out of range") from None
        end = len(text.rstrip())
        if not isinstance(data, dict):
            raise _InvalidControlError(
                2, f"Invalid request: missing field `method` at line 1 column {end}"
            )
        if "method" not in data:
            raise _InvalidControlError(
                2, f"Invalid request: missing field `method` at line 1 column {end}"
            )
        request_id = data.get("id", _NO_ID)
        if not _valid_id(request_id):
            raise _InvalidControlError(2, "Invalid request: request ID must be an unsigned integer")
        method = data["method"]
        if method not in METHODS:
            shown = method if isinstance(method, str) else json.dumps(method)
            column = text.find(json.dumps(method)) + len(json.dumps(method))
            raise _InvalidControlError(
                2,
                f"Invalid request: unknown variant `{shown}`, expected one of {_VARIANTS}"
                f" at line 1 column {max(column, 1)}",
                request_id,
            )
        if set(data) - {"method", "params", "id"}:
            raise _InvalidControlError(2, "Invalid request: too many parameters", request_id)
        params = data.get("params")
        return request_id, method, self._run(method, params, request_id)

    def _run(self, method: str, params: Any, request_id: Any) -> Any:
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            names = _stream_list(params, request_id)
            if method == "SUBSCRIBE":
                fresh = [n for n in names if n not in self.subscriptions]
                if len(self.subscriptions) + len(fresh) > self.hub.config.max_streams:
                    raise _InvalidControlError(2, "Invalid request: too many streams", request_id)
                self.subscribe(fresh)
            else:
                gone = [n for n in names if n in self.subscriptions]
                for n in gone:
                    del self.subscriptions[n]
                self.hub.unsubscribe_stream(self, gone)
            return None
        if method == "LIST_SUBSCRIPTIONS":
            if params:
                raise _InvalidControlError(2, "Invalid request: too many parameters", request_id)
            return list(self.subscriptions)
        values = params if isinstance(params, list) else []
        if not values or not isinstance(values[0], str):
            raise _InvalidControlError(
                2, "Invalid request: property name must be a string", request_id
            )
        if len(values) > (2 if method == "SET_PROPERTY" else 1):
            raise _InvalidControlError(2, "Invalid request: too many parameters", request_id)
        if values[0] != "combined":
            raise _InvalidControlError(0, "Unknown property", request_id)
        if method == "GET_PROPERTY":
            return self.combined
        if len(values) < 2 or not isinstance(values[1], bool):
            raise _InvalidControlError(1, "Invalid value type: expected Boolean", request_id)
        self.combined = values[1]
        return None

    def subscribe(self, names: list[str]) -> None:
        for n in names:
            self.subscriptions[n] = None
        self.hub.subscribe_stream(self, names)


def _valid_id(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, str) and _ID.match(value) is not None


def _stream_list(params: Any, request_id: Any) -> list[str]:
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise _InvalidControlError(2, "Invalid request: invalid stream", request_id)
    for name in params:
        if not valid_stream(name):
            raise _InvalidControlError(2, "Invalid request: invalid stream", request_id)
    return list(dict.fromkeys(params))


def _streams_query(query: str) -> str:
    """`streams=` of a raw query string, percent-decoded but with `+` kept (`@+08:00`)."""
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "streams":
            return unquote(value)
    return ""


def _refuse(status: int, err: SimError, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=err.body(), status=status, headers=headers, content_type=JSON)


def _bad_stream(msg: str) -> web.Response:
    body = dumps({"code": 2, "msg": msg}).encode()
    return web.Response(body=body, status=400, content_type=JSON)


async def handle(request: web.Request, hub: WsHub, combined: bool) -> web.StreamResponse:
    """`/ws`, `/ws/<stream>[/<stream>...]` and `/stream?streams=a/b`."""
    state: SimState = hub.state
    ip = request.remote or "?"
    if combined:
        raw = _streams_query(request.rel_url.raw_query_string)
        path = "/stream"
    else:
        raw = request.match_info.get("streams", "")
        path = "/ws/" + raw if raw else "/ws"
    names = [n for n in raw.split("/") if n]
    if not combined:  # `/ws/<anything>` (ccxt.pro's `/ws/<n>`): a name, not a stream
        names = [n for n in names if "@" in n or n.startswith("!")]
    wait = hub.attempt("streams", ip)
    if wait is not None:
        hub.log(None, "CONNECT", 429, ip=ip, path=path, kind="stream")
        return _refuse(429, SimError.of(-1003, 0, status=429), {"Retry-After": str(wait)})
    if not all(valid_stream(n) for n in names):
        hub.log(None, "CONNECT", 400, ip=ip, path=path, kind="stream")
        return _bad_stream("Invalid request: invalid stream")
    if len(set(names)) > hub.config.max_streams:
        hub.log(None, "CONNECT", 400, ip=ip, path=path, kind="stream")
        return _bad_stream("Invalid request: too many streams")
    try:
        micros = wants_micros(request.query.get("timeUnit"))  # web-socket-streams.md
    except SimError as err:
        hub.log(None, "CONNECT", 400, ip=ip, path=path, kind="stream")
        return _refuse(400, err)
    ws = web.WebSocketResponse(autoping=False, timeout=hub.config.close_timeout_s)
    if not ws.can_prepare(request).ok:
        return _bad_stream("Invalid request: not a WebSocket upgrade")
    await ws.prepare(request)
    conn = StreamConn(
        hub,
        hub.next_id(),
        request,
        ws,
        path,
        hub.config,
        state.clock.now_ms(),
        combined=combined,
        micros=micros,
    )
    hub.add(conn)
    hub.log(conn, "CONNECT", 101, streams=names)
    conn.subscribe(list(dict.fromkeys(names)))
    conn.start()
    ws_faults.on_connect(state, conn)
    try:
        await receive_loop(conn, conn.on_text, state.bugs, rate_limited=True)
    finally:
        hub.unsubscribe_stream(conn, list(conn.subscriptions))
        conn.stop()
        hub.remove(conn)
        hub.log(conn, "CLOSE", conn.close_code or 0, reason=conn.close_reason)
        await conn.finish()
    return ws
