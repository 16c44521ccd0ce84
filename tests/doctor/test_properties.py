"""Whatever the input, the doctor neither crashes nor invents a finding in silence."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from binguard.doctor import BinaryInputError, InputReport, Scanner, recognize
from binguard.doctor._diagnose import diagnose
from binguard.doctor._findings import build_findings

_FRAGMENTS = st.sampled_from(
    [
        "code=-1021",
        '{"code":-1003,"msg":"',
        "IP banned until ",
        "Filter failure: ",
        "ECONNRESET",
        "TimeoutError",
        "object has no attribute 'code'",
        "HTTP status is 418",
        "2024-03-01 00:00:00",
        '{"ts": 1709251200000, ',
        "(400, -2010, '",
        "[-2013 NO_SUCH_ORDER] ",
        "BadRequestError: ",
        "Duplicate order sent.",
        "\n",
        "\r",
        " ",
        "xception",
        "rror",
        "imeout",
        "\x00",
        "{",
        "}",
    ]
)
_TEXT = st.lists(st.one_of(_FRAGMENTS, st.text(max_size=30)), max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_recognize_is_total_on_text(text: str) -> None:
    hit = recognize(text)
    if hit is not None:
        assert hit.key.title
        assert len(hit.text) <= 400


def _scan(data: bytes, chunk: int) -> Scanner:
    scanner = Scanner(chunk_size=chunk)
    report = InputReport("mem")
    try:
        scanner.scan(io.BufferedReader(io.BytesIO(data)), report, 0)
    except BinaryInputError:  # the only error allowed, and only for NUL bytes
        assert b"\x00" in data
        return scanner
    assert report.lines == data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
    findings = build_findings(scanner.events, ["mem"])
    assert sum(f.count for f in findings) == len(scanner.events)
    diagnose(scanner.events, [report])
    return scanner


@settings(max_examples=200, deadline=None)
@given(_TEXT, st.integers(min_value=8, max_value=300))
def test_scan_never_crashes_on_text(text: str, chunk: int) -> None:
    _scan(text.encode("utf-8", "surrogatepass"), chunk)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.integers(min_value=8, max_value=300))
def test_scan_never_crashes_on_bytes(data: bytes, chunk: int) -> None:
    _scan(data, chunk)
