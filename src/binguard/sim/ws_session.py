"""A WebSocket API connection: its logged-on key, its user data subscriptions, its requests.

User data (web-socket-api.md §User Data Stream requests; user-data-stream.md): a subscription
belongs to one account; a connection holds at most one per account, at most 1000 at a time and
65535 over its life. Events arrive as `{"subscriptionId": n, "event": {...}}`; when a subscription
ends by `userDataStream.unsubscribe` or `session.logout` the client gets an
`eventStreamTerminated` event for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import ws_faults
from .errors import SimError
from .params import Params
from .time_unit import event_in_micros
from .ws_auth import Session
from .ws_conn import WsConn, dumps
from .ws_hub import WsHub


@dataclass(frozen=True, slots=True)
class Subscription:
    subscription_id: int
    account: str
    via_session: bool


class ApiConn(WsConn):
    """A `/ws-api/v3` connection."""

    kind = "api"

    def __init__(
        self, hub: WsHub, *args: Any, return_rate_limits: bool, micros: bool = False
    ) -> None:
        super().__init__(*args)
        self.hub = hub
        self.return_rate_limits = return_rate_limits
        self.micros = micros  # `timeUnit=MICROSECOND` (sim/time_unit.py): answers' times in µs
        self.session: Session | None = None
        self.subscriptions: dict[int, Subscription] = {}
        self.next_subscription_id = 0

    def subscribe(self, account: str, via_session: bool) -> int:
        """A new user data subscription; -2035 if the account has one here, -2042 at a limit."""
        if any(s.account == account for s in self.subscriptions.values()):
            raise SimError.of(-2035)
        config = self.hub.config
        if (
            len(self.subscriptions) >= config.max_subscriptions
            or self.next_subscription_id >= config.max_subscription_ids
        ):
            raise SimError.of(-2042)
        sub_id = self.next_subscription_id
        self.next_subscription_id += 1
        self.subscriptions[sub_id] = Subscription(sub_id, account, via_session)
        self.hub.subscribe_user(self, account, sub_id)
        return sub_id

    def terminate(self, sub_id: int) -> dict[str, Any]:
        """End a subscription now; returns the `eventStreamTerminated` event to send for it."""
        sub = self.subscriptions.pop(sub_id)
        self.hub.unsubscribe_user(self, sub.account)
        event = {"e": "eventStreamTerminated", "E": self.hub.state.clock.now_ms()}
        return {"subscriptionId": sub_id, "event": self._in_unit(event)}

    def _in_unit(self, event: dict[str, Any]) -> Any:
        """An event in this connection's time unit (sim/time_unit.py)."""
        return event_in_micros(event) if self.micros else event

    def terminate_after_reply(self, sub_id: int, req: WsRequest) -> None:
        """End a subscription; `eventStreamTerminated` follows the request's response."""
        req.after.append(self.terminate(sub_id))

    def deliver_user(self, subscription_id: int, kind: str, data: dict[str, Any]) -> None:
        raw = dumps({"subscriptionId": subscription_id, "event": self._in_unit(data)})
        state = self.hub.state
        if kind == "executionReport" and state.faults.active:
            if ws_faults.fires(state, self, "ws_duplicate", kind) is not None:
                self.send_text(raw)
            delay = ws_faults.fires(state, self, "ws_delay", kind)
            if delay is not None:
                self.later(delay.latency_ms / 1000.0, lambda: self.send_text(raw))
                return
        self.send_text(raw)

    def status(self) -> dict[str, Any]:
        """`session.status` / `session.logon` / `session.logout` result."""
        s = self.session
        return {
            "apiKey": s.api_key if s else None,
            "authorizedSince": s.since_ms if s else None,
            "connectedSince": self.connected_ms,
            "returnRateLimits": self.return_rate_limits,
            "serverTime": self.hub.state.clock.now_ms(),
            "userDataStream": bool(self.subscriptions),
        }

    def end(self) -> None:
        """The connection is gone: its subscriptions go with it."""
        for sub_id in list(self.subscriptions):
            self.terminate(sub_id)

    def summary(self) -> dict[str, Any]:
        out = super().summary()
        out["session"] = self.session.principal.account if self.session else None
        out["subscriptions"] = [
            {"subscriptionId": s.subscription_id, "account": s.account, "session": s.via_session}
            for s in self.subscriptions.values()
        ]
        return out


@dataclass(slots=True)
class WsRequest:
    """One WebSocket API request as the method handlers see it."""

    conn: ApiConn
    method: str
    raw: dict[str, Any]
    params: Params
    account: str | None = None
    after: list[dict[str, Any]] = field(default_factory=list)
    stage: str = ""  # an executed fault's `stage` (faults.py): cancel-replace's cancel half only

    @property
    def hub(self) -> WsHub:
        return self.conn.hub
