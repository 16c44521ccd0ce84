"""Which lines the scanner hands to the recognizer: every line that could report an error, fast.

The recognizer (recognize()) only accepts a line through a few gates, and each gate needs some text
on the line. The prefilter's patterns are those gates' own patterns, taken from where they live,
so a line the recognizer would accept is never skipped (the bench checks this on 200 MB, and
tests/doctor/test_prefilter.py on every sample and hostile line):

- the recognizer's own gates (_recognize.GATES): a code (`code=-1021`, `[-1021`, `(400, -1021,`,
  a bare `-1021`), an HTTP status, the new SDK's class names, the handler-crash line;
- every catalog message's fixed opening (has_catalog_message()'s index);
- the core's network vocabulary (classify_network()'s patterns: ECONNRESET, timed out, ...).

Two engines run the same patterns. Hyperscan (a PyPI wheel on x86-64) scans all ~260 patterns in
one pass at several GB/s; without it, CPython's `re` runs one alternation of them, correct but
several times slower. Matches are reported by end offset; the line around each one is a candidate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from typing import Final, Protocol

from binguard.errors import catalog
from binguard.errors._classify import _NETWORK

from ._recognize import GATES

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
    out += [pattern.pattern for pattern, _ in _NETWORK]
    openings = {o for group in catalog().openings_by_word().values() for o, _, _ in group}
    out += [re.escape(o) for o in sorted(openings)]
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
    """Hyperscan's block mode: every pattern in one pass over the chunk, no copy of it."""

    name = "hyperscan"

    def __init__(self, pats: tuple[bytes, ...]) -> None:
        import hyperscan

        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(
            expressions=list(pats),
            ids=list(range(len(pats))),
            elements=len(pats),
            flags=[hyperscan.HS_FLAG_MULTILINE | hyperscan.HS_FLAG_ALLOWEMPTY] * len(pats),
        )

    def lines(self, body: Buffer, limit: int) -> list[tuple[int, int]]:
        ends: list[int] = []
        append = ends.append

        def on_match(_id: int, _start: int, end: int, _flags: int, _ctx: object) -> None:
            append(end)

        # the extension reads any buffer (no copy of the chunk); its stub only names str/bytes
        self._db.scan(memoryview(body)[:limit], match_event_handler=on_match)  # type: ignore[type-var]
        ends.sort()  # hyperscan reports by end offset already; sorting a sorted list is cheap
        return _spans(ends, body, limit)


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
