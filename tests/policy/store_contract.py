"""The `BudgetStore` contract, written once for every backend.

A backend's tests subclass `StoreContract` and provide a `store` fixture (see test_memory_store.py);
the Redis store is meant to pass the very same cases.
"""

from __future__ import annotations

from datetime import UTC, datetime

from binguard.backends import BlockKind, BudgetStore, Granted, Limit, LimitKind, Refused
from binguard.errors import Interval

W1M = Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "MINUTE"), 100)
O10S = Limit(LimitKind.ORDERS, Interval(10, "SECOND"), 5)
O1D = Limit(LimitKind.ORDERS, Interval(1, "DAY"), 8)
RAW5M = Limit(LimitKind.RAW_REQUESTS, Interval(5, "MINUTE"), 1000)

# 2026-01-01 12:00:00 UTC in ms: on every boundary (minute, 10 s, 5 min; a day starts at 00:00).
NOON = int(datetime(2026, 1, 1, 12, tzinfo=UTC).timestamp() * 1000)
MIDNIGHT = int(datetime(2026, 1, 2, tzinfo=UTC).timestamp() * 1000)


class StoreContract:
    """Behaviour every BudgetStore must show; `store` is a fresh, empty store per test."""

    async def test_grants_until_full_then_refuses_until_the_window_resets(
        self, store: BudgetStore
    ) -> None:
        assert isinstance(await store.try_reserve(NOON, [(W1M, 60)]), Granted)
        assert isinstance(await store.try_reserve(NOON + 1, [(W1M, 40)]), Granted)
        refused = await store.try_reserve(NOON + 59_999, [(W1M, 1)])
        assert refused == Refused(BlockKind.LIMIT, NOON + 60_000, W1M)
        assert isinstance(await store.try_reserve(NOON + 60_000, [(W1M, 100)]), Granted)

    async def test_all_or_nothing_across_limits(self, store: BudgetStore) -> None:
        assert isinstance(await store.try_reserve(NOON, [(O10S, 5)]), Granted)
        refused = await store.try_reserve(NOON, [(W1M, 10), (O10S, 1), (O1D, 1)])
        assert isinstance(refused, Refused) and refused.limit == O10S
        snap = await store.snapshot(NOON, [W1M, O10S, O1D])
        assert [u.used for u in snap.usage] == [0, 5, 0]  # nothing reserved on W1M or O1D

    async def test_wait_is_for_the_last_full_window(self, store: BudgetStore) -> None:
        """web-socket-api.md: if the longer interval is exhausted, wait for that one."""
        now = NOON + 3_000
        assert isinstance(await store.try_reserve(now, [(O10S, 5), (O1D, 8)]), Granted)
        refused = await store.try_reserve(now, [(O10S, 1), (O1D, 1)])
        assert refused == Refused(BlockKind.LIMIT, MIDNIGHT, O1D)

    async def test_windows_are_aligned_to_utc_boundaries(self, store: BudgetStore) -> None:
        assert isinstance(await store.try_reserve(NOON + 9_999, [(O10S, 5)]), Granted)
        assert isinstance(await store.try_reserve(NOON + 10_000, [(O10S, 5)]), Granted)
        refused = await store.try_reserve(NOON + 19_999, [(O10S, 1)])
        assert isinstance(refused, Refused) and refused.until_ms == NOON + 20_000
        assert isinstance(await store.try_reserve(MIDNIGHT - 1, [(O1D, 8)]), Granted)
        assert isinstance(await store.try_reserve(MIDNIGHT, [(O1D, 8)]), Granted)

    async def test_ban_is_checked_first_and_outlasts_capacity(self, store: BudgetStore) -> None:
        await store.block(BlockKind.PAUSE, NOON + 5_000)
        await store.block(BlockKind.BAN, NOON + 120_000)
        assert await store.try_reserve(NOON, [(W1M, 1)]) == Refused(BlockKind.BAN, NOON + 120_000)
        assert await store.blocked(NOON + 119_999) == Refused(BlockKind.BAN, NOON + 120_000)
        assert await store.blocked(NOON + 120_000) is None
        assert isinstance(await store.try_reserve(NOON + 120_000, [(W1M, 1)]), Granted)

    async def test_pause_refuses_then_lifts(self, store: BudgetStore) -> None:
        await store.block(BlockKind.PAUSE, NOON + 7_000)
        assert await store.try_reserve(NOON, [(W1M, 1)]) == Refused(BlockKind.PAUSE, NOON + 7_000)
        assert isinstance(await store.try_reserve(NOON + 7_000, [(W1M, 1)]), Granted)

    async def test_a_later_block_wins(self, store: BudgetStore) -> None:
        await store.block(BlockKind.BAN, NOON + 60_000)
        await store.block(BlockKind.BAN, NOON + 10_000)
        assert await store.blocked(NOON) == Refused(BlockKind.BAN, NOON + 60_000)

    async def test_settle_refunds_and_ends_in_flight(self, store: BudgetStore) -> None:
        granted = await store.try_reserve(NOON, [(W1M, 10), (O10S, 1)])
        assert isinstance(granted, Granted)
        await store.settle(granted.held, [10, 0])
        snap = await store.snapshot(NOON, [W1M, O10S])
        assert [(u.used, u.in_flight) for u in snap.usage] == [(0, 0), (1, 0)]

    async def test_settle_of_a_past_window_leaves_the_current_one(self, store: BudgetStore) -> None:
        old = await store.try_reserve(NOON, [(W1M, 10)])
        assert isinstance(old, Granted)
        assert isinstance(await store.try_reserve(NOON + 60_000, [(W1M, 30)]), Granted)
        await store.settle(old.held, [10])
        (usage,) = (await store.snapshot(NOON + 60_000, [W1M])).usage
        assert (usage.window, usage.used) == (NOON + 60_000, 30)

    async def test_weight_correction_is_a_max(self, store: BudgetStore) -> None:
        assert isinstance(await store.try_reserve(NOON, [(W1M, 10)]), Granted)
        await store.observe(NOON, NOON + 5, [(W1M, 70)])  # other programs on this IP
        await store.observe(NOON, NOON + 6, [(W1M, 3)])  # an older count never lowers it
        (usage,) = (await store.snapshot(NOON + 6, [W1M])).usage
        assert usage.used == 70
        assert isinstance(await store.try_reserve(NOON + 7, [(W1M, 31)]), Refused)

    async def test_correction_needs_request_and_response_in_one_window(
        self, store: BudgetStore
    ) -> None:
        await store.observe(NOON - 1, NOON + 1, [(W1M, 99)])  # sent in the previous minute
        (usage,) = (await store.snapshot(NOON + 1, [W1M])).usage
        assert usage.used == 0

    async def test_orders_follow_the_server_down_but_keep_what_is_in_flight(
        self, store: BudgetStore
    ) -> None:
        first = await store.try_reserve(NOON, [(O10S, 3)])
        assert isinstance(first, Granted)
        await store.settle(first.held, [0])
        assert isinstance(await store.try_reserve(NOON + 1, [(O10S, 1)]), Granted)  # in flight
        await store.observe(NOON, NOON + 2, [(O10S, 1)])  # fills brought the count down to 1
        (usage,) = (await store.snapshot(NOON + 2, [O10S])).usage
        assert (usage.used, usage.in_flight) == (2, 1)

    async def test_snapshot_shows_blocks(self, store: BudgetStore) -> None:
        await store.block(BlockKind.BAN, NOON + 1_000)
        await store.block(BlockKind.PAUSE, NOON + 2_000)
        snap = await store.snapshot(NOON, [RAW5M])
        assert (snap.banned_until_ms, snap.paused_until_ms) == (NOON + 1_000, NOON + 2_000)
        assert snap.usage[0].used == 0
        later = await store.snapshot(NOON + 2_000, [RAW5M])
        assert (later.banned_until_ms, later.paused_until_ms) == (None, None)

    async def test_counts_never_go_negative(self, store: BudgetStore) -> None:
        granted = await store.try_reserve(NOON, [(W1M, 1)])
        assert isinstance(granted, Granted)
        await store.settle(granted.held, [5])
        await store.settle(granted.held, [5])
        (usage,) = (await store.snapshot(NOON, [W1M])).usage
        assert (usage.used, usage.in_flight) == (0, 0)
