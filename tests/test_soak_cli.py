"""`python -m soak` answers bad arguments with one line and exit status 2 (the soak itself runs
in `make soak`, never in the suite)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--kills", "0"], "must be positive"),
        (["--orders-rest", "many"], "not a whole number"),
        (["--parts", "orders-rest", "bogus"], "invalid choice"),
        (["--no-such-flag"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_get_one_line_and_status_2(argv: list[str], says: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "soak", *argv], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("soak: ") and says in lines[0], done.stderr
