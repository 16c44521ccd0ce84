"""gateway/user_subs.py `BotSubscriptions` alone: a bot that reads too slowly.

Unit tests of ONE layer with fakes (said here, as the brief allows): a fake bot socket whose
sends can be held, and a fake upstream stream that is always live. What goes over the wire is
tested against the simulator in test_keys_userdata.py.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import orjson
import pytest
from aiohttp import web

from binguard.gateway import user_subs
from binguard.gateway.keys import LocalKey, RealKey, Verifier
from binguard.gateway.resign import Resigner
from binguard.gateway.user_subs import BotSubscriptions
from binguard.gateway.userdata import Subscriber, UserData
from binguard.transport.signing import HmacSigner
from binguard.transport.ws_link import WsOptions


class FakeBot:
    """What `BotSubscriptions` uses of a `web.WebSocketResponse`; sends wait for `flowing`."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.flowing = asyncio.Event()
        self.closed_with: tuple[int, bytes] | None = None
        self.done = asyncio.Event()

    async def send_str(self, text: str) -> None:
        await self.flowing.wait()
        self.sent.append(orjson.loads(text))

    async def close(self, *, code: int, message: bytes) -> None:
        self.closed_with = (code, message)
        self.done.set()


class FakeStream:
    """A `UserStream` that is always live."""

    def __init__(self) -> None:
        self.bots: set[Subscriber] = set()
        self.failure = None

    async def wait_live(self, deadline: float) -> bool:
        return True

    def attach(self, bot: Subscriber) -> None:
        self.bots.add(bot)

    def detach(self, bot: Subscriber) -> None:
        self.bots.discard(bot)


class FakeUserData:
    def __init__(self) -> None:
        self.one = FakeStream()
        self.options = WsOptions()

    def stream(self, api_key: str) -> FakeStream:
        return self.one


def _local() -> LocalKey:
    real = RealKey("main", "real-key", HmacSigner("real-secret"))
    return LocalKey("bg-bot", Verifier(secret="s"), real, frozenset({"user_stream"}), None)


async def test_a_bot_that_reads_too_slowly_is_told_and_loses_its_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(user_subs, "MAX_BACKLOG", 3)
    bot, data = FakeBot(), FakeUserData()
    subs = BotSubscriptions(
        cast(UserData, data), cast(Resigner, None), cast(web.WebSocketResponse, bot), lambda: 7
    )
    await subs.request("userDataStream.subscribe", 1, None, _local())
    (sub,) = data.one.bots
    for n in range(4):  # the bot reads nothing: the answer and 3 events are one too many
        sub.deliver(orjson.dumps({"e": "executionReport", "n": n}).decode())
        assert (data.one.bots == set()) == (n >= 2)  # detached at once: nothing more queues
    bot.flowing.set()
    await asyncio.wait_for(bot.done.wait(), 5)
    await subs.close()
    answer, *events, ended = bot.sent
    assert answer == {"id": 1, "status": 200, "result": {"subscriptionId": 0}}
    assert [e["event"]["n"] for e in events] == [0, 1, 2]  # what was queued goes out first
    assert ended == {"subscriptionId": 0, "event": {"e": "eventStreamTerminated", "E": 7}}
    assert bot.closed_with == user_subs.GAP_CLOSE
