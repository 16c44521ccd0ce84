"""Keys mode: each bot's user data subscriptions, served from the gateway's own upstream one.

A bot on `/ws-api/v3` subscribes as at Binance (web-socket-api.md §User Data Stream requests,
with the 2025-08-12 changes in CHANGELOG.md): `userDataStream.subscribe.signature` signed with
its local key, or `session.logon` with its local key and then `userDataStream.subscribe`. The
gateway answers these itself, with the bot socket's own `subscriptionId` (0, 1, … per socket),
and attaches the subscription to the real key's one upstream subscription (gateway/userdata.py
`UserStream`, started if it was not): several bots on one real key share it. From then on the
bot gets that key's events as Binance frames them, `{"subscriptionId": <its id>, "event": {..}}`.
`userDataStream.unsubscribe` (one id, or all without one) and `session.subscriptions` are
answered here too; an ended subscription gets its `eventStreamTerminated` event after the answer
(user-data-stream.md §Event Stream Terminated), and so does a logon subscription after the
upstream's answer to `session.logout`.

Checks, as for any keys-mode request: the local signature (a wrong one: -1022, nothing sent),
the timestamp window, and the local key's permissions (gateway/keys.py): `subscribe.signature`
is USER_DATA (needs "read"), `subscribe` after a logon is USER_STREAM (needs "user_stream").
A `subscribe.signature` frame sent twice is refused like a replayed order (-1022).

**A gap upstream is a lost socket for the bot.** When the real key's subscription has a gap
(its socket lost, a rotation without overlap, an upstream `eventStreamTerminated`), events may
have been missed. Had the bot held the subscription itself, its socket would have been lost, so
that is what it gets: every bot subscription attached to the stream gets `eventStreamTerminated`
(which subscription ended), then the bot's socket is closed (1001, "user data gap"). Every
client library treats a lost socket as "reconnect, subscribe again, resync": ccxt.pro 4.5 rejects
its pending `watch_orders`/`watch_balance` with a NetworkError (on `eventStreamTerminated` alone
it drops the subscription silently and a pending watch never returns), python-binance 1.0.37
puts an `{"e": "error"}` message in the user socket's queue. The new subscription is answered
once the upstream is live again, so every event after the answer arrives; the bot's REST
catch-up made after the answer sees everything before it (the gateway's own caches are rebuilt
from REST and answer only once they are, so that catch-up is never answered stale). A request
the bot had in flight on that socket has an unknown outcome for it, as on any lost socket (keys
mode's order journal answers a re-send with the same client id with the existing order).

Events are never synthesized: a replayed `executionReport` could not be exact (trade ids, fees,
the quantity of each fill), and a bot must never believe it missed nothing when it did. A bot
that reads too slowly (`MAX_BACKLOG` events waiting) loses its socket the same way rather than
the gateway's memory grow.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Final

import orjson
from aiohttp import web

from binguard._aio import reap
from binguard.policy.endpoints import Security

from .answers import catalog_text
from .keys import LocalAuthError, LocalKey
from .resign import Resigner
from .userdata import UserData, UserStream

log = logging.getLogger("binguard.gateway")

SUBSCRIBE, SIGNATURE = "userDataStream.subscribe", "userDataStream.subscribe.signature"
UNSUBSCRIBE, LIST = "userDataStream.unsubscribe", "session.subscriptions"
METHODS: Final = frozenset({SUBSCRIBE, SIGNATURE, UNSUBSCRIBE, LIST})
# answers whose `userDataStream` flag says whether the session has a subscription
SESSION_ANSWERS: Final = frozenset({"session.logon", "session.status", "session.logout"})
MAX_ACTIVE, MAX_IDS = 1000, 65535  # web-socket-api.md §User Data Stream subscription: Limits
MAX_BACKLOG = 10_000  # events waiting for one slow bot before its socket is closed
GAP_CLOSE: Final = (1001, b"binguard gateway: user data gap; subscribe again and resync")
_SIGNATURE_PARAMS: Final = ("apiKey", "timestamp", "signature")
_MICROS: Final = 10**14  # a timestamp above this is in microseconds (web-socket-api.md)


def _refusal(code: int, status: int = 400, index: int = 0, *values: object) -> LocalAuthError:
    return LocalAuthError(code, catalog_text(code, index, *values), "user_data", status)


class _Sub:
    """One subscription of one bot socket: a `Subscriber` of a `UserStream`."""

    __slots__ = ("owner", "stream", "sub_id", "via_session")

    def __init__(self, owner: BotSubscriptions, sub_id: int, stream: UserStream, session: bool):
        self.owner, self.sub_id, self.stream, self.via_session = owner, sub_id, stream, session

    def deliver(self, event: str) -> None:
        if not self.owner.holds(self):
            return  # ended meanwhile (a stream hands an event to the bots it had when it came)
        self.owner.put(f'{{"subscriptionId":{self.sub_id},"event":{event}}}')
        if self.owner.backlog() > MAX_BACKLOG:
            log.warning("gateway user data: a bot reads too slowly; its socket is closed")
            self.owner.end_all()

    def ended(self) -> None:
        self.owner.ended(self)


class BotSubscriptions:
    """One bot socket's user data subscriptions, and the one writer of what they send it.

    Everything this sends (answers and events) goes out in order through one queue, so a
    subscription's answer precedes its events and its `eventStreamTerminated` follows them,
    and a gap's close follows that."""

    def __init__(
        self,
        user_data: UserData,
        resigner: Resigner,
        bot: web.WebSocketResponse,
        now_ms: Callable[[], int],
    ) -> None:
        self._user_data = user_data
        self._resigner = resigner
        self._bot = bot
        self._now_ms = now_ms
        self._subs: dict[int, _Sub] = {}
        self._next_id = 0
        self._closing = False
        self._outbox: asyncio.Queue[str | None] = asyncio.Queue()  # None: close the socket
        self._writer: asyncio.Task[None] | None = None
        self.awaiting: dict[Any, str] = {}  # forwarded session requests' ids -> method

    # -- the bot's requests ---------------------------------------------------------------
    async def request(
        self, method: str, rid: Any, params: dict[str, Any] | None, logged_on: LocalKey | None
    ) -> None:
        """Answer one of `METHODS` (never forwarded)."""
        try:
            if method == SIGNATURE:
                result: Any = await self._attach(self._signed_key(params), session=False)
            elif method == SUBSCRIBE:
                result = await self._attach(self._session_key(params, logged_on), session=True)
            elif method == UNSUBSCRIBE:
                ending = self._unsubscribe(params)
                self._answer(rid, {})
                for sub in ending:
                    self._terminated(sub)
                return
            else:
                _no_params(params)
                result = [{"subscriptionId": i} for i in sorted(self._subs)]
        except LocalAuthError as e:
            self.put(
                orjson.dumps(
                    {"id": rid, "status": e.status, "error": {"code": e.code, "msg": e.msg}}
                ).decode()
            )
            return
        self._answer(rid, result)

    def _signed_key(self, params: dict[str, Any] | None) -> LocalKey:
        """The local key of a `subscribe.signature` whose signature, timestamp and permission
        (read) pass, as `Resigner.ws_request` checks any signed request."""
        params = params or {}
        for name in _SIGNATURE_PARAMS:
            if params.get(name) in (None, ""):
                raise _refusal(-1102, 400, 1, name)
        extra = set(params) - {*_SIGNATURE_PARAMS, "recvWindow"}
        if extra:
            raise _refusal(-1104, 400, 1, len(params) - len(extra), len(params))
        now = self._now_ms()
        _out, local = self._resigner.ws_request(SIGNATURE, params, now, None)
        assert local is not None  # a signed request names its key
        # a subscription acts (it opens the account's events to whoever sends it): a captured
        # frame sent again is refused, as a replayed order is (gateway/keys.py ReplayGuard)
        stamp = int(str(params["timestamp"]))  # digits: ws_request checked them
        stamp = stamp // 1000 if stamp > _MICROS else stamp
        self._resigner.replay.check(f"ws {SIGNATURE} {params['signature']}", stamp, now)
        return local

    @staticmethod
    def _session_key(params: dict[str, Any] | None, logged_on: LocalKey | None) -> LocalKey:
        """The logged-on local key, allowed USER_STREAM (web-socket-api.md: a logged-on
        session; not logged on: -1002 as the simulator answers)."""
        _no_params(params)
        if logged_on is None:
            raise _refusal(-1002, 401)
        logged_on.allow(Security.USER_STREAM, None)
        return logged_on

    async def _attach(self, local: LocalKey, *, session: bool) -> dict[str, int]:
        stream = self._user_data.stream(local.real.api_key)
        assert stream is not None  # every local key's real key is one of the ring's
        if any(s.stream is stream for s in self._subs.values()):
            raise _refusal(-2035)  # one subscription per account per connection
        if len(self._subs) >= MAX_ACTIVE or self._next_id >= MAX_IDS:
            raise _refusal(-2042)
        if not await stream.wait_live(time.monotonic() + self._user_data.options.open_timeout):
            failure = stream.failure
            if failure is not None and failure.code is not None:  # the real key is refused:
                status = failure.http_status or 401  # the bot hears Binance's words
                raise LocalAuthError(failure.code, failure.msg, "user_data", status)
            raise _refusal(-1001, 503)
        if any(s.stream is stream for s in self._subs.values()):
            raise _refusal(-2035)  # subscribed meanwhile (a request sent while this waited)
        sub = _Sub(self, self._next_id, stream, session)
        self._next_id += 1
        self._subs[sub.sub_id] = sub
        stream.attach(sub)
        return {"subscriptionId": sub.sub_id}

    def _unsubscribe(self, params: dict[str, Any] | None) -> list[_Sub]:
        """The subscriptions an unsubscribe ends (CHANGELOG.md 2025-08-12: none named, all)."""
        params = params or {}
        wanted = params.get("subscriptionId")
        if len(params) > (wanted is not None):
            raise _refusal(-1104, 400, 1, int(wanted is not None), len(params))
        if wanted is None:
            ending = list(self._subs.values())
        else:
            if isinstance(wanted, bool) or not str(wanted).isdigit():
                raise _refusal(-1100, 400, 1, "subscriptionId", "^[0-9]{1,20}$")
            one = self._subs.get(int(str(wanted)))
            ending = [] if one is None else [one]
        if not ending:
            raise _refusal(-2036)
        for sub in ending:
            self._detach(sub)
        return ending

    # -- the upstream's answers to session requests ----------------------------------------
    def upstream_answer(self, text: str) -> tuple[str, Callable[[], None] | None]:
        """An answer to a forwarded `SESSION_ANSWERS` request: its `userDataStream` flag made
        this socket's (its subscriptions are here, not upstream), and after a logout, what to
        do once it is sent (end the logon subscriptions: web-socket-api.md §Unsubscribe)."""
        try:
            frame = orjson.loads(text)
        except orjson.JSONDecodeError:
            return text, None
        if not isinstance(frame, dict) or frame.get("id") not in self.awaiting:
            return text, None
        method = self.awaiting.pop(frame["id"])
        result = frame.get("result")
        if frame.get("status") != 200 or not isinstance(result, dict):
            return text, None
        after = None
        if method == "session.logout":
            ending = [s for s in self._subs.values() if s.via_session]
            for sub in ending:
                self._detach(sub)

            def after() -> None:
                for sub in ending:
                    self._terminated(sub)

        if result.get("userDataStream") is not None:
            result["userDataStream"] = bool(self._subs)
        return orjson.dumps(frame).decode(), after

    # -- the stream's side ------------------------------------------------------------------
    def put(self, text: str | None) -> None:
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(), name="gateway-user-data-bot")
        self._outbox.put_nowait(text)

    def backlog(self) -> int:
        return self._outbox.qsize()

    def holds(self, sub: _Sub) -> bool:
        return self._subs.get(sub.sub_id) is sub

    def ended(self, sub: _Sub) -> None:
        """The upstream had a gap: `sub` is over, the socket closes (see the module
        docstring)."""
        if self._subs.pop(sub.sub_id, None) is sub:
            self._terminated(sub)
            self._close_soon()

    def end_all(self) -> None:
        for sub in list(self._subs.values()):
            self._detach(sub)
            self._terminated(sub)
        self._close_soon()

    def _close_soon(self) -> None:
        """Close the bot's socket once what is queued before has gone out."""
        if not self._closing:
            self._closing = True
            self.put(None)

    def _detach(self, sub: _Sub) -> None:
        self._subs.pop(sub.sub_id, None)
        sub.stream.detach(sub)

    def _terminated(self, sub: _Sub) -> None:
        event = {"e": "eventStreamTerminated", "E": self._now_ms()}
        self.put(orjson.dumps({"subscriptionId": sub.sub_id, "event": event}).decode())

    def _answer(self, rid: Any, result: Any) -> None:
        self.put(orjson.dumps({"id": rid, "status": 200, "result": result}).decode())

    async def _write(self) -> None:
        bot = self._bot
        while True:
            text = await self._outbox.get()
            try:
                if text is None:
                    code, reason = GAP_CLOSE
                    await bot.close(code=code, message=reason)
                    return
                await bot.send_str(text)
            except (ConnectionError, RuntimeError):
                return  # the bot is gone; close() detaches

    async def close(self) -> None:
        """The bot's socket ended: detach from the streams, stop writing."""
        for sub in list(self._subs.values()):
            self._detach(sub)
        await reap(self._writer)


def _no_params(params: dict[str, Any] | None) -> None:
    if params:
        raise _refusal(-1104, 400, 1, 0, len(params))
