"""Keys mode's order guard: no bot order is lost or doubled, whatever happens to its answer.

For every order, order list, cancel-replace and amendment a bot sends (REST
`POST /api/v3/order`, `/api/v3/sor/order`, `/api/v3/orderList/oco|oto|otoco|opo|opoco`, the
deprecated `/api/v3/order/oco`, `/api/v3/order/cancelReplace`, `PUT
/api/v3/order/amend/keepPriority`; the WebSocket API's `order.place`, `sor.order.place`,
`orderList.place(.*)`, `order.cancelReplace`, `order.amend.keepPriority`: ws_orders.py), the
re-signer having added the client ids the bot did not send (`newClientOrderId`, an amended
order's too; a list's and its legs'; a cancel-replace's `cancelNewClientOrderId`: resign.py,
order_ids.py):

1. It is journalled (connector/journal.py's OrderJournal, through order_books.py: the raw
   parameters by client id, plus the real key's name and the path) BEFORE its bytes leave.
2. Binance's answer goes to the bot unchanged; the order's id and status are journalled
   within 50 ms, with every other answer of that time in one commit (a kill before that
   leaves the entry SENT, and the next start settles it by query: the same outcome, one
   query later; connector/journal.py defers ACKED for the same reason).
   When the outcome is unknown (reset or stall after sending, 5XX, -1006, -1007, an answer
   that is not the order: order_shapes.py `outcome`), the guard reconciles exactly as the
   connector does (connector/reconcile.py `settle`, orders.py): it looks the order up by its
   client id; "not found" (-2013) proves nothing until the server clock passes the attempt's
   timestamp + recvWindow + `reconcile_margin_s` (rest-api.md §Timing security: past it
   Binance no longer forwards the attempt to the matching engine; the re-signer caps an
   order's recvWindow at `order_window_ms`, so the proof comes within the bot's wait).
   Found: the bot gets the real order (list) in the shape it asked for (order_books.py; a
   cancel-replace's two halves: edit_book.py; an amendment, found in the order's amendment
   history: amend_book.py).
   Proven absent: the journalled order is sent again (re-stamped, re-signed), and so on.
   Still unknown after `order_wait_s`: Binance's own execution-unknown answer (503 -1007,
   answers.py); the entry stays pending and is settled in the background, by query only.
3. A re-send of a client id the journal holds, with the same parameters (recvWindow and
   newOrderRespType aside), gets the existing order back (reconciled first if it is pending;
   sent again only if it was refused or proven never placed); never a duplicate, never -2010.
   With other parameters it is refused locally: 400 -1130 "Data sent for parameter
   'newClientOrderId' is not valid." (or 'listClientOrderId'; X-Binguard-Gateway: journal),
   and nothing is sent.
4. At start (after `kill -9`), every pending entry is settled by query while the gateway
   serves (a bot asking for one of them waits for it); nothing is re-sent at recovery.

The journal assumes client ids are unique: a bot reusing the id of a filled order for a new
order (which Binance allows) gets the old order back. An amendment is journalled by its
newClientOrderId and newQty together (amend_book.py), since Binance lets an order keep its
client id through amendments.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from aiohttp import web

from binguard.connector.journal import JournalError, OrderJournal, Stage
from binguard.connector.ledger import ARCHIVED, NOT_PLACED
from binguard.errors import HttpReply, OrderArchivedError, OrderNotFoundError, classify
from binguard.policy.retry import needs_a_fix

from . import answers
from .amend_book import AmendBook
from .edit_book import EditBook
from .forward import Call, Forwarder
from .gate import Gate
from .keys import RealKey
from .order_books import Book, Entry, ListBook, OrderBook
from .order_ids import AMEND, CANCEL_REPLACE, LIST_LEGS, ORDER, SOR, method_of, places_order
from .order_locks import BusyError, IdLocks
from .order_shapes import Outcome, Read, body_of, outcome, params_of, resp_type, same_order
from .userdata import forwarder_fetch

log = logging.getLogger("binguard.gateway.orders")

REJECTED = "REJECTED"  # journal status: Binance refused it (a 4XX that cannot have executed)
_RESENDABLE = frozenset({NOT_PLACED, REJECTED})  # FINAL statuses a re-send may place again
_POLL_S = 0.25  # between lookups (the connector's reconcile_poll)
_RECOVERY_PAUSE_S = 5.0  # a background settle that got no answer tries again after this
_DEFAULT_WINDOW_MS = 5000  # rest-api.md §Timing security: recvWindow defaults to 5000
_MAX_WINDOW_MS = 60000  # ... and may be at most 60000
Learn = Callable[[int, bytes], None]
Send = Callable[[], Awaitable[tuple[Read, object]]]  # one attempt: its outcome and answer


class _Absent:
    """It is provably not on the exchange (the recvWindow proof)."""


class _Unknown:
    """No lookup answered within the time given, or one needs a fix (-1022, -2015, ...)."""


ABSENT, UNKNOWN = _Absent(), _Unknown()
Found = dict[str, Any] | _Absent | _Unknown | type[OrderArchivedError]


@dataclass(frozen=True, slots=True)
class Job:
    """One order or list as the guard handles it: its journal record and how to reach it."""

    key: str  # the client id it is journalled by (an order's, a list's)
    symbol: str
    path: str  # the REST path that places it (a re-send goes there)
    real: RealKey
    record: dict[str, str]  # the journal's params: the request's, "~real" and "~path"
    kind: str  # the answer shape the bot asked for (ACK, RESULT, FULL)
    book: Book
    # The bot's time unit (REST `X-MBX-TIME-UNIT`, WebSocket API `timeUnit`): its lookups ask
    # for it, so a reconciled answer's times are in the unit the bot reads (rest-api.md).
    time_unit: str | None = None

    @property
    def window_ms(self) -> int:
        try:
            asked = math.ceil(float(self.record.get("recvWindow", _DEFAULT_WINDOW_MS)))
        except ValueError:
            return _MAX_WINDOW_MS
        return min(max(asked, 0), _MAX_WINDOW_MS)


@dataclass(frozen=True, slots=True)
class Settled:
    """What the bot is told, whichever way it asked (REST, WebSocket API)."""

    answer: object = None  # Binance's answer to an attempt, as it came (a response or a frame)
    found: dict[str, Any] | None = None  # what a lookup found, to be shaped for the bot
    local: tuple[int, int, str, str] | None = None  # the gateway's own (status, code, msg, why)


def _unknown() -> Settled:
    return Settled(local=(503, -1007, answers.catalog_text(-1007), "unknown"))


class OrderGuard:
    """See the module docstring. One per keys-mode gateway; `start()` begins the recovery."""

    def __init__(
        self,
        journal: OrderJournal,
        forwarder: Forwarder,
        gate: Gate,
        reals: Mapping[str, RealKey],
        *,
        wait_s: float,
        margin_ms: int,
    ) -> None:
        self.journal = journal
        self._forwarder = forwarder
        self._gate = gate
        self._fetch = forwarder_fetch(forwarder, gate)
        self._by_key = {r.api_key: r for r in reals.values()}
        self._by_name = {r.name: r for r in reals.values()}
        self.wait_s = wait_s
        self._margin_ms = margin_ms
        self._locks = IdLocks()
        self._tasks: set[asyncio.Task[None]] = set()
        self.orders = OrderBook(journal)
        lists = ListBook(journal)
        self._books: dict[str, Book] = {
            ORDER: self.orders,
            SOR: self.orders,
            CANCEL_REPLACE: EditBook(journal),
            AMEND: AmendBook(journal),
            **dict.fromkeys(LIST_LEGS, lists),
        }
        self.counts: Counter[str] = Counter()

    def handles(self, call: Call) -> bool:
        return places_order(call.method, call.path)

    def start(self) -> None:
        """Settle what a previous run left pending (in the background; see step 4)."""
        pending = [e for book in self._distinct_books() for e in book.pending()]
        self.counts["recovering"] = len(pending)
        if pending:
            log.info("order journal: %d order(s) to settle from the last run", len(pending))
        for entry in pending:
            job = self._job_of(entry)
            if job is not None:
                self._background(job)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.flush()
        self.journal.close()

    def flush(self) -> None:
        """Journal the batched answers now (before reading the journal from outside)."""
        self.orders.flush()

    def summary(self) -> dict[str, Any]:
        """For /status: orders and lists in flight or unsettled, and what the guard did."""
        unsettled = sum(len(book.pending()) for book in self._distinct_books())
        return {"unsettled": unsettled, **self.counts}

    def _distinct_books(self) -> list[Book]:
        return list({id(b): b for b in self._books.values()}.values())

    # -- a bot's request over REST --------------------------------------------------------------
    async def place(self, call: Call, learn: Learn | None = None) -> web.StreamResponse:
        """The answer to a bot's REST order (list) request (module docstring)."""
        real = self._by_key.get(call.headers.get("X-MBX-APIKEY", ""))
        job = self.job(params_of(call), real, call.path, call.headers.get(answers.TIME_UNIT))
        if job is None:  # an empty id is Binance's to refuse
            return await self._forwarder.forward(call)
        call.headers.popall("Accept-Encoding", None)  # the guard reads the answer

        async def first() -> tuple[Read, object]:
            answer = await self._forwarder.forward(call)
            read = outcome(answer, lambda body: job.book.found_in(body, job.key))
            if read.outcome is Outcome.PLACED and learn is not None:
                learn(answer.status, body_of(answer))
            return read, answer

        settled = await self.run(job, first)
        if settled.found is not None:
            return await self._reply(job, settled.found)
        if settled.local is not None:
            status, code, msg, why = settled.local
            return answers.local(why, status, code, msg)
        assert isinstance(settled.answer, web.StreamResponse)
        return settled.answer

    async def _reply(self, job: Job, found: dict[str, Any]) -> web.Response:
        """What a lookup found, as Binance would have answered the bot's request."""
        headers = {answers.GATEWAY_HEADER: "reconciled", **(await self._gate.used_headers())}
        status, body = await self.shaped(job, found)
        return web.Response(
            body=orjson.dumps(body),
            status=status,
            headers=headers,
            content_type="application/json",
            charset="UTF-8",
        )

    async def shaped(self, job: Job, found: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """`found` as Binance answers the request, in the shape the bot asked for: (HTTP
        status, body) (order_books.py)."""
        return await job.book.shaped(found, job.kind, self._fetcher(job))

    def _fetcher(self, job: Job) -> Callable[[str, dict[str, str]], Awaitable[tuple[int, bytes]]]:
        async def fetch(path: str, params: dict[str, str]) -> tuple[int, bytes]:
            return await self._fetch(job.real, path, params, job.time_unit)

        return fetch

    # -- any order or list, however it came -----------------------------------------------------
    def job(
        self,
        params: dict[str, str],
        real: RealKey | None,
        path: str,
        time_unit: str | None = None,
    ) -> Job | None:
        """The guard's handle on a request: None when it has no client id or real key.
        `time_unit`: the unit the bot asked its times in (None: milliseconds)."""
        book = self._books.get(path)
        key = book.key_of(params) if book is not None else ""
        if book is None or not key or real is None:
            return None
        record = {**params, "~real": real.name, "~path": path}
        kind = resp_type(params, book.default_shape)
        return Job(key, params.get("symbol", ""), path, real, record, kind, book, time_unit)

    async def run(self, job: Job, first: Send) -> Settled:
        """Journal, send with `first` (once: never for a client id journalled already), and
        settle the outcome (module docstring, steps 1-3), within `wait_s`."""
        deadline = time.monotonic() + self.wait_s
        if self._locks.try_hold(job.key):  # the common case, without a context manager
            try:
                return await self._run(job, first, deadline)
            finally:
                self._locks.release(job.key)
        try:
            async with self._locks.hold(job.key, deadline):
                return await self._run(job, first, deadline)
        except BusyError:  # the id was being settled by another handler all this time
            return _unknown()

    def begin(self, job: Job) -> bool:
        """For a transport that sends in its own order (the WebSocket API, ws_orders.py):
        journal a new order and hold its id without waiting. True: the caller sends it now,
        then calls `finish`. False: the id is held or journalled already: `run` it instead
        (nothing is sent for it yet)."""
        if not self._locks.try_hold(job.key):
            return False
        try:
            fresh = job.book.first_send(job.key, job.symbol, job.record)
        except (JournalError, sqlite3.Error):
            fresh = False
        if fresh:
            self.counts["placed"] += 1
        else:
            self._locks.release(job.key)
        return fresh

    async def finish(self, job: Job, answer: Send) -> Settled:
        """After `begin` and the send: `answer()` awaits the attempt's outcome, which is
        journalled and settled like `run`'s (module docstring, step 2)."""
        try:
            read, got = await answer()
            self._journal_read(job, read)
            return await self._until_known(job, read, got, time.monotonic() + self.wait_s)
        finally:
            self._locks.release(job.key)

    def spawn(self, work: Awaitable[None]) -> None:
        """Run `work` in the background, cancelled by `close()`."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, job: Job, first: Send, deadline: float) -> Settled:
        try:
            fresh = job.book.first_send(job.key, job.symbol, job.record)
        except JournalError:
            fresh = False
        except sqlite3.Error as e:
            log.error("order journal write failed (%s): %s not sent", type(e).__name__, job.key)
            return Settled(local=(503, -1008, answers.catalog_text(-1008), "journal"))
        if fresh:
            self.counts["placed"] += 1
            read, answer = await first()
            self._journal_read(job, read)
            return await self._until_known(job, read, answer, deadline)
        entry = job.book.entry(job.key)
        assert entry is not None  # first_send found it
        if not same_order(entry.params, job.record):
            self.counts["refused_other_params"] += 1
            msg = answers.catalog_text(-1130, 1, job.book.key_param)
            why = " binguard gateway: this client id is journalled for another order"
            return Settled(local=(400, -1130, msg + why, "journal"))
        self.counts["resent_by_bot"] += 1
        path = entry.params.get("~path", job.path)
        job = dataclasses.replace(job, symbol=entry.symbol, path=path, record=entry.params)
        if entry.stage is Stage.FINAL and entry.status in _RESENDABLE:
            job.book.mark_sent(job.key)
            read, answer = await self._resend(job)
            return await self._until_known(job, read, answer, deadline)
        if entry.stage in (Stage.ACKED, Stage.FINAL):  # it exists: the bot gets it, as it is
            found = await self._find(job, deadline, window_ms=0)
            return Settled(found=found) if isinstance(found, dict) else _unknown()
        return await self._until_known(job, Read(Outcome.UNKNOWN), None, deadline)

    def _journal_read(self, job: Job, read: Read) -> None:
        """Journal what an attempt's answer says (the entry is SENT)."""
        if read.outcome is Outcome.PLACED:
            assert read.found is not None
            job.book.mark_found(job.key, read.found, soon=True)
        elif read.outcome is Outcome.REFUSED:
            gateway = read.why.startswith("gateway")
            status = NOT_PLACED if gateway else job.book.refused_status(read.why)
            job.book.mark_final(job.key, status, read.why)
        else:
            self.counts["unknown_outcomes"] += 1
            job.book.mark_unknown(job.key, read.why)
            log.info("order %s: outcome unknown (%s), reconciling", job.key, read.why)

    async def _resend(self, job: Job) -> tuple[Read, object]:
        """The journalled request sent again over REST (re-stamped, signed with the real key)."""
        params = {k: v for k, v in job.record.items() if not k.startswith("~")}
        query = urlencode({**params, "timestamp": str(self._gate.now_ms())})
        query += "&signature=" + job.real.signer.sign(query.encode())
        headers = {"X-MBX-APIKEY": job.real.api_key}
        if job.time_unit is not None:  # Binance's answer, in the unit the bot reads
            headers[answers.TIME_UNIT] = job.time_unit
        method = method_of(job.path)
        call = self._forwarder.call(method, job.path, query, b"", headers, resign=False)
        answer = await self._forwarder.forward(call)
        read = outcome(answer, lambda body: job.book.found_in(body, job.key))
        self._journal_read(job, read)
        return read, answer

    async def _until_known(self, job: Job, read: Read, answer: object, deadline: float) -> Settled:
        """Binance's answer once the outcome is known; else look it up (module docstring,
        step 2) until it is found, or proven absent and sent again."""
        while read.outcome is Outcome.UNKNOWN:
            found = await self._find(job, deadline, window_ms=job.window_ms)
            if isinstance(found, dict):
                self.counts["reconciled_found"] += 1
                job.book.mark_found(job.key, found)
                return Settled(found=found)
            if found is not ABSENT:
                if found is OrderArchivedError:
                    job.book.mark_final(job.key, ARCHIVED)
                else:
                    self.counts["answered_unknown"] += 1
                    self._background(job)
                return _unknown()
            self.counts["reconciled_absent"] += 1
            job.book.mark_sent(job.key)  # proven never placed: the same request, again
            read, answer = await self._resend(job)
        return Settled(answer=answer)

    # -- looking up -----------------------------------------------------------------------------
    async def _find(self, job: Job, deadline: float, *, window_ms: int) -> Found:
        """`_lookup`, completed by the kind (order_books.py `complete`: a cancel-replace's old
        order): what happened, or ABSENT when nothing did."""
        found = await self._lookup(job, deadline, window_ms=window_ms)
        if not isinstance(found, dict) and found is not ABSENT:
            return found
        got = found if isinstance(found, dict) else None
        done = await job.book.complete(got, job.record, self._fetcher(job))
        return ABSENT if done is None else done

    async def _lookup(self, job: Job, deadline: float, *, window_ms: int) -> Found:
        """What the client id names, ABSENT once the recvWindow proof holds (the rule of
        connector/reconcile.py `settle`), OrderArchivedError (-2026: it existed, ended with
        nothing executed) or UNKNOWN at `deadline` or on an error no repetition fixes."""
        settled_at = self._gate.now_ms() + window_ms + self._margin_ms
        fetch = self._fetcher(job)
        while True:
            status, body = await job.book.look(job.key, job.symbol, job.record, fetch)
            found = job.book.found_in(body, job.key) if status == 200 else None
            if found is not None:
                return found
            err = classify(HttpReply(status, (), body))
            if isinstance(err, OrderNotFoundError):
                if self._gate.now_ms() >= settled_at:
                    return ABSENT
            elif isinstance(err, OrderArchivedError):
                return OrderArchivedError
            elif err is not None and needs_a_fix(err):
                log.warning("order %s: lookup refused (%s); left pending", job.key, err.code)
                return UNKNOWN
            if time.monotonic() + _POLL_S >= deadline:
                return UNKNOWN
            await asyncio.sleep(_POLL_S)

    # -- recovery -------------------------------------------------------------------------------
    def _job_of(self, entry: Entry) -> Job | None:
        real = self._by_name.get(entry.params.get("~real", ""))
        book = self._books.get(entry.params.get("~path", ""))
        if real is None or book is None:
            log.warning("order journal: %s has no real key of this keys file", entry.key)
            return None
        path = entry.params["~path"]
        return Job(entry.key, entry.symbol, path, real, entry.params, "ACK", book)

    def _background(self, job: Job) -> None:
        self.spawn(self._settle(job))

    async def _settle(self, job: Job) -> None:
        """Settle one pending entry by query only, however long it takes (step 4)."""
        while True:
            give_up = time.monotonic() + (job.window_ms + self._margin_ms) / 1000 + 30
            async with self._locks.hold(job.key, None):
                if job.book.stage(job.key) in (None, Stage.ACKED, Stage.FINAL):
                    break  # a bot's re-send settled it meanwhile
                found = await self._find(job, give_up, window_ms=job.window_ms)
                if isinstance(found, dict):
                    self.counts["settled_found"] += 1
                    job.book.mark_found(job.key, found)
                    break
                if found is ABSENT or found is OrderArchivedError:
                    self.counts["settled_absent"] += 1
                    job.book.mark_final(job.key, NOT_PLACED if found is ABSENT else ARCHIVED)
                    break
            await asyncio.sleep(_RECOVERY_PAUSE_S)
        self.counts["settled_in_background"] += 1
        log.info("order %s settled: %s", job.key, job.book.stage(job.key))
