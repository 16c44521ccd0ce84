"""The journal's intent log: an append-only file beside the SQLite journal, for new intents.

A new order's (or order list's) intent and first send must be durable before the request's bytes
leave. Written here, that costs a copy into a shared memory map of the file (no system call)
instead of a SQLite commit (tens of microseconds); the SQLite rows follow in batches (journal.py).
Once the copy is made, the bytes are in the operating system's page cache: they survive the
process being killed (`kill -9`, the OOM killer), not a power cut or an OS crash (nothing is
fsynced — like the SQLite journal with synchronous=NORMAL, whose last commits a power cut may lose
too). The file's blocks are reserved when it is made, so a full disk is an error at open, never a
fault in the middle of a copy.

The file holds lines from its start, `<crc32 of the JSON, 8 hex> <JSON object>\\n`, then zeros.
`replay` hands back every record up to the first line that is not whole (a copy cut short by a
crash: that call never returned, so nothing was sent). The records are intents only — applying
one is "insert if absent" — so a record applied twice (a crash after the SQLite commit, before
the log was emptied) changes nothing. The log is emptied (zeroed) after every commit that applied
it; a record that does not fit asks for that commit first (`LogFull`).

The file is `<journal path>-intents`; a journal kept in memory has none. One journal holds it
(an advisory lock): another `OrderJournal` opened on the same file meanwhile writes its intents
to SQLite at once, as before this log existed, so no log is emptied under a writer's feet.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import zlib
from typing import Any

import orjson

__all__ = ["SIZE", "IntentLog", "LogFull", "encode_line", "log_path"]

SIZE = 2 << 20  # bytes: some 6,000 order intents between two commits


class LogFull(Exception):  # noqa: N818 - a signal to the journal: commit, then append again
    """The record does not fit in what is left of the log."""


def log_path(journal_path: str) -> str:
    return journal_path + "-intents"


def encode_line(record: dict[str, Any]) -> bytes:
    """One record as the log holds it."""
    data = orjson.dumps(record)
    return b"%08x %s\n" % (zlib.crc32(data), data)


class IntentLog:
    """One journal's intent file (see the module docstring)."""

    def __init__(self, path: str) -> None:
        """Open (or make) the log and take it: BlockingIOError when another journal holds it
        (the lock goes with the process, so a killed writer's log is free at once)."""
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_size < SIZE:
                os.posix_fallocate(fd, 0, SIZE)  # the blocks, now: no fault at a full disk later
            self._map = mmap.mmap(fd, SIZE)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._pos = 0  # where the next record goes (0 until `replay` says where the log ends)

    @property
    def dirty(self) -> bool:
        """Whether the log may hold records (not yet emptied)."""
        return self._pos > 0 or self._map[:1] != b"\0"

    def append(self, record: dict[str, Any]) -> None:
        """Write one record; durable against a killed process when this returns. LogFull when
        it does not fit (the journal commits, empties the log and appends again)."""
        line = encode_line(record)
        end = self._pos + len(line)
        if end > SIZE:
            raise LogFull(f"{len(line)} bytes do not fit in the intent log")
        self._map[self._pos : end] = line
        self._pos = end

    def replay(self) -> list[dict[str, Any]]:
        """Every whole record from the start of the file, oldest first; the next record goes
        after them."""
        out: list[dict[str, Any]] = []
        pos = 0
        view = self._map
        while pos < SIZE:
            end = view.find(b"\n", pos)
            record = _whole(view[pos:end]) if end >= 0 else None
            if record is None:
                break
            out.append(record)
            pos = end + 1
        self._pos = pos
        return out

    def empty(self) -> None:
        """Forget every record: called once a commit holds them all. The used part is zeroed
        (a crash halfway leaves a prefix of zeros: nothing after it is read again)."""
        used = max(self._pos, _used(self._map))  # (and what a cut-short record left)
        if used:
            self._map[:used] = bytes(used)
        self._pos = 0

    def close(self) -> None:
        """Close the file (a second call does nothing, as for the SQLite connection)."""
        if self._fd >= 0:
            self._map.close()
            os.close(self._fd)
            self._fd = -1


def _whole(line: bytes) -> dict[str, Any] | None:
    """The record of a line whose checksum matches, else None."""
    crc, _, data = line.partition(b" ")
    if len(crc) != 8 or not data:
        return None
    try:
        if int(crc, 16) != zlib.crc32(data):
            return None
        record = orjson.loads(data)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _used(view: mmap.mmap) -> int:
    """Bytes before the zeros that end the records (what a replay that stopped early left)."""
    end = view.find(b"\0\0\0\0\0\0\0\0")
    return SIZE if end < 0 else end
