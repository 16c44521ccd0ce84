"""The order journal: every order intent is written down before it leaves, so none is lost or doubled.

An order moves INTENT → SENT → ACKED or UNKNOWN → FINAL. The client order id is fixed at INTENT, so
every attempt and every reconciliation query share it. After a crash (even `kill -9`), `pending()`
lists what was in flight, and the connector's `recover()` reconciles each entry with the exchange.

SQLite in WAL mode with synchronous=NORMAL: a committed write survives the process being killed (the
case that matters for a bot), at well under a millisecond per write, so calls are made inline.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

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
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"cannot open order journal {self.path!r}: {exc}") from exc
        except SchemaError as exc:
            self._db.close()
            raise JournalError(f"cannot open order journal {self.path!r}: {exc}") from exc

    def close(self) -> None:
        self._db.close()

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
        now = _now_ms()
        encoded = json.dumps(dict(params), sort_keys=True)
        try:
            self._db.execute(
                "INSERT INTO orders (client_order_id, symbol, params, stage, created_ms, updated_ms)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (client_order_id, symbol, encoded, Stage.INTENT.value, now, now),
            )
        except sqlite3.IntegrityError:
            existing = self.get(client_order_id)
            if existing is None or json.dumps(dict(existing.params), sort_keys=True) != encoded:
                raise JournalError(
                    f"client order id {client_order_id!r} is already used for another order"
                ) from None

    def mark_sent(self, client_order_id: str) -> None:
        """Called right before the bytes leave: from now on the exchange may have the order."""
        self._update(client_order_id, "stage = ?, attempts = attempts + 1", (Stage.SENT.value,))

    def mark_acked(self, client_order_id: str, order_id: int, status: str | None) -> None:
        self._set_outcome(client_order_id, Stage.ACKED, order_id, status)

    def mark_unknown(self, client_order_id: str, error: str) -> None:
        self._update(
            client_order_id, "stage = ?, last_error = ?", (Stage.UNKNOWN.value, error[:500])
        )

    def mark_final(
        self,
        client_order_id: str,
        status: str,
        order_id: int | None = None,
        error: str | None = None,
    ) -> None:
        """A known end: the order exists (any Binance status) or was never placed."""
        self._update(
            client_order_id,
            "stage = ?, status = ?, order_id = COALESCE(?, order_id),"
            " last_error = COALESCE(?, last_error)",
            (Stage.FINAL.value, status, order_id, error[:500] if error else None),
        )

    def _set_outcome(self, coid: str, stage: Stage, order_id: int, status: str | None) -> None:
        self._update(coid, "stage = ?, order_id = ?, status = ?", (stage.value, order_id, status))

    def _update(
        self, coid: str, assignments: str, values: tuple[Any, ...], table: str = "orders"
    ) -> None:
        # `table` and `assignments` are fixed names from this module, never user input.
        key = _KEYS[table]
        cur = self._db.execute(
            f"UPDATE {table} SET {assignments}, updated_ms = ? WHERE {key} = ?",
            (*values, _now_ms(), coid),
        )
        if cur.rowcount != 1:
            raise JournalError(f"no journal entry for {key.replace('_', ' ')} {coid!r}")

    # -- reads ------------------------------------------------------------------------------------
    def get(self, client_order_id: str) -> JournalEntry | None:
        row = self._db.execute(
            "SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,)
        ).fetchone()
        return _entry(row) if row else None

    def pending(self) -> list[JournalEntry]:
        """Orders whose existence on the exchange is not known: what `recover()` reconciles, oldest
        first. ACKED orders are known to exist; FINAL ones are settled."""
        rows = self._db.execute(
            "SELECT * FROM orders WHERE stage IN ('intent', 'sent', 'unknown')"
            " ORDER BY created_ms, rowid"
        ).fetchall()
        return [_entry(r) for r in rows]

    def symbols(self) -> set[str]:
        """Every symbol an intent was journalled for (without loading the entries)."""
        return {row[0] for row in self._db.execute("SELECT DISTINCT symbol FROM orders")}

    def all(self) -> list[JournalEntry]:
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


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
