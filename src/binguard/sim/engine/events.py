"""What the engine tells subscribers (the WebSocket layer): Binance-shaped event payloads.

Kinds: "trade" (<symbol>@trade), "depth" (depthUpdate with U/u update ids, consistent with the
`depth` snapshot's lastUpdateId), "executionReport", "outboundAccountPosition" and "listStatus"
(user data, with `account` set). Listeners are called synchronously inside the engine step that
caused the event, in order, so a listener must only enqueue (never await or raise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

EventKind = Literal["trade", "depth", "executionReport", "outboundAccountPosition", "listStatus"]


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    symbol: str | None
    account: str | None
    data: dict[str, Any]


Listener = Callable[[Event], None]
