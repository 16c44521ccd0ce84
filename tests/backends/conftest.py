"""Fixtures for the budget store tests: a real redis-server started by the suite itself."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis

from binguard.backends.redis import RedisBudgetStore, RedisStoreOptions

from ._server import RedisServer

StoreFactory = Callable[..., RedisBudgetStore]


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the session, on a free loopback port, killed at the end."""
    with RedisServer.running() as server:
        yield server


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, which the test may kill, pause and restart."""
    with RedisServer.running() as server:
        yield server


@pytest.fixture
def prefix() -> str:
    """A fresh key prefix: tests sharing the session server never see each other's keys."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def rclient(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A plain synchronous client to read what Redis itself holds (ground truth)."""
    client = redis_server.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
async def make_store(redis_server: RedisServer, prefix: str) -> AsyncIterator[StoreFactory]:
    """Build stores on the session server under the test's prefix; all closed at the end.

    Tests drive time explicitly with small `now_ms` values, so the Redis TIME cross-check is off
    unless a test turns it on.
    """
    stores: list[RedisBudgetStore] = []

    def make(
        *, ip: str = "10.0.0.1", account: str | None = "acct", url: str | None = None, **opts: Any
    ) -> RedisBudgetStore:
        options = RedisStoreOptions(**{"prefix": prefix, "max_skew_ms": None, **opts})
        store = RedisBudgetStore.from_url(
            url or redis_server.url, ip=ip, account=account, options=options
        )
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.aclose()
