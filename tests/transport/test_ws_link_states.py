"""A WebSocket link's lifecycle (transport/ws_link.py) as a guarded state machine. The link is
built on a small fake host and no socket (a fake for this one layer: only its state is used)."""

from __future__ import annotations

from typing import cast

import aiohttp
import pytest

from binguard.transport.ws_link import (
    TRANSITIONS,
    LinkState,
    LinkStateError,
    WsLink,
    WsOptions,
    WsStats,
)


class FakeHost:
    """A fake supervisor: options and stats only (no request, no frame reaches it)."""

    options = WsOptions()
    stats = WsStats()

    def next_request_id(self) -> int:
        return 1

    def on_text(self, link: WsLink, raw: str) -> None:
        pass


def link(*, buffering: bool = False) -> WsLink:
    no_socket = cast(aiohttp.ClientWebSocketResponse, object())
    return WsLink(FakeHost(), no_socket, 1, "ws://127.0.0.1/x", buffering=buffering)


async def test_a_fresh_link_delivers_while_opening_then_goes_live() -> None:
    lk = link()
    assert lk.state is LinkState.OPENING and lk.delivering and not lk.buffering
    lk.move(LinkState.LIVE)
    assert lk.delivering
    lk.move(LinkState.DRAINING)
    assert not lk.delivering and lk.alive
    lk.end("replaced")
    assert lk.state is LinkState.ENDED and not lk.alive and not lk.delivering


async def test_a_rotation_link_buffers_until_switched() -> None:
    lk = link(buffering=True)
    assert lk.buffering and not lk.delivering
    lk.move(LinkState.LIVE)
    assert not lk.buffering and lk.delivering


async def test_an_ended_link_keeps_the_phase_it_ended_in() -> None:
    """An ended buffering link still buffers: nothing reaches the application from it."""
    lk = link(buffering=True)
    lk.end("failed during handover")
    assert lk.buffering and not lk.delivering
    lk.end("again")  # idempotent
    assert lk.done.result() == "failed during handover"


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([LinkState.LIVE], LinkState.BUFFERING),
        ([LinkState.LIVE, LinkState.DRAINING], LinkState.LIVE),
        ([LinkState.LIVE], LinkState.OPENING),
        ([], LinkState.DRAINING),  # an opening link was never live: nothing to drain
    ],
)
async def test_illegal_moves_raise(path: list[LinkState], illegal: LinkState) -> None:
    lk = link()
    for state in path:
        lk.move(state)
    before = lk.state
    with pytest.raises(LinkStateError):
        lk.move(illegal)
    assert lk.state is before


async def test_nothing_leaves_ended() -> None:
    lk = link()
    lk.end("closed")
    with pytest.raises(LinkStateError):
        lk.move(LinkState.LIVE)
    assert not TRANSITIONS[LinkState.ENDED]
