"""The rotation's bookkeeping alone (transport/ws_rotation.py), on stand-in links.

`FakeLink` stands in for `WsLink`: it has only what the `Rotator` reads (its futures, buffer and
state), so the races between two sockets can be laid out step by step; tests/transport/
test_ws_supervisor.py runs the same rotations on real sockets against the simulator.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Any, cast

from binguard.transport.ws_link import Frame, LinkState, WsLink, WsOptions, WsStats
from binguard.transport.ws_rotation import Handover, RotationHooks, Rotator


class FakeLink:
    """What the rotator reads of a socket; `receive` is a frame arriving on it."""

    def __init__(self, serial: int, *, buffering: bool = False) -> None:
        self._loop = asyncio.get_running_loop()
        self.serial = serial
        self.opened = self._loop.time()
        self.done: asyncio.Future[None] = self._loop.create_future()
        self.buffer: deque[tuple[Hashable, Frame]] = deque()
        self.buffer_keys: set[Hashable] = set()
        self.first_data = asyncio.Event()
        self.state = LinkState.BUFFERING if buffering else LinkState.LIVE
        self.planned = False

    @property
    def alive(self) -> bool:
        return not self.done.done()

    def move(self, state: LinkState) -> None:
        self.state = state


class Harness:
    """A rotator whose supervisor is a list of delivered frames."""

    def __init__(self, **options: Any) -> None:
        self.delivered: list[int] = []
        self.events: list[str] = []
        self.current: FakeLink | None = None
        self.stats = WsStats()
        self.rotator = Rotator(
            RotationHooks(
                name="t",
                options=WsOptions(**options),
                stats=self.stats,
                request_only=False,
                key=lambda raw, frame: raw,
                connect=self._never,
                reap=lambda link, drain: None,
                make_current=self._make_current,
                deliver=lambda frame: self.delivered.append(frame["u"]),
                emit=lambda kind, **data: self.events.append(kind),
                gap=lambda: self.events.append("gap"),
            )
        )

    async def _never(self) -> WsLink:
        raise AssertionError("connect is not used here")

    def _make_current(self, link: WsLink) -> None:
        self.current = cast(FakeLink, link)

    def receive(self, link: FakeLink, u: int) -> None:
        """What the supervisor does with a data frame (transport/ws.py `on_text`)."""
        raw, frame = f"u={u}", {"u": u}
        if link.state is LinkState.BUFFERING:
            link.buffer.append((raw, frame))
            link.buffer_keys.add(raw)
            link.first_data.set()
        elif link.state is LinkState.LIVE and self.rotator.passes(as_link(link), raw, frame):
            self.delivered.append(u)


def as_link(link: FakeLink) -> WsLink:
    return cast(WsLink, link)


async def test_a_rotation_begun_inside_the_last_switchs_window_still_drops_its_repeats() -> None:
    h = Harness(handover_grace=60.0)
    a, b, c = FakeLink(1), FakeLink(2, buffering=True), FakeLink(3, buffering=True)
    # first rotation: A delivers 1..3, B buffered 3; the switch drops B's 3
    h.rotator.handover = Handover(as_link(a), as_link(b))
    for u in (1, 2):
        h.receive(a, u)
    h.receive(b, 3)
    h.receive(a, 3)
    h.rotator.switch(as_link(a), as_link(b), h.rotator.handover.seen)
    h.rotator.handover = None
    assert h.delivered == [1, 2, 3]
    # A had delivered 4 too before the switch; B's 4 is still in flight when the next rotation
    # (B → C) begins, inside the first switch's window
    h.rotator._seen_after_switch.add("u=4")
    h.delivered.append(4)
    h.rotator.handover = Handover(as_link(b), as_link(c))
    h.receive(b, 4)  # a repeat of A's: dropped although a rotation is under way
    h.receive(b, 5)
    assert h.delivered == [1, 2, 3, 4, 5]
    assert h.stats.duplicates_dropped == 2  # B's 3 at the switch, B's 4 now


async def test_a_new_socket_without_data_is_not_switched_to_while_the_old_one_delivers() -> None:
    h = Harness(handover_timeout=0.05, handover_grace=0.05)
    old, new = FakeLink(1), FakeLink(2, buffering=True)
    handover = h.rotator.handover = Handover(as_link(old), as_link(new))
    h.receive(old, 1)  # the market moves; the new socket has nothing yet (not subscribed)
    assert not await h.rotator._proven(handover, as_link(new))


async def test_a_new_socket_without_data_is_switched_to_on_a_quiet_market() -> None:
    h = Harness(handover_timeout=0.05, handover_grace=0.05)
    old, new = FakeLink(1), FakeLink(2, buffering=True)
    handover = h.rotator.handover = Handover(as_link(old), as_link(new))
    assert await h.rotator._proven(handover, as_link(new))  # neither delivered: nothing to lose
