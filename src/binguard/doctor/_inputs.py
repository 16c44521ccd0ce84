"""Where logs come from: regular files, directories (recursively), gzip files and standard input.

Every failure to read an input becomes an InputError with a one-line reason, so the CLI can name the
input, go on with the others and never show a traceback. Gzip is recognised by its magic bytes, not
its name, so rotated logs (`bot.log.1.gz`, or a gzip piped to stdin) just work.

Only regular files (and `-`) are read: a FIFO, socket or device would block forever or never end,
so it is refused with SpecialFileError, whether named or found in a directory. Opening never blocks
(O_NONBLOCK, then fstat), and standard input, the one stream that may be a pipe or a terminal, is
read with an idle bound: no byte for `idle_timeout` seconds ends the input with a clear reason.
A regular file's reads are bounded by the file's end (a hung network file system cannot be
interrupted from Python without threads; that case is not handled).
"""

from __future__ import annotations

import gzip
import io
import os
import select
import stat
import sys
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, cast

STDIN: Final = "-"
_GZIP_MAGIC: Final = b"\x1f\x8b"
BINARY_PROBE: Final = 8192  # bytes checked for NUL, as grep does, to tell a binary file
IDLE_TIMEOUT: Final = 30.0  # s without a byte on stdin (a pipe or terminal) before giving up


class InputError(Exception):
    """An input that cannot be read as a text log; `reason` is one line for the user."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class BinaryInputError(InputError):
    """The input holds NUL bytes in its first block: a binary file, not a log."""


class SpecialFileError(InputError):
    """The input is a FIFO, socket or device: never read (it could block or never end)."""


# Errors a read can raise for a bad input (not for a bug): OSError covers permissions, missing
# files and directories; the gzip module adds its own for corrupt or truncated archives.
READ_ERRORS: Final = (OSError, EOFError, zlib.error, gzip.BadGzipFile)  # TimeoutError is an OSError


@dataclass(frozen=True, slots=True)
class Source:
    """One input to read: its name as shown, and whether it was found inside a directory."""

    name: str
    from_directory: bool = False
    problem: str | None = None  # known before reading (an empty directory): reported, not read

    @property
    def is_stdin(self) -> bool:
        return self.name == STDIN

    def size(self) -> int | None:
        """Bytes on disk (compressed size for gzip), for the progress bar; None for stdin."""
        if self.is_stdin:
            return None
        try:
            return os.stat(self.name).st_size
        except OSError:
            return None


def expand(args: Sequence[str]) -> list[Source]:
    """The inputs named on the command line, directories replaced by their files (sorted, recursive,
    hidden entries skipped). A name that does not exist stays, to fail with a clear reason later;
    a directory with no file in it stays as one input with its problem."""
    out: list[Source] = []
    for arg in args:
        if arg != STDIN and os.path.isdir(arg):
            found = list(_walk(Path(arg)))
            out.extend(found or [Source(arg, problem="empty directory: no log file in it")])
        else:
            out.append(Source(arg))
    return out


def _walk(root: Path) -> Iterator[Source]:
    """Files under root; a directory that cannot be listed becomes a Source with its problem."""
    failed: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=failed.append, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Source(os.path.join(dirpath, name), from_directory=True)
    for exc in failed:
        yield Source(str(exc.filename or root), problem=f"cannot list directory: {_reason(exc)}")


@contextmanager
def open_source(
    src: Source, *, idle_timeout: float = IDLE_TIMEOUT
) -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """(stream of the log's bytes, the raw stream underneath) — they differ for gzip, whose raw
    position drives the progress bar. Raises InputError when the input cannot be opened,
    SpecialFileError for a FIFO, socket or device."""
    if src.is_stdin:
        raw: BinaryIO = _stdin(idle_timeout)
        owned = False
    else:
        raw = _open_regular(src.name)
        owned = True
    try:
        try:
            head = _peek(raw)
        except READ_ERRORS as exc:
            raise InputError(src.name, _reason(exc)) from None
        if head.startswith(_GZIP_MAGIC):
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield cast(BinaryIO, unzipped), raw
        else:
            yield raw, raw
    finally:
        if owned:
            raw.close()


def _open_regular(path: str) -> BinaryIO:
    """The file opened for reading, refused unless it is a regular file. O_NONBLOCK makes the open
    of a FIFO return at once (without it, open() waits for a writer); fstat then tells the kind of
    the file actually opened, so a path swapped between a check and the open cannot slip through."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputError(path, _reason(exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise SpecialFileError(path, f"{kind_of(mode)}, not a regular file: skipped")
        os.set_blocking(fd, True)
        return open(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def kind_of(mode: int) -> str:
    """A file mode's kind in words, for the line that says why an input was skipped."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _stdin(idle_timeout: float) -> BinaryIO:
    """Standard input; a pipe or terminal is wrapped so that no read waits longer than
    idle_timeout seconds for its first byte (a regular file redirected with < needs no bound)."""
    raw = sys.stdin.buffer
    try:
        fd = sys.stdin.fileno()
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
    except (OSError, ValueError, AttributeError):  # replaced stdin (tests, embedding): no fd
        return raw
    if regular:
        return raw
    return cast(BinaryIO, io.BufferedReader(_IdleBounded(fd, idle_timeout)))


class _IdleBounded(io.RawIOBase):
    """A raw reader over a file descriptor whose reads wait at most `timeout` s for data."""

    def __init__(self, fd: int, timeout: float) -> None:
        super().__init__()
        self._fd = fd
        self._timeout = timeout

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        ready, _, _ = select.select([self._fd], [], [], self._timeout)
        if not ready:
            raise TimeoutError(f"no data for {self._timeout:g} s; stopped reading")
        return os.readv(self._fd, [buffer])


def _peek(raw: BinaryIO) -> bytes:
    if isinstance(raw, io.BufferedReader):
        return raw.peek(2)[:2]
    return b""


def read_error(src: Source, exc: BaseException) -> InputError:
    """A read failure (mid-file) as an InputError with a human reason."""
    return InputError(src.name, _reason(exc))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, gzip.BadGzipFile | zlib.error):
        return f"not a valid gzip file ({exc})"
    if isinstance(exc, EOFError):
        return "gzip file is truncated"
    if isinstance(exc, TimeoutError) and exc.args:
        return str(exc.args[0])
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
