"""The in-memory store passes the BudgetStore contract."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from binguard.backends import BudgetStore, Held, Limit, LimitKind, MemoryStore
from binguard.errors import Interval

from .store_contract import NOON, O1D, O10S, RAW5M, W1M, StoreContract


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> BudgetStore:
        return MemoryStore()


async def test_a_new_limit_value_keeps_the_window_count() -> None:
    """exchangeInfo may change a limit's value; the count of the current window stays."""
    store = MemoryStore()
    await store.try_reserve(NOON, [(W1M, 80)])
    raised = Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "MINUTE"), 200)
    (usage,) = (await store.snapshot(NOON, [raised])).usage
    assert usage.used == 80


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 6000,
            },
            Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "MINUTE"), 6000),
        ),
        (
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50},
            Limit(LimitKind.ORDERS, Interval(10, "SECOND"), 50),
        ),
        (
            {
                "rateLimitType": "RAW_REQUESTS",
                "interval": "MINUTE",
                "intervalNum": 5,
                "limit": 300000,
            },
            Limit(LimitKind.RAW_REQUESTS, Interval(5, "MINUTE"), 300000),
        ),
        (
            {"rateLimitType": "ORDERS", "interval": "DAY", "limit": 160000},
            Limit(LimitKind.ORDERS, Interval(1, "DAY"), 160000),
        ),
    ],
)
def test_limits_from_exchange_info(entry: dict[str, object], expected: Limit) -> None:
    """enums.md §Rate limiters: {rateLimitType, interval, intervalNum, limit}."""
    limit = Limit.from_exchange_info(entry)
    assert limit == expected
    assert limit.key == f"{expected.kind.value}:{expected.interval.letter}"


@pytest.mark.parametrize(
    "entry",
    [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "WEEK", "intervalNum": 1, "limit": 1},
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 0, "limit": 1},
        {"rateLimitType": "SOMETHING", "interval": "MINUTE", "intervalNum": 1, "limit": 1},
    ],
)
def test_unusable_limits_are_refused(entry: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - either message is fine
        Limit.from_exchange_info(entry)


def test_scopes() -> None:
    """rest-api.md: weight per IP; unfilled order count per account."""
    assert (
        Limit.from_exchange_info(
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 1}
        ).scope
        == "account"
    )
    assert W1M.scope == "ip" and not W1M.can_decrease


# -- the one-pass reserve decides as the two-pass check does --------------------------------------
_LIMITS = (W1M, O10S, O1D, RAW5M)
_charge = st.tuples(st.sampled_from(_LIMITS), st.integers(min_value=1, max_value=6))
_step = st.one_of(
    st.tuples(st.just("reserve"), st.lists(_charge, min_size=1, max_size=4), st.integers(0, 25)),
    st.tuples(st.just("settle"), st.integers(0, 5), st.booleans()),
    st.tuples(st.just("observe"), st.sampled_from(_LIMITS), st.integers(0, 120)),
)


@settings(max_examples=200)
@given(st.lists(_step, max_size=30))
def test_one_pass_reserve_equals_the_two_pass_check(steps: list[tuple[Any, ...]]) -> None:
    """The same steps on two stores: the budget's synchronous steps (`reserve`: one pass, undone
    on a refusal; `settle_observe`) on one; the two-pass check `reserve` falls back to and the
    async `settle` / `observe` (the reference) on the other. Grants, refusals and counters agree,
    refusals after a partial charge and a limit named twice in one request included."""
    fast, ref = MemoryStore(), MemoryStore()
    held: list[tuple[tuple[Held, ...], tuple[Held, ...]]] = []
    now = NOON
    for step in steps:
        if step[0] == "reserve":
            charges, now = step[1], now + step[2] * 400
            a = fast.reserve(now, charges)
            b = ref._reserve_checked(now, charges)
            assert a == b
            if isinstance(a, tuple):
                assert isinstance(b, tuple)
                held.append((a, b))
        elif step[0] == "settle" and held:
            a, b = held.pop(step[1] % len(held))
            refund = 1 if step[2] else 0
            fast.settle_observe(a, refund, 0, 0, ())
            await_now(ref.settle(b, [refund if h.limit is W1M else 0 for h in b]))
        elif step[0] == "observe":
            fast.settle_observe((), 0, now, now, [(step[1], step[2])])
            await_now(ref.observe(now, now, [(step[1], step[2])]))
        assert _counters(fast) == _counters(ref)


def await_now(step: Coroutine[Any, Any, None]) -> None:
    """Run a MemoryStore coroutine that never suspends (it has no await inside) to its end."""
    with pytest.raises(StopIteration):
        step.send(None)


def _counters(store: MemoryStore) -> dict[str, tuple[int, int, int]]:
    """Each kept window's (start, used, in flight); its cache of Held objects is no state."""
    return {k: (w.start, w.used, w.in_flight) for k, w in store._windows.items()}
