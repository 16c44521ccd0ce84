"""The journal's order lists (with their legs) and edits (cancel-replace, amend), schema v2.

Same rule as single orders (journal.py): the entry, with every client id it will use, is written
before the first attempt; it moves INTENT → SENT → ACKED | UNKNOWN → FINAL (the ledger guards the
moves, ledger.py). `pending()` lists what a crash left in flight, for `recover()`.

A new list's intent and first send go to the journal's intent log, their rows and the answer's
outcome (`settle(..., soon=True)`) wait for the journal's next commit, as a single order's do
(journal.py); every other write and every read commits the deferred ones first, so the rows are
always written in the order they were made.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from .journal_stage import JournalError, Stage

__all__ = ["EditEntry", "EditRecords", "LegEntry", "ListEntry", "ListRecords"]


@dataclass(frozen=True, slots=True)
class LegEntry:
    client_order_id: str
    role: str  # Binance's prefix for the leg: above, below, working, pending, pendingAbove...
    order_id: int | None
    status: str | None


@dataclass(frozen=True, slots=True)
class ListEntry:
    list_client_id: str
    symbol: str
    kind: str  # OCO, OTO, OTOCO, OPO, OPOCO
    params: Mapping[str, str]
    stage: Stage
    order_list_id: int | None
    status: str | None  # Binance's listOrderStatus, or NOT_PLACED / REJECTED
    attempts: int
    legs: tuple[LegEntry, ...]
    last_error: str | None


@dataclass(frozen=True, slots=True)
class EditEntry:
    edit_id: str  # the edit's own new client order id (cancel-replace's new order; amend's)
    kind: str  # "cancel_replace" or "amend"
    symbol: str
    params: Mapping[str, str]
    stage: Stage
    order_id: int | None  # the new order's id (cancel-replace) or the amended order's
    status: str | None
    outcome: Mapping[str, Any] | None  # what is known of each half (orders.py writes it)
    attempts: int
    last_error: str | None


class Deferrer(Protocol):
    """The journal's deferred writes and intent log, as the records use them (journal.py)."""

    def flush(self) -> None: ...

    def defer(self, statement: str, values: Any, key: str, *, many: bool = False) -> None: ...

    defers_intents: bool

    def log_intent(self, record: dict[str, Any]) -> None: ...

    def deferred(self, key: str) -> bool: ...

    def deferred_at(self) -> tuple[int, int]: ...

    def redefer(self, at: tuple[int, int], writes: Sequence[tuple[str, Any, bool]]) -> bool: ...


class _Records:
    """Stage writes shared by lists and edits: one table, one key column. Every statement
    commits the journal's deferred writes first (`_flush`), so rows change in order."""

    table = ""
    key = ""

    def __init__(self, db: sqlite3.Connection, journal: Deferrer) -> None:
        self._db = db
        self._journal = journal
        self._flush = journal.flush
        # (stage, status) of entries written through the deferred path and still open here:
        # `stage_of` answers them without committing (only entries in flight: it stays small).
        self._open: dict[str, tuple[Stage, str | None]] = {}
        # A new entry's deferred intent rows: where they wait (Deferrer.deferred_at) and the
        # intent log record they came from, so its outcome can be written into them.
        self._unwritten: dict[str, tuple[tuple[int, int], dict[str, Any]]] = {}

    def _insert(self, key: str, columns: Mapping[str, object], stage: Stage = Stage.INTENT) -> bool:
        """Insert a new intent (or, `stage` SENT, the intent and its first send at once); False
        when `key` exists with the same params (a repeat), and JournalError when it exists with
        others (an id reused for another thing)."""
        self._flush()
        now = _now_ms()
        row = {self.key: key, **columns, "stage": stage.value, "attempts": int(stage is Stage.SENT)}
        row |= {"created_ms": now, "updated_ms": now}
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        try:
            self._db.execute(
                f"INSERT INTO {self.table} ({names}) VALUES ({marks})", tuple(row.values())
            )
        except sqlite3.IntegrityError:
            found = self._db.execute(
                f"SELECT params FROM {self.table} WHERE {self.key} = ?", (key,)
            ).fetchone()
            if found is None or json.loads(found[0]) != json.loads(str(columns["params"])):
                raise JournalError(f"{self.key} {key!r} is already used for another one") from None
            return False
        return True

    def _update(self, key: str, assignments: str, values: tuple[Any, ...]) -> None:
        # `assignments` are fixed column lists from this module, never user input.
        self._unwritten.pop(key, None)
        self._flush()
        cur = self._db.execute(
            f"UPDATE {self.table} SET {assignments}, updated_ms = ? WHERE {self.key} = ?",
            (*values, _now_ms(), key),
        )
        if cur.rowcount != 1:
            raise JournalError(f"no journal entry for {self.key} {key!r}")

    def mark_sent(self, key: str) -> None:
        self._update(key, "stage = ?, attempts = attempts + 1", (Stage.SENT.value,))
        self._still_open(key, Stage.SENT)

    def mark_unknown(self, key: str, error: str) -> None:
        self._update(key, "stage = ?, last_error = ?", (Stage.UNKNOWN.value, error[:500]))
        self._still_open(key, Stage.UNKNOWN)

    def _still_open(self, key: str, stage: Stage) -> None:
        known = self._open.get(key)
        if known is not None:
            self._open[key] = (stage, known[1])

    def stage_of(self, key: str) -> tuple[Stage, str | None] | None:
        known = self._open.get(key)
        if known is not None:
            return known
        self._flush()
        row = self._db.execute(
            f"SELECT stage, status FROM {self.table} WHERE {self.key} = ?", (key,)
        ).fetchone()
        return (Stage(row[0]), row[1]) if row else None

    def _rows(self, where: str = "", args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        self._flush()
        return list(
            self._db.execute(
                f"SELECT * FROM {self.table} {where} ORDER BY created_ms, rowid", args
            ).fetchall()
        )


class ListRecords(_Records):
    """Order lists and their legs (tables `lists`, `legs`)."""

    table, key = "lists", "list_client_id"

    def record_intent(
        self,
        list_id: str,
        symbol: str,
        kind: str,
        params: Mapping[str, str],
        legs: Sequence[tuple[str, str]],
        *,
        sent: bool = False,
        fresh: bool = False,
    ) -> bool:
        """The list and every leg's (client order id, role), before anything is sent — with
        `sent`, also its first send, in the same write (`fresh`: every id was drawn just now,
        orders.py, so none is looked up) (nothing awaits between this and the
        bytes leaving, so no crash point is lost). True when written; False when the list is
        already journalled with these params (a repeat: the caller takes the two-step path)."""
        encoded = _encode(params)
        if sent and self._journal.defers_intents and (fresh or self._is_new(list_id, legs)):
            record: dict[str, Any] = {"t": "l", "l": list_id, "s": symbol, "k": kind, "p": encoded}
            record |= {"legs": [list(leg) for leg in legs], "m": _now_ms()}
            self._journal.log_intent(record)  # durable now; the rows follow (module docstring)
            self._unwritten[list_id] = (self._journal.deferred_at(), record)
            for statement, values, many in self.intent_rows(record):
                self._journal.defer(statement, values, list_id, many=many)
            self._open[list_id] = (Stage.SENT, None)
            return True
        stage = Stage.SENT if sent else Stage.INTENT
        self._flush()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            new = self._insert(list_id, {"symbol": symbol, "kind": kind, "params": encoded}, stage)
            if new:
                self._db.executemany(
                    "INSERT INTO legs (client_order_id, list_client_id, role) VALUES (?, ?, ?)",
                    [(coid, list_id, role) for coid, role in legs],
                )
            self._db.execute("COMMIT")
        except sqlite3.IntegrityError:  # (the list's own id is handled by _insert)
            self._db.execute("ROLLBACK")
            raise JournalError(
                f"a leg's client order id of list {list_id!r} is used already"
            ) from None
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return new

    def _is_new(self, list_id: str, legs: Sequence[tuple[str, str]]) -> bool:
        """No entry and no deferred write for `list_id`, and no leg id journalled already (then
        its intent may be deferred; else the two-step path decides, refusing a reused leg id)."""
        if self._journal.deferred(list_id):
            return False
        self._flush()  # (a leg id may be in a deferred write of another list)
        found = self._db.execute(
            "SELECT 1 FROM lists WHERE list_client_id = ?", (list_id,)
        ).fetchone()
        if found is not None:
            return False
        marks = ", ".join("?" for _ in legs)
        return (
            self._db.execute(
                f"SELECT 1 FROM legs WHERE client_order_id IN ({marks})",
                [coid for coid, _ in legs],
            ).fetchone()
            is None
        )

    @staticmethod
    def intent_rows(
        record: Mapping[str, Any],
        outcome: tuple[Stage, str | None, int | None] | None = None,
        told: Mapping[str, tuple[int, str | None]] | None = None,
    ) -> list[tuple[str, Any, bool]]:
        """The rows of a list's intent and first send from its intent log record: (statement,
        values, many). "OR IGNORE": applied again after a crash, they change nothing. With the
        answer's `outcome` (the list's stage, status, id) and the legs it `told` (client order
        id → order id, status), the rows as settle() would leave them: one write each."""
        lid, now = record["l"], record["m"]
        stage, status, order_list_id = outcome or (Stage.SENT, None, None)
        told = told or {}
        row = (lid, record["s"], record["k"], record["p"], _TEXT[stage], now, _now_ms())
        return [
            (_INSERT_LIST, (*row, order_list_id, status), False),
            (
                _INSERT_LEGS,
                [(coid, lid, role, *told.get(coid, (None, None))) for coid, role in record["legs"]],
                True,
            ),
        ]

    def mark_outcome(
        self,
        list_id: str,
        stage: Stage,
        status: str | None,
        order_list_id: int | None = None,
        error: str | None = None,
    ) -> None:
        """ACKED or FINAL with Binance's listOrderStatus (or NOT_PLACED / REJECTED)."""
        self._open.pop(list_id, None)
        self._update(
            list_id,
            "stage = ?, status = ?, order_list_id = COALESCE(?, order_list_id),"
            " last_error = COALESCE(?, last_error)",
            (stage.value, status, order_list_id, error[:500] if error else None),
        )

    def settle(
        self,
        list_id: str,
        legs: Sequence[tuple[str, int, str | None]],
        outcome: tuple[Stage, str | None, int | None] | None,
        *,
        soon: bool = False,
    ) -> None:
        """The legs the exchange told and, when given, the list's (stage, status, id): one
        commit. `soon`: it may wait for the journal's next commit (a crash that loses it leaves
        the entry as it was, for `recover()` to settle by the list's id; journal.py)."""
        unwritten = self._unwritten.pop(list_id, None)
        if soon:
            self._open.pop(list_id, None)
            if unwritten is not None:  # its rows wait too: written as they end up, at once
                at, record = unwritten
                told = {coid: (order_id, status) for coid, order_id, status in legs}
                if self._journal.redefer(at, self.intent_rows(record, outcome, told)):
                    return
            self._journal.defer(_MARK_LEGS, _leg_rows(legs), list_id, many=True)
            if outcome is not None:
                stage, status, order_list_id = outcome
                self._journal.defer(
                    "UPDATE lists SET stage = ?, status = ?, order_list_id = COALESCE(?,"
                    " order_list_id), updated_ms = ? WHERE list_client_id = ?",
                    (_TEXT[stage], status, order_list_id, _now_ms(), list_id),
                    list_id,
                )
            return
        self._flush()
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self.mark_legs(legs)
            if outcome is not None:
                self.mark_outcome(list_id, *outcome)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def mark_legs(self, legs: Sequence[tuple[str, int, str | None]]) -> None:
        """(client order id, order id, status or None) of legs the exchange told."""
        self._flush()
        self._db.executemany(_MARK_LEGS, _leg_rows(legs))

    def get(self, list_id: str) -> ListEntry | None:
        rows = self._rows(f"WHERE {self.key} = ?", (list_id,))
        return self._entry(rows[0]) if rows else None

    def pending(self) -> list[ListEntry]:
        return [self._entry(r) for r in self._rows("WHERE stage IN ('intent', 'sent', 'unknown')")]

    def all(self) -> list[ListEntry]:
        return [self._entry(r) for r in self._rows()]

    def leg_list(self, client_order_id: str) -> str | None:
        """The list a leg's client order id belongs to, or None."""
        self._flush()
        row = self._db.execute(
            "SELECT list_client_id FROM legs WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return str(row[0]) if row else None

    def _entry(self, row: tuple[Any, ...]) -> ListEntry:
        lid, symbol, kind, params, stage, olid, status, attempts, _c, _u, error = row
        self._flush()
        legs = self._db.execute(
            "SELECT client_order_id, role, order_id, status FROM legs"
            " WHERE list_client_id = ? ORDER BY rowid",
            (lid,),
        ).fetchall()
        return ListEntry(
            lid, symbol, kind, json.loads(params), Stage(stage), olid, status, attempts,
            tuple(LegEntry(*leg) for leg in legs), error,
        )  # fmt: skip


class EditRecords(_Records):
    """Cancel-replaces and amendments (table `edits`)."""

    table, key = "edits", "edit_id"

    def record_intent(
        self, edit_id: str, kind: str, symbol: str, params: Mapping[str, str]
    ) -> None:
        encoded = json.dumps(dict(params), sort_keys=True)
        self._insert(edit_id, {"kind": kind, "symbol": symbol, "params": encoded})

    def mark_outcome(
        self,
        edit_id: str,
        stage: Stage,
        status: str | None,
        *,
        order_id: int | None = None,
        outcome: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        self._update(
            edit_id,
            "stage = ?, status = ?, order_id = COALESCE(?, order_id),"
            " outcome = COALESCE(?, outcome), last_error = COALESCE(?, last_error)",
            (
                stage.value,
                status,
                order_id,
                json.dumps(outcome, sort_keys=True) if outcome is not None else None,
                error[:500] if error else None,
            ),
        )

    def get(self, edit_id: str) -> EditEntry | None:
        rows = self._rows(f"WHERE {self.key} = ?", (edit_id,))
        return _edit(rows[0]) if rows else None

    def pending(self) -> list[EditEntry]:
        return [_edit(r) for r in self._rows("WHERE stage IN ('intent', 'sent', 'unknown')")]

    def all(self) -> list[EditEntry]:
        return [_edit(r) for r in self._rows()]


def _edit(row: tuple[Any, ...]) -> EditEntry:
    eid, kind, symbol, params, stage, oid, status, outcome, attempts, _c, _u, error = row
    return EditEntry(
        eid, kind, symbol, json.loads(params), Stage(stage), oid, status,
        json.loads(outcome) if outcome else None, attempts, error,
    )  # fmt: skip


_TEXT = {stage: stage.value for stage in Stage}  # (an enum member's value is a descriptor call)
_INSERT_LIST = (
    "INSERT OR IGNORE INTO lists (list_client_id, symbol, kind, params, stage, attempts,"
    " created_ms, updated_ms, order_list_id, status) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)"
)
_INSERT_LEGS = (
    "INSERT OR IGNORE INTO legs (client_order_id, list_client_id, role, order_id, status)"
    " VALUES (?, ?, ?, ?, ?)"
)
_MARK_LEGS = "UPDATE legs SET order_id = ?, status = COALESCE(?, status) WHERE client_order_id = ?"


def _leg_rows(legs: Sequence[tuple[str, int, str | None]]) -> list[tuple[int, str | None, str]]:
    return [(order_id, status, coid) for coid, order_id, status in legs]


def _encode(params: Mapping[str, str]) -> str:
    """A list's or edit's params as stored: JSON, keys sorted (compared parsed: journals written
    before held json.dumps' spacing)."""
    return orjson.dumps(
        params if type(params) is dict else dict(params), option=orjson.OPT_SORT_KEYS
    ).decode()


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
