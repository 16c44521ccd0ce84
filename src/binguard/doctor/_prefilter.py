"""Which lines the scanner hands to the recognizer: every line that could report an error, fast.

The recognizer (recognize()) only accepts a line through a few gates, and each gate needs some text
on the line. The prefilter's patterns are those gates' own patterns, taken from where they live,
so a line the recognizer would accept is never skipped (the bench checks this on 200 MB, and
tests/doctor/test_prefilter.py on every sample and hostile line):

- the recognizer's own gates (_recognize.GATES): a code (`code=-1021`, `[-1021`, `(400, -1021,`,
  a bare `-1021`), an HTTP status, the new SDK's class names, the handler-crash line;
- every catalog message's fixed opening (has_catalog_message()'s index);
- the core's network vocabulary (classify_network()'s patterns: ECONNRESET, timed out, ...).

Two engines run the same patterns. Hyperscan (PyPI wheels for Linux and macOS, x86-64 and arm64)
scans all ~220 patterns in one pass at ~2 GB/s; without it, CPython's `re` runs one alternation
of them: the same lines, at ~20 MB/s. Matches are reported by end offset; the line around each
one is a candidate.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import sys
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any, Final, Protocol

from binguard.errors import catalog, network_vocabulary  # one network vocabulary, shared

from ._recognize import GATES, SIMULATOR_MARKERS

Buffer = bytes | bytearray


class Prefilter(Protocol):
    """Finds candidate lines in body[:limit] (whole lines): their (start, stop) offsets, in order,
    stop being the offset of the line's newline (or limit)."""

    name: str

    def lines(self, body: Buffer, limit: int) -> list[tuple[int, int]]: ...


def patterns() -> tuple[bytes, ...]:
    """Every trigger as a bytes regex both engines accept (no lookaround, no backreference)."""
    return _patterns()


@cache
def _patterns() -> tuple[bytes, ...]:
    out: list[str] = list(GATES)
    out += network_vocabulary()
    openings = {o for group in catalog().openings_by_word().values() for o, _, _ in group}
    out += [re.escape(o) for o in sorted(openings)]
    out += [re.escape(m.decode()) for m in SIMULATOR_MARKERS]
    return tuple(p.encode() for p in out)


def _spans(ends: Iterable[int], body: Buffer, limit: int) -> list[tuple[int, int]]:
    """The lines holding match ends (sorted ascending), each line once."""
    out: list[tuple[int, int]] = []
    find, rfind = body.find, body.rfind
    stop = -1
    for end in ends:
        if end <= stop:
            continue  # another match on a line already taken
        # a match may end just past a newline it consumed (`$`, `[^\d\n]` never do; be safe)
        at = end - 1 if end > 0 and body[end - 1] == 10 else end
        start = rfind(b"\n", 0, at) + 1
        stop = find(b"\n", at, limit)
        if stop < 0:
            stop = limit
        out.append((start, stop))
    return out


class RegexPrefilter:
    """CPython's re with one alternation of every pattern: the portable engine."""

    name = "re"

    def __init__(self, pats: Iterable[bytes]) -> None:
        self._search = re.compile(b"|".join(b"(?:" + p + b")" for p in pats), re.MULTILINE).search

    def lines(self, body: Buffer, limit: int) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        search = self._search
        pos = 0
        while pos < limit:
            m = search(body, pos, limit)
            if m is None:
                break
            # the line of the match's end, as Hyperscan reports it (a match may begin on the
            # newline before its line); the search goes on after that line
            line = _spans((m.end(),), body, limit)[0]
            if not out or line[0] > out[-1][0]:
                out.append(line)
            pos = max(pos + 1, line[1] + 1 if line[1] >= m.end() else m.end())
        return out


class HyperscanPrefilter:
    """Hyperscan's block mode: every pattern in one pass over the chunk, no copy of it.

    Compiling the ~220 patterns takes ~0.1-0.2 s, as long as the interpreter's start-up, so the
    compiled database is kept in the user's cache directory (keyed by the patterns, Hyperscan's
    version and the machine) and loaded in a few milliseconds next time; any problem with the
    cache only means compiling again."""

    name = "hyperscan"

    def __init__(self, pats: tuple[bytes, ...], *, cache_dir: Path | None = None) -> None:
        import hyperscan

        self._db = _load(pats, cache_dir)
        if self._db is None:
            self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            self._db.compile(
                expressions=list(pats),
                ids=list(range(len(pats))),
                elements=len(pats),
                flags=[hyperscan.HS_FLAG_MULTILINE | hyperscan.HS_FLAG_ALLOWEMPTY] * len(pats),
            )
            _store(self._db, pats, cache_dir)
        self._scratch = hyperscan.Scratch(self._db)  # a loaded database comes without one

    def lines(self, body: Buffer, limit: int) -> list[tuple[int, int]]:
        ends: list[int] = []
        append = ends.append

        def on_match(_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            append(end)

        # the extension reads any buffer (no copy of the chunk); its stub only names str/bytes
        self._db.scan(
            memoryview(body)[:limit],
            match_event_handler=on_match,
            scratch=self._scratch,
        )
        ends.sort()  # hyperscan reports by end offset already; sorting a sorted list is cheap
        return _spans(ends, body, limit)


def _cache_file(pats: tuple[bytes, ...], cache_dir: Path | None) -> Path:
    import hyperscan

    base = cache_dir or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(b"\0".join(pats))
    version = getattr(hyperscan, "__version__", "")
    key.update(f"{version} {platform.machine()} {sys.version_info[:2]}".encode())
    return base / "binguard" / f"doctor-prefilter-{key.hexdigest()[:24]}.hsdb"


def _load(pats: tuple[bytes, ...], cache_dir: Path | None) -> Any:
    import hyperscan

    try:
        return hyperscan.loadb(_cache_file(pats, cache_dir).read_bytes(), hyperscan.HS_MODE_BLOCK)
    except (OSError, RuntimeError, hyperscan.error):  # absent, unreadable, or from another CPU
        return None


def _store(db: Any, pats: tuple[bytes, ...], cache_dir: Path | None) -> None:
    import hyperscan

    path = _cache_file(pats, cache_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(hyperscan.dumpb(db))
        os.replace(tmp, path)  # atomic: a concurrent reader sees the old file or the new one
    except (OSError, RuntimeError, hyperscan.error):  # a read-only home: compile each time
        pass


class EveryLine:
    """Every line is a candidate: the ground truth the prefilters are checked against."""

    name = "every line"

    def lines(self, body: Buffer, limit: int) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        start = 0
        find = body.find
        while start < limit:
            stop = find(b"\n", start, limit)
            if stop < 0:
                stop = limit
            out.append((start, stop))
            start = stop + 1
        return out


_ENGINES: Final[dict[str, Callable[[], Prefilter]]] = {
    "hyperscan": lambda: HyperscanPrefilter(patterns()),
    "re": lambda: RegexPrefilter(patterns()),
    "every line": EveryLine,
}


@cache
def default() -> Prefilter:
    """Hyperscan when its wheel is installed, else the re engine (built once per process)."""
    try:
        return HyperscanPrefilter(patterns())
    except ImportError:
        return RegexPrefilter(patterns())


def engine(name: str) -> Prefilter:
    """A prefilter by name ("hyperscan", "re", "every line"), for tests and the bench."""
    return _ENGINES[name]()
