"""Inputs the doctor must not hang on or misreport: FIFOs, devices, empty directories, idle stdin.

Each case runs the real CLI in a subprocess with a timeout, so a regression hangs the child, not the
suite: the timeout turns it into a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import DATA

_BOUND = 30  # s: far above the doctor's real time (< 2 s), far below a hang's


def _doctor(*args: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "binguard", "doctor", "--json", *args],
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=_BOUND,
        check=False,
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_named_directly_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.log"
    os.mkfifo(fifo)  # nobody ever writes: opening it for reading would block forever
    out = _doctor(str(fifo), str(DATA / "raw.txt"))
    assert out.returncode == 1 | 4
    assert out.stderr.splitlines() == [
        f"binguard doctor: cannot read {fifo}: a FIFO (named pipe), not a regular file: skipped"
    ]
    doc = json.loads(out.stdout)
    assert [i["error"] for i in doc["inputs"]][1] is None
    assert doc["summary"]["error_lines"] == 4  # raw.txt was still read


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_found_in_a_directory_is_skipped(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    os.mkfifo(logs / "a-pipe")
    (logs / "bot.log").write_bytes((DATA / "raw.txt").read_bytes())
    out = _doctor(str(logs))
    assert out.returncode == 1  # a FIFO inside a directory is passed over, not a failure
    assert out.stderr.splitlines() == [
        f"binguard doctor: skipped {logs / 'a-pipe'}: a FIFO (named pipe), not a regular file: "
        "skipped"
    ]
    doc = json.loads(out.stdout)
    assert [Path(i["path"]).name for i in doc["inputs"]] == ["a-pipe", "bot.log"]
    assert doc["inputs"][0]["skipped"] and doc["inputs"][0]["error"] is None


def test_device_is_refused() -> None:
    out = _doctor("/dev/zero")  # would never end if read
    assert out.returncode == 4
    assert "/dev/zero: a device, not a regular file" in out.stderr


def test_idle_stdin_pipe_gives_up_after_the_read_timeout() -> None:
    """A pipe whose writer stays open but silent: bounded by --read-timeout."""
    r, w = os.pipe()
    try:
        out = _doctor("--read-timeout", "0.5", "-", stdin=r)
    finally:
        os.close(r)
        os.close(w)
    assert out.returncode == 4
    assert (
        out.stderr.strip() == "binguard doctor: cannot read -: no data for 0.5 s; stopped reading"
    )


def test_empty_directory_is_an_input_failure(tmp_path: Path) -> None:
    out = _doctor(str(tmp_path))
    assert out.returncode == 4
    assert out.stderr.strip() == (
        f"binguard doctor: cannot read {tmp_path}: empty directory: no log file in it"
    )


@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_bad_read_timeout_is_one_line_and_status_2(value: str) -> None:
    out = _doctor("--read-timeout", value, str(DATA / "raw.txt"))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1].startswith("binguard doctor: error: argument")
    assert "Traceback" not in out.stderr
