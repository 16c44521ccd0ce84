"""The in-memory store passes the BudgetStore contract."""

from __future__ import annotations

import pytest

from binguard.backends import BudgetStore, Limit, LimitKind, MemoryStore
from binguard.errors import Interval

from .store_contract import NOON, W1M, StoreContract


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
