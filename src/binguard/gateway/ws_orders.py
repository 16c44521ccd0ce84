"""Keys mode's order guard on the WebSocket API: `order.place`, `sor.order.place`,
`orderList.place(.*)`, `order.cancelReplace` and `order.amend.keepPriority` (order_ids.py
WS_ORDER_PATHS).

The same guarantees as REST (order_guard.py), per bot socket: the order (or list: the same,
by its listClientOrderId, order_books.py) is journalled and its
id held before the frame goes upstream, in the socket's own order (a `cancel` sent after it
still follows it); its answer frame is read before the bot gets it. When the outcome is
unknown — an error frame with a 5XX status, -1006 or -1007, no answer within
`upstream_timeout_s`, the upstream socket lost — the order is looked up by its client id
over REST (the recvWindow proof before any re-send, which goes over REST too) and the bot gets
the answer Binance would have sent: `{"id", "status": 200, "result": <order in the asked
shape>, "rateLimits": []}` (web-socket-api.md §order.place; no rate limits: the lookups were
REST's), or Binance's -1007 error frame at the end of `order_wait_s`. A lost upstream socket
closes the bot's too (ws_api.py): the order is still settled and journalled, and the bot's
re-send with the same id, on its new socket, gets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from binguard.errors import classify

from . import answers
from .keys import LocalKey
from .order_guard import Job, OrderGuard, Settled
from .order_ids import WS_ORDER_PATHS
from .order_shapes import Outcome, Read, body_of

log = logging.getLogger("binguard.gateway.orders")

Watch = dict[Any, "asyncio.Future[str | None]"]  # request id -> its answer frame (None: lost)


class WsOrders:
    """One bot socket's order requests; ws_api.py hands them over with `send`."""

    def __init__(
        self,
        guard: OrderGuard,
        bot: web.WebSocketResponse,
        timeout_s: float,
        time_unit: str | None = None,
    ) -> None:
        """`time_unit`: the socket's `timeUnit` (web-socket-api.md), for its orders' lookups."""
        self.guard = guard
        self._time_unit = time_unit
        self.watch: Watch = {}  # answers the upstream reader hands here, not to the bot
        self._bot = bot
        self._timeout_s = timeout_s

    async def send(
        self,
        method: str,
        rid: Any,
        params: dict[str, Any],
        used: LocalKey | None,
        text: str,
        up: aiohttp.ClientWebSocketResponse,
    ) -> bool | None:
        """None: not an order the guard takes (forward it as usual). True: sent upstream, the
        answer will come from the guard. False: taken without sending (the id is journalled
        already or in use: the guard answers from the journal)."""
        path = WS_ORDER_PATHS.get(method)
        if path is None or not isinstance(rid, str | int) or used is None or rid in self.watch:
            return None
        job = self.guard.job(_strings(params), used.real, path, self._time_unit)
        if job is None:
            return None
        if not self.guard.begin(job):
            self.guard.spawn(self._answer(rid, job, self.guard.run(job, _never_sent)))
            return False
        turn: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self.watch[rid] = turn
        # the bytes may have left even if this fails: the answer's wait finds the socket closed
        with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
            await up.send_str(text)
        self.guard.spawn(self._answer(rid, job, self.guard.finish(job, self._read(rid, job))))
        return True

    def _read(self, rid: Any, job: Job) -> Any:
        async def read() -> tuple[Read, object]:
            turn = self.watch[rid]
            try:
                frame = await asyncio.wait_for(asyncio.shield(turn), self._timeout_s)
            except TimeoutError:
                frame = None
            finally:
                self.watch.pop(rid, None)
            if frame is None:
                return Read(Outcome.UNKNOWN, why="ws: no answer"), None
            return frame_outcome(frame, job), frame

        return read

    async def _answer(self, rid: Any, job: Job, settling: Any) -> None:
        settled: Settled = await settling
        try:
            await self._bot.send_str(await self._frame(rid, job, settled))
        except (ConnectionError, RuntimeError):  # the bot's socket closed meanwhile
            log.info("order %s: settled after its bot socket closed", job.key)

    async def _frame(self, rid: Any, job: Job, settled: Settled) -> str:
        """What the bot gets (module docstring)."""
        if settled.found is not None:
            status, shaped = await self.guard.shaped(job, settled.found)
            part = "result" if status < 400 else "error"
            return _dumps({"id": rid, "status": status, part: shaped, "rateLimits": []})
        if settled.local is not None:
            status, code, msg, _ = settled.local
            return _dumps({"id": rid, "status": status, "error": {"code": code, "msg": msg}})
        if isinstance(settled.answer, str):
            return settled.answer  # Binance's own answer frame, with the bot's id
        if not isinstance(settled.answer, web.StreamResponse):  # `_never_sent`: nothing left
            error = {"code": -1008, "msg": answers.catalog_text(-1008)}
            return _dumps({"id": rid, "status": 503, "error": error})
        raw = body_of(settled.answer)
        with contextlib.suppress(orjson.JSONDecodeError):
            data = orjson.loads(raw) if raw else None
            part = "result" if settled.answer.status < 400 else "error"
            return _dumps({"id": rid, "status": settled.answer.status, part: data})
        return _dumps({"id": rid, "status": settled.answer.status, "error": {"code": -1006}})


def frame_outcome(text: str, job: Job) -> Read:
    """An order.place answer frame read as order_shapes.py `outcome` reads a REST answer."""
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError:
        return Read(Outcome.UNKNOWN, why="ws: not JSON")
    status = frame.get("status") if isinstance(frame, dict) else None
    if not isinstance(status, int):
        return Read(Outcome.UNKNOWN, why="ws: no status")
    result = frame.get("result")
    if status < 400:
        found = job.book.found_in(orjson.dumps(result), job.key)
        if found is not None:
            return Read(Outcome.PLACED, found)
        return Read(Outcome.UNKNOWN, why=f"ws {status}: not the order")
    err = classify(frame)
    code = err.code if err is not None else None
    if err is None or err.may_have_executed:
        return Read(Outcome.UNKNOWN, why=f"ws {status} {code}")
    return Read(Outcome.REFUSED, why=f"ws {status} {code}")


async def _never_sent() -> tuple[Read, object]:
    """`run`'s first attempt for an id `begin` found taken: by then it is journalled (the
    guard answers from the journal), so this is not called; if it were, nothing was sent."""
    return Read(Outcome.REFUSED, why="gateway: not sent"), None


def _strings(params: dict[str, Any]) -> dict[str, str]:
    """A WebSocket API order's params as the journal keeps them (REST's text): JSON numbers
    and booleans as their JSON text; the signature, key and timestamp left out."""
    return {
        k: v if isinstance(v, str) else orjson.dumps(v).decode()
        for k, v in params.items()
        if k not in ("signature", "apiKey", "timestamp")
    }


def _dumps(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame).decode()
