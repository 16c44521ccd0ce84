"""Two timing rules of the simulator's WebSocket faces that a loaded machine used to break.

- A `serverShutdown` announces a close after a grace; during the grace the connection is served
  as usual (web-socket-api.md: "serverShutdown ... you should establish a new connection"): a
  request sent during the grace is answered, then the close (1001) comes.
- The pong deadline (web-socket-streams.md: a connection that does not answer pings is
  disconnected) counts only time the server was running: when the simulator's own event loop
  stalls past the deadline, a pong that arrived meanwhile is read before anyone is blamed.
"""

from __future__ import annotations

import json
import time

import aiohttp

from binguard.sim import SimConfig, Simulator
from binguard.sim.config import FlowConfig, WsConfig

from .helpers import Api, WsApi, recv_close


async def test_requests_during_the_shutdown_grace_are_answered(
    wsim: Simulator, session: aiohttp.ClientSession, wapi: Api
) -> None:
    plan = {"seed": 1, "rules": [
        {"action": "ws_shutdown", "path": "/ws-api/v3", "method": "ping", "grace_s": 0.5}]}  # fmt: skip
    await wapi.admin("faults", "POST", json.dumps(plan))
    key = wsim.config.demo.keys[0]
    client = WsApi(await session.ws_connect(wsim.ws_url + "/ws-api/v3"), key.api_key, key.secret)
    async with client.ws:
        await client.send("ping")  # fires the fault: serverShutdown, then a 0.5 s grace
        shutdown = await client.ws.receive_json(timeout=3)
        while "event" not in shutdown:
            shutdown = await client.ws.receive_json(timeout=3)
        assert shutdown["event"]["e"] == "serverShutdown"
        later = await client.send("time")  # sent during the grace
        answers: dict[int, dict[str, object]] = {}
        while later not in answers:
            message = await client.ws.receive_json(timeout=3)
            if "id" in message:
                answers[int(message["id"])] = message
        assert answers[later]["status"] == 200, answers
        assert await recv_close(client.ws) == 1001


async def test_a_stalled_server_loop_does_not_blame_the_client_for_a_late_pong() -> None:
    config = SimConfig(
        flow=FlowConfig(interval_ms=0), ws=WsConfig(ping_interval_s=0.2, pong_timeout_s=0.5)
    )
    async with (
        Simulator(config) as sim,
        aiohttp.ClientSession() as session,
        session.ws_connect(sim.ws_url + "/ws/btcusdt@trade", autoping=False) as ws,
    ):
        frame = await ws.receive(timeout=3)
        assert frame.type == aiohttp.WSMsgType.PING
        await ws.pong(frame.data)  # answered at once: the pong is on its way to the server ...
        time.sleep(0.8)  # noqa: ASYNC251  # ... the shared loop stalls past the deadline (the fault)
        answered, until = 0, time.monotonic() + 0.6
        while time.monotonic() < until:  # keep answering pings for a while after the stall
            frame = await ws.receive(timeout=1)
            assert frame.type == aiohttp.WSMsgType.PING, (frame.type, ws.close_code)
            await ws.pong(frame.data)
            answered += 1
        assert answered >= 1 and not ws.closed
        truth = await (await session.get(sim.url + "/_sim/ws")).json()
        assert truth["closed"] == [], truth["closed"]
