"""The order journal: every order intent is written down before it leaves, so none is lost or doubled.

An order moves INTENT → SENT → ACKED or UNKNOWN → FINAL. The client order id is fixed at INTENT, so
every attempt and every lookup share it. After a crash (even `kill -9`), `pending()` lists what
was in flight, and the connector's `recover()` reconciles each entry with the exchange.

Two files. The journal itself is SQLite in WAL mode with synchronous=NORMAL. Beside it, an
append-only intent log (journal_log.py, `<path>-intents`) takes a new order's (or order list's)
intent and first send as one line, copied into a shared memory map of the file, before the
request's bytes can leave: the client order id is durable first, at about a microsecond instead
of a SQLite commit. The SQLite
rows follow in batches: `record_first_send`'s row and the answer's ACKED write
(`mark_acked(..., soon=True)`) wait for the next write that is not deferred, a read that
concerns them, `COMMIT_AFTER_S`, or `COMMIT_BATCH` deferred writes, whichever comes first, and
share its commit; the log is emptied after it. Opening the journal applies what the log still
holds (an intent applied twice changes nothing). Every read sees deferred writes.

What survives what: a write that returned survives the process being killed (`kill -9`, an
unhandled exception, the OOM killer: the case that matters for a bot). A deferred ACKED write
does not; a crash that loses it leaves the entry SENT, and `recover()` looks the order up by its
client order id and journals it ACKED then: the same outcome, one query later, so no order is
lost or doubled by the delay. Nothing survives a power cut or an OS crash for certain: neither
file is fsynced on each write (WAL with synchronous=NORMAL does not fsync each commit; SQLite's
docs, "WAL mode"), and an order whose intent was lost with them is unknown to `recover()`: after
a power cut, compare with `open_orders()` and the account's recent orders.

One process writes a journal file at a time: a second `OrderJournal` opened on a file in use
applies and empties the first one's intent log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from .journal_log import IntentLog, LogFull, log_path
from .journal_records import _INSERT_LEGS, _INSERT_LIST, EditRecords, ListRecords
from .journal_schema import SchemaError, migrate
from .journal_stage import JournalError, Stage

__all__ = ["JournalEntry", "JournalError", "OrderJournal", "Stage"]


@dataclass(frozen=True, slots=True)
class JournalEntry:
    client_order_id: str
    symbol: str
    params: Mapping[str, str]
    stage: Stage
    order_id: int | None
    status: (
        str | None
    )  # Binance's order status, or REJECTED / NOT_PLACED for orders that never existed
    attempts: int
    created_ms: int
    updated_ms: int
    last_error: str | None


_KEYS = {"orders": "client_order_id", "lists": "list_client_id", "edits": "edit_id"}
# A first send's row, deferred (its intent is in the intent log already), with the answer's
# ACKED when it came before the commit: "OR IGNORE" because record_first_send checked that the id
# is new, and a replayed log applies it again harmlessly.
_INSERT_ROW = (
    "INSERT OR IGNORE INTO orders (client_order_id, symbol, params, stage, attempts, created_ms,"
    " updated_ms, order_id, status) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)"
)
_ACKED = Stage.ACKED.value  # (read once: an enum member's value is a descriptor call)
_SENT: tuple[Stage, str | None] = (Stage.SENT, None)
COMMIT_AFTER_S = 1.0  # a deferred write waits at most this long for a commit (event loop time)
COMMIT_BATCH = 4096  # ... or until this many deferred writes are waiting
# A deferred write: (statement, values, many: values is a list of rows for executemany).
Deferred = tuple[str, Any, bool]


class OrderJournal:
    """A durable record of order intents and outcomes, keyed by client order id."""

    def __init__(
        self, path: str | Path = ":memory:", *, commit_after: float = COMMIT_AFTER_S
    ) -> None:
        self.path = str(path)
        self._commit_after = commit_after
        self._log: IntentLog | None = None
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self.migrated_from, self.version = migrate(self._db)
            # Writes that may wait for the next commit (module docstring), in order, and the
            # ids they touch (a read of one commits them first).
            self._later: list[Deferred] = []
            self._later_ids: set[str] = set()
            self._rows: dict[str, int] = {}  # a deferred first send's row: its index in _later
            self._generation = 0  # +1 each time the deferred writes are taken for a commit
            self._flush_on: asyncio.AbstractEventLoop | None = None  # a flush is scheduled there
            self.lists = ListRecords(self._db, self)  # order lists and their legs (schema v2)
            self.edits = EditRecords(self._db, self)  # cancel-replaces and amendments (schema v2)
            # (stage, status) of the entries this journal wrote into an open stage (INTENT, SENT,
            # UNKNOWN) and has not seen settle: `stage()` answers them without a read. Only
            # orders in flight, so it stays small; this journal is its file's only writer.
            self._open: dict[str, tuple[Stage, str | None]] = {}
            # New intents may wait for a commit when they are in the intent log, or when
            # nothing is durable anyway (a journal in memory); not when another journal holds
            # this file's log (then each is committed before its bytes leave, as before).
            self.defers_intents = True
            if self.path not in (":memory:", ""):
                try:
                    self._log = IntentLog(log_path(self.path))
                except BlockingIOError:
                    self.defers_intents = False
                else:
                    self._replay(self._log)
        except (sqlite3.DatabaseError, OSError) as exc:
            if self._log is not None:
                self._log.close()
            with contextlib.suppress(sqlite3.Error, AttributeError):
                self._db.close()
            raise JournalError(f"cannot open order journal {self.path!r}: {exc}") from exc
        except SchemaError as exc:
            self._db.close()
            raise JournalError(f"cannot open order journal {self.path!r}: {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # best effort: recover() settles what it loses
            self.flush()
        self._db.close()
        if self._log is not None:
            self._log.close()

    def flush(self) -> None:
        """Commit the deferred writes now (one transaction). If the commit fails, the error is
        raised and they are kept for the next write; until then the intents are in the intent
        log and the ACKED entries SENT, which a crash would leave for `recover()` to settle
        (module docstring)."""
        if self._later:
            self._write("", ())

    def _replay(self, log: IntentLog) -> None:
        """Apply what the intent log holds (a crash came before its rows were committed)."""
        if not log.dirty:
            return
        records = log.replay()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for r in records:
                if r.get("t") == "o":
                    # (the params as an object; as text in logs of earlier development builds)
                    params = r["p"] if type(r["p"]) is str else _encode(r["p"])
                    row = (r["c"], r["s"], params, "sent", r["m"], r["m"], None, None)
                    self._db.execute(_INSERT_ROW, row)
                elif r.get("t") == "l":
                    for statement, values, many in self.lists.intent_rows(r):
                        (self._db.executemany if many else self._db.execute)(statement, values)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        log.empty()

    def defer(self, statement: str, values: Any, key: str, *, many: bool = False) -> None:
        """A write that may wait for the next commit (module docstring), about entry `key`;
        committed at once without a running event loop. For this module and journal_records.py."""
        self._later.append((statement, values, many))
        self._later_ids.add(key)
        if len(self._later) >= COMMIT_BATCH:
            self.flush()
            return
        due = self._flush_on
        if due is not None and due.is_running():
            return  # a commit is due on the running loop (one check, not a loop look-up)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: nothing comes "soon", commit now
            self.flush()
            return
        if self._flush_on is not loop:  # (a loop that ended with a flush due never ran it)
            self._flush_on = loop
            loop.call_later(self._commit_after, self._flush_soon)

    def log_intent(self, record: dict[str, Any]) -> None:
        """Make a new intent durable before its bytes leave: one line in the intent log (for
        this module and journal_records.py; a journal in memory has no log)."""
        if self._log is not None:
            try:
                self._log.append(record)
            except LogFull:  # commit what the log holds (emptying it), then append
                if self._later:
                    self.flush()
                else:  # (nothing waits: what it holds is committed already)
                    self._log.empty()
                try:
                    self._log.append(record)
                except LogFull as full:
                    raise JournalError(f"an intent too large for the journal: {full}") from None

    def deferred(self, key: str) -> bool:
        """Whether a deferred write about `key` waits for its commit."""
        return key in self._later_ids

    def deferred_at(self) -> tuple[int, int]:
        """Where the next deferred write waits: give it to `redefer` to replace it (and the
        ones after it) while they still wait."""
        return self._generation, len(self._later)

    def redefer(self, at: tuple[int, int], writes: Sequence[Deferred]) -> bool:
        """Replace the deferred writes from `at` on with `writes` (as many) when they still
        wait; False (nothing replaced) once they were committed."""
        generation, start = at
        if generation != self._generation or start + len(writes) > len(self._later):
            return False
        self._later[start : start + len(writes)] = writes
        return True

    def __enter__(self) -> OrderJournal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writes -----------------------------------------------------------------------------------
    def record_intent(self, client_order_id: str, symbol: str, params: Mapping[str, str]) -> None:
        """Write the intent before anything is sent. Reusing an id for other params is refused."""
        self._insert(client_order_id, symbol, params, Stage.INTENT)

    def record_first_send(
        self,
        client_order_id: str,
        symbol: str,
        params: Mapping[str, str],
        *,
        fresh: bool = False,
    ) -> bool:
        """`record_intent` then `mark_sent` as one write, for a new id: True when written; False
        when the id is already journalled with these params (a re-placement: the caller takes
        the two-step path). Reusing an id for other params is refused. Durable when this
        returns (in the intent log; module docstring): the bytes may leave. `fresh`: the caller
        drew the id just now from 96 random bits (orders.py), so it is not looked up."""
        coid = client_order_id
        if not self.defers_intents or (
            not fresh and (coid in self._later_ids or self._db.execute(_EXISTS, (coid,)).fetchone())
        ):
            self.flush()
            return self._insert(coid, symbol, params, Stage.SENT)  # refused, or False
        # The params go into the log as they are (one JSON encoding per intent); the row's
        # sorted-keys text is made at its commit, with the batch's other rows (`_write`).
        copied = dict(params)
        now = _now_ms()
        self.log_intent({"t": "o", "c": coid, "s": symbol, "p": copied, "m": now})
        self._rows[coid] = len(self._later)
        self._open[coid] = _SENT
        self.defer(_INSERT_ROW, [coid, symbol, copied, "sent", now, now, None, None], coid)
        return True

    def _insert(self, coid: str, symbol: str, params: Mapping[str, str], stage: Stage) -> bool:
        now = _now_ms()
        encoded = _encode(params)
        try:
            self._write(
                "INSERT INTO orders (client_order_id, symbol, params, stage, attempts, created_ms,"
                " updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (coid, symbol, encoded, stage.value, int(stage is Stage.SENT), now, now),
            )
            self._open[coid] = (stage, None)
            return True
        except sqlite3.IntegrityError:
            existing = self.get(coid)
            if existing is None or _encode(existing.params) != encoded:
                raise JournalError(
                    f"client order id {coid!r} is already used for another order"
                ) from None
            return False

    def mark_sent(self, client_order_id: str) -> None:
        """Called right before the bytes leave: from now on the exchange may have the order."""
        self._update(client_order_id, "stage = ?, attempts = attempts + 1", (Stage.SENT.value,))
        self._still_open(client_order_id, Stage.SENT)

    def ack_first_send(self, client_order_id: str, order_id: int, status: str | None) -> bool:
        """`mark_acked(..., soon=True)` for an entry whose first-send row still waits for its
        commit (`record_first_send`), written into that row; False (nothing written) for any
        other entry. Such an entry is SENT — any other write about it commits the row first —
        so ACKED is a move its stage allows (ledger.py checks every other case)."""
        at = self._rows.pop(client_order_id, None)
        if at is None:
            return False
        self._open.pop(client_order_id, None)
        row = self._later[at][1]  # (its own list: record_first_send made it)
        row[3], row[5], row[6], row[7] = _ACKED, _now_ms(), order_id, status
        return True

    def mark_acked(
        self, client_order_id: str, order_id: int, status: str | None, *, soon: bool = False
    ) -> None:
        """The exchange has the order. `soon`: the write may wait for the next commit (the
        module docstring says why losing it to a crash loses nothing); the caller has checked
        that the entry exists (a deferred write cannot raise for a missing one)."""
        if not soon:
            self._set_outcome(client_order_id, Stage.ACKED, order_id, status)
            return
        if self.ack_first_send(client_order_id, order_id, status):
            return  # its row waited too: written ACKED at once (one row, not two writes)
        self._open.pop(client_order_id, None)
        self.defer(
            "UPDATE orders SET stage = ?, order_id = ?, status = ?, updated_ms = ?"
            " WHERE client_order_id = ?",
            (_ACKED, order_id, status, _now_ms(), client_order_id),
            client_order_id,
        )

    def _flush_soon(self) -> None:
        self._flush_on = None
        with contextlib.suppress(sqlite3.Error):  # kept for the next write, which raises it
            self.flush()

    def mark_unknown(self, client_order_id: str, error: str) -> None:
        self._update(
            client_order_id, "stage = ?, last_error = ?", (Stage.UNKNOWN.value, error[:500])
        )
        self._still_open(client_order_id, Stage.UNKNOWN)

    def _still_open(self, coid: str, stage: Stage) -> None:
        known = self._open.get(coid)
        if known is not None:
            self._open[coid] = (stage, known[1])

    def mark_final(
        self,
        client_order_id: str,
        status: str,
        order_id: int | None = None,
        error: str | None = None,
    ) -> None:
        """A known end: the order exists (any Binance status) or was never placed."""
        self._open.pop(client_order_id, None)
        self._update(
            client_order_id,
            "stage = ?, status = ?, order_id = COALESCE(?, order_id),"
            " last_error = COALESCE(?, last_error)",
            (Stage.FINAL.value, status, order_id, error[:500] if error else None),
        )

    def _set_outcome(self, coid: str, stage: Stage, order_id: int, status: str | None) -> None:
        self._open.pop(coid, None)
        self._update(coid, "stage = ?, order_id = ?, status = ?", (stage.value, order_id, status))

    def _update(
        self, coid: str, assignments: str, values: tuple[Any, ...], table: str = "orders"
    ) -> None:
        # `table` and `assignments` are fixed names from this module, never user input.
        key = _KEYS[table]
        cur = self._write(
            f"UPDATE {table} SET {assignments}, updated_ms = ? WHERE {key} = ?",
            (*values, _now_ms(), coid),
        )
        if cur.rowcount != 1:
            raise JournalError(f"no journal entry for {key.replace('_', ' ')} {coid!r}")

    def _write(self, sql: str, args: tuple[Any, ...]) -> sqlite3.Cursor:
        """Run one write (none for `sql` ""), committed with the deferred writes before it: one
        transaction, one commit. When `sql` alone fails (a constraint), those are still
        committed; when the commit fails, they are kept for the next one."""
        if not self._later:
            return self._db.execute(sql, args)
        later, ids = self._later, self._later_ids
        self._later, self._later_ids = [], set()
        self._generation += 1  # what deferred_at() handed out no longer points at them
        self._rows.clear()  # (kept back after a failed commit, an ACKED write is an UPDATE)
        committed = False
        try:
            self._db.execute("BEGIN")
            for statement, rows in _runs(later):
                if statement == _INSERT_ROW:  # a first send's params, encoded now (in one loop)
                    for row in rows:
                        if type(row[2]) is dict:
                            row[2] = _encode(row[2])
                self._db.executemany(statement, rows)
            try:
                return self._db.execute(sql or "SELECT 0", args)
            finally:  # SQLite undid a failed `sql` alone: the deferred writes stand
                self._db.execute("COMMIT")
                committed = True
                if self._log is not None:
                    self._log.empty()  # every intent it held is committed now
        except BaseException:
            if not committed:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                self._later[:0] = later
                self._later_ids |= ids
            raise

    # -- reads ------------------------------------------------------------------------------------
    def get(self, client_order_id: str) -> JournalEntry | None:
        if client_order_id in self._later_ids:
            self.flush()
        row = self._db.execute(
            "SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return _entry(row) if row else None

    def stage(self, client_order_id: str) -> tuple[Stage, str | None] | None:
        """(stage, status) of an entry, None when there is none: `get()` without the params."""
        known = self._open.get(client_order_id)
        if known is not None:
            return known
        if client_order_id in self._later_ids:
            self.flush()
        row = self._db.execute(
            "SELECT stage, status FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return (Stage(row[0]), row[1]) if row else None

    def pending(self) -> list[JournalEntry]:
        """Orders whose existence on the exchange is not known: what `recover()` reconciles, oldest
        first. ACKED orders are known to exist; FINAL ones are settled."""
        self.flush()
        rows = self._db.execute(
            "SELECT * FROM orders WHERE stage IN ('intent', 'sent', 'unknown')"
            " ORDER BY created_ms, rowid"
        ).fetchall()
        return [_entry(r) for r in rows]

    def symbols(self) -> set[str]:
        """Every symbol an intent was journalled for (without loading the entries)."""
        self.flush()
        return {row[0] for row in self._db.execute("SELECT DISTINCT symbol FROM orders")}

    def all(self) -> list[JournalEntry]:
        self.flush()
        rows = self._db.execute("SELECT * FROM orders ORDER BY created_ms, rowid").fetchall()
        return [_entry(r) for r in rows]


_EXISTS = "SELECT 1 FROM orders WHERE client_order_id = ?"
# The deferred "insert if absent" rows of new entries (orders, lists, legs): each its own row
# under a fresh key, so their order among themselves does not matter (_runs).
COMMUTING = frozenset({_INSERT_ROW, _INSERT_LIST, _INSERT_LEGS})


def _runs(later: list[Deferred]) -> list[tuple[str, list[Any]]]:
    """Deferred writes as runs of one statement (one executemany each), in their order. New
    entries' rows ("insert if absent", each its own row) commute: a stretch of them is grouped
    by statement (the orders', lists' and legs' rows of many placements: three runs, not three
    per placement); any other write keeps its place."""
    runs: list[tuple[str, list[Any]]] = []
    inserts: dict[str, list[Any]] = {}  # the stretch of intent rows being grouped
    for statement, values, many in later:
        if statement in COMMUTING:
            rows = inserts.setdefault(statement, [])
        else:
            runs.extend(inserts.items())
            inserts = {}
            if not runs or runs[-1][0] != statement:
                runs.append((statement, []))
            rows = runs[-1][1]
        if many:
            rows.extend(values)
        else:
            rows.append(values)
    runs.extend(inserts.items())
    return runs


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    coid, symbol, params, stage, order_id, status, attempts, created, updated, error = row
    return JournalEntry(
        client_order_id=coid,
        symbol=symbol,
        params=json.loads(params),
        stage=Stage(stage),
        order_id=order_id,
        status=status,
        attempts=attempts,
        created_ms=created,
        updated_ms=updated,
        last_error=error,
    )


def _encode(params: Mapping[str, str]) -> str:
    """An order's params as stored: JSON, keys sorted (so the same params compare equal)."""
    return orjson.dumps(
        params if type(params) is dict else dict(params), option=orjson.OPT_SORT_KEYS
    ).decode()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
