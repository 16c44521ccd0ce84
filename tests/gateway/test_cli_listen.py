"""`binguard gateway` on an address it cannot listen on: one line, exit status 1, and nothing
left open behind it (no "Unclosed client session" from asyncio)."""

from __future__ import annotations

import socket
import subprocess
import sys


def test_a_taken_port_is_one_line_and_leaves_nothing_open() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "binguard", "gateway", "--listen", f"127.0.0.1:{port}",
             "--upstream", "http://127.0.0.1:9", "--log-level", "ERROR"],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines  # asyncio's "Unclosed client session" would be a second
    assert lines[0].startswith(f"binguard gateway: cannot listen on 127.0.0.1:{port}: ")
    assert "in use" in lines[0]
