"""Rotating a request-only socket (WebSocket API for orders): no data to overlap, no waiting.

A WebSocket API socket used only for requests never receives unsolicited data, so the stream
handover rule (switch once the new socket's first data message has been delivered by the old one)
would wait for `handover_timeout` on every rotation. Here `handover_timeout` is 30 s: rotations
every 0.3 s only complete in time if the new socket is switched to once it answers. Requests keep
working across them, and an answer still owed on the replaced socket arrives (it is drained, not
aborted). Ground truth: the simulator's `/_sim/ws` (connections open and closed).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

import aiohttp
import pytest

from binguard.errors import BinanceError
from binguard.policy.backoff import Backoff
from binguard.sim import FlowConfig, SimConfig, Simulator
from binguard.sim.config import WsConfig
from binguard.transport.signing import load_signer, ws_payload
from binguard.transport.ws import Frame, WsLink, WsOptions, WsSupervisor

CONFIG = SimConfig(flow=FlowConfig(interval_ms=0), ws=WsConfig(ping_interval_s=0.3))
OPTIONS = WsOptions(
    backoff=Backoff(base=0.02, cap=0.2),
    silence_timeout=2.0,
    healthy_after=0.05,
    handover_timeout=30.0,  # a rotation waiting for data would take this long
    handover_grace=1.0,
    open_timeout=3.0,
    close_timeout=0.3,
    request_timeout=3.0,
    max_outgoing_per_s=None,  # the WebSocket API limits by weight
)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(CONFIG) as s:
        yield s
        assert s.bugs == []


async def until(check: Callable[[], bool], wait_s: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + wait_s
    while not check():
        assert time.monotonic() < deadline, f"not reached in {wait_s} s: {what}"
        await asyncio.sleep(0.01)


async def api_connections(sim: Simulator) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.get(f"{sim.url}/_sim/ws") as r:
        state = await r.json()
    return [c for c in state["connections"] if c["kind"] == "api"]


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, kind: str, **data: Any) -> None:
        self.seen.append((kind, data))

    def kinds(self, kind: str) -> list[dict[str, Any]]:
        return [d for k, d in self.seen if k == kind]


def test_request_only_is_inferred_from_the_absence_of_on_message() -> None:
    def on_message(frame: Frame) -> None:
        pass

    assert WsSupervisor("ws://127.0.0.1:1/ws-api/v3").request_only is True
    assert WsSupervisor("ws://127.0.0.1:1/ws", on_message=on_message).request_only is False
    forced = WsSupervisor("ws://127.0.0.1:1/ws", on_message=on_message, request_only=True)
    assert forced.request_only is True


async def test_rotations_complete_without_data_and_requests_keep_working(sim: Simulator) -> None:
    events = Events()
    downs: list[str] = []
    opened: list[int] = []

    async def on_open(link: WsLink) -> None:
        # Stands for session.logon: the new socket's own request, answered before it is used.
        reply = await link.request({"method": "time"})
        assert reply["status"] == 200
        opened.append(link.serial)

    sup = WsSupervisor(
        f"{sim.ws_url}/ws-api/v3",
        name="orders",
        on_open=on_open,
        on_down=downs.append,
        options=replace(OPTIONS, max_lifetime=0.3, lifetime_jitter=0.0),
        emit=events,
    )
    assert sup.request_only
    answered = 0
    failures: list[BaseException] = []
    stop = asyncio.Event()

    async def keep_asking() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                reply = await sup.request({"method": "time"})
            except BinanceError as err:
                failures.append(err)
                continue
            assert reply["status"] == 200
            answered += 1
            await asyncio.sleep(0.005)

    sup.start()
    asker: asyncio.Task[None] | None = None
    try:
        await sup.wait_connected(3)
        asker = asyncio.create_task(keep_asking())
        started = time.monotonic()
        await until(lambda: len(events.kinds("ws_switch")) >= 4, 6, "four rotations")
        elapsed = time.monotonic() - started
        stop.set()
        await asker
        # Each replaced socket is closed (rotations go on meanwhile: allow a moment of two).
        deadline = time.monotonic() + 3
        while len(live := await api_connections(sim)) != 1:
            assert time.monotonic() < deadline, live
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        if asker is not None:
            await asker
        await sup.close()
    assert elapsed < OPTIONS.handover_timeout / 3  # never waited for a data message
    assert failures == []  # no request lost to a rotation
    assert answered > 10
    stats = sup.stats
    assert stats.rotation_failures == 0 and stats.reconnects == 0 and stats.disconnects == 0
    assert downs == [] and events.kinds("ws_handover_gap") == []  # a rotation is no gap
    switches = events.kinds("ws_switch")
    assert [s["new"] for s in switches] == opened[1 : len(switches) + 1]


async def test_an_answer_owed_on_the_replaced_socket_still_arrives(sim: Simulator) -> None:
    """A request sent on the old socket just before the switch is answered there: the replaced
    socket is closed only once it has no answer pending (or after `request_timeout`)."""
    key = sim.config.demo.keys[0]  # HMAC
    assert key.secret is not None
    signer = load_signer(secret=key.secret)
    events = Events()
    sup = WsSupervisor(f"{sim.ws_url}/ws-api/v3", options=OPTIONS, emit=events)
    sup.start()
    try:
        await sup.wait_connected(3)
        old = sup.link
        assert old is not None
        params: dict[str, object] = {
            "apiKey": key.api_key,
            "symbol": "BTCUSDT",
            "orderId": 999_999,
            "timestamp": sim.state.clock.now_ms(),
        }
        params["signature"] = unquote(signer.sign(ws_payload(params)))
        sim.state.latency_ms = 600  # the matching engine is slow: the answer is still owed
        asked = asyncio.create_task(old.request({"method": "order.status", "params": params}))
        await until(lambda: bool(old.pending), what="request sent on the old socket")
        sup.rotate()
        await until(lambda: events.kinds("ws_switch") != [], 3, "switched")
        assert not asked.done()  # the switch came first: the old socket owes the answer
        assert sup.link is not old and old.planned
        reply = await asked
        # The answer itself (order unknown), not a ConnectionDroppedError.
        assert reply["status"] == 400 and reply["error"]["code"] == -2013
        await until(lambda: not old.alive, 3, "the drained socket is closed")
        await until(lambda: not sup._reaping, 3, "closed")
        assert len(await api_connections(sim)) == 1
        sim.state.latency_ms = 0
        assert (await sup.request({"method": "ping"}))["status"] == 200
    finally:
        await sup.close()
    assert sup.stats.rotations == 1 and sup.stats.rotation_failures == 0
