"""The prefilter never skips a line the recognizer accepts; both engines agree.

The claim behind the doctor's speed: lines that no trigger matches are never decoded. Checked here
by running the scanner with EveryLine (every line recognized, the ground truth) against the default
prefilter and against each engine, on every sample log, the seeds, hand-written lines without the
word "code", and generated lines mixing the recognizer's vocabulary. The bench repeats the check on
its 200 MB log.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binguard.doctor import InputReport, Scanner, recognize
from binguard.doctor._prefilter import EveryLine, Prefilter, engine
from binguard.errors import Family, catalog

from .helpers import DATA

SEEDS = Path(__file__).resolve().parents[3] / "shared" / "seeds"


try:
    import hyperscan  # noqa: F401

    ENGINES = ["re", "hyperscan"]
except ImportError:  # a platform without a wheel: the re engine is the one in use
    ENGINES = ["re"]

NO_CODE_WORD = [
    "2024-03-01 00:00:01 WARNING 429 Too Many Requests: GET /api/v3/depth",
    "2024-03-01 00:00:02 ERROR mybot.rest HTTP 503 Service Unavailable: POST /api/v3/order",
    "2024-03-01 00:00:03 WARNING mybot.rest GET /api/v3/account -> 502 Bad Gateway",
    "2024-03-01 00:00:04 WARNING binance -1021: Timestamp for this request was 1000ms ahead of "
    "the server's time.",
    "2024-03-01 00:00:05 WARNING mybot rate limited (-1003), backing off 30 s",
    "2024-03-01 00:00:06 INFO order refused: Account has insufficient balance for requested action.",
    "2024-03-01 00:00:07 WARN socket: Connection reset by peer",
    "2024-03-01 00:00:08 WARN GET /api/v3/time timed out after 10 s",
]
NEAR_MISSES = [
    "2024-03-01 00:00:09 INFO mybot.clock offset=-1042ms rtt=12ms status=200",
    "2024-03-01 00:00:10 INFO order sell-ETHUSDT-1021 filled",
    "2024-03-01 00:00:11 INFO period 2010-2013 loaded",
]


def _events(
    data: bytes, prefilter: Prefilter | None, chunk: int = 1 << 20
) -> list[tuple[int, str]]:
    scanner = Scanner(chunk_size=chunk, prefilter=prefilter)
    scanner.scan(io.BufferedReader(io.BytesIO(data)), InputReport("mem"), 0)
    return [(e.line, e.hit.key.title) for e in scanner.events]


def _corpus() -> list[bytes]:
    files = sorted(DATA.iterdir()) + (sorted(SEEDS.iterdir()) if SEEDS.is_dir() else [])
    return [p.read_bytes() for p in files] + [
        ("\n".join(NO_CODE_WORD + NEAR_MISSES) + "\n").encode()
    ]


@pytest.mark.parametrize("name", ENGINES)
def test_no_line_the_recognizer_accepts_is_skipped(name: str) -> None:
    pf = engine(name)
    for data in _corpus():
        assert _events(data, pf) == _events(data, EveryLine())


def test_lines_without_the_word_code_are_error_lines() -> None:
    for line in NO_CODE_WORD:
        assert recognize(line) is not None, line
    for line in NEAR_MISSES:
        assert recognize(line) is None, line
    bare = recognize(NO_CODE_WORD[3])
    assert bare is not None and bare.key.code == -1021
    assert "ahead" in bare.matched
    status = recognize(NO_CODE_WORD[0])
    assert status is not None and status.key.family is Family.RATE_LIMITED
    backoff = recognize(NO_CODE_WORD[4])
    assert backoff is not None and backoff.key.code == -1003


_WORDS = sorted(
    {o for group in catalog().openings_by_word().values() for o, _, _ in group}
    | {"-1021", "-1003", " -2010 ", "code=-1013", "429 Too Many Requests", "HTTP 418", "5XX"}
    | {"ECONNRESET", "timed out", "Connection aborted", "ConnectionError", "Broken pipe"}
    | {"'TimeoutError' object has no attribute 'code'", "BadRequestError: ", "[-2013 ", "(400, -"}
)
_LINE = st.lists(
    st.one_of(st.sampled_from(_WORDS), st.text(alphabet=" -=:.,()[]{}'\"01234589abz", max_size=8)),
    max_size=8,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, min_size=1, max_size=6))
def test_generated_lines_agree_with_the_ground_truth(lines: list[str]) -> None:
    data = ("\n".join(lines) + "\n").encode()
    truth = _events(data, EveryLine(), chunk=64)
    for name in ENGINES:
        assert _events(data, engine(name), chunk=64) == truth


@pytest.mark.skipif("hyperscan" not in ENGINES, reason="no Hyperscan wheel here")
def test_compiled_database_is_cached_and_a_bad_cache_is_recompiled(tmp_path: Path) -> None:
    from binguard.doctor._prefilter import HyperscanPrefilter, patterns

    data = ("\n".join(NO_CODE_WORD + NEAR_MISSES) + "\n").encode()
    first = HyperscanPrefilter(patterns(), cache_dir=tmp_path)
    (cached,) = (tmp_path / "binguard").iterdir()
    loaded = HyperscanPrefilter(patterns(), cache_dir=tmp_path)
    cached.write_bytes(b"not a database")
    rebuilt = HyperscanPrefilter(patterns(), cache_dir=tmp_path)
    expected = first.lines(data, len(data))
    assert len(expected) == len(NO_CODE_WORD)
    assert loaded.lines(data, len(data)) == rebuilt.lines(data, len(data)) == expected
    assert cached.read_bytes() != b"not a database"  # written again after the bad read
