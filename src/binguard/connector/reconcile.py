"""Settle one unknown outcome by looking it up: found, or provably never placed.

The rule of orders.py, for anything looked up by a client id the connector fixed before the first
attempt (an order list by its listClientOrderId, the new order of a cancel-replace, an amended
order): the lookup answering "not found" (-2013) proves nothing until the server clock passes the
last attempt's timestamp + recvWindow + margin, past which Binance no longer forwards that attempt
to the matching engine (rest-api.md §Timing security, CHANGELOG 2025-05-22). Only then is the
thing absent for good.

An error no repetition can fix (`needs_a_fix`: -1022, -2015, a bad request) is raised at once,
after that one lookup; past `reconcile_deadline` without an answer, ExecutionUnknownError — in
both cases the journal entry stays pending for a later `recover()`. -2026 ORDER_ARCHIVED is
raised to the caller, which knows what it means for its kind of entry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from binguard.errors import (
    BinanceError,
    ExecutionUnknownError,
    OrderArchivedError,
    OrderNotFoundError,
)
from binguard.policy.retry import needs_a_fix

from .calls import Requests

T = TypeVar("T")


async def settle(
    loop: Requests,
    lookup: Callable[[], Awaitable[T]],
    *,
    key: str,
    reason: BinanceError,
    status_of: Callable[[T], str | None] = lambda _: None,
    what: str = "",
) -> T | None:
    """`lookup()`'s answer once it finds the thing, or None once it is provably absent; see the
    module docstring. `key` names the thing in events (`client_order_id`) and errors (after
    `what`, e.g. "order"); `status_of` gives the `status` a found thing's event carries."""
    opts = loop.options
    loop.stats.reconciliations += 1
    loop.emit("reconcile_start", client_order_id=key, reason=type(reason).__name__)
    settled_at = loop.time.now_ms() + opts.recv_window_ms + opts.reconcile_margin_ms
    give_up = time.monotonic() + opts.reconcile_deadline
    while True:
        try:
            found = await lookup()
        except OrderNotFoundError:
            if loop.time.now_ms() >= settled_at:
                loop.stats.reconciled_absent += 1
                loop.emit("reconcile_result", client_order_id=key, found=False)
                return None
        except OrderArchivedError:
            loop.stats.reconciled_found += 1
            loop.emit("reconcile_result", client_order_id=key, found=True, status="ARCHIVED")
            raise
        except BinanceError as err:
            if needs_a_fix(err):
                loop.emit("reconcile_result", client_order_id=key, found=None, code=err.code)
                raise
            if time.monotonic() >= give_up:
                raise ExecutionUnknownError(
                    f"{what + ' ' if what else ''}{key}: outcome still unknown after reconciling; "
                    "it stays in the journal for recover()",
                    may_have_executed=True,
                ) from err
        else:
            loop.stats.reconciled_found += 1
            status = status_of(found)
            loop.emit("reconcile_result", client_order_id=key, found=True, status=status)
            return found
        await asyncio.sleep(opts.reconcile_poll)
