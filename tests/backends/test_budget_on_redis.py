"""The RateBudget over the Redis store: what one budget learns from Binance stops the others.

Two budgets with two stores stand for two processes on one IP.
"""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from binguard.backends import Limit, LimitKind
from binguard.errors import HttpReply, Interval, classify
from binguard.policy.budget import BAN_MARGIN_MS, BanInForceError, BudgetExhaustedError, RateBudget
from binguard.policy.weights import Cost

from .conftest import StoreFactory

LIMITS = [Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "MINUTE"), 6000)]


async def test_a_418_seen_by_one_budget_bans_the_other(make_store: StoreFactory) -> None:
    a = RateBudget(LIMITS, store=make_store())
    b = RateBudget(LIMITS, store=make_store())
    await b.settle(await b.acquire(Cost(1)), ok=True)  # b works
    until = int(time.time() * 1000) + 60_000
    error = classify(
        HttpReply(
            418,
            {"Retry-After": "60"},
            {
                "code": -1003,
                "msg": f"Way too much request weight used; IP banned until {until}. "
                "Please use WebSocket Streams for live updates to avoid bans.",
            },
        )
    )
    assert error is not None
    await a.on_error(error)
    with pytest.raises(BanInForceError) as caught:
        await b.acquire(Cost(1))
    banned_until = caught.value.params["banned_until"]
    assert isinstance(banned_until, datetime)
    assert banned_until.timestamp() * 1000 == pytest.approx(until + BAN_MARGIN_MS, abs=1)


async def test_a_429_seen_by_one_budget_pauses_the_other(make_store: StoreFactory) -> None:
    a = RateBudget(LIMITS, store=make_store())
    b = RateBudget(LIMITS, store=make_store())
    error = classify(
        HttpReply(
            429,
            {"Retry-After": "30"},
            {
                "code": -1003,
                "msg": "Too much request weight used; current limit is 6000 request "
                "weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
            },
        )
    )
    assert error is not None
    await a.on_error(error)
    with pytest.raises(BudgetExhaustedError, match="paused") as caught:
        await b.acquire(Cost(1), deadline=time.monotonic() + 1)
    assert caught.value.retry_after == pytest.approx(30, abs=1)
