"""Where logs come from: files, directories (recursively), gzip files and standard input.

Every failure to read an input becomes an InputError with a one-line reason, so the CLI can name the
input, go on with the others and never show a traceback. Gzip is recognised by its magic bytes, not
its name, so rotated logs (`bot.log.1.gz`, or a gzip piped to stdin) just work.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, cast

STDIN: Final = "-"
_GZIP_MAGIC: Final = b"\x1f\x8b"
BINARY_PROBE: Final = 8192  # bytes checked for NUL, as grep does, to tell a binary file


class InputError(Exception):
    """An input that cannot be read as a text log; `reason` is one line for the user."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class BinaryInputError(InputError):
    """The input holds NUL bytes in its first block: a binary file, not a log."""


# Errors a read can raise for a bad input (not for a bug): OSError covers permissions, missing
# files and directories; the gzip module adds its own for corrupt or truncated archives.
READ_ERRORS: Final = (OSError, EOFError, zlib.error, gzip.BadGzipFile)


@dataclass(frozen=True, slots=True)
class Source:
    """One input to read: its name as shown, and whether it was found inside a directory."""

    name: str
    from_directory: bool = False

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
    hidden entries skipped). A name that does not exist stays, to fail with a clear reason later."""
    out: list[Source] = []
    for arg in args:
        if arg != STDIN and os.path.isdir(arg):
            out.extend(Source(p, from_directory=True) for p in _walk(Path(arg)))
        else:
            out.append(Source(arg))
    return out


def _walk(root: Path) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root, onerror=None, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield os.path.join(dirpath, name)


@contextmanager
def open_source(src: Source) -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """(stream of the log's bytes, the raw stream underneath) — they differ for gzip, whose raw
    position drives the progress bar. Raises InputError when the input cannot be opened."""
    if src.is_stdin:
        raw: BinaryIO = sys.stdin.buffer
        owned = False
    else:
        try:
            raw = open(src.name, "rb")  # noqa: SIM115 - closed in the finally below
        except OSError as exc:
            raise InputError(src.name, _reason(exc)) from None
        owned = True
    try:
        head = _peek(raw)
        if head.startswith(_GZIP_MAGIC):
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield cast(BinaryIO, unzipped), raw
        else:
            yield raw, raw
    finally:
        if owned:
            raw.close()


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
    if isinstance(exc, IsADirectoryError):
        return "is a directory"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
