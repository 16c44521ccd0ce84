"""The journal's intent log: an append-only file beside the SQLite journal, for new intents.

A new order's (or order list's) intent and first send must be durable before the request's bytes
leave. Written here, that costs one `write()` of one line (a few microseconds) instead of a
SQLite commit (tens of microseconds); the SQLite rows follow in batches (journal.py). Once
`write()` returns, the line is in the operating system's page cache: it survives the process
being killed (`kill -9`, the OOM killer), not a power cut or an OS crash (nothing is fsynced —
like the SQLite journal with synchronous=NORMAL, whose last commits a power cut may lose too).

Each line is one JSON object with a `t` (the record's kind); `replay` hands back every whole line
(a line cut short by a crash in the middle of its `write()` is skipped: the call never returned,
so nothing was sent). The records are intents only — applying one is "insert if absent" — so a
record applied twice (a crash after the SQLite commit, before the log was emptied) changes
nothing. The log is emptied after every commit that applied it.

The file is `<journal path>-intents`; a journal kept in memory has none. One journal holds it
(an advisory lock): another `OrderJournal` opened on the same file meanwhile writes its intents
to SQLite at once, as before this log existed, so no log is emptied under a writer's feet.
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

import orjson

__all__ = ["IntentLog", "log_path"]


def log_path(journal_path: str) -> str:
    return journal_path + "-intents"


class IntentLog:
    """One journal's append-only intent file (see the module docstring)."""

    def __init__(self, path: str) -> None:
        """Open (or create) the log and take it: BlockingIOError when another journal holds it
        (the lock goes with the process, so a killed writer's log is free at once)."""
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            raise
        self.dirty = os.fstat(self._fd).st_size > 0  # holds lines not yet emptied

    def append(self, record: dict[str, Any]) -> None:
        """Write one record; durable against a killed process when this returns."""
        line = orjson.dumps(record) + b"\n"
        written = os.write(self._fd, line)
        if written != len(line):  # a regular file takes it whole, short of a full disk
            raise OSError(f"short write to the journal's intent log {self.path!r}")
        self.dirty = True

    def replay(self) -> list[dict[str, Any]]:
        """Every whole record in the file, oldest first."""
        with open(self.path, "rb") as f:
            lines = f.read().split(b"\n")
        out = []
        for line in lines[:-1]:  # the part after the last newline was cut short (or is empty)
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # cannot be whole (only whole lines end in a newline): skipped
            if isinstance(record, dict):
                out.append(record)
        return out

    def empty(self) -> None:
        """Forget every record: called once a commit holds them all."""
        if self.dirty:
            os.ftruncate(self._fd, 0)
            self.dirty = False

    def close(self) -> None:
        """Close the file (a second call does nothing, as for the SQLite connection)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
