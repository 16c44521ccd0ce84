"""`binguard gateway --dashboard`: the view of a known state (no terminal needed), a Board read
from a real gateway, and the flag through the real command."""

from __future__ import annotations

import asyncio
import io
import signal
from collections import Counter

import aiohttp
from rich.console import Console
from tests.sim.helpers import Api

from binguard.gateway import Gateway
from binguard.gateway.dashboard import Board, View, take
from binguard.sim import Simulator

from .conftest import gateway_process, load_faults


def _text(view: View, board: Board, now: float) -> str:
    console = Console(file=io.StringIO(), width=80, record=True, color_system=None)
    console.print(view.render(board, now=now))
    return console.export_text()


def test_the_view_draws_a_known_state() -> None:
    board = Board(
        upstream="http://127.0.0.1:9000",
        uptime_s=42.0,
        requests=100,
        statuses=Counter({"200": 97, "503": 2, "ServerDisconnectedError": 1}),
        local=Counter({"cache": 30, "refused": 2, "banned": 5}),
        queued=7,
        waits=100,
        wait_s=1.5,
        latency_n=100,
        latency_s=0.25,
        hits=30,
        misses=Counter({"not_ready": 6, "not_held": 3, "expired": 1}),
        windows=[("REQUEST_WEIGHT:1M", 240, 5700), ("ORDERS:10S", 3, 47)],
        banned_left_s=4.5,
        bots=3,
        ws_api_bots=1,
        upstream_up=True,
        reconnects=2,
        synced=True,
        offset_ms=-1.25,
        in_flight=4,
    )
    view = View()
    _text(view, board, now=0.0)
    board.requests += 20
    board.windows = [("REQUEST_WEIGHT:1M", 120, 5700), ("ORDERS:10S", 0, 47)]
    text = _text(view, board, now=2.0)  # 20 requests in 2 s
    lines = text.splitlines()
    assert max(map(len, lines)) <= 80 and lines[0].startswith("╭─ binguard gateway")
    for shown in (
        "ready, up 42 s, 4 in flight",
        "http://127.0.0.1:9000, clock -1.2 ms",
        "10.0/s upstream, 120 in all",
        "200×97, 503×2, ServerDisconnectedError×1",
        "weight 1M         120/5700 per 1M (2 %), fullest 240",
        "orders 10S        0/47 per 10S (0 %), fullest 3",
        "BANNED 4.5 s more: nothing is sent upstream",
        "cache×30, banned×5, refused×2",
        "7 held for budget; mean wait 15.0 ms over 100",
        "hits 30 (75 %); misses: not_ready×6, not_held×3, expired×1",
        "upstream mean 2.5 ms over 100 round trips",
        "upstream up, reconnects 2; bots: streams 3, ws-api 1",
    ):
        assert shown in text, shown
    board.banned_left_s, board.paused_left_s, board.draining = None, 0.5, True
    text = _text(view, board, now=2.5)
    assert "paused (429) 0.5 s more" in text and "draining" in text


async def test_a_board_is_read_from_a_real_gateway(
    sim: Simulator, gateway: Gateway, gw_api: Api
) -> None:
    assert (await gw_api.get("/api/v3/ping")).status == 200
    load_faults(sim, {"action": "http_418", "path": "/api/v3/time", "ban_s": 5, "times": 1})
    assert (await gw_api.get("/api/v3/time")).status == 418
    assert (await gw_api.get("/api/v3/ping")).status == 418  # answered locally
    board = await take(gateway)
    assert board.statuses["200"] >= 1 and board.statuses["418"] == 1
    assert board.local["banned"] == 1 and board.banned_left_s is not None
    assert 0 < board.banned_left_s <= 6
    assert {key for key, _, _ in board.windows} >= {"REQUEST_WEIGHT:1M", "ORDERS:10S"}
    assert board.synced and board.upstream == sim.url and not board.draining
    assert "BANNED" in _text(View(), board, now=0.0)


async def test_the_dashboard_flag_runs_the_view(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    """Not a terminal (a pipe): the view is printed once as the gateway stops."""
    proc, url = await gateway_process(sim.url, "--dashboard")
    assert (await Api(session, url).get("/api/v3/ping")).status == 200
    proc.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    text = out.decode()
    assert "binguard gateway" in text and "local answers" in text
    assert "200×" in text  # the ping (and the start-up's reads) were counted
