"""One contract, two stores: random operation sequences give the same answers in memory and in Redis.

`MemoryStore` is the reference model of `BudgetStore`; the Redis store (a single instance, so
fairness never triggers) must answer every step the same: the same grants, the same refusals
with the same end and limit, the same counters and block state. A drift in either fails here.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from binguard.backends import BlockKind, BudgetStore, Granted, Limit, LimitKind, MemoryStore
from binguard.backends.redis import RedisBudgetStore, RedisStoreOptions
from binguard.errors import Interval

from ._server import RedisServer

LIMITS = (
    Limit(LimitKind.REQUEST_WEIGHT, Interval(1, "SECOND"), 12),
    Limit(LimitKind.REQUEST_WEIGHT, Interval(10, "SECOND"), 30),
    Limit(LimitKind.ORDERS, Interval(1, "SECOND"), 3),
    Limit(LimitKind.RAW_REQUESTS, Interval(1, "MINUTE"), 40),
)
T0 = 20_834 * 86_400_000


@dataclass(frozen=True)
class Reserve:
    charges: tuple[tuple[int, int], ...]  # (index in LIMITS, amount)


@dataclass(frozen=True)
class Settle:
    grant: int  # index among the grants so far (modulo)
    refund: int


@dataclass(frozen=True)
class Observe:
    sent_back_ms: int
    counts: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    for_ms: int


counts = st.one_of(st.integers(0, 4), st.integers(0, 40))  # low ones hit the max/decrease rules
charges = st.lists(
    st.tuples(st.integers(0, len(LIMITS) - 1), st.integers(1, 6)), min_size=0, max_size=3
).map(lambda xs: tuple({i: (i, n) for i, n in xs}.values()))  # one charge per limit
ops = st.one_of(
    charges.map(Reserve),
    st.builds(Settle, st.integers(0, 50), st.integers(0, 6)),
    st.builds(
        Observe,
        st.sampled_from([0, 0, 300, 1_500]),
        st.lists(st.tuples(st.integers(0, len(LIMITS) - 1), counts), max_size=3).map(
            lambda xs: tuple({i: (i, n) for i, n in xs}.values())
        ),
    ),
    st.builds(Block, st.sampled_from([BlockKind.BAN, BlockKind.PAUSE]), st.integers(1, 3_000)),
)
steps = st.lists(st.tuples(st.sampled_from([0, 0, 5, 120, 700, 2_000]), ops), max_size=30)


async def play(store: BudgetStore, script: list[tuple[int, object]]) -> list[object]:
    """Run the steps on `store`; everything it answers, and its state after every step."""
    seen: list[object] = []
    grants: list[Granted] = []
    now = T0
    for dt, op in script:
        now += dt
        if isinstance(op, Reserve):
            outcome = await store.try_reserve(now, [(LIMITS[i], n) for i, n in op.charges])
            if isinstance(outcome, Granted):
                grants.append(outcome)
            seen.append(outcome)
        elif isinstance(op, Settle) and grants:
            held = grants.pop(op.grant % len(grants)).held
            await store.settle(held, [min(op.refund, h.amount) for h in held])
        elif isinstance(op, Observe):
            counts = [(LIMITS[i], n) for i, n in op.counts]
            await store.observe(now - op.sent_back_ms, now, counts)
        elif isinstance(op, Block):
            await store.block(op.kind, now + op.for_ms)
        seen.append(await store.blocked(now))
        seen.append(await store.snapshot(now, LIMITS))
    return seen


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(script=steps)
def test_memory_and_redis_stores_agree(redis_server: RedisServer, script: list) -> None:  # type: ignore[type-arg]
    async def both() -> tuple[list[object], list[object]]:
        options = RedisStoreOptions(prefix=f"c{uuid.uuid4().hex[:10]}", max_skew_ms=None)
        redis_store = RedisBudgetStore.from_url(
            redis_server.url, ip="10.0.0.9", account="acct", options=options
        )
        async with redis_store:
            return await play(MemoryStore(), script), await play(redis_store, script)

    expected, actual = asyncio.run(both())
    assert actual == expected
