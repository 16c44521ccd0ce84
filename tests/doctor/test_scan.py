"""The scanner's mechanics: chunk boundaries, line numbers, inherited timestamps, odd line endings."""

from __future__ import annotations

import io

import pytest

from binguard.doctor import InputReport, Scanner
from binguard.doctor._timestamps import find_stamp

ERR = '{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}'


def _scan(data: bytes, chunk_size: int) -> tuple[Scanner, InputReport]:
    scanner = Scanner(chunk_size=chunk_size)
    report = InputReport("mem")
    scanner.scan(io.BufferedReader(io.BytesIO(data)), report, 0)
    return scanner, report


def _log(n: int) -> bytes:
    lines = []
    for i in range(n):
        ts = f"2024-03-01 00:{i // 60 % 60:02d}:{i % 60:02d},000"
        if i % 7 == 3:
            lines.append(f"{ts} ERROR bot: failed")
            lines.append(f"OSError: HTTP status is 400. Error: {ERR}")
        else:
            lines.append(f"{ts} INFO bot: tick {i} filler filler filler")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("chunk_size", [16, 97, 1000, 1 << 20])
def test_same_events_whatever_the_chunk_size(chunk_size: int) -> None:
    data = _log(300)
    scanner, report = _scan(data, chunk_size)
    expected_lines = [
        n for n, line in enumerate(data.decode().splitlines(), 1) if line.startswith("OSError")
    ]
    assert [e.line for e in scanner.events] == expected_lines
    assert report.lines == data.count(b"\n")
    assert report.error_lines == len(expected_lines)
    # each traceback line inherits the stamp of the line above it
    for e in scanner.events:
        header = data.decode().splitlines()[e.line - 2]
        assert e.time == find_stamp(header.encode())[0]


def test_no_trailing_newline_crlf_and_blank_lines() -> None:
    data = f"\r\n\r\n2024-03-01 00:00:00 x {ERR}\r\nplain line\r\n{ERR}".encode()
    scanner, report = _scan(data, 8)
    assert [e.line for e in scanner.events] == [3, 5]
    assert [e.time for e in scanner.events] == [1709251200.0, 1709251200.0]
    assert report.lines == 5


def test_a_line_longer_than_a_chunk() -> None:
    data = b"x" * 5000 + b" " + ERR.encode() + b"\n" + ERR.encode() + b"\n"
    scanner, _ = _scan(data, 256)
    assert [e.line for e in scanner.events] == [1, 2]


def test_stamp_carries_across_chunks() -> None:
    data = b"2024-03-01 05:00:00 start\n" + b"filler\n" * 200 + ERR.encode() + b"\n"
    scanner, report = _scan(data, 64)
    assert scanner.events[0].time == 1709269200.0
    assert report.first_time == report.last_time == 1709269200.0


@pytest.mark.parametrize(
    ("line", "epoch"),
    [
        (b"2024-01-02 03:04:05,123 - 1 - x", 1704164645.123),
        (b"2024-01-02T03:04:05.5Z x", 1704164645.5),
        (b"2024-01-02T05:04:05+02:00 x", 1704164645.0),
        (b"2024-01-02T04:04:05+0100 x", 1704164645.0),
        (b"2024-01-02 03:04:05 UTC x", 1704164645.0),
        (b"[2024-01-02 03:04:05] x", 1704164645.0),
        (b"ERROR 2024-01-02 03:04:05 x", 1704164645.0),
        (b'{"ts": 1704164645123, "msg": 1}', 1704164645.123),
        (b'{"time":"2024-01-02T03:04:05.000Z"}', 1704164645.0),
        (b'{"created": 1704164645.25}', 1704164645.25),
        (b"1704164645123 ERROR x", 1704164645.123),
        (b"  File x", None),
        (b"2024-13-02 03:04:05 not a date", None),
        (b"no stamp at all", None),
    ],
)
def test_timestamp_formats(line: bytes, epoch: float | None) -> None:
    t = find_stamp(line)[0]
    assert t == (pytest.approx(epoch) if epoch is not None else None)
