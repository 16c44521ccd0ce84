"""What the connector tells the application: events (hooks and an async stream) and running stats.

Events are facts, not logs: retry, resync, ban_start, ban_end, reconcile_start, reconcile_result,
request_error. Hooks run synchronously in the connector's task, so they must be quick; the async
stream (`async for event in connector.events()`) buffers a bounded number of events per reader and
drops the oldest when a reader falls behind (counted in `Stats.events_dropped`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("binguard.connector")


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    data: dict[str, Any]
    at: float = field(default_factory=time.time)


@dataclass(slots=True)
class Stats:
    """Counters a dashboard can read at any moment."""

    requests: int = 0
    errors_by_code: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    resyncs: int = 0
    reconciliations: int = 0
    reconciled_found: int = 0
    reconciled_absent: int = 0
    resends: int = 0
    clock_errors: int = 0
    clock_errors_after_sync: int = 0
    bans: int = 0
    events_dropped: int = 0
    order_states_from_stream: int = 0  # order_status() answered by the user data stream
    order_states_from_rest: int = 0  # ... and over REST (stream down, or order unknown to it)


Hook = Callable[[Event], None]


class EventBus:
    def __init__(self, stats: Stats, queue_size: int = 1000) -> None:
        self._hooks: list[Hook] = []
        self._queues: list[asyncio.Queue[Event]] = []
        self._stats = stats
        self._queue_size = queue_size

    def on(self, hook: Hook) -> None:
        self._hooks.append(hook)

    def emit(self, kind: str, **data: Any) -> None:
        event = Event(kind, data)
        log.info("binguard event %s %s", kind, data)
        for hook in self._hooks:
            hook(event)
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
                self._stats.events_dropped += 1
            queue.put_nowait(event)

    async def stream(self) -> AsyncIterator[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        self._queues.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.remove(queue)
