"""The WebSocket supervisor against the simulator's WebSocket faces and fault plans.

Every test ends with the ground truth (`/_sim/ws`): the supervisor is connected, carries its
streams, and the sequence it delivered has no hole (diff depth `U`/`u` chain exactly when every
engine step is published at once, `depth_ms=0`).
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from binguard.errors import BinanceError
from binguard.policy.backoff import Backoff
from binguard.sim import FlowConfig, SimConfig, Simulator
from binguard.sim.config import WsConfig
from binguard.sim.faults import FaultPlan
from binguard.transport.ws import Frame, WsLink, WsOptions, WsSupervisor
from binguard.transport.ws_limits import ConnectLimiter

WS = WsConfig(ping_interval_s=0.3, pong_timeout_s=1.0, depth_ms=0, depth_fast_ms=0)
CONFIG = SimConfig(flow=FlowConfig(interval_ms=0), ws=WS)
FAST = WsOptions(
    backoff=Backoff(base=0.02, cap=0.2),
    silence_timeout=0.6,
    healthy_after=0.05,
    handover_timeout=2.0,
    handover_grace=1.0,
    open_timeout=3.0,
    close_timeout=0.3,
)
DEPTH = "btcusdt@depth"


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(CONFIG) as s:
        yield s
        assert s.bugs == []


async def truth(sim: Simulator) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.get(f"{sim.url}/_sim/ws") as r:
        data: dict[str, Any] = await r.json()
        return data


async def until(check: Callable[[], bool], wait_s: float = 5.0) -> None:
    """Poll a condition (bounded), yielding to the loop between checks."""
    deadline = time.monotonic() + wait_s
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def faults(sim: Simulator, *rules: dict[str, Any]) -> None:
    sim.state.faults.load(FaultPlan.from_mapping({"seed": 1, "rules": list(rules)}))


class Recorder:
    """Collects frames and events; checks the depth sequence has no hole and no repeat."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.downs: list[str] = []

    def on_message(self, frame: Frame) -> None:
        self.frames.append(frame)

    def emit(self, kind: str, **data: Any) -> None:
        self.events.append((kind, data))

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [d for k, d in self.events if k == kind]

    def depth(self) -> list[dict[str, Any]]:
        return [f for f in self.frames if f.get("e") == "depthUpdate"]

    def holes(self) -> list[tuple[int, int]]:
        events = self.depth()
        return [(a["u"], b["U"]) for a, b in itertools.pairwise(events) if b["U"] != a["u"] + 1]


async def crowd(sim: Simulator, stop: asyncio.Event, every: float = 0.005) -> None:
    """The market moves while the test runs: one engine step every few milliseconds."""
    while not stop.is_set():
        sim.state.crowd.step()
        await asyncio.sleep(every)


@pytest.fixture
async def moving(sim: Simulator) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(crowd(sim, stop))
    yield
    stop.set()
    await task


def supervisor(sim: Simulator, rec: Recorder, **options: Any) -> WsSupervisor:
    return WsSupervisor(
        f"{sim.ws_url}/ws/{DEPTH}",
        name="test",
        on_message=rec.on_message,
        on_down=rec.downs.append,
        options=FAST if not options else _with(FAST, **options),
        emit=rec.emit,
    )


def _with(options: WsOptions, **changes: Any) -> WsOptions:
    from dataclasses import replace

    return replace(options, **changes)


async def settle(sim: Simulator, rec: Recorder, n: int = 5) -> None:
    """Let a few more events arrive so the last stretch of the sequence is checked too."""
    seen = len(rec.depth())
    await until(lambda: len(rec.depth()) >= seen + n)


async def test_connects_answers_pings_and_stays(sim: Simulator, moving: None) -> None:
    rec = Recorder()
    sup = supervisor(sim, rec)
    sup.start()
    try:
        await sup.wait_connected(3)
        # Past the pong timeout: a socket that did not answer pings would be closed (1008).
        await asyncio.sleep(0)
        started = time.monotonic()
        await until(lambda: time.monotonic() - started > 1.5 and len(rec.depth()) > 20)
        state = await truth(sim)
        assert [c["streams"] for c in state["connections"]] == [[DEPTH]]
        assert state["closed"] == []
        assert sup.stats.connects == 1 and sup.stats.reconnects == 0
        assert rec.holes() == []
    finally:
        await sup.close()
    assert rec.kinds("ws_connect") == [{"name": "test", "serial": 1}]


@pytest.mark.parametrize(
    ("action", "code"),
    [("ws_close", 1000), ("ws_close", 4003), ("ws_reset", None)],
    ids=["close-1000", "close-4003", "reset-no-close-frame"],
)
async def test_drop_reconnects_and_resubscribes(
    sim: Simulator, moving: None, action: str, code: int | None
) -> None:
    rule: dict[str, Any] = {"action": action, "path": "/ws/*", "after_s": 0.2, "times": 2}
    if code:
        rule["code"] = code
    faults(sim, rule)
    rec = Recorder()
    sup = supervisor(sim, rec)
    sup.start()
    try:
        await until(lambda: sup.stats.reconnects >= 2 and sup.connected)
        await settle(sim, rec)
        state = await truth(sim)
        assert [c["streams"] for c in state["connections"]] == [[DEPTH]]
    finally:
        await sup.close()
    downs = rec.kinds("ws_disconnect")
    assert len(downs) >= 2
    if code:
        assert downs[0]["code"] == code and f"code {code}" in downs[0]["reason"]
    else:
        assert downs[0]["code"] == 1006 or "error" in downs[0]["reason"]
    assert len(rec.kinds("ws_reconnect")) == sup.stats.reconnects
    # a plain socket loses what was sent while it was down: the hole is visible, and is the
    # order book's job (tests/connector/test_book*.py)
    assert len(rec.downs) == sup.stats.disconnects


async def test_silence_watchdog_replaces_a_stalled_socket(sim: Simulator, moving: None) -> None:
    faults(sim, {"action": "ws_silence", "path": "/ws/*", "stall_s": 30, "times": 1})
    rec = Recorder()
    sup = supervisor(sim, rec, silence_timeout=0.4, probe_after=0.2)
    sup.start()
    try:
        await until(lambda: sup.stats.reconnects == 1 and sup.connected)
        await settle(sim, rec)
        state = await truth(sim)
        assert len(state["connections"]) == 1
        assert state["connections"][0]["silenced"] is False
    finally:
        await sup.close()
    assert sup.stats.silences == 1
    assert rec.kinds("ws_disconnect")[0]["reason"].startswith("silent for")


async def test_server_shutdown_rotates_without_loss(sim: Simulator, moving: None) -> None:
    faults(
        sim, {"action": "ws_shutdown", "path": "/ws/*", "after_s": 0.3, "grace_s": 0.5, "times": 1}
    )
    rec = Recorder()
    sup = supervisor(sim, rec)
    sup.start()
    try:
        await until(lambda: rec.kinds("ws_switch") != [])
        await settle(sim, rec, 20)
        state = await truth(sim)
        assert [c["streams"] for c in state["connections"]] == [[DEPTH]]
    finally:
        await sup.close()
    assert sup.stats.server_shutdowns == 1 and sup.stats.rotations == 1
    assert sup.stats.reconnects == 0  # the new socket took over before the old one closed
    # The old socket sends nothing after `serverShutdown`: events published before the new
    # socket subscribed reach neither (at most one hole, at the switch; the order book resyncs
    # over it). Nothing is repeated and the order holds.
    assert len(rec.holes()) <= 1
    ids = [f["u"] for f in rec.depth()]
    assert ids == sorted(ids) and len(ids) == len(set(ids))


async def test_proactive_rotation_before_the_lifetime(sim: Simulator, moving: None) -> None:
    rec = Recorder()
    # silence 5 s: a loaded machine's stalled event loop must not pass for a silent socket here
    # (that is the watchdog's subject, tested apart); a rotation is what this test watches
    sup = supervisor(sim, rec, max_lifetime=0.4, lifetime_jitter=0.0, silence_timeout=5.0)
    sup.start()
    try:
        await until(lambda: len(rec.kinds("ws_switch")) >= 3, 8)
        await settle(sim, rec, 20)
    finally:
        await sup.close()
    assert sup.stats.reconnects == 0
    story = (sup.stats, [k for k, _ in rec.events])
    assert rec.holes() == [], story
    ids = [f["u"] for f in rec.depth()]
    assert len(ids) == len(set(ids))
    assert sup.stats.duplicates_dropped > 0  # the overlap really delivered twice, and was deduped


async def test_policy_close_escalates_backoff(sim: Simulator) -> None:
    faults(sim, {"action": "ws_close", "path": "/ws/*", "code": 1008, "times": 4})
    rec = Recorder()
    sup = supervisor(sim, rec)
    sup.start()
    try:
        await until(lambda: sup.stats.reconnects >= 4, 10)
    finally:
        await sup.close()
    attempts = [e["attempt"] for e in rec.kinds("ws_reconnect")]
    assert attempts[:4] == [1, 2, 3, 4]  # never the tight loop of hummingbot #7044


async def test_never_gives_up_until_the_server_exists() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rec = Recorder()
    sup = WsSupervisor(
        f"ws://127.0.0.1:{port}/ws/{DEPTH}",
        on_message=rec.on_message,
        options=FAST,
        emit=rec.emit,
    )
    sup.start()
    try:
        await until(lambda: sup.stats.connect_failures >= 8)
        failures = rec.kinds("ws_connect_failed")
        assert {f["error"] for f in failures} == {"ConnectFailedError"}  # typed, via classify
        async with Simulator(CONFIG, port=port):
            await sup.wait_connected(5)
            assert sup.connected
            await sup.close()
    finally:
        await sup.close()


async def test_refused_handshake_waits_retry_after() -> None:
    config = CONFIG.with_(ws=WsConfig(max_connections=1, connection_window_s=1))
    async with Simulator(config) as sim:
        rec = Recorder()
        first = supervisor(sim, rec)
        second = supervisor(sim, rec)
        first.start()
        await first.wait_connected(3)
        second.start()
        try:
            await second.wait_connected(5)
            failed = rec.kinds("ws_connect_failed")
            assert failed and failed[0]["http_status"] == 429
            assert failed[0]["error"] == "RateLimitedError"
            assert second.stats.connect_failures <= 2  # waited as told instead of hammering
        finally:
            await first.close()
            await second.close()


async def test_outgoing_messages_stay_under_five_per_second() -> None:
    # Binance's ping rhythm (rare pings): the test's fast pings would fill the window with pongs.
    async with Simulator(CONFIG.with_(ws=WsConfig(ping_interval_s=20))) as sim:
        await _subscribe_one_by_one(sim)


async def _subscribe_one_by_one(sim: Simulator) -> None:
    names = [f"{s}@{k}" for s in ("btcusdt", "ethusdt", "ethbtc") for k in ("trade", "bookTicker")]
    names += ["btcusdt@depth@100ms", "ethusdt@depth@100ms"]

    async def subscribe_one_by_one(link: WsLink) -> None:
        for name in names:
            reply = await link.request({"method": "SUBSCRIBE", "params": [name]})
            assert reply["result"] is None

    sup = WsSupervisor(f"{sim.ws_url}/stream", on_open=subscribe_one_by_one, options=FAST)
    sup.start()
    try:
        await sup.wait_connected(5)
        state = await truth(sim)
        assert sorted(state["connections"][0]["streams"]) == sorted(names)
        assert state["closed"] == []  # 8 messages in a row and not closed for "too many"
        link = sup.link
        assert link is not None and link.window is not None and link.window.waits > 0
    finally:
        await sup.close()


async def test_request_on_a_dead_socket_is_typed(sim: Simulator) -> None:
    sup = WsSupervisor(f"{sim.ws_url}/ws-api/v3", options=_with(FAST, max_outgoing_per_s=None))
    sup.start()
    try:
        reply = await sup.request({"method": "time"})
        assert reply["status"] == 200 and "serverTime" in reply["result"]
        link = sup.link
        assert link is not None
        link.abort("test")
        with pytest.raises(BinanceError):
            await link.request({"method": "time"})
    finally:
        await sup.close()


async def test_connect_limiter_paces_attempts() -> None:
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = ConnectLimiter(3, 10.0, now=lambda: now[0], sleep=sleep)
    for _ in range(3):
        await limiter.acquire()
    assert slept == []
    await limiter.acquire()
    assert slept == [10.0]
    limiter.pause(4.0)
    await limiter.acquire()
    assert slept[-1] == pytest.approx(4.0)
