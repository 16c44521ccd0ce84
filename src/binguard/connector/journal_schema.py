"""The order journal's schema, its version table and the migrations between versions.

    version 1  `orders` only (binguard up to the order-model issue); no version table
    version 2  + `schema_version`, `lists` (order lists), `legs` (their orders), `edits`
               (cancel-replace and amend)

A journal is opened by whatever release runs next, with whatever the last one left pending, so a
file of every earlier version must open and `recover()` must settle it: `migrate()` brings it to
`VERSION` in one transaction (a crash halfway leaves the old version, whole). Migrations only add
tables and columns; they never rewrite an entry. A file of a newer version than this code knows
is refused (JournalError): an older binguard must not half-understand it.
"""

from __future__ import annotations

import sqlite3

VERSION = 2

_V1 = """
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    symbol TEXT NOT NULL,
    params TEXT NOT NULL,
    stage TEXT NOT NULL,
    order_id INTEGER,
    status TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS orders_open ON orders(stage) WHERE stage IN ('intent', 'sent', 'unknown');
"""

# Lists and edits move through the same stages as orders (journal.Stage). A list's legs are
# known by their client order ids before the first attempt, so a lost answer can be reconciled
# by the list's id and every leg recognised; `role` is Binance's prefix for the leg
# ("above", "below", "working", "pending", "pendingAbove", "pendingBelow").
_V2 = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS lists (
    list_client_id TEXT PRIMARY KEY,
    symbol TEXT NOT NULL,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    stage TEXT NOT NULL,
    order_list_id INTEGER,
    status TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS lists_open ON lists(stage) WHERE stage IN ('intent', 'sent', 'unknown');
CREATE TABLE IF NOT EXISTS legs (
    client_order_id TEXT PRIMARY KEY,
    list_client_id TEXT NOT NULL REFERENCES lists(list_client_id),
    role TEXT NOT NULL,
    order_id INTEGER,
    status TEXT
);
CREATE INDEX IF NOT EXISTS legs_of_list ON legs(list_client_id);
CREATE TABLE IF NOT EXISTS edits (
    edit_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    symbol TEXT NOT NULL,
    params TEXT NOT NULL,
    stage TEXT NOT NULL,
    order_id INTEGER,
    status TEXT,
    outcome TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS edits_open ON edits(stage) WHERE stage IN ('intent', 'sent', 'unknown');
"""

MIGRATIONS: dict[int, str] = {1: _V2}  # from version N to N + 1


class SchemaError(RuntimeError):
    """The file's schema version is newer than this code knows."""


def version_of(db: sqlite3.Connection) -> int:
    """The file's version: 0 for an empty file, 1 for a journal with `orders` and no version
    table, else what `schema_version` says."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "schema_version" in tables:
        row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0]) if row and row[0] is not None else 1
    return 1 if "orders" in tables else 0


def migrate(db: sqlite3.Connection) -> tuple[int, int]:
    """Bring the file to VERSION (an empty one is created at it); (version found, version now).
    One transaction: all of it or none."""
    db.execute("BEGIN IMMEDIATE")
    try:
        found = version_of(db)
        if found > VERSION:
            raise SchemaError(
                f"journal schema version {found} is newer than this binguard's ({VERSION})"
            )
        if found == 0:
            _script(db, _V1)
            found_or_new = 1
        else:
            found_or_new = found
        for version in range(found_or_new, VERSION):
            _script(db, MIGRATIONS[version])
        if found < VERSION:
            db.execute("DELETE FROM schema_version")
            db.execute("INSERT INTO schema_version (version) VALUES (?)", (VERSION,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return found, VERSION


def _script(db: sqlite3.Connection, script: str) -> None:
    # executescript() would COMMIT the open transaction first; run the statements one by one.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)
