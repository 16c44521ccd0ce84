"""The order journal: every order intent is written down before it leaves, so none is lost or doubled.

An order moves INTENT → SENT → ACKED or UNKNOWN → FINAL. The client order id is fixed at INTENT, so
every attempt and every reconciliation query share it. After a crash (even `kill -9`), `pending()`
lists what was in flight, and the connector's `recover()` reconciles each entry with the exchange.

SQLite in WAL mode with synchronous=NORMAL: a committed write survives the process being killed
(`kill -9`, an unhandled exception, the OOM killer: the case that matters for a bot), at tens of
microseconds per commit, so calls are made inline. It does NOT survive a power cut or an OS crash: the
last commits may be lost then (WAL with synchronous=NORMAL does not fsync each commit; SQLite's docs,
"WAL mode"), and an order whose intent was lost with them is unknown to `recover()`: after a power
cut, compare with `open_orders()` and the account's recent orders.

One commit per order on the hot path. A new order's intent and first send are one statement
(`record_first_send`), committed before the request's bytes can leave: the client order id is
durable first. The answer's ACKED write (`mark_acked(..., soon=True)`) is not committed at once:
it waits for the next write (and shares its commit) or for the event loop's next turn, whichever
comes first. A crash that loses it leaves the entry SENT, and `recover()` looks the order up by
its client order id and journals it ACKED then: the same outcome, one query later, so no order is
lost or doubled by the delay. Every read sees deferred writes (it commits them first when they
concern what it reads).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from .journal_records import EditRecords, ListRecords
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


class OrderJournal:
    """A durable record of order intents and outcomes, keyed by client order id."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self.migrated_from, self.version = migrate(self._db)
            self.lists = ListRecords(self._db)  # order lists and their legs (schema v2)
            self.edits = EditRecords(self._db)  # cancel-replaces and amendments (schema v2)
            # Writes that may wait for the next commit (ACKED: see the module docstring), in
            # order, and the client order ids they touch (a read of one commits them first).
            self._later: list[tuple[str, tuple[Any, ...]]] = []
            self._later_ids: set[str] = set()
            self._flush_on: asyncio.AbstractEventLoop | None = None  # a flush is scheduled there
            # (stage, status) of the entries this journal wrote into an open stage (INTENT, SENT,
            # UNKNOWN) and has not seen settle: `stage()` answers them without a read. Only
            # orders in flight, so it stays small; this journal is its file's only writer.
            self._open: dict[str, tuple[Stage, str | None]] = {}
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"cannot open order journal {self.path!r}: {exc}") from exc
        except SchemaError as exc:
            self._db.close()
            raise JournalError(f"cannot open order journal {self.path!r}: {exc}") from exc

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # best effort: recover() settles what it loses
            self.flush()
        self._db.close()

    def flush(self) -> None:
        """Commit the deferred writes now (one transaction). If the commit fails, the error is
        raised and they are kept for the next write; until then the entries are SENT on disk,
        which a crash would leave for `recover()` to settle (module docstring)."""
        if self._later:
            self._write("", ())

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
        self, client_order_id: str, symbol: str, params: Mapping[str, str]
    ) -> bool:
        """`record_intent` then `mark_sent` as one statement and one commit, for a new id: True
        when written; False when the id is already journalled with these params (a
        re-placement: the caller takes the two-step path). Reusing an id for other params is
        refused. Committed when this returns: the bytes may leave."""
        return self._insert(client_order_id, symbol, params, Stage.SENT)

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

    def mark_acked(
        self, client_order_id: str, order_id: int, status: str | None, *, soon: bool = False
    ) -> None:
        """The exchange has the order. `soon`: the write may wait for the next commit (the
        module docstring says why losing it to a crash loses nothing); the caller has checked
        that the entry exists (a deferred write cannot raise for a missing one)."""
        if not soon:
            self._set_outcome(client_order_id, Stage.ACKED, order_id, status)
            return
        self._open.pop(client_order_id, None)
        self._later.append(
            (
                "UPDATE orders SET stage = ?, order_id = ?, status = ?, updated_ms = ?"
                " WHERE client_order_id = ?",
                (Stage.ACKED.value, order_id, status, _now_ms(), client_order_id),
            )
        )
        self._later_ids.add(client_order_id)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop: nothing comes "soon", commit now
            self.flush()
            return
        if self._flush_on is not loop:  # (a loop that ended with a flush due never ran it)
            self._flush_on = loop
            loop.call_soon(self._flush_soon)

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
        committed = False
        try:
            self._db.execute("BEGIN")
            for statement, values in later:
                self._db.execute(statement, values)
            try:
                return self._db.execute(sql or "SELECT 0", args)
            finally:  # SQLite undid a failed `sql` alone: the deferred writes stand
                self._db.execute("COMMIT")
                committed = True
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
